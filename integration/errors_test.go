package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// failsCleanly checks runc's error contract: exit 1, one line on stderr
// containing want, and nothing left under --root for id.
func failsCleanly(t *testing.T, r *runw, res result, id, want string) {
	t.Helper()
	if res.code != 1 {
		t.Errorf("exit %d, want 1 (%v)", res.code, res)
	}
	oneLine(t, "error", res.stderr)
	if !strings.Contains(res.stderr, want) {
		t.Errorf("stderr %q does not contain %q", res.stderr, want)
	}
	if id != "" {
		if _, err := os.Stat(filepath.Join(r.root, id)); err == nil {
			t.Errorf("failed command left %s under --root: %v", id, r.leftovers())
		}
	}
}

// Every broken bundle fails at create with one clear line and leaves
// nothing behind.
func TestCreateRefusesBadBundles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(b *bundle)
		want  string
	}{
		{"missing config.json", func(b *bundle) {
			os.Remove(filepath.Join(b.dir, "config.json"))
		}, "config.json"},
		{"malformed config.json", func(b *bundle) {
			os.WriteFile(filepath.Join(b.dir, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
		}, "config.json"},
		{"missing rootfs", func(b *bundle) {
			os.RemoveAll(b.rootfs)
		}, "rootfs"},
		{"args[0] missing", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Process.Args[0] = "/nowhere.wasm" })
		}, "no such file or directory"},
		// A path through a file, in runc's words; runw said "no such
		// file or directory".
		{"args[0] through a file", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Process.Args[0] = "/probe.wasm/x" })
		}, "not a directory"},
		{"args[0] is text", func(b *bundle) {
			b.writeFile("probe.wasm", "hello\n")
		}, "WebAssembly"},
		{"module fails to link", func(b *bundle) {
			copyFile("testdata/wat/badimport.wat", filepath.Join(b.rootfs, "probe.wasm"))
		}, "does_not_exist"},
		// Left undefined, it read as a function runw lacks ("unknown
		// import: ... has not been defined").
		{"WASI import of the wrong type", func(b *bundle) {
			b.writeFile("probe.wasm", `(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i64))) (memory (export "memory") 1) (func (export "_start")))`)
		}, "incompatible import type for `wasi_snapshot_preview1::proc_exit`: types incompatible: expected type `(func (param i64))`, found type `(func (param i32))`"},
		{"no _start", func(b *bundle) {
			copyFile("testdata/wat/nostart.wat", filepath.Join(b.rootfs, "probe.wasm"))
		}, "_start"},
		// Called with no arguments, it trapped at start (134, "expected
		// 1 arguments, got 0") after a create that succeeded.
		{"_start takes parameters", func(b *bundle) {
			b.writeFile("probe.wasm", `(module (memory (export "memory") 1) (func (export "_start") (param i32)))`)
		}, `"/probe.wasm" exports a _start that takes 1 parameter, where a WASI command's takes none`},
		{"shared memory", func(b *bundle) {
			copyFile("testdata/wat/sharedmem.wat", filepath.Join(b.rootfs, "probe.wasm"))
		}, "exports a shared memory"},
		// wasmtime quotes the module's import name in its error: the
		// image's ESC [ 2 J (clear the screen) must reach the terminal as
		// text (runw's oneLine), never as a control character.
		{"import name with terminal escapes", func(b *bundle) {
			b.writeFile("probe.wasm", "(module (import \"wasi_snapshot_preview1\" \"evil\\1b[2J\\07\" (func)) (func (export \"_start\")))")
		}, `evil\x1b[2J\x07`},
		// runc's init meets the mask when it executes the entrypoint:
		// /dev/null (permission denied, podman's 126), or nothing.
		{"masked entrypoint", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{MaskedPaths: []string{"/probe.wasm"}} })
		}, `exec: "/probe.wasm": permission denied`},
		{"entrypoint in a masked directory", func(b *bundle) {
			os.Mkdir(filepath.Join(b.rootfs, "opt"), 0o755)
			if err := copyFile(filepath.Join(b.rootfs, "probe.wasm"), filepath.Join(b.rootfs, "opt", "probe.wasm")); err != nil {
				b.t.Fatal(err)
			}
			b.edit(func(s *specs.Spec) {
				s.Process.Args[0] = "/opt/probe.wasm"
				s.Linux = &specs.Linux{MaskedPaths: []string{"/opt"}}
			})
		}, `"/opt/probe.wasm": no such file or directory`},
		// Go's GOOS=js port: what its imports show is said.
		{"module built with GOOS=js", func(b *bundle) {
			b.writeFile("probe.wasm", `(module (import "gojs" "runtime.wasmExit" (func (param i32))) (memory (export "mem") 1) (func (export "run")))`)
		}, "built with GOOS=js for a browser; build with GOOS=wasip1 GOARCH=wasm"},
		{"wasm-smart entrypoint without .wasm", func(b *bundle) {
			if err := os.Rename(filepath.Join(b.rootfs, "probe.wasm"), filepath.Join(b.rootfs, "probe")); err != nil {
				b.t.Fatal(err)
			}
			b.edit(func(s *specs.Spec) {
				s.Process.Args[0] = "/probe"
				s.Annotations = map[string]string{"run.oci.handler": "wasm-smart"}
			})
		}, `"/probe" is WebAssembly, but the wasm-smart handler`},
		// Every annotation under runw's name narrows what the container
		// gets: a misspelt one ran the guest with the whole network.
		{"misspelt annotation of runw's", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Annotations = map[string]string{"io.github.runw.net.conect": "10.0.0.1"} })
		}, `annotation "io.github.runw.net.conect": runw reads no such annotation`},
		// podman generate kube writes a container's annotation as
		// KEY/NAME, and podman kube play gives it to every container of
		// the pod unapplied: said so, not called a misspelling.
		{"generate kube's per-container annotation", func(b *bundle) {
			b.edit(func(s *specs.Spec) {
				s.Annotations = map[string]string{"io.github.runw.net.listen/web": "0.0.0.0:8080"}
			})
		}, `annotation "io.github.runw.net.listen/web": podman generate kube's form of io.github.runw.net.listen for container "web", which podman kube play gives every container of the pod without applying it: set io.github.runw.net.listen in the pod's metadata.annotations`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe")
			c.setup(b)
			res := r.run("create", "-b", b.dir, "bad")
			failsCleanly(t, r, res, "bad", c.want)
			r.assertRootEmpty()
		})
	}
}

