package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
)

// hookGroup is one kind of hook, named as the spec names it: errors say
// "error running <kind> hook #<i>", as runc's do (scripts and runc's own
// tests match on it).
type hookGroup struct {
	kind  string
	hooks []specs.Hook
}

// createHooks are the hooks run at the end of create, in the spec's order:
// prestart (deprecated, still honoured) and createRuntime, then
// createContainer. The spec asks for createContainer (and startContainer)
// hooks to run in the container's namespaces; runw runs every hook in its
// own, as the other kinds (a difference from runc, listed in
// docs/engines.md). Each runs from the directory runc's runs from: runc's
// create works in the bundle directory, and its createContainer hooks run
// from the root filesystem.
func createHooks(b *spec.Bundle) (runtimeHooks []hookGroup, containerHooks hookGroup) {
	h := b.Spec.Hooks
	if h == nil {
		return nil, hookGroup{}
	}
	//lint:ignore SA1019 prestart is deprecated but runc still runs it: part of the contract
	prestart := h.Prestart
	return []hookGroup{{"prestart", prestart}, {"createRuntime", h.CreateRuntime}}, hookGroup{"createContainer", h.CreateContainer}
}

// laterHooks are the hooks that run after create (startContainer,
// poststart, poststop). create records them in state.json, as runc keeps
// the spec it created from: start and delete then neither re-read
// config.json on the hot path nor see a bundle edited after create.
type laterHooks struct {
	StartContainer hookList `json:"startContainer,omitempty"`
	Poststart      hookList `json:"poststart,omitempty"`
	Poststop       hookList `json:"poststop,omitempty"`
}

// hookList is hooks as the record keeps them: specs.Hook drops an empty
// env (omitempty), which read back as no env given, and a startContainer,
// poststart or poststop hook whose spec cleared its environment ran with
// all of runw's (what the engine's caller had, secrets too); runc keeps
// it empty. A recorded env is null for none given, [] for an empty one.
type hookList []specs.Hook

// recordedHook is specs.Hook with its env kept when empty.
type recordedHook struct {
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env"`
	Timeout *int     `json:"timeout,omitempty"`
}

func (l hookList) MarshalJSON() ([]byte, error) {
	out := make([]recordedHook, len(l))
	for i, h := range l {
		out[i] = recordedHook(h)
	}
	return json.Marshal(out)
}

func (l *hookList) UnmarshalJSON(data []byte) error {
	var in []recordedHook
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*l = make(hookList, len(in))
	for i, h := range in {
		(*l)[i] = specs.Hook(h)
	}
	return nil
}

// record is what create keeps in state.Container.Extra for the commands
// after it: the later hooks, and the mounts' destinations as create
// resolved them (spec.Bundle.Destinations).
type record struct {
	laterHooks
	// Destinations are the mounts' destinations as resolved, Written as
	// the spec wrote them, in spec order: exec takes a resolved one only
	// for the mount it was resolved for.
	Destinations []string `json:"destinations,omitempty"`
	Written      []string `json:"written,omitempty"`
	// Masks are the masked paths as create found them (nil: a container
	// of an older runw, whose exec resolves them again).
	Masks *[]spec.Mask `json:"masks,omitempty"`
	// ReadOnly are the read-only paths as create found them (nil: a
	// container of an older runw, whose exec grants none).
	ReadOnly *[]spec.Mask `json:"readonly,omitempty"`
	// Config is config.json as create read it (spec.Bundle.Config), which
	// exec loads instead of the bundle's file (nil: a container of an
	// older runw).
	Config json.RawMessage `json:"config,omitempty"`
	// OwnNetwork is whether the container has a network namespace of its
	// own, as create found it (spec.Bundle.OwnNetwork; nil: a container
	// of an older runw, whose exec judges the namespace again).
	OwnNetwork *bool `json:"ownNetwork,omitempty"`
	// Cache is the compiled-module cache create used (nil: a container
	// of an older runw), which exec uses unless told otherwise
	// (execCache).
	Cache *recordedCache `json:"cache,omitempty"`
}

// recordedCache is a cache's directory ("": none) and bound.
type recordedCache struct {
	Dir string `json:"dir"`
	Max int64  `json:"max"`
}

