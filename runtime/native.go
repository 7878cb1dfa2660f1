package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// A bundle whose entrypoint is a native ELF or #! script (a pod's pause
// container, a native sidecar, a conformance suite's test binary) is handed
// to a native OCI runtime with the same arguments. runw keeps a marker for
// the id in its own store (state.Container.Native) so that every later
// command for that id follows it there, and gives the native runtime its
// own root (<root>/.native, a name no container id can take) so the two
// never share state.

// sandboxAnnotations mark a pod's sandbox (pause) container in containerd
// and CRI-O, each with the annotation that names the pod's sandbox: for
// the sandbox container, its own id.
var sandboxAnnotations = []struct{ kind, id string }{
	{"io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},
	{"io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"},
}

// NativeExit is a native runtime's non-zero exit status, passed through
// unchanged; the native runtime already printed its own error.
type NativeExit struct{ Code int }

func (e *NativeExit) Error() string {
	return fmt.Sprintf("native runtime exited with status %d", e.Code)
}

// isSandbox reports whether the spec is the sandbox container of a pod:
// always native, whatever its entrypoint looks like, and handed on before
// narrowedNetwork is asked (a pod's io.github.runw.* annotations reach its
// sandbox too). The type annotation alone is not enough. The attack: podman
// copies an image's own annotations into config.json, so an image built
// with io.kubernetes.cri-o.ContainerType=sandbox had its native
// entrypoint handed to runc as a pod's sandbox, past the refusal of a
// native container whose network the user had narrowed
// (io.github.runw.net=deny), and reached the network. An image cannot
// name the id an engine gives its container (random, chosen at run).
func isSandbox(id string, b *spec.Bundle) bool {
	a := b.Spec.Annotations
	for _, s := range sandboxAnnotations {
		if a[s.kind] == "sandbox" && a[s.id] == id {
			return true
		}
	}
	return false
}

// ownAnnotations are the annotations runw reads in its own namespace.
var ownAnnotations = []string{wasi.AnnotationNet, wasi.AnnotationNetListen, wasi.AnnotationNetConnect, wasi.AnnotationNetListeners, seccompAnnotation}

// checkOwnAnnotations refuses, at create, an annotation in runw's
// namespace that runw does not read. Each of them narrows what the
// container gets, and a misspelt one was read by nothing: a guest given
// io.github.runw.net.conect kept the whole network of its namespace, one
// given io.github.runw.seccmp ran without runw's filter, and no one was
// told.
//
// `podman generate kube` writes a container's annotation as KEY/NAME in
// the pod's annotations, and podman 4's `kube play` gives that key, as it
// is, to every container of the pod, which runw cannot tell apart (no
// annotation names the container). Dropped, a narrowing would be lost;
// it is refused saying what happened and what to write instead.
func checkOwnAnnotations(a map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(a)) {
		l := strings.ToLower(k)
		if (l != "io.github.runw" && !strings.HasPrefix(l, "io.github.runw.")) || slices.Contains(ownAnnotations, k) {
			continue
		}
		if own, name, ok := strings.Cut(k, "/"); ok && slices.Contains(ownAnnotations, own) {
			return fmt.Errorf("annotation %q: podman generate kube's form of %s for container %q, which podman kube play gives every container of the pod without applying it: set %s in the pod's metadata.annotations (it applies to every container of the pod), or remove it", k, own, name, own)
		}
		return fmt.Errorf("annotation %q: runw reads no such annotation; its own are %s", k, strings.Join(ownAnnotations, ", "))
	}
	return nil
}

// narrowedNetwork names the annotation by which the bundle narrows runw's
// network grant (io.github.runw.net=deny, .listen, .connect), "" when it
// does not. Only runw's WASI host and its Landlock rules enforce those;
// the native runtime knows nothing of them. The attack this stops: an
// image whose entrypoint is an ELF, run with `--annotation
// io.github.runw.net=deny` (or a connect list) by someone who expects it
// to reach no network, was handed to runc and got the whole network of
// its namespace. A native container under runw is refused instead (a
// pod's sandbox, which only holds the namespace, is handed on before
// this is asked); `allow` widens nothing a native process lacks.
func narrowedNetwork(b *spec.Bundle) string {
	a := b.Spec.Annotations
	// Any value but allow: a wasm guest's create refuses one it does not
	// know (DENY, a typo), and a native one must not get the network by it.
	if v, ok := a[wasi.AnnotationNet]; ok && v != "allow" {
		return wasi.AnnotationNet + "=" + v
	}
	for _, k := range []string{wasi.AnnotationNetListen, wasi.AnnotationNetConnect} {
		if _, ok := a[k]; ok {
			return k
		}
	}
	return ""
}