// A native ELF is not WebAssembly: with no native runtime to hand it to,
// create fails with one clear line and makes nothing.
func TestNativeEntrypointWithoutNativeRuntime(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe")
	if err := copyFile("/bin/true", filepath.Join(b.rootfs, "probe.wasm")); err != nil {
		t.Fatal(err)
	}
	res := r.run("--native-runtime", "/nonexistent/runc", "create", "-b", b.dir, "elf")
	failsCleanly(t, r, res, "elf", "native")
	r.assertRootEmpty()
}

// A native entrypoint under an annotation that narrows runw's network
// grant is refused, not handed to runc, which knows nothing of the grant:
// an image with an ELF entrypoint run with io.github.runw.net=deny, or a
// connect or listen list, would otherwise get the whole network of its
// namespace. allow narrows nothing: that bundle goes on to the native
// runtime (here a missing one, so that the test needs no runc).
func TestNativeEntrypointUnderNarrowedNetworkIsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value, want string
	}{
		{"io.github.runw.net", "deny", "io.github.runw.net=deny"},
		{"io.github.runw.net", "DENY", "io.github.runw.net=DENY"},
		{"io.github.runw.net.connect", "10.0.0.0/8:80", "io.github.runw.net.connect"},
		{"io.github.runw.net.listen", "", "io.github.runw.net.listen"},
		{"io.github.runw.net", "allow", "no native OCI runtime found"},
	} {
		r := newRunw(t)
		b := newBundle(t, "probe")
		if err := copyFile("/bin/true", filepath.Join(b.rootfs, "probe.wasm")); err != nil {
			t.Fatal(err)
		}
		b.edit(func(s *specs.Spec) { s.Annotations = map[string]string{c.key: c.value} })
		res := r.run("--native-runtime", "/nonexistent/runc", "create", "-b", b.dir, "elf")
		failsCleanly(t, r, res, "elf", c.want)
		if c.value != "allow" && !strings.Contains(res.stderr, "native executable") {
			t.Errorf("%s=%s: stderr %q does not say the entrypoint is native", c.key, c.value, res.stderr)
		}
		r.assertRootEmpty()
	}
}

