package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A module's start section names a function that wasmtime runs inside
// instantiation, and runw instantiates at create, in the init, before the
// sandbox. Until runw deferred it (wasi.DeferredStart), the image's code
// ran at `runw create`: its output came before start, outside Landlock,
// seccomp and the dropped capabilities, and a start function that never
// returned hung create (and the engine waiting on it) for good. Now it
// runs at `runw start`, under the sandbox, just before _start.
func TestStartFunctionRunsAtStart(t *testing.T) {
	t.Parallel()
	r := newRunw(t)

	t.Run("not at create", func(t *testing.T) {
		b := newBundle(t, "wat/startfn.wat")
		stdout := createWithin(t, r, b, "startfn")
		// The init holds create's stdout: what it printed so far is there.
		if out, _ := os.ReadFile(stdout); len(out) != 0 {
			t.Errorf("the guest wrote %q at create, before start", out)
		}
		r.mustRun("start", "startfn")
		r.waitStatus("startfn", "stopped", 20*time.Second)
		if out, _ := os.ReadFile(stdout); string(out) != "start function\n_start after it\n" {
			t.Errorf("the guest wrote %q, want its start function's line, then _start's", out)
		}
		r.mustRun("delete", "startfn")
	})

	t.Run("run", func(t *testing.T) {
		b := newBundle(t, "wat/startfn.wat")
		// _start exits 3 unless the start function ran first.
		res := r.run("run", "-b", b.dir, "startfn-run")
		if res.code != 0 || res.stdout != "start function\n_start after it\n" {
			t.Errorf("runw run: %v, want exit 0 and both lines", res)
		}
	})

	t.Run("spins", func(t *testing.T) { spinningStartStops(t, r, "wat/startspin.wat") })

	t.Run("traps", func(t *testing.T) { wantRunExit(t, r, newBundle(t, "wat/starttrap.wat"), 134, "unreachable") })
	// _start would exit 4.
	t.Run("exits", func(t *testing.T) { wantRunExit(t, r, newBundle(t, "wat/startexit.wat"), 9, "") })

	// A module exporting _initialize beside _start: runw ran _start alone,
	// and what _initialize sets up (a C++ reactor's constructors) never
	// ran; wasmtime's CLI calls _initialize first (review of 2026-12-07).
	t.Run("_initialize", func(t *testing.T) {
		b := newBundle(t, "wat/initialize.wat")
		res := r.run("run", "-b", b.dir, "initialize")
		if res.code != 0 || res.stdout != "start function\n_initialize\n_start\n" {
			t.Errorf("runw run: %v, want exit 0 and the start function's, _initialize's and _start's lines in that order", res)
		}
	})
	t.Run("_initialize with a parameter", func(t *testing.T) {
		b := newBundle(t, "wat/initializeargs.wat")
		failsCleanly(t, r, r.run("run", "-b", b.dir, "initargs"), "initargs", `exports an _initialize that takes 1 parameter`)
	})

	// A table past runw's cap: the refusal names it, where it said only
	// wasmtime's "exceeds table limits".
	t.Run("table past the cap", func(t *testing.T) {
		b := newBundle(t, "wat/bigtable.wat")
		failsCleanly(t, r, r.run("run", "-b", b.dir, "bigtable"), "bigtable", `runw caps each table at 10000000 elements, as V8 does`)
	})

	t.Run("no memory export", func(t *testing.T) {
		wantRunExit(t, r, newBundle(t, "wat/nomemory.wat"), 134, "missing required memory export")
	})

	// The export runw gives a start function is never a module's own:
	// it would run before _start as if it were its start function.
	t.Run("reserved export", func(t *testing.T) {
		b := newBundle(t, "wat/startreserved.wat")
		failsCleanly(t, r, r.run("run", "-b", b.dir, "reserved"), "reserved", "runw:deferred-start")
	})
	r.assertRootEmpty()
}

// The same for a component: instantiation runs its core modules' start
// functions, so runw instantiates it at start; create still refuses, in
// one line, an import its linker cannot satisfy.
func TestComponentStartFunctionRunsAtStart(t *testing.T) {
	t.Parallel()
	r := newRunw(t)

	// run exits 42 if the start function ran, 3 if not.
	t.Run("run", func(t *testing.T) { wantRunExit(t, r, newBundle(t, "component/startfn.wat"), 42, "") })

	t.Run("exits", func(t *testing.T) {
		b := newBundle(t, "component/startexit.wat")
		r.mustRun("create", "-b", b.dir, "exit")
		r.mustRun("start", "exit")
		r.waitStatus("exit", "stopped", 20*time.Second)
		r.mustRun("delete", "exit")
		wantRunExit(t, r, b, 7, "")
	})

	t.Run("spins", func(t *testing.T) { spinningStartStops(t, r, "component/startspin.wat") })

	t.Run("missing import", func(t *testing.T) {
		b := newBundle(t, "component/badimport.wat")
		failsCleanly(t, r, r.run("create", "-b", b.dir, "badimport"), "badimport", "example:missing/thing")
	})
	r.assertRootEmpty()
}

// createWithin runs `runw [global...] create` of b as id and fails t
// unless it exits 0 within 30 s; it returns the file holding create's
// stdout, which the init goes on writing to.
func createWithin(t *testing.T, r *runw, b *bundle, id string, global ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, append(global, "create", "-b", b.dir, id)...)
	res := finish(cmd, cmd.Run(), stdout, stderr)
	if ctx.Err() != nil {
		t.Fatalf("runw create of %s did not return", filepath.Base(b.spec.Process.Args[0]))
	}
	if res.code != 0 {
		t.Fatalf("runw create: %v", res)
	}
	return stdout.Name()
}

// spinningStartStops: a guest whose start function never returns is
// created at once, and runs, and `kill TERM` ends it with 143, through
// create and start as through run.
func spinningStartStops(t *testing.T, r *runw, guest string) {
	b := newBundle(t, guest)
	createWithin(t, r, b, "spin")
	r.mustRun("start", "spin")
	st := r.waitStatus("spin", "running", 20*time.Second)
	time.Sleep(50 * time.Millisecond)
	if procGone(st.Pid) {
		t.Fatal("guest exited while its start function spins")
	}
	r.mustRun("kill", "spin", "TERM")
	waitGone(t, st.Pid, 5*time.Second)
	r.waitStatus("spin", "stopped", 5*time.Second)
	r.mustRun("delete", "spin")

	bg, _ := runInBackground(t, r, b, "spin-run")
	time.Sleep(50 * time.Millisecond)
	r.mustRun("kill", "spin-run", "TERM")
	if res := bg.wait(t, 10*time.Second); res.code != 143 {
		t.Errorf("runw run, killed with TERM in the start function: %v, want exit 143", res)
	}
}

// wantRunExit runs b with `runw run` and fails t unless it exits code,
// with stderr holding stderrHas (when not "").
func wantRunExit(t *testing.T, r *runw, b *bundle, code int, stderrHas string) {
	t.Helper()
	res := r.run("run", "-b", b.dir, "startfn-run")
	if res.code != code || !strings.Contains(res.stderr, stderrHas) {
		t.Errorf("runw run: %v, want exit %d and stderr holding %q", res, code, stderrHas)
	}
}
