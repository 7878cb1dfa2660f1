package runtime

import (
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Template is the config.json `runw spec` writes: a wasm bundle whose
// module is rootfs/app.wasm, with a read-only root, a private /tmp and the
// namespaces runc's template gives a container. As runc's template, the
// process gets RLIMIT_NOFILE 1024/1024, noNewPrivileges and the
// capabilities CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE: without
// the limit a guest's init inherited the caller's (often far larger)
// limit, without noNewPrivileges nothing stopped a setuid gain in the
// init, and without CAP_NET_BIND_SERVICE a guest binding port 80 itself
// (WasmEdge's sock_bind) was refused where runc's bundle serves.
func Template() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Args: []string{"/app.wasm"},
			Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
			},
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
		},
		Hostname: "runw",
		Mounts: []specs.Mount{
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
		},
		Annotations: map[string]string{"run.oci.handler": "wasm"},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
		},
	}
}

// RootlessTemplate is Template for a user without privileges (`runw spec
// --rootless`), as runc's: a user namespace of its own in which root is
// the caller's uid and gid, and no network namespace of its own (a user
// cannot give one a link to anything: the container's would have only
// lo), so the container shares the caller's network, as under runc.
func RootlessTemplate() *specs.Spec {
	s := Template()
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type == specs.NetworkNamespace
	})
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	return s
}
