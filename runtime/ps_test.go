package runtime

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestIsPidOne: kill --all without a cgroup reaches a pid namespace only
// if the init is its pid 1, the container's own; a process of a
// namespace it merely joined (another container's, the host's) is not,
// and neither that namespace's other processes are signalled.
func TestIsPidOne(t *testing.T) {
	if isPidOne(os.Getpid()) {
		t.Errorf("the test process, pid %d of the host's namespace, taken for pid 1 of its own", os.Getpid())
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a pid namespace")
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot make a pid namespace here: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !isPidOne(cmd.Process.Pid) {
		t.Errorf("pid 1 of a new pid namespace (host pid %d) not recognised", cmd.Process.Pid)
	}
}