// nativeRoot is the native runtime's --root.
func (r *Runtime) nativeRoot() string { return filepath.Join(r.opts.Root, state.NativeDir) }

// nativeRuntime finds the native OCI runtime: --native-runtime (a name or
// a path), else runc, else crun on PATH; never runw itself, which would
// loop.
func (r *Runtime) nativeRuntime() (string, error) {
	candidates := []string{"runc", "crun"}
	if r.opts.NativeRuntime != "" {
		candidates = []string{r.opts.NativeRuntime}
	}
	self, _ := os.Executable()
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if abs, err := filepath.EvalSymlinks(p); err == nil && self != "" {
			if me, err := filepath.EvalSymlinks(self); err == nil && me == abs {
				continue
			}
		}
		return p, nil
	}
	return "", fmt.Errorf("no native OCI runtime found (looked for %v): install runc or crun, or name one with --native-runtime", candidates)
}

// nativeCmd builds `<native> <global flags> <command> <args…>`.
func (r *Runtime) nativeCmd(native, command string, args []string) *exec.Cmd {
	argv := []string{"--root", r.nativeRoot()}
	if r.opts.LogPath != "" {
		argv = append(argv, "--log", r.opts.LogPath)
	}
	if r.opts.LogFormat != "" {
		argv = append(argv, "--log-format", r.opts.LogFormat)
	}
	if r.opts.Debug {
		argv = append(argv, "--debug")
	}
	if r.opts.SystemdCgroup {
		argv = append(argv, "--systemd-cgroup")
	}
	argv = append(argv, command)
	argv = append(argv, args...)
	cmd := exec.Command(native, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd
}

// runNative runs the native runtime in the foreground, relaying runw's
// signals to it, as runw relays them to a wasm container's init, and
// passing its exit status through. Without the relay a SIGTERM to a
// foreground `runw run` of a native bundle ended runw alone: the native
// runtime (which relays to its container) ran on, the container kept
// running, and its id stayed taken after it ended. Signals a terminal
// sends its foreground process group (^C, ^\, ^Z) are not relayed when
// runw is in that group: the native runtime, in it too, has them already.
// sigs are the signals caught so far (catchSignals; nil: none): one that
// would end the native runtime, taken while runw made its part of the
// container, ends runw instead, before the native runtime starts (it
// would die of it before it could relay it, or, a ^C, not get it at all).
func runNative(cmd *exec.Cmd, sigs chan os.Signal) error {
	if sig, ok := pendingStop(sigs); ok {
		return &NativeExit{Code: 128 + int(sig)}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	code := waitRelay(cmd, nil, foregroundOfATerminal, sigs)
	if code != 0 {
		return &NativeExit{Code: code}
	}
	return nil
}

// foregroundOfATerminal says runw's process group is the foreground one
// of a terminal on its stdin, stdout or stderr that turns ^C, ^\ and ^Z
// into signals (ISIG): asked at each signal, as a terminal in raw mode
// (a -t container's) sends none, and one then came from kill(2).
func foregroundOfATerminal() bool {
	for _, fd := range []int{0, 1, 2} {
		pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err != nil || pgrp != unix.Getpgrp() {
			continue
		}
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil && t.Lflag&unix.ISIG != 0 {
			return true
		}
	}
	return false
}

// handOff creates the container with the native runtime and records the
// marker. It runs as a child (not exec) so that a failed native create
// leaves no marker behind; the native init is reparented to our caller's
// subreaper exactly as it would be under runc.
func (r *Runtime) handOff(id string, b *spec.Bundle, command string) (*exec.Cmd, error) {
	native, err := r.nativeRuntime()
	if err != nil {
		return nil, err
	}
	h, err := r.newStateDir(id)
	if err != nil {
		return nil, err
	}
	c := &state.Container{OCIVersion: b.Spec.Version, ID: id, Bundle: b.Dir, Rootfs: b.Rootfs, Annotations: b.Spec.Annotations, Native: native}
	if err := h.Save(c); err != nil {
		h.Destroy()
		return nil, err
	}
	if err := pastProxies(b); err != nil {
		h.Destroy()
		return nil, err
	}
	logDebugf("%s: native entrypoint, handing over to %s", id, native)
	if err := os.MkdirAll(r.nativeRoot(), 0o700); err != nil {
		h.Destroy()
		return nil, err
	}
	cmd := r.nativeCmd(native, command, r.opts.CmdArgs)
	activatedNative(cmd, activated())
	if command == "run" {
		// run's foreground wait happens with the marker unlocked, so that
		// other commands (state, kill) can reach the container meanwhile.
		h.Unlock()
		return cmd, nil
	}
	defer h.Unlock()
	if err := runNative(cmd, nil); err != nil {
		h.Destroy()
		return nil, err
	}
	return nil, nil
}

// Native is the one place a command on an existing container decides
// whether the container is runw's or was handed to a native runtime. For a
// handed-off id it runs command there with the command's argv as given
// (delete also drops runw's marker once the native runtime no longer
// knows the id) and reports handled; otherwise the command is runw's own.
// main calls it once per command, before the command's own method.
func (r *Runtime) Native(id, command string) (handled bool, err error) {
	native := r.nativeOf(id)
	if native == "" {
		return false, nil
	}
	if command == "delete" {
		return true, r.deleteNative(id, native)
	}
	return true, r.forward(native, command)
}

// nativeOf returns the native runtime an id was handed to, or "".
func (r *Runtime) nativeOf(id string) string {
	h, err := r.store.Peek(id)
	if err != nil {
		return ""
	}
	c, err := h.Load()
	if err != nil {
		return ""
	}
	return c.Native
}

// forward runs a command for a native id with the native runtime.
func (r *Runtime) forward(native, command string) error {
	return runNative(r.nativeCmd(native, command, r.opts.CmdArgs), nil)
}

// nativeState asks the native runtime for a container's state.
func (r *Runtime) nativeState(native, id string) (*ContainerState, error) {
	cmd := r.nativeCmd(native, "state", []string{id})
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if bytes.Contains(errb.Bytes(), []byte("does not exist")) {
			return nil, state.ErrNotExist
		}
		return nil, fmt.Errorf("%s state: %q", native, bytes.TrimSpace(errb.Bytes()))
	}
	var cs ContainerState
	if err := json.Unmarshal(out.Bytes(), &cs); err != nil {
		return nil, fmt.Errorf("%s state: %w", native, err)
	}
	return &cs, nil
}

// deleteNative forwards delete and drops the marker once the native
// runtime no longer knows the container.
func (r *Runtime) deleteNative(id, native string) error {
	h, err := r.store.Lock(id)
	if err != nil {
		return err
	}
	cmd := r.nativeCmd(native, "delete", r.opts.CmdArgs)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err = cmd.Run()
	if err != nil && !bytes.Contains(errb.Bytes(), []byte("does not exist")) {
		h.Unlock()
		os.Stderr.Write(errb.Bytes())
		return &NativeExit{Code: exitCode(err)}
	}
	return h.Destroy()
}

// pastProxies makes a native container's pid namespace path that names a
// runw proxy (behindProxy) name the container's own namespace, in the
// bundle's config.json, which the native runtime reads: the engine names
// the pid runw reported, the proxy's, whose namespace is the host's, and a
// native sidecar given podman's --pid container:X (or kubectl debug
// --target) ran in the host's pid namespace, seeing and signalling every
// host process. The file is rewritten only then (the path alone changed,
// every other field as it was); one that cannot be is refused, never run
// in the wrong namespace.
func pastProxies(b *spec.Bundle) error {
	if b.Spec.Linux == nil {
		return nil
	}
	// Validated: one pid entry at most.
	var from, to string
	for _, n := range b.Spec.Linux.Namespaces {
		if n.Type == specs.PIDNamespace && n.Path != "" {
			from, to = n.Path, behindProxy(n.Path)
		}
	}
	if from == to {
		return nil
	}
	path := filepath.Join(b.Dir, "config.json")
	err := func() error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			return err
		}
		linux, _ := raw["linux"].(map[string]any)
		namespaces, _ := linux["namespaces"].([]any)
		for _, n := range namespaces {
			if n, ok := n.(map[string]any); ok && n["type"] == string(specs.PIDNamespace) && n["path"] == from {
				n["path"] = to
			}
		}
		if data, err = json.Marshal(raw); err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return state.WriteFileAtomic(path, data, fi.Mode().Perm())
	}()
	if err != nil {
		return fmt.Errorf("pid namespace %q is a runw container's, behind its proxy: rewrite %s for the native runtime: %w", from, path, err)
	}
	logDebugf("pid namespace %s: %s, past the proxy, for the native runtime", from, to)
	return nil
}