// recordOf returns the record of b, created with cache, as
// state.Container.Extra.
func recordOf(b *spec.Bundle, cache recordedCache) json.RawMessage {
	var r record
	if h := b.Spec.Hooks; h != nil {
		r.laterHooks = laterHooks{StartContainer: h.StartContainer, Poststart: h.Poststart, Poststop: h.Poststop}
	}
	if len(b.Destinations) > 0 {
		r.Destinations, r.Written = b.Destinations, b.WrittenDestinations()
	}
	if b.Masks != nil && b.Spec.Linux != nil && len(b.Spec.Linux.MaskedPaths) > 0 {
		r.Masks = b.Masks
	}
	if b.ReadOnly != nil && len(*b.ReadOnly) > 0 {
		r.ReadOnly = b.ReadOnly
	}
	// One JSON value, as spec.Load decoded it.
	r.Config = b.Config
	r.OwnNetwork = b.OwnNetwork
	r.Cache = &cache
	data, _ := json.Marshal(r)
	return data
}

// recordOfContainer reads back what recordOf stored.
func recordOfContainer(c *state.Container) record {
	var r record
	if len(c.Extra) > 0 {
		if err := json.Unmarshal(c.Extra, &r); err != nil {
			// Only runw writes Extra; say so rather than skip hooks silently.
			logrus.Warnf("container %s: its record is unreadable, no hooks run: %v", c.ID, err)
		}
	}
	return r
}

// destinationsFor is b's mount destinations for a process joining the
// container: each as create resolved it, where the record holds it for
// that same mount, else as written.
func (r record) destinationsFor(b *spec.Bundle) []string {
	dests := b.WrittenDestinations()
	for i, w := range dests {
		if i < len(r.Destinations) && i < len(r.Written) && r.Written[i] == w {
			dests[i] = r.Destinations[i]
		}
	}
	return dests
}

// hooksOf is the container's later hooks.
func hooksOf(c *state.Container) laterHooks { return recordOfContainer(c).laterHooks }

// specState is the runtime-spec state a hook reads on its stdin.
func specState(c *state.Container, status string) specs.State {
	pid := c.InitPid
	if status == state.Stopped {
		pid = 0
	}
	return specs.State{
		Version:     specs.Version,
		ID:          c.ID,
		Status:      specs.ContainerState(status),
		Pid:         pid,
		Bundle:      c.Bundle,
		Annotations: c.Annotations,
	}
}

// runHooks runs each hook of the groups with the state on stdin and stops
// at the first failure, as the spec asks for every hook kind but
// poststart/poststop (whose callers only log the error). The hooks run in
// dir (empty: runw's working directory).
func runHooks(dir string, st specs.State, groups ...hookGroup) error {
	var in []byte
	for _, g := range groups {
		for i, h := range g.hooks {
			if in == nil {
				var err error
				if in, err = json.Marshal(st); err != nil {
					return err
				}
			}
			if err := runHook(h, in, dir); err != nil {
				return fmt.Errorf("error running %s hook #%d: %w", g.kind, i, err)
			}
		}
	}
	return nil
}

// runEveryHook runs every hook of g whatever fails (poststop: the spec has
// each failure a warning and the remaining hooks still run), and returns
// the failures, worded as runHooks words them; dir is as runHooks's.
func runEveryHook(dir string, st specs.State, g hookGroup) []error {
	if len(g.hooks) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for i, h := range g.hooks {
		if err := runHook(h, in, dir); err != nil {
			errs = append(errs, fmt.Errorf("error running %s hook #%d: %w", g.kind, i, err))
		}
	}
	return errs
}

// hookOutputDelay is how long a hook's stderr is read after the hook has
// exited: a hook that leaves a child holding its stderr (a helper daemon
// it started) must not keep create waiting, with the container locked,
// for as long as that child lives. (The pipe is then closed: such a
// child's later write to stderr meets SIGPIPE.)
const hookOutputDelay = time.Second

// runHook runs one hook. A hook runs in a process group of its own, so
// that its timeout kills what it started too and not only the hook.
func runHook(h specs.Hook, in []byte, dir string) error {
	cmd := &exec.Cmd{
		Path:        h.Path,
		Args:        h.Args,
		Env:         h.Env,
		Dir:         dir,
		Stdin:       bytes.NewReader(in),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   hookOutputDelay,
	}
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	// stdout stays /dev/null: captured through a pipe, like stderr, a
	// child the hook left behind (a helper daemon) died of SIGPIPE at its
	// next write once hookOutputDelay had passed and the pipe was closed.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err // runc's words: "fork/exec /x: no such file or directory"
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout != nil && *h.Timeout > 0 {
		timeout = time.After(time.Duration(*h.Timeout) * time.Second)
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
			// runc 1.1's words, with stderr quoted to keep one line
			// (stdout is not kept, above).
			return fmt.Errorf("error running hook: %w, stderr: %q", err, bytes.TrimSpace(stderr.Bytes()))
		}
		return nil
	case <-timeout:
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-done
		return fmt.Errorf("hook ran past specified timeout of %.1fs", float64(*h.Timeout)) // runc's words
	}
}
