package integration

// Shared helpers for the engine tests (podman_test.go, containerd_test.go):
// real podman+conmon and real containerd+ctr driving the runw binary built
// by TestMain. Every name here starts with "eng" so as not to collide with
// the other integration files.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// engTimeout bounds every engine command: a hung engine fails the test
// instead of the whole run.
const engTimeout = 90 * time.Second

// engResult is how one engine command ended.
type engResult struct {
	args           []string
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r engResult) String() string {
	return fmt.Sprintf("`%s`: exit %d after %v\nstdout: %q\nstderr: %q",
		strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// engRequire skips the test unless it runs as root with every tool on PATH.
func engRequire(t *testing.T, what string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("%s tests need root (engines, cgroups, mounts); running as uid %d", what, os.Geteuid())
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s tests need %s on PATH (integration/deps.sh installs it): %v", what, tool, err)
		}
	}
}

// engRun runs name with args and env (nil: the test's own), with stdin
// from /dev/null and stdout/stderr in files under outDir, never pipes: a
// daemon the command leaves behind (conmon, a shim) may inherit them and
// would otherwise keep the command "running" until it exits.
func engRun(t *testing.T, outDir string, env []string, name string, args ...string) engResult {
	t.Helper()
	return engRunStdin(t, outDir, env, nil, name, args...)
}

// engRunHeldStdin is engRun with a stdin that stays open, without data,
// until the command ends: what an interactive user's terminal gives. (A
// /dev/null stdin makes script(1) pass an end-of-file to `podman run -it`,
// which then races the container's output, with runc as well.)
func engRunHeldStdin(t *testing.T, outDir string, env []string, name string, args ...string) engResult {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	return engRunStdin(t, outDir, env, r, name, args...)
}

func engRunStdin(t *testing.T, outDir string, env []string, stdin *os.File, name string, args ...string) engResult {
	t.Helper()
	return engRunFiles(t, outDir, env, stdin, nil, name, args...)
}

// engRunFiles is engRunStdin with extra descriptors for the command, its
// 3, 4, ... in order.
func engRunFiles(t *testing.T, outDir string, env []string, stdin *os.File, extra []*os.File, name string, args ...string) engResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), engTimeout)
	defer cancel()
	stdout, err := os.CreateTemp(outDir, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.CreateTemp(outDir, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(stdout.Name())
	defer os.Remove(stderr.Name())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.ExtraFiles = extra
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	res := engResult{args: append([]string{name}, args...), took: time.Since(start)}
	stdout.Close()
	stderr.Close()
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	res.stdout, res.stderr = string(out), string(errOut)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("timed out after %v: %v", engTimeout, res)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// engWant fails the test unless the command exited with code.
func engWant(t *testing.T, res engResult, code int) {
	t.Helper()
	if res.code != code {
		t.Fatalf("want exit %d, got %v", code, res)
	}
}

// engWantContains fails the test unless s contains every one of subs.
func engWantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// engPoll calls f every 20ms until it returns true or timeout passes.
func engPoll(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// engStaticBusybox returns a statically linked busybox (Debian's
// busybox-static installs /bin/busybox), or "" when there is none: a
// dynamic one would need a libc in the image.
func engStaticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p
		}
	}
	return ""
}

// engLayer is the tar of a flat image root: each key is a file name at the
// root, each value the host file copied there (mode 0755).
func engLayer(files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: n, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// engWriteLayer writes engLayer(files) to dst (for `podman import`).
func engWriteLayer(t *testing.T, dst string, files map[string]string) {
	t.Helper()
	layer, err := engLayer(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, layer, 0o644); err != nil {
		t.Fatal(err)
	}
}

// engOCIArchive writes an OCI image-layout tarball to dst: one
// uncompressed layer holding files, an image config with entrypoint and
// the platform osName/arch, and index.json naming the manifest tag (so
// that `ctr image import --base-name NAME` gives NAME:tag).
func engOCIArchive(t *testing.T, dst, tag, osName, arch string, entrypoint []string, files map[string]string) {
	t.Helper()
	layer, err := engLayer(files)
	if err != nil {
		t.Fatal(err)
	}
	digest := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	config := mustJSON(map[string]any{
		"architecture": arch,
		"os":           osName,
		"config": map[string]any{
			"Entrypoint": entrypoint,
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(layer)}},
	})
	manifest := mustJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{
			"mediaType": "application/vnd.oci.image.config.v1+json",
			"digest":    digest(config), "size": len(config),
		},
		"layers": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.layer.v1.tar",
			"digest":    digest(layer), "size": len(layer),
		}},
	})
	index := mustJSON(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType":   "application/vnd.oci.image.manifest.v1+json",
			"digest":      digest(manifest),
			"size":        len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": tag},
			"platform":    map[string]string{"architecture": arch, "os": osName},
		}},
	})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	for _, blob := range [][]byte{layer, config, manifest} {
		add("blobs/sha256/"+strings.TrimPrefix(digest(blob), "sha256:"), blob)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// engUnmountUnder lazily unmounts everything mounted at or below dir,
// deepest first, so that dir can be removed.
func engUnmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

// engDaemon is an engine (containerd, CRI-O) run as the test's child,
// in its own process group, its output in a log file.
type engDaemon struct {
	name    string
	logFile string
	cmd     *exec.Cmd
	done    chan struct{}
}

// engWithTestCache gives a daemon that runs runw (containerd through its
// shim, CRI-O through conmon) the tests' compiled-module cache by
// RUNW_CACHE_DIR, as a node's unit would give it another: they cannot
// pass runw --cache-dir, and without it their runw filled the host's
// /var/lib/runw/cache.
func engWithTestCache(cmd *exec.Cmd) *exec.Cmd {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "RUNW_CACHE_DIR="+cacheDir)
	return cmd
}

