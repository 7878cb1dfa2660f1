package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// podman's security flags reach the container's init, as the kernel sees
// it (/proc/<init pid>), and the guest still runs under them with its
// output and exit status. The default run is the control: what each flag
// takes away is there without it.
func TestPodmanSecurityFlags(t *testing.T) {
	p := engNewPodman(t)
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		flags []string
		check func(t *testing.T, pid int)
	}{
		{"Defaults", nil, func(t *testing.T, pid int) {
			c := confinementOf(t, fmt.Sprintf("/proc/%d", pid))
			if c["CapEff"] == "0000000000000000" {
				t.Errorf("CapEff %s with podman's defaults: want podman's default capabilities", c["CapEff"])
			}
			if c["Seccomp"] != "2" {
				t.Errorf("Seccomp %s with podman's defaults, want 2 (its default profile)", c["Seccomp"])
			}
		}},
		{"CapDropAll", []string{"--cap-drop=all"}, func(t *testing.T, pid int) {
			c := confinementOf(t, fmt.Sprintf("/proc/%d", pid))
			for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"} {
				if c[k] != "0000000000000000" {
					t.Errorf("%s %s with --cap-drop=all, want 0", k, c[k])
				}
			}
		}},
		{"SeccompUnconfined", []string{"--security-opt", "seccomp=unconfined"}, func(t *testing.T, pid int) {
			if c := confinementOf(t, fmt.Sprintf("/proc/%d", pid)); c["Seccomp"] != "0" {
				t.Errorf("Seccomp %s with seccomp=unconfined, want 0", c["Seccomp"])
			}
		}},
		{"NetworkNone", []string{"--network", "none"}, func(t *testing.T, pid int) {
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
			if err != nil {
				t.Fatal(err)
			}
			if ns == hostNet {
				t.Errorf("the init is in the host's network namespace %s with --network none", ns)
			}
			if ifs := netInterfaces(t, pid); len(ifs) != 1 || ifs[0] != "lo" {
				t.Errorf("interfaces in the init's network namespace %v, want only lo", ifs)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string(nil), c.flags...), engProbeImage, "echo", "guest ran", "sleep", "4s", "exit", "5")
			id := p.detach(t, args...)
			p.waitLogs(t, id, "guest ran")
			pid, err := strconv.Atoi(p.inspect(t, id, "{{.State.Pid}}"))
			if err != nil || pid <= 0 {
				t.Fatalf("State.Pid of %s: %v", id, err)
			}
			c.check(t, pid)
			res := p.podman(t, "wait", id)
			engWant(t, res, 0)
			if got := strings.TrimSpace(res.stdout); got != "5" {
				t.Errorf("podman wait printed %q, want the guest's 5", got)
			}
			if res := p.podman(t, "logs", id); res.stdout != "guest ran\n" {
				t.Errorf("podman logs %q, want %q", res.stdout, "guest ran\n")
			}
		})
	}
}

// netInterfaces lists the interfaces of pid's network namespace, from
// /proc/PID/net/dev (which shows the namespace of that process).
func netInterfaces(t *testing.T, pid int) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ifs []string
	for _, l := range strings.Split(string(data), "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			ifs = append(ifs, strings.TrimSpace(name))
		}
	}
	return ifs
}
