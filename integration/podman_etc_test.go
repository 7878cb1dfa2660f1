package integration

import (
	"strings"
	"testing"
)

// A wasm container run by podman sees the /etc/hostname, /etc/hosts and
// /etc/resolv.conf podman generated for it (file bind mounts in the
// config.json podman writes), with what the user asked for on the command
// line: --hostname, --add-host and --dns. None of these values exists
// anywhere else, so the guest can only have read them through podman's
// mounts.
func TestPodmanGuestSeesEngineEtcFiles(t *testing.T) {
	p := engNewPodman(t)
	const (
		hostname = "runw-etc-view"
		extra    = "runw-extra.test"
		extraIP  = "10.1.2.3"
		dns      = "10.9.8.7"
	)
	res := p.runw(t, "run", "--rm",
		"--hostname", hostname, "--add-host", extra+":"+extraIP, "--dns", dns,
		engProbeImage,
		"cat", "/etc/hostname", "echo", "--",
		"cat", "/etc/hosts", "echo", "--",
		"cat", "/etc/resolv.conf")
	engWant(t, res, 0)
	parts := strings.Split(res.stdout, "--\n")
	if len(parts) != 3 {
		t.Fatalf("guest output %q: want three files separated by --", res.stdout)
	}
	if got := strings.TrimSpace(parts[0]); got != hostname {
		t.Errorf("/etc/hostname in the guest: %q, want %q", parts[0], hostname)
	}
	hosts := parts[1]
	if !hostsHas(hosts, extraIP, extra) {
		t.Errorf("/etc/hosts in the guest has no %q entry for %s (--add-host):\n%s", extraIP, extra, hosts)
	}
	if !strings.Contains(hosts, hostname) {
		t.Errorf("/etc/hosts in the guest does not name the container's hostname %s:\n%s", hostname, hosts)
	}
	if !strings.Contains(hosts, "localhost") {
		t.Errorf("/etc/hosts in the guest has no localhost entry:\n%s", hosts)
	}
	if !strings.Contains(parts[2], "nameserver "+dns) {
		t.Errorf("/etc/resolv.conf in the guest has no \"nameserver %s\" (--dns):\n%s", dns, parts[2])
	}
}

// hostsHas reports whether an /etc/hosts text maps ip to name.
func hostsHas(hosts, ip, name string) bool {
	for _, line := range strings.Split(hosts, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != ip {
			continue
		}
		for _, n := range f[1:] {
			if n == name {
				return true
			}
		}
	}
	return false
}
