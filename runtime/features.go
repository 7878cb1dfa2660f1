package runtime

import (
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
	"github.com/runw/runw/wasi/preview1"
)

// Features is what `runw features` prints: only what runw really does for
// a wasm container. It is fixed at build time, never probed from the host,
// except the Landlock ABI the init confines itself with, which is the
// running kernel's (landlock.go).
//
// The namespaces are those the init joins or creates (runtime/namespaces.go).
// rro: every read-only grant is read-only all the way down, in the WASI
// view (preview1's confine) and in the container's tree (readOnlyInRoot),
// so "rro" is honoured as "ro" is; left out, CRI-O told kubelet that a
// runw handler has no recursive read-only mounts, and a pod asking for
// them was refused. No idmap: a user namespace's ids are mapped, the
// grants' mounts are not.
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
		MountOptions:  []string{"bind", "rbind", "ro", "rro", "rw"},
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
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
			"io.github.runw.landlock":         landlockFeature(),
			// runc's own key: the libseccomp linked in.
			"io.github.seccomp.libseccomp.version": SeccompVersion(),
			// runc's features JSON has no field for guest formats; the
			// annotations map is where runtimes put what is their own.
			"io.github.runw.wasm.modules": "wasi_snapshot_preview1 (with WasmEdge's socket extension, V1 and V2)",
			// The network grant's own annotations (docs/networking.md).
			"io.github.runw.net.annotations": strings.Join([]string{wasi.AnnotationNet, wasi.AnnotationNetListen, wasi.AnnotationNetConnect, wasi.AnnotationNetListeners}, ","),
			"io.github.runw.net.env":         wasi.EnvListen + " (declares listeners), " + preview1.ListenFdsEnv + " (their descriptors, for the guest)",
			"io.github.runw.wasm.components": "wasi:cli/run@0.2 (WASI 0.2 command components; not the wasi:http proxy world)",
		},
		PotentiallyUnsafeConfigAnnotations: []string{spec.AnnotationHandler, spec.AnnotationVariant},
	}
}