// Ids that are not safe directory names are refused before anything is made.
func TestCreateRefusesInvalidIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a/b", "..", ".", ".native", "a b", ""} {
		r := newRunw(t)
		b := newBundle(t, "probe")
		res := r.run("create", "-b", b.dir, id)
		want := "invalid container ID format"
		if id == "" {
			want = "container id cannot be empty" // runc's words
		}
		failsCleanly(t, r, res, "", want)
		r.assertRootEmpty()
	}
}

// A second create with the same id fails and leaves the first container
// working.
func TestDuplicateIDLeavesFirstContainerUnharmed(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	data := t.TempDir()
	b := newBundle(t, "probe", "write", "/data/ran", "first")
	b.edit(func(s *specs.Spec) { s.Mounts = []specs.Mount{bindMount("/data", data, "rw")} })
	r.mustRun("create", "-b", b.dir, "dup")
	before, _, _ := r.state("dup")

	res := r.run("create", "-b", b.dir, "dup")
	failsCleanly(t, r, res, "", "already exists")

	after, _, _ := r.state("dup")
	if after.Status != "created" || after.Pid != before.Pid {
		t.Fatalf("first container after the duplicate create: %+v, want created pid %d", after, before.Pid)
	}
	r.mustRun("start", "dup")
	r.waitStatus("dup", "stopped", 10*time.Second)
	if got, err := os.ReadFile(filepath.Join(data, "ran")); err != nil || string(got) != "first" {
		t.Errorf("first container did not run: %q, %v", got, err)
	}
	r.mustRun("delete", "dup")
}

// Commands on an id that was never created say so in runc's words.
func TestUnknownIDDoesNotExist(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, args := range [][]string{
		{"state", "ghost"}, {"start", "ghost"}, {"kill", "ghost", "TERM"}, {"delete", "ghost"},
	} {
		res := r.run(args...)
		if res.code != 1 || !strings.Contains(res.stderr, "container does not exist") {
			t.Errorf("runw %s: %v, want exit 1 \"container does not exist\"", strings.Join(args, " "), res)
		}
		oneLine(t, args[0], res.stderr)
	}
	if res := r.run("delete", "--force", "ghost"); res.code != 0 {
		t.Errorf("delete --force of an unknown id: %v, want exit 0 (as runc)", res)
	}
	r.assertRootEmpty()
}

// start works once, on a created container only.
func TestStartOnlyFromCreated(t *testing.T) {
	t.Parallel()
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe", "sleep", "5s")
		r.mustRun("create", "-b", b.dir, "twice")
		r.mustRun("start", "twice")
		res := r.run("start", "twice")
		if res.code != 1 || !containsAny(res.stderr, []string{"already running", "stopped"}) {
			t.Errorf("second start: %v, want exit 1 \"already running\"", res)
		}
		oneLine(t, "second start", res.stderr)
		r.mustRun("delete", "--force", "twice")
	})
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe")
		r.mustRun("create", "-b", b.dir, "done")
		r.mustRun("start", "done")
		r.waitStatus("done", "stopped", 10*time.Second)
		res := r.run("start", "done")
		if res.code != 1 || !strings.Contains(res.stderr, "stopped") {
			t.Errorf("start of a stopped container: %v, want exit 1 \"stopped\"", res)
		}
		oneLine(t, "start of stopped", res.stderr)
		r.mustRun("delete", "done")
	})
}

