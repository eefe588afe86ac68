package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	dp "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	reg "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// devptsMagic is the statfs type of a devpts filesystem (linux/magic.h).
const devptsMagic = 0x1cd1

// plugin serves one resource: the kubelet's Registration service (GetInfo) and the
// DevicePlugin service on one socket in the plugin watcher's directory.
type plugin struct {
	dp.UnimplementedDevicePluginServer
	reg.UnimplementedRegistrationServer

	group  Group
	socket string
	server *grpc.Server
	done   chan struct{}

	mu       sync.Mutex
	devices  map[string]string // device ID (its host path as configured) -> health
	watchers map[chan struct{}]struct{}
}

func newPlugin(g Group, registryDir string) *plugin {
	name := strings.NewReplacer("/", "-", ".", "-").Replace(g.Resource)
	return &plugin{
		group:    g,
		socket:   filepath.Join(registryDir, name+".sock"),
		done:     make(chan struct{}),
		devices:  map[string]string{},
		watchers: map[chan struct{}]struct{}{},
	}
}

// serve checks the devices once, then listens; the kubelet's watcher finds the socket.
func (p *plugin) serve(interval time.Duration) error {
	p.check()
	if err := os.Remove(p.socket); err != nil && !os.IsNotExist(err) {
		return err
	}
	ln, err := net.Listen("unix", p.socket)
	if err != nil {
		return err
	}
	p.server = grpc.NewServer()
	reg.RegisterRegistrationServer(p.server, p)
	dp.RegisterDevicePluginServer(p.server, p)
	go func() {
		if err := p.server.Serve(ln); err != nil {
			log.Printf("%s: %v", p.group.Resource, err)
		}
	}()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.check()
			}
		}
	}()
	return nil
}

// stop removes the socket first, so that the kubelet's watcher deregisters the resource.
func (p *plugin) stop() {
	_ = os.Remove(p.socket)
	close(p.done)
	p.server.Stop()
}

// check expands the globs and marks each device Healthy while its path exists. A device
// once seen and then gone stays listed as Unhealthy, so the kubelet stops handing it out
// but keeps the pods that hold it accounted.
func (p *plugin) check() {
	seen := map[string]string{}
	for _, pattern := range p.group.HostPaths {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if _, err := os.Stat(m); err == nil {
				seen[m] = dp.Healthy
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := false
	for id := range p.devices {
		if _, ok := seen[id]; !ok && p.devices[id] != dp.Unhealthy {
			p.devices[id] = dp.Unhealthy
			changed = true
		}
	}
	for id, health := range seen {
		if p.devices[id] != health {
			p.devices[id] = health
			changed = true
		}
	}
	if changed {
		log.Printf("%s: devices %v", p.group.Resource, p.devices)
		for w := range p.watchers {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
}

func (p *plugin) devicePaths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.devices))
	for id := range p.devices {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (p *plugin) list() *dp.ListAndWatchResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &dp.ListAndWatchResponse{}
	for id, health := range p.devices {
		resp.Devices = append(resp.Devices, &dp.Device{ID: id, Health: health})
	}
	return resp
}

// GetInfo tells the kubelet's watcher this socket is a device plugin for the resource; the
// empty endpoint means the DevicePlugin service is on this same socket.
func (p *plugin) GetInfo(context.Context, *reg.InfoRequest) (*reg.PluginInfo, error) {
	return &reg.PluginInfo{Type: reg.DevicePlugin, Name: p.group.Resource, SupportedVersions: []string{dp.Version}}, nil
}

func (p *plugin) NotifyRegistrationStatus(_ context.Context, s *reg.RegistrationStatus) (*reg.RegistrationStatusResponse, error) {
	if s.PluginRegistered {
		log.Printf("%s: registered with the kubelet", p.group.Resource)
	} else {
		log.Printf("%s: the kubelet refused the registration: %s", p.group.Resource, s.Error)
	}
	return &reg.RegistrationStatusResponse{}, nil
}

func (p *plugin) GetDevicePluginOptions(context.Context, *dp.Empty) (*dp.DevicePluginOptions, error) {
	return &dp.DevicePluginOptions{}, nil
}

// ListAndWatch sends the device list now and again whenever a health check changes it; each
// kubelet connection (one after every kubelet restart) gets a stream of its own.
func (p *plugin) ListAndWatch(_ *dp.Empty, stream dp.DevicePlugin_ListAndWatchServer) error {
	w := make(chan struct{}, 1)
	p.mu.Lock()
	p.watchers[w] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers, w)
		p.mu.Unlock()
	}()
	for {
		if err := stream.Send(p.list()); err != nil {
			return err
		}
		select {
		case <-w:
		case <-p.done:
			return nil
		case <-stream.Context().Done():
			return nil
		}
	}
}

// Allocate maps the one device a container asks for onto the group's container path.
func (p *plugin) Allocate(_ context.Context, req *dp.AllocateRequest) (*dp.AllocateResponse, error) {
	resp := &dp.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		if len(c.DevicesIds) != 1 {
			return nil, fmt.Errorf("%s: a container gets one device at %s, not %d", p.group.Resource, p.group.ContainerPath, len(c.DevicesIds))
		}
		car, err := allocation(c.DevicesIds[0], p.group.ContainerPath)
		if err != nil {
			return nil, err
		}
		log.Printf("%s: allocated %s at %s (mounts %d, device nodes %d)", p.group.Resource,
			c.DevicesIds[0], p.group.ContainerPath, len(car.Mounts), len(car.Devices))
		resp.ContainerResponses = append(resp.ContainerResponses, car)
	}
	return resp, nil
}

// allocation hands the device over in the one way that works for its kind. A real serial
// device (ttyUSB*, ttyACM*, a board's UART) is a DeviceSpec: the runtime makes the node in
// the container and adds the cgroup rule that lets an unprivileged process open it. A
// pseudo-terminal's slave (the firmware emulator's) cannot be made that way: a node of
// major 136 made outside its devpts instance opens with EIO, because the pty belongs to
// that instance. It is bind-mounted instead, which the runtime's default device rules admit
// (they allow /dev/pts/*, major 136). Symlinks (/dev/serial/by-id/...) are followed first.
func allocation(id, containerPath string) (*dp.ContainerAllocateResponse, error) {
	host, err := filepath.EvalSymlinks(id)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", id, err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(host, &fs); err != nil {
		return nil, fmt.Errorf("device %s: %w", host, err)
	}
	if fs.Type == devptsMagic {
		return &dp.ContainerAllocateResponse{
			Mounts: []*dp.Mount{{HostPath: host, ContainerPath: containerPath}},
		}, nil
	}
	return &dp.ContainerAllocateResponse{
		Devices: []*dp.DeviceSpec{{HostPath: host, ContainerPath: containerPath, Permissions: "rw"}},
	}, nil
}
