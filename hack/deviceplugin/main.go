// Command sensorpipe-device-plugin hands a node's serial devices to pods through the
// kubelet's device-plugin API, so that an unprivileged gateway pod gets its device by asking
// for an extended resource (resources.limits["sensorpipe.dev/serial"]: 1) instead of a
// hostPath char device, which a real kubelet and container runtime do not open for an
// unprivileged container.
//
// It registers through the kubelet's plugin watcher: one socket per resource in
// <kubelet --root-dir>/plugins_registry. That directory belongs to one kubelet, unlike the
// classic /var/lib/kubelet/device-plugins/kubelet.sock, which the kubelet hard-codes
// whatever its --root-dir, so two kubelets on one machine (two stacks) would fight over it.
// The watcher also re-registers the plugin when the kubelet restarts: it walks the directory
// on start, so a running plugin needs no restart detection of its own.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Group is one resource: the host paths (shell globs) that are its devices, and the path
// each allocated device gets inside the container.
type Group struct {
	Resource      string   `json:"resource"`
	HostPaths     []string `json:"hostPaths"`
	ContainerPath string   `json:"containerPath"`
}

// Config is the plugin's configuration file.
type Config struct {
	// RegistryDir is the kubelet's plugin watcher directory: <root-dir>/plugins_registry.
	RegistryDir string  `json:"registryDir"`
	Groups      []Group `json:"groups"`
}

func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.RegistryDir == "" || len(c.Groups) == 0 {
		return nil, fmt.Errorf("%s: registryDir and at least one group are required", path)
	}
	for _, g := range c.Groups {
		if g.Resource == "" || len(g.HostPaths) == 0 || !filepath.IsAbs(g.ContainerPath) {
			return nil, fmt.Errorf("%s: group %q needs resource, hostPaths and an absolute containerPath", path, g.Resource)
		}
	}
	return &c, nil
}

func main() {
	configPath := flag.String("config", "", "the plugin's JSON configuration file")
	interval := flag.Duration("health-interval", 2*time.Second, "how often the devices are checked")
	flag.Parse()
	cfg, err := loadConfig(*configPath)
	if err != nil {
		log.Fatal(err)
	}
	var plugins []*plugin
	for _, g := range cfg.Groups {
		p := newPlugin(g, cfg.RegistryDir)
		if err := p.serve(*interval); err != nil {
			log.Fatalf("%s: %v", g.Resource, err)
		}
		log.Printf("%s: serving on %s, devices %v", g.Resource, p.socket, p.devicePaths())
		plugins = append(plugins, p)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	for _, p := range plugins {
		p.stop()
	}
}