// A start that cannot record the container as started (here a state
// root made read-only after create; a full one fails the same way)
// starts nothing: it fails in one line, the container stays created, and
// a later start runs the guest. start used to release the guest first:
// the guest ran while the container read as created, a second start
// failed on the exec fifo, and a delete without --force killed it.
func TestStartThatCannotRecordStartsNothing(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a tmpfs state root")
	r := newRunw(t)
	if err := unix.Mount("tmpfs", r.root, "tmpfs", 0, "size=1m,mode=700"); err != nil {
		t.Fatalf("mount a tmpfs state root: %v", err)
	}
	const id = "unrecorded"
	// Before newRunw's clean-up, which needs the root still mounted.
	t.Cleanup(func() {
		unix.Mount("", r.root, "", unix.MS_REMOUNT, "")
		r.run("delete", "--force", id)
		unix.Unmount(r.root, unix.MNT_DETACH)
	})
	b := newBundle(t, "probe", "write", "/started", "yes", "sleep", "1h")
	r.mustRun("create", "-b", b.dir, id)
	if err := unix.Mount("", r.root, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount the state root read-only: %v", err)
	}
	res := r.run("start", id)
	if res.code != 1 {
		t.Errorf("start on a read-only state root: %v, want exit 1", res)
	}
	oneLine(t, "start on a read-only state root", res.stderr)
	if st, res, ok := r.state(id); !ok || st.Status != "created" {
		t.Errorf("after the failed start: %+v %v, want created", st, res)
	}
	if err := unix.Mount("", r.root, "", unix.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount the state root read-write: %v", err)
	}
	// Released by the failed start, the guest would make this start fail.
	r.mustRun("start", id)
	r.waitStatus(id, "running", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, err := os.ReadFile(filepath.Join(b.rootfs, "started")); err == nil && string(got) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the guest did not run after the second start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mustRun("delete", "--force", id)
}

// delete refuses a running container unless forced, and removes a created
// one without --force (runc does; containerd relies on it).
func TestDeleteRules(t *testing.T) {
	t.Parallel()
	t.Run("running", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe", "sleep", "1h")
		r.mustRun("create", "-b", b.dir, "busy")
		r.mustRun("start", "busy")
		st, _, _ := r.state("busy")
		res := r.run("delete", "busy")
		if res.code != 1 || !strings.Contains(res.stderr, "not stopped") {
			t.Errorf("delete of a running container: %v, want exit 1 \"not stopped\"", res)
		}
		oneLine(t, "delete running", res.stderr)
		if now, _, _ := r.state("busy"); now.Status != "running" {
			t.Fatalf("after refused delete: status %q, want running", now.Status)
		}
		r.mustRun("delete", "--force", "busy")
		waitGone(t, st.Pid, 5*time.Second)
		r.assertRootEmpty()
	})
	t.Run("created", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe")
		r.mustRun("create", "-b", b.dir, "fresh")
		st, _, _ := r.state("fresh")
		r.mustRun("delete", "fresh")
		waitGone(t, st.Pid, 5*time.Second)
		r.assertRootEmpty()
	})
}

// With --log, the error line goes to the log too, in runc's formats.
func TestErrorsAreLogged(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	missing := t.TempDir() // a bundle without config.json

	jsonLog := filepath.Join(t.TempDir(), "log.json")
	res := r.run("--log", jsonLog, "--log-format", "json", "create", "-b", missing, "logged")
	failsCleanly(t, r, res, "logged", "config.json")
	data, err := os.ReadFile(jsonLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 {
		t.Fatalf("JSON log has %d lines, want 1:\n%s", len(lines), data)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, lines[0])
	}
	if entry["level"] != "error" || entry["msg"] != strings.TrimSpace(res.stderr) || entry["time"] == nil {
		t.Errorf("log entry %v, want level error, msg %q and a time", entry, strings.TrimSpace(res.stderr))
	}

	textLog := filepath.Join(t.TempDir(), "log.txt")
	res = r.run("--log", textLog, "create", "-b", missing, "logged")
	failsCleanly(t, r, res, "logged", "config.json")
	data, err = os.ReadFile(textLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "level=error") || !strings.Contains(string(data), "config.json not found") {
		t.Errorf("text log %q, want a level=error line with the message", data)
	}

	// --log-format json without --log: stderr's one line is the log's
	// JSON, as runc writes it (runw wrote the bare message, which a
	// caller asking for JSON could not parse).
	res = r.run("--log-format", "json", "create", "-b", missing, "logged")
	failsCleanly(t, r, res, "logged", "config.json not found")
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.stderr)), &entry); err != nil || entry["level"] != "error" || !strings.Contains(fmt.Sprint(entry["msg"]), "config.json not found") {
		t.Errorf("--log-format json without --log: stderr %q, want one JSON line of level error with the message (%v)", res.stderr, err)
	}
}

