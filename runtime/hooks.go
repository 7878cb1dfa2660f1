package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
)

// createHooks are the hooks run at the end of create, in the spec's order:
// prestart (deprecated, still honoured), createRuntime, createContainer.
// runw has no separate container namespaces to enter, so all run here.
func createHooks(b *spec.Bundle) []specs.Hook {
	h := b.Spec.Hooks
	if h == nil {
		return nil
	}
	//lint:ignore SA1019 prestart is deprecated but runc still runs it: part of the contract
	out := append([]specs.Hook(nil), h.Prestart...)
	out = append(out, h.CreateRuntime...)
	return append(out, h.CreateContainer...)
}

// laterHooks are the hooks that run after create (startContainer,
// poststart, poststop). create records them in state.json, as runc keeps
// the spec it created from: start and delete then neither re-read
// config.json on the hot path nor see a bundle edited after create.
type laterHooks struct {
	StartContainer []specs.Hook `json:"startContainer,omitempty"`
	Poststart      []specs.Hook `json:"poststart,omitempty"`
	Poststop       []specs.Hook `json:"poststop,omitempty"`
}

// recordHooks returns the later hooks of b as state.Container.Extra.
func recordHooks(b *spec.Bundle) json.RawMessage {
	h := b.Spec.Hooks
	if h == nil || len(h.StartContainer)+len(h.Poststart)+len(h.Poststop) == 0 {
		return nil
	}
	data, _ := json.Marshal(laterHooks{StartContainer: h.StartContainer, Poststart: h.Poststart, Poststop: h.Poststop})
	return data
}

// hooksOf reads back what recordHooks stored.
func hooksOf(c *state.Container) laterHooks {
	var h laterHooks
	if len(c.Extra) > 0 {
		_ = json.Unmarshal(c.Extra, &h)
	}
	return h
}

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

// runHooks runs each hook with the state on stdin and stops at the first
// failure, as the spec asks for every hook kind but poststart/poststop
// (whose callers only log the error).
func runHooks(hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		cmd := &exec.Cmd{Path: h.Path, Args: h.Args, Env: h.Env, Stdin: bytes.NewReader(in)}
		if len(cmd.Args) == 0 {
			cmd.Args = []string{h.Path}
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("hook %q: %w", h.Path, spec.ErrnoOf(err))
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timeout <-chan time.Time
		if h.Timeout != nil && *h.Timeout > 0 {
			timeout = time.After(time.Duration(*h.Timeout) * time.Second)
		}
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("hook %q: %w: %q", h.Path, err, bytes.TrimSpace(stderr.Bytes()))
			}
		case <-timeout:
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("hook %q: timed out after %ds", h.Path, *h.Timeout)
		}
	}
	return nil
}
