package runtime

import (
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// Features is what `runw features` prints: only what runw really does for
// a wasm container. It is fixed at build time, never probed from the host.
//
// No namespaces are listed: a wasm guest's isolation is its WASI
// capabilities, and runw creates no namespaces for it (native containers
// are handed to runc or crun, which advertise their own). No idmap and no
// rro: that correctly keeps CRI user namespaces and recursive read-only
// mounts off for runw handlers.
func Features() *features.Features {
	t, f := true, false
	actions, operators, archs, flags := seccompSupported()
	var caps []string
	for _, c := range capability.ListKnown() {
		caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  []string{"bind", "rbind", "ro", "rw"},
		Linux: &features.Linux{
			Namespaces:   []string{},
			Capabilities: caps,
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f, Rdma: &f},
			Seccomp: &features.Seccomp{
				Enabled: &t, Actions: actions, Operators: operators, Archs: archs,
				KnownFlags: flags, SupportedFlags: flags,
			},
			Apparmor:        &features.Apparmor{Enabled: &f},
			Selinux:         &features.Selinux{Enabled: &f},
			IntelRdt:        &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &f}},
			NetDevices:      &features.NetDevices{Enabled: &f},
		},
		Annotations: map[string]string{
			"io.github.runw.wasmtime.version": wasi.WasmtimeVersion(),
			"io.github.runw.handlers":         "run.oci.handler=wasm|wasm-smart, module.wasm.image/variant=compat|compat-smart",
		},
		PotentiallyUnsafeConfigAnnotations: []string{spec.AnnotationHandler, spec.AnnotationVariant},
	}
}