// TestConsoleSocketOnlyWhenDetached: as runc, a console socket is taken
// only for a terminal of a process runw does not wait for; run and exec
// in the foreground refuse one, in runc's words, and leave nothing (runw
// sent the pty to the socket and waited in the foreground all the same).
func TestConsoleSocketOnlyWhenDetached(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) { s.Process.Terminal = true })
	sock := filepath.Join(t.TempDir(), "console.sock")
	const refusal = "cannot use console socket if runw will not detach or allocate tty"
	res := r.run("run", "--console-socket", sock, "-b", b.dir, "fg")
	failsCleanly(t, r, res, "fg", refusal)

	fds := receiveFd(t, sock)
	r.mustRun("run", "-d", "--console-socket", sock, "-b", b.dir, "bg")
	t.Cleanup(func() { r.run("delete", "--force", "bg") })
	if fd := <-fds; fd < 0 {
		t.Fatal("run -d sent no console")
	} else {
		t.Cleanup(func() { unix.Close(fd) })
	}
	res = r.run("exec", "-t", "--console-socket", sock, "bg", "/probe.wasm", "echo", "x")
	if res.code != 255 || !strings.Contains(res.stderr, refusal) {
		t.Errorf("exec in the foreground with a console socket: %v, want 255 and %q", res, refusal)
	}
	oneLine(t, "exec refusal", res.stderr)
}

// TestErrorsAreOneLine feeds a value holding a newline through every
// config field and flag that reaches an error: each create fails with
// exit 1 and exactly one line on stderr (the value quoted, as runc's
// logrus line has it), and leaves nothing behind.
func TestErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	const nl = "x\ninjected: second line"
	type tc struct {
		name  string
		setup func(b *bundle)
		flags []string
	}
	cases := []tc{
		{"process.args[0]", func(b *bundle) { b.edit(func(s *specs.Spec) { s.Process.Args[0] = "/" + nl }) }, nil},
		{"root.path", func(b *bundle) { b.edit(func(s *specs.Spec) { s.Root.Path = nl }) }, nil},
		{"mount source", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/data", "/nowhere/"+nl)) })
		}, nil},
		{"hook path", func(b *bundle) {
			b.edit(func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/nowhere/" + nl}}}
			})
		}, nil},
		{"process.cwd", func(b *bundle) { b.edit(func(s *specs.Spec) { s.Process.Cwd = nl }) }, nil},
		{"process.env", func(b *bundle) { b.edit(func(s *specs.Spec) { s.Process.Env = []string{nl} }) }, nil},
		{"process.rlimits type", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: nl, Hard: 1, Soft: 1}} })
		}, nil},
		{"linux.namespaces type", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: nl}}} })
		}, nil},
		{"linux.namespaces path", func(b *bundle) {
			b.edit(func(s *specs.Spec) {
				s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "network", Path: "/nowhere/" + nl}}}
			})
		}, nil},
		{"mount type", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/a", Type: nl, Source: nl}) })
		}, nil},
		{"--pid-file", nil, []string{"--pid-file", "/nowhere/" + nl}},
		{"--console-socket", func(b *bundle) { b.edit(func(s *specs.Spec) { s.Process.Terminal = true }) },
			[]string{"--console-socket", "/nowhere/" + nl}},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, tc{"linux.cgroupsPath", func(b *bundle) {
			b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: "/runw-test/" + nl} })
		}, nil})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe")
			if c.setup != nil {
				c.setup(b)
			}
			args := append([]string{"create", "-b", b.dir}, c.flags...)
			res := r.run(append(args, "nl")...)
			failsCleanly(t, r, res, "nl", "")
			if strings.Contains(res.stderr, "\ninjected") {
				t.Errorf("the value's newline reached stderr: %q", res.stderr)
			}
		})
	}
	t.Run("--bundle", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		res := r.run("create", "-b", "/nowhere/"+nl, "nl")
		failsCleanly(t, r, res, "nl", "")
	})
}

