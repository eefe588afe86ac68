package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair and returns the master and the slave's path.
func openPty(t *testing.T) (*os.File, string) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// A pty's slave, reached through a link as the emulator's is, is bind-mounted.
func TestAPtyIsMounted(t *testing.T) {
	_, slave := openPty(t)
	link := filepath.Join(t.TempDir(), "ttyNODE")
	if err := os.Symlink(slave, link); err != nil {
		t.Fatal(err)
	}
	got, err := allocation(link, "/dev/ttyS0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Devices) != 0 || len(got.Mounts) != 1 || got.Mounts[0].HostPath != slave || got.Mounts[0].ContainerPath != "/dev/ttyS0" {
		t.Fatalf("a pty must be one mount of %s, got %v", slave, got)
	}
}

// Any other char device (here /dev/null, on devtmpfs as ttyUSB0 is) is a DeviceSpec.
func TestARealDeviceIsADeviceNode(t *testing.T) {
	got, err := allocation("/dev/null", "/dev/ttyUSB0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Mounts) != 0 || len(got.Devices) != 1 || got.Devices[0].HostPath != "/dev/null" || got.Devices[0].Permissions != "rw" {
		t.Fatalf("a device node must be one DeviceSpec, got %v", got)
	}
}