// engStartDaemon starts cmd as the daemon name, its output in logFile.
func engStartDaemon(t *testing.T, name, logFile string, cmd *exec.Cmd) *engDaemon {
	t.Helper()
	logf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	d := &engDaemon{name: name, logFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(d.done) }()
	return d
}

// exited says whether the daemon has exited.
func (d *engDaemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitReady polls up until it succeeds; the test fails, with the log's
// warnings, if the daemon exits first or is not up within timeout.
func (d *engDaemon) waitReady(t *testing.T, timeout time.Duration, up func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if d.exited() {
			d.dumpLog(t)
			t.Fatalf("%s exited at start", d.name)
		}
		err := up()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.dumpLog(t)
			t.Fatalf("%s not up after %v: %v", d.name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the daemon: SIGTERM, then SIGKILL after grace.
func (d *engDaemon) stop(grace time.Duration) {
	if d.exited() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// dumpLog logs the last 40 warnings and errors of the daemon's log.
func (d *engDaemon) dumpLog(t *testing.T) {
	b, _ := os.ReadFile(d.logFile)
	keep := strings.Split(grepLines(strings.TrimSpace(string(b)), "level=error", "level=warn", "level=fatal"), "\n")
	if len(keep) > 40 {
		keep = keep[len(keep)-40:]
	}
	t.Logf("%s log (%s), warnings and errors:\n%s", d.name, d.logFile, strings.Join(keep, "\n"))
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				keep = append(keep, l)
				break
			}
		}
	}
	return strings.Join(keep, "\n")
}

// engKillShims kills every containerd shim left serving the containerd
// at sock, reporting each through report (t.Errorf where a leftover is
// a failure, t.Logf where it is only cleaned up).
func engKillShims(sock string, report func(format string, args ...any)) {
	for pid, cmdline := range engProcsWithArg("containerd-shim", "-address", sock) {
		report("killing a shim left serving the test's containerd: %d %s", pid, cmdline)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// engProcsWithArg returns the pids of processes whose argv[0] contains
// prog and whose argv has flag followed by value.
func engProcsWithArg(prog, flag, value string) map[int]string {
	found := map[int]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !strings.Contains(args[0], prog) {
			continue
		}
		for i, a := range args {
			if a == flag && i+1 < len(args) && args[i+1] == value {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				found[pid] = strings.Join(args, " ")
			}
		}
	}
	return found
}

// engRunwIDs lists the container ids runw knows under root (`runw list -q`).
func engRunwIDs(t *testing.T, outDir, root string) []string {
	t.Helper()
	res := engRun(t, outDir, nil, runwBin, "--root", root, "list", "-q")
	engWant(t, res, 0)
	return strings.Fields(res.stdout)
}

// engContains reports whether list holds s.
func engContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// engRootLeftovers lists what is under a runw --root besides runw's own
// shared, empty helper directories (".empty", ".native") and its copies
// of its binary (".exe").
func engRootLeftovers(root string) []string {
	var left []string
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			if sub, _ := os.ReadDir(p); len(sub) == 0 {
				continue
			}
		}
		if exeCopyPath(e.Name()) {
			continue
		}
		left = append(left, p)
	}
	return left
}

// engShellQuote quotes args for sh -c.
func engShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