// TestCreateAcceptsWhatRuncAccepts: runc (checked against runc 1.1 on a
// busybox bundle) runs these, so runw must too: ids starting with '.',
// '_', '-' or '+', trailing bytes after config.json's JSON value, no
// ociVersion, and a mount destination relative to /.
func TestCreateAcceptsWhatRuncAccepts(t *testing.T) {
	t.Parallel()
	for _, id := range []string{".hidden", "_x", "-x", "+x"} {
		t.Run("id "+id, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe")
			if res := r.run("run", "--bundle", b.dir, "--", id); res.code != 0 {
				t.Fatalf("run %s: %v", id, res)
			}
			r.assertRootEmpty()
		})
	}
	t.Run("config quirks", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe")
		b.edit(func(s *specs.Spec) {
			s.Version = ""
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "scratch", Type: "tmpfs", Source: "tmpfs"})
		})
		data, _ := os.ReadFile(filepath.Join(b.dir, "config.json"))
		os.WriteFile(filepath.Join(b.dir, "config.json"), append(data, "\nnot json at all {"...), 0o644)
		if res := r.run("run", "--bundle", b.dir, "quirks"); res.code != 0 {
			t.Fatalf("run: %v", res)
		}
	})
	// runc 1.1 lets ',' through by accident; runw follows later runc.
	r := newRunw(t)
	res := r.run("create", "--bundle", newBundle(t, "probe").dir, "a,b")
	failsCleanly(t, r, res, "", "invalid container ID format")
}

// restore of a native bundle goes to the native runtime, as its create
// and a native container's checkpoint do (runw refused it as if it were
// wasm); a wasm bundle's restore is refused in one line. Neither leaves
// its id behind. runc itself then fails here (no checkpoint image, and
// no CRIU on the test machine), in its own words.
func TestRestoreOfNativeBundleGoesToRunc(t *testing.T) {
	t.Parallel()
	engRequire(t, "native restore", "runc")
	r := newRunw(t)
	native := newBundle(t, "probe")
	if err := copyFile("/bin/true", filepath.Join(native.rootfs, "probe.wasm")); err != nil {
		t.Fatal(err)
	}
	res := r.run("restore", "--image-path", t.TempDir(), "-b", native.dir, "nativerestore")
	if res.code == 0 || strings.Contains(res.stderr, "not supported by runw") || !strings.Contains(strings.ToLower(res.stderr), "criu") {
		t.Errorf("restore of a native bundle: %v; want runc's own failure", res)
	}
	wasm := newBundle(t, "probe")
	res = r.run("restore", "--image-path", t.TempDir(), "--bundle", wasm.dir, "wasmrestore")
	failsCleanly(t, r, res, "wasmrestore", "restore is not supported by runw for WebAssembly containers")
	r.assertRootEmpty()
}

// TestExnrefTypesAreRefusedNotAborted: a module whose WASI import or
// _start has an exnref in its type (exception handling), or that imports
// or exports a tag, made wasmtime's C API abort runw's init when runw
// asked it to describe them: create exited 1 with a Rust panic and
// "container init exited without reporting: killed by signal SIGABRT".
// Each is now refused at its compile, in one line, and `runw compile`
// exits 65 for it; a module that uses exnref inside itself runs.
func TestExnrefTypesAreRefusedNotAborted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, wat, want string }{
		{"WASI import with an exnref", "exnrefimport.wat", `its import "wasi_snapshot_preview1" "proc_exit" has exnref in its type, which no WASI function has`},
		{"_start returning an exnref", "exnrefstart.wat", `exports a _start that returns exnref`},
		{"_start returning a v128", "startv128.wat", `exports a _start that returns v128`},
		{"tag export", "tagexport.wat", `exports a tag ("err")`},
		{"tag import", "tagimport.wat", `imports a tag ("env" "err")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			r.cache = t.TempDir()
			b := newBundle(t, "wat/"+c.wat)
			res := r.run("create", "-b", b.dir, "exnref")
			failsCleanly(t, r, res, "exnref", `compile "/`+c.wat+`": `+c.want)
			r.assertRootEmpty()
			res = r.run("compile", filepath.Join("testdata", "wat", c.wat))
			if res.code != 65 {
				t.Errorf("runw compile: %v, want exit 65", res)
			}
			oneLine(t, "compile error", res.stderr)
			if !strings.Contains(res.stderr, c.want) {
				t.Errorf("runw compile: stderr %q, want %q", res.stderr, c.want)
			}
		})
	}
	t.Run("exnref inside the module", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "wat/exnrefinside.wat")
		if res := r.run("run", "-b", b.dir, "exnref"); res.code != 7 {
			t.Errorf("runw run: %v, want exit 7", res)
		}
		r.assertRootEmpty()
	})
}

// TestSharedMemoryIsRefusedAtCompile: a wasi-threads module (its memory
// exported shared), which every create refuses, was compiled into the
// cache by `runw compile` with exit 0. It is refused there too, exit 65,
// in create's words, and nothing is cached. One that imports its memory
// shared (wasm32-wasip1-threads) failed only at instantiation, with
// wasmtime's "unknown import" and no reason; it is refused the same way.
func TestSharedMemoryIsRefusedAtCompile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, how string }{
		{"sharedmem.wat", "exports a shared memory"},
		{"sharedmemimport.wat", "imports a shared memory"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			r.cache = t.TempDir()
			res := r.run("compile", filepath.Join("testdata", "wat", tc.file))
			if res.code != 65 {
				t.Errorf("runw compile: %v, want exit 65", res)
			}
			oneLine(t, "compile error", res.stderr)
			if !strings.Contains(res.stderr, tc.how+": runw's WASI host reads only a memory that is not shared") {
				t.Errorf("runw compile: stderr %q", res.stderr)
			}
			if arts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm")); len(arts) != 0 {
				t.Errorf("the refused module was cached: %v", arts)
			}
			b := newBundle(t, "wat/"+tc.file)
			res = r.run("create", "-b", b.dir, "shared")
			failsCleanly(t, r, res, "shared", fmt.Sprintf("compile %q: %s", "/"+tc.file, tc.how))
			r.assertRootEmpty()
		})
	}
}

// A create that runs out of descriptors (a low RLIMIT_NOFILE, EMFILE at
// any of its opens) fails with one line and takes back everything it
// made: the state directory, the tmpfs behind a tmpfs mount, the cgroup.
// runw left the directory, listed as "creating" with no init and its id
// taken, where the open of the directory itself failed, and where the
// undoing had no descriptor left to read mountinfo or walk the
// directory (a mounted tmpfs copy stayed below it). Where root lacks
// CAP_SYS_RESOURCE (some sandboxes), a spec's limit equal to runw's own
// hard one failed with EPERM: the init raised the hard limit for its own
// descriptors. Every limit from 8
// up is tried until one is high enough to run the container.
func TestCreateOutOfDescriptorsLeavesNothing(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a tmpfs mount behind the grant")
	prlimit := toolOrSkip(t, "prlimit", "(util-linux) to start runw under a low RLIMIT_NOFILE")
	r := newRunw(t)
	b := newBundle(t, "hello")
	ran := false
	for n := 8; n <= 96 && !ran; n++ {
		b.edit(func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}}}
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: uint64(n), Soft: uint64(n)}}
		})
		id := fmt.Sprintf("nofile-%d", n)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		lim := fmt.Sprintf("--nofile=%d:%d", n, n)
		cmd := exec.CommandContext(ctx, prlimit, append([]string{lim, runwBin}, r.argv("run", "--bundle", b.dir, id)...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err == nil {
			if !strings.Contains(stdout.String(), "Hello from a WebAssembly container!") {
				t.Errorf("RLIMIT_NOFILE %d: ran, but printed %q", n, stdout.String())
			}
			ran = true
		} else {
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 1 || !strings.Contains(stderr.String(), "too many open files") {
				t.Errorf("RLIMIT_NOFILE %d: exit %d, stderr %q; want 1 and EMFILE", n, code, stderr.String())
			}
		}
		r.assertRootEmpty()
		if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(data), r.root) {
			t.Errorf("RLIMIT_NOFILE %d: a mount is left under --root", n)
		}
		if t.Failed() {
			// One limit's leftovers would be every later one's too.
			t.Fatalf("at RLIMIT_NOFILE %d (%s)", n, strings.TrimSpace(stderr.String()))
		}
	}
	if !ran {
		t.Error("no RLIMIT_NOFILE up to 96 was enough to run the container")
	}
}
