// Go's runtime (1.25 on) reads the cgroup's CPU limit for GOMAXPROCS and
// keeps cpu.cfs_quota_us and cpu.cfs_period_us (cpu.max on v2) open to
// follow it. In the container's init those are the host's writable
// cgroupfs files, and the init is dumpable once it runs as the container's
// user: a process sharing its pid namespace (a sidecar, kubectl debug
// --target) reopened them for writing through /proc/<init>/fd and set the
// container's CPU limit. Under runc the same descriptors are on the
// container's read-only /sys/fs/cgroup. runw's processes keep GOMAXPROCS
// at the CPU count, as before 1.25, and open no such file.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command runw is an OCI runtime, a drop-in for runc, whose containers run
// WebAssembly modules under wasmtime with WASI grants derived from the
// bundle's config.json. See docs/ARCHITECTURE.md.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/runw/runw/runtime"
	"github.com/runw/runw/state"
	// Joins the namespaces only a single-threaded process can join, in
	// `runw init`, before the Go runtime starts (see its package doc).
	_ "github.com/runw/runw/runtime/nsenter"
	"github.com/runw/runw/wasi"
)

// version and commit are set by the Makefile with -ldflags "-X
// main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = ""
)

// exitError carries a status up to main (a guest's, exec's 255,
// compile's 65), and the error to report first (nil: none), its line
// begun with prefix.
type exitError struct {
	code   int
	err    error
	prefix string
}

func (e exitError) Error() string {
	if e.err != nil {
		return e.prefix + e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// main runs one command. Three modes are runw re-executing itself, none
// of them in --help:
//   - `runw init`, the container's init started by create and exec
//     (runtime/spawn.go), handled below by runtime.Init (runtime/init.go);
//   - the listen exec, runw started by runtime's activatedNative only to
//     hand systemd's sockets to a native runtime (runtime.IsListenExec,
//     runtime.ListenExec: runtime/preserve.go), handled below;
//   - the compile child, `runw compile /proc/self/fd/0` with
//     _RUNW_COMPILE_CHILD=1 (runtime.fillCache), which goes through the
//     compile command and is recognised in runtime.Compile
//     (runtime/compile.go).
func main() {
	// The container init is runw re-executed (sealedSelf: a copy of the
	// binary through a read-only overlay, or a sealed memfd); it skips
	// flag parsing entirely: start-up time of the container is spent here.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
		return
	}
	if runtime.IsListenExec() {
		fatal(runtime.ListenExec())
	}
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		fatal(err)
	}
}

// fatal is runw's one way out with an error: it prints the error once on
// stderr and once in --log, then exits 1, or with the status an
// exitError carries. A native runtime's own status (runtime.NativeExit)
// is passed through with nothing printed: the runtime printed its own.
func fatal(err error) {
	code, prefix := 1, ""
	var ee exitError
	var ne *runtime.NativeExit
	switch {
	case errors.As(err, &ee):
		code, prefix, err = ee.code, ee.prefix, ee.err
	case errors.As(err, &ne):
		code, err = ne.Code, nil
	}
	if err != nil {
		log := logrus.StandardLogger()
		_, jsonLines := log.Formatter.(*logrus.JSONFormatter)
		switch {
		case log.Out != os.Stderr:
			logrus.Error(err)
			fmt.Fprintln(os.Stderr, prefix+oneLine(err))
		case jsonLines:
			// --log-format json without --log: the line on stderr is the
			// log's, as runc writes it, for a caller that parses it.
			logrus.Error(prefix + oneLine(err))
		default:
			fmt.Fprintln(os.Stderr, prefix+oneLine(err))
		}
	}
	os.Exit(code)
}

// oneLine is an error's text kept to one line of plain text. Engines
// read the first line of stderr as the error; runw quotes every value it
// formats (%q), and this catches what a library formats raw (the path
// inside an *os.PathError, a wasmtime message), so a newline in a config
// value can never split the error or forge a second line. Other control
// characters are written as \xNN: wasmtime's messages quote a module's
// own names (an import's), so an image could otherwise put a terminal's
// escape sequences (ESC, or C1's CSI) into the line an engine shows or
// logs, and rewrite what an operator's terminal displays.
func oneLine(err error) string {
	var b strings.Builder
	for _, r := range strings.TrimRight(err.Error(), "\n") {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// newApp builds the CLI: the global flags, the commands and runc's
// answers to a bad flag or an unknown command.
func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		commit := commit
		if bi, ok := debug.ReadBuildInfo(); ok && commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
		if commit == "" {
			commit = "unknown"
		}
		fmt.Printf("runw version %s\ncommit: %s\nspec: %s\nwasmtime: %s\ngo: %s\nlibseccomp: %s\n",
			version, commit, specs.Version, wasi.WasmtimeVersion(), goVersion(), runtime.SeccompVersion())
	}
	app := &cli.App{
		// A list flag's value is taken whole, as runc's (urfave/cli v1)
		// takes it: v2 split `exec --env X=a,b=c` into X=a and b=c.
		DisableSliceFlagSeparator: true,
		Name:                      "runw",
		Usage:                     "an OCI runtime that runs WebAssembly containers",
		Version:                   version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "write logs to this file instead of stderr"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug output"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "read cgroupsPath as systemd's slice:prefix:name, as runc does"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted for runc compatibility"},
			&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility (runw has no checkpoint)"},
			// From the environment too: containerd's shim and CRI-O call
			// runw with no flag of the operator's choosing, and a node's
			// containerd or crio unit can set these for them.
			&cli.StringFlag{Name: "cache-dir", Value: defaultCacheDir(), EnvVars: []string{"RUNW_CACHE_DIR"}, Usage: "compiled-module cache; empty disables it"},
			&cli.Int64Flag{Name: "cache-max", Value: wasi.DefaultCacheMax, EnvVars: []string{"RUNW_CACHE_MAX"}, Usage: "cache size bound in bytes"},
			&cli.StringFlag{Name: "native-runtime", Usage: "OCI runtime for native (non-wasm) containers (default: runc, then crun, on PATH)"},
		},
		Before:       setupLog,
		Commands:     commands(),
		OnUsageError: globalUsageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "No help topic for '%s'\n", name)
			os.Exit(3)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	return app
}

// globalUsageError answers a global flag that does not parse. A typed one
// gets what runc gives: "Incorrect Usage:", the error and the usage text
// on stdout, then the error line. A value from the environment
// (RUNW_CACHE_MAX, set on a node's containerd or crio unit, which calls
// runw with every verb) gets the error line alone: the usage text says
// nothing about the environment, and the engine shows its caller only the
// last line.
func globalUsageError(c *cli.Context, err error, _ bool) error {
	if strings.Contains(err.Error(), "from environment variable") {
		return err
	}
	fmt.Fprintf(c.App.Writer, "Incorrect Usage: %s\n\n", err)
	_ = cli.ShowAppHelp(c)
	return err
}

// defaultRoot follows runc: /run/runw for root, $XDG_RUNTIME_DIR/runw for
// others, so that callers that strip the environment get the same answer.
func defaultRoot() string {
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" && unprivileged() {
		return filepath.Join(xdg, "runw")
	}
	return state.DefaultRoot
}

// unprivileged reports whether runw runs as a user who cannot write the
// system's directories (/run, /var/lib). Rootless podman runs runw as uid
// 0 of a user namespace, a root that cannot write them either, unless
// USER says it is the real root.
func unprivileged() bool {
	return os.Geteuid() != 0 || userns.RunningInUserNS() && os.Getenv("USER") != "root"
}

// defaultCacheDir is /var/lib/runw/cache for root and, for a user who
// cannot write it (unprivileged), the user's own cache: $XDG_CACHE_HOME/runw,
// else ~/.cache/runw, else (no home, or one that does not exist)
// $XDG_RUNTIME_DIR/runw-cache, which
// lasts until logout. With the system's directory there, the cache was
// disabled and every container compiled its module.
func defaultCacheDir() string {
	if unprivileged() {
		if d := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
			return filepath.Join(d, "runw")
		}
		// A home that is not there is no home: nobody's is /nonexistent,
		// where the cache could not be made and every run compiled.
		if h := os.Getenv("HOME"); filepath.IsAbs(h) && h != "/" && isDir(h) {
			return filepath.Join(h, ".cache", "runw")
		}
		if xdg := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(xdg) {
			return filepath.Join(xdg, "runw-cache")
		}
	}
	return wasi.DefaultCacheDir
}

// isDir says whether p is a directory.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// setupLog configures logrus like runc: --log file opened append+sync,
// text or JSON lines, debug level with --debug.
func setupLog(c *cli.Context) error {
	return runtime.ConfigureLog(c.String("log"), c.String("log-format"), c.Bool("debug"))
}

// newRuntime builds the runtime from the global flags.
func newRuntime(c *cli.Context) (*runtime.Runtime, error) {
	root, err := filepath.Abs(c.String("root"))
	if err != nil {
		return nil, err
	}
	// Absolute, as the root: create records it for the container's
	// later execs, which may run from anywhere.
	cacheDir := c.String("cache-dir")
	if cacheDir != "" {
		if cacheDir, err = filepath.Abs(cacheDir); err != nil {
			return nil, err
		}
	}
	return runtime.New(runtime.Options{
		Root:       root,
		StickyRoot: !c.IsSet("root") && root != state.DefaultRoot,
		CacheDir:   cacheDir,
		// Set by the flag or the environment: exec otherwise takes the
		// cache its container was created with.
		CacheDirSet: c.IsSet("cache-dir"),
		CacheMax:    c.Int64("cache-max"),
		CacheMaxSet: c.IsSet("cache-max"),
		LogPath:     c.String("log"),
		LogFormat:   c.String("log-format"),
		Debug:       c.Bool("debug"),

		SystemdCgroup: c.Bool("systemd-cgroup"),
		NativeRuntime: c.String("native-runtime"),
		CmdArgs:       commandArgs(c.App, os.Args, c.Command.Name),
	})
}

// commandArgs returns what follows the command name in argv: the
// command's flags and arguments exactly as given, to replay them to a
// native runtime for a handed-off container.
func commandArgs(app *cli.App, argv []string, command string) []string {
	i := commandIndex(app, argv)
	if i >= len(argv) {
		return nil
	}
	if a := argv[i]; a == command || (command == "list" && a == "ls") {
		return argv[i+1:]
	}
	return nil
}

// commandIndex is the index in argv of the command name: the first
// argument after the global flags and their values.
func commandIndex(app *cli.App, argv []string) int {
	globals := takesValue(app.Flags)
	i := 1
	for i < len(argv) && strings.HasPrefix(argv[i], "-") && argv[i] != "--" {
		name := strings.TrimLeft(argv[i], "-")
		if globals[name] && !strings.Contains(argv[i], "=") {
			i++
		}
		i++
	}
	return i
}

// checkArgs prints usage and fails as runc does when the count is wrong.
func checkArgs(c *cli.Context, n int) error {
	if c.NArg() != n {
		return usageError(c, "exactly %d argument(s)", n)
	}
	return nil
}

// createFlags are runc create's flags, which run takes too.
var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "path to the bundle (default: current directory)"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container's pid here"},
	&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket that receives a pidfd of the init"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional descriptors (3 to 2+N) to the process; their numbers in the guest are in RUNW_PRESERVED_FDS"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "make the rootfs the root by moving it over / and chrooting, not by pivot_root (for a host root on a ramdisk)"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted; runw makes no session keyring"},
}

// createOptions reads createFlags into runtime.CreateOptions.
func createOptions(c *cli.Context) runtime.CreateOptions {
	bundle := c.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	return runtime.CreateOptions{
		Bundle:        bundle,
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		PreserveFDs:   c.Int("preserve-fds"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
	}
}

// withRuntime wraps an action that needs the runtime and n arguments.
func withRuntime(n int, f func(c *cli.Context, r *runtime.Runtime) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if n >= 0 {
			if err := checkArgs(c, n); err != nil {
				return err
			}
		}
		r, err := newRuntime(c)
		if err != nil {
			return err
		}
		return f(c, r)
	}
}

// onContainer wraps a command on one existing container, its id the first
// argument: after check, the id is resolved once (Runtime.Native) and a
// container handed to a native runtime gets the command there, argv as
// given; f runs only for runw's own containers.
func onContainer(check func(*cli.Context) error, f func(c *cli.Context, r *runtime.Runtime) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := check(c); err != nil {
			return err
		}
		r, err := newRuntime(c)
		if err != nil {
			return err
		}
		if handled, err := r.Native(c.Args().First(), c.Command.Name); handled {
			return err
		}
		return f(c, r)
	}
}

// exactly is the usual argument check: n arguments, no more and no
// fewer (1 for a command on one container: the id alone).
func exactly(n int) func(*cli.Context) error {
	return func(c *cli.Context) error { return checkArgs(c, n) }
}

// atLeast is the argument check of a command whose first n arguments are
// required and more may follow (ps, exec, compile, cache rm).
func atLeast(n int) func(*cli.Context) error {
	return func(c *cli.Context) error {
		if c.NArg() < n {
			return usageError(c, "a minimum of %d argument(s)", n)
		}
		return nil
	}
}

// execFlags are runc exec's flags.
var execFlags = []cli.Flag{
	&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket that receives a pidfd of the process"},
	&cli.StringFlag{Name: "cwd", Usage: "working directory (sets PWD)"},
	&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add an environment variable"},
	&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
	&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
	&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
	&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "specs.Process JSON file"},
	&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid here"},
	&cli.StringFlag{Name: "process-label", Usage: "the process's SELinux label (refused on a host without SELinux, as by runc)"},
	&cli.StringFlag{Name: "apparmor", Usage: "the process's AppArmor profile (refused on a host without AppArmor, as by runc)"},
	&cli.BoolFlag{Name: "no-new-privs", Usage: "accepted; a wasm guest cannot gain privileges"},
	&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding, effective and permitted sets of the process"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional descriptors (3 to 2+N) to the process; their numbers in the guest are in RUNW_PRESERVED_FDS"},
	&cli.StringFlag{Name: "cgroup", Usage: "accepted; exec joins the container's cgroup"},
	&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
}

// updateFlags are runc update's flags.
var updateFlags = []cli.Flag{
	&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "specs.LinuxResources JSON file, or - for stdin"},
	&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes"},
	&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit in bytes"},
	&cli.StringFlag{Name: "memory-swap", Usage: "memory+swap limit in bytes"},
	&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota (µs)"},
	&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period (µs)"},
	&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst: CPU time (µs) a period may add from what earlier periods left unused"},
	&cli.StringFlag{Name: "cpu-idle", Usage: "the cgroup's SCHED_IDLE: 0 the default, 1 idle"},
	&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares"},
	&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to use"},
	&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
	&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of pids"},
	&cli.StringFlag{Name: "blkio-weight", Usage: "block I/O weight (10 to 1000)"},
	&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period (µs)"},
	&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime runtime (µs)"},
	&cli.StringFlag{Name: "kernel-memory", Usage: "accepted and ignored, as by runc (kernel memory limits are gone)"},
	&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "accepted and ignored, as by runc"},
	&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT: not supported"},
	&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT: not supported"},
}

// commands are runw's commands, one cli.Command literal each: runc's,
// and compile and cache of runw's own.
func commands() []*cli.Command {
	return []*cli.Command{
		{
			Name: "create", Usage: "create a container (the guest waits for start)", ArgsUsage: "<container-id>",
			Flags: createFlags,
			Action: withRuntime(1, func(c *cli.Context, r *runtime.Runtime) error {
				return r.Create(c.Args().First(), createOptions(c))
			}),
		},
		{
			Name: "start", Usage: "run the guest of a created container", ArgsUsage: "<container-id>",
			Action: onContainer(exactly(1), func(c *cli.Context, r *runtime.Runtime) error {
				return r.Start(c.Args().First())
			}),
		},
		{
			Name: "run", Usage: "create and start a container, and wait for it", ArgsUsage: "<container-id>",
			Flags: append([]cli.Flag{
				&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the guest"},
				&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
				&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility"},
			}, createFlags...),
			Action: withRuntime(1, runAction),
		},
		{
			Name: "state", Usage: "print a container's state as JSON", ArgsUsage: "<container-id>",
			Action: withRuntime(1, stateAction),
		},
		{
			Name: "kill", Usage: "send a signal to a container (default SIGTERM)", ArgsUsage: "<container-id> [signal]",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the signal to every process of the container (exec'd ones too); a stopped container is not an error"}},
			Action: onContainer(func(c *cli.Context) error {
				if c.NArg() < 1 || c.NArg() > 2 {
					return usageError(c, "a minimum of 1 and a maximum of 2 argument(s)")
				}
				return nil
			}, killAction),
		},
		{
			Name: "delete", Usage: "delete a container", ArgsUsage: "<container-id>",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first"}},
			Action: onContainer(exactly(1), func(c *cli.Context, r *runtime.Runtime) error {
				return r.Delete(c.Args().First(), c.Bool("force"))
			}),
		},
		{
			Name: "list", Aliases: []string{"ls"}, Usage: "list containers",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
				&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only ids"},
			},
			Action: withRuntime(0, listAction),
		},
		{
			Name: "exec", Usage: "run another wasm module inside a container", ArgsUsage: "<container-id> <module> [args...]",
			Flags:  execFlags,
			Action: execAction,
		},
		{
			Name: "ps", Usage: "list the processes of a container", ArgsUsage: "<container-id> [ps options]",
			Flags:  []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
			Action: onContainer(atLeast(1), psAction),
		},
		{
			Name: "pause", Usage: "freeze a container's processes", ArgsUsage: "<container-id>",
			Action: onContainer(exactly(1), func(c *cli.Context, r *runtime.Runtime) error { return r.Pause(c.Args().First()) }),
		},
		{
			Name: "resume", Usage: "thaw a paused container", ArgsUsage: "<container-id>",
			Action: onContainer(exactly(1), func(c *cli.Context, r *runtime.Runtime) error { return r.Resume(c.Args().First()) }),
		},
		{
			Name: "update", Usage: "change a container's cgroup limits", ArgsUsage: "<container-id>",
			Flags:  updateFlags,
			Action: onContainer(exactly(1), updateAction),
		},
		{
			Name: "events", Usage: "print container stats as JSON lines", ArgsUsage: "<container-id>",
			Flags: []cli.Flag{
				&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats events"},
				&cli.BoolFlag{Name: "stats", Usage: "print one stats event and exit"},
			},
			Action: onContainer(exactly(1), func(c *cli.Context, r *runtime.Runtime) error {
				return r.Events(c.Args().First(), c.Duration("interval"), c.Bool("stats"), os.Stdout)
			}),
		},
		{
			Name: "features", Usage: "print the runtime-spec features JSON",
			Action: featuresAction,
		},
		{
			Name: "compile", Usage: "precompile modules and components into the cache (image builds, node warm-up); exits 65 if wasmtime refuses one", ArgsUsage: "<module.wasm|module.wat|component.wasm>...",
			Action: compileAction,
		},
		{
			Name: "cache", Usage: "inspect or clear the compiled-module cache",
			Subcommands: []*cli.Command{
				{
					Name: "ls", Usage: "list cached modules, most recently used first",
					Action: withCache(cacheLsAction),
				},
				{
					Name: "rm", Usage: "remove cached modules by key", ArgsUsage: "<key>...",
					Action: withCache(cacheRmAction),
				},
				{
					Name: "prune", Usage: "remove every cached module",
					Action: withCache(cachePruneAction),
				},
			},
		},
		unsupported("checkpoint", "checkpoint a running container (not supported for wasm)"),
		restoreCommand(),
		{
			Name: "spec", Usage: "write a config.json for a wasm bundle",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "directory to write config.json in"},
				&cli.BoolFlag{Name: "rootless", Usage: "for a user without privileges: a user namespace mapping root to your uid and gid, as runc's"},
			},
			Action: specAction,
		},
	}
}

// stateAction prints a container's state as JSON.
func stateAction(c *cli.Context, r *runtime.Runtime) error {
	st, err := r.State(c.Args().First())
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// killAction sends the signal named by the second argument (SIGTERM by
// default).
func killAction(c *cli.Context, r *runtime.Runtime) error {
	// An empty signal is SIGTERM too, as runc reads it.
	name := "SIGTERM"
	if c.NArg() == 2 && c.Args().Get(1) != "" {
		name = c.Args().Get(1)
	}
	sig, err := runtime.ParseSignal(name)
	if err != nil {
		return err
	}
	return r.Kill(c.Args().First(), sig, c.Bool("all"))
}

// psAction lists a container's processes as a table (ps's own, with
// its options) or as JSON pids.
func psAction(c *cli.Context, r *runtime.Runtime) error {
	id := c.Args().First()
	switch c.String("format") {
	case "table":
		out, err := r.PsTable(id, c.Args().Slice()[1:])
		fmt.Print(out)
		return err
	case "json":
		pids, err := r.Pids(id)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(pids)
	}
	// As runc: the container is looked up first.
	if _, err := r.Pids(id); err != nil {
		return err
	}
	return errors.New("invalid format option")
}

// featuresAction prints the runtime-spec features document.
func featuresAction(c *cli.Context) error {
	if err := checkArgs(c, 0); err != nil {
		return err
	}
	out, err := json.MarshalIndent(runtime.Features(), "", "    ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// compileAction compiles its arguments into the cache, a line for each.
func compileAction(c *cli.Context) error {
	if err := atLeast(1)(c); err != nil {
		return err
	}
	err := runtime.Compile(c.String("cache-dir"), c.Int64("cache-max"), c.Args().Slice(), func(path, key string, hit bool) {
		how := "compiled"
		if hit {
			how = "cached"
		}
		fmt.Printf("%s\t%s\t%s\n", key, how, path)
	})
	// A module wasmtime refuses exits with a status of its
	// own, so that create's compile child (runtime.fillCache)
	// can tell it from a compile cut short by its bounds.
	var rejected *wasi.RejectedError
	if errors.As(err, &rejected) {
		return exitError{code: runtime.ExitRejected, err: err}
	}
	return err
}

// cacheLsAction lists the cache, most recently used first.
func cacheLsAction(c *cli.Context, cache *wasi.Cache) error {
	entries, err := cache.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "KEY\tSIZE\tLAST USED\n")
	for _, e := range entries {
		used := e.Used.Format(time.RFC3339)
		if e.Corrupt {
			used = "incomplete"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\n", e.Key, e.Size, used)
	}
	return w.Flush()
}

// cacheRmAction removes cached artifacts by key.
func cacheRmAction(c *cli.Context, cache *wasi.Cache) error {
	if err := atLeast(1)(c); err != nil {
		return err
	}
	for _, k := range c.Args().Slice() {
		if err := cache.Remove(k); err != nil {
			return err
		}
	}
	return nil
}

// cachePruneAction empties the cache.
func cachePruneAction(c *cli.Context, cache *wasi.Cache) error {
	n, err := cache.Prune()
	if err == nil {
		fmt.Printf("removed %d cached modules\n", n)
	}
	return err
}

// runAction creates and starts a container and waits for it (unless
// detached), exiting with its status.
func runAction(c *cli.Context, r *runtime.Runtime) error {
	code, err := r.Run(c.Args().First(), runtime.RunOptions{
		CreateOptions: createOptions(c), Detach: c.Bool("detach"), Keep: c.Bool("keep"),
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// listAction prints every container: ids alone (--quiet), a table or JSON.
func listAction(c *cli.Context, r *runtime.Runtime) error {
	all, err := r.List()
	if err != nil {
		return err
	}
	if c.Bool("quiet") {
		for _, s := range all {
			fmt.Println(s.ID)
		}
		return nil
	}
	switch c.String("format") {
	case "json":
		out, err := json.Marshal(all)
		if err != nil {
			return err
		}
		fmt.Println(string(out))
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range all {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return w.Flush()
	default:
		return fmt.Errorf("invalid format option")
	}
	return nil
}

// specAction writes runw's template config.json (--rootless: runc's
// rootless one) into the bundle, refusing to replace one.
func specAction(c *cli.Context) error {
	if err := checkArgs(c, 0); err != nil {
		return err
	}
	dir := c.String("bundle")
	if dir == "" {
		dir = "."
	}
	path := filepath.Join(dir, "config.json")
	if _, err := os.Stat(path); err == nil {
		//lint:ignore ST1005 runc's own words, which callers match
		return fmt.Errorf("File %q exists. Remove it first", path)
	}
	tmpl := runtime.Template()
	if c.Bool("rootless") {
		tmpl = runtime.RootlessTemplate()
	}
	out, err := json.MarshalIndent(tmpl, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// goVersion names the Go toolchain that built runw.
func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

// execAction runs exec; like runc, a runtime failure exits 255 so that a
// caller can tell it from the process's own status.
func execAction(c *cli.Context) error {
	// As runc: a container id is required (usage, exit 1); a command
	// missing after it is a failure of the exec (255), once the
	// container is found (runtime.execProcess).
	if err := atLeast(1)(c); err != nil {
		return err
	}
	r, err := newRuntime(c)
	if err != nil {
		return err
	}
	if handled, err := r.Native(c.Args().First(), "exec"); handled {
		var ne *runtime.NativeExit
		if err == nil || errors.As(err, &ne) {
			return err // the native runtime's own status, passed through
		}
		return execFailed(err)
	}
	code, err := r.Exec(c.Args().First(), runtime.ExecOptions{
		ProcessFile:   c.String("process"),
		Args:          c.Args().Slice()[1:],
		Env:           c.StringSlice("env"),
		Cwd:           c.String("cwd"),
		Tty:           c.Bool("tty"),
		Detach:        c.Bool("detach"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		IgnorePaused:  c.Bool("ignore-paused"),
		User:          c.String("user"),
		Gids:          c.Int64Slice("additional-gids"),
		PreserveFDs:   c.Int("preserve-fds"),
		Caps:          c.StringSlice("cap"),
		Apparmor:      c.String("apparmor"),
		ProcessLabel:  c.String("process-label"),
	})
	if err != nil {
		return execFailed(err)
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// execFailed reports a runtime failure of exec, as runc does, with 255.
func execFailed(err error) error {
	return exitError{code: 255, err: err, prefix: "exec failed: "}
}

// updateAction parses update's individual flags into resources.
func updateAction(c *cli.Context, r *runtime.Runtime) error {
	for _, name := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if c.IsSet(name) {
			return fmt.Errorf("--%s: Intel RDT is not supported by runw", name)
		}
	}
	// As runc: with --resources, the file alone; every other flag is
	// ignored (runc update's help: "all other options are ignored").
	res := &specs.LinuxResources{}
	if f := c.String("resources"); f != "" {
		if err := readResources(f, res); err != nil {
			return err
		}
		return r.Update(c.Args().First(), res)
	}
	memory := func() *specs.LinuxMemory {
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		return res.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		return res.CPU
	}
	// Memory sizes take runc's suffixes ("100M", "1g", "512KiB"); -1 is
	// no limit. The kernel-memory flags are parsed and ignored, as by runc.
	err := setFlags(c, ramInBytes, []flagField[int64]{
		{"memory", func(v *int64) { memory().Limit = v }},
		{"memory-reservation", func(v *int64) { memory().Reservation = v }},
		{"memory-swap", func(v *int64) { memory().Swap = v }},
		{"kernel-memory", func(*int64) {}},
		{"kernel-memory-tcp", func(*int64) {}},
	})
	if err != nil {
		return err
	}
	err = setFlags(c, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }, []flagField[int64]{
		{"cpu-quota", func(v *int64) { cpu().Quota = v }},
		{"cpu-idle", func(v *int64) { cpu().Idle = v }},
		{"cpu-rt-runtime", func(v *int64) { cpu().RealtimeRuntime = v }},
		{"pids-limit", func(v *int64) { res.Pids = &specs.LinuxPids{Limit: v} }},
	})
	if err != nil {
		return err
	}
	// Unsigned, as runc parses them: "-1" is refused, not 2^64-1.
	err = setFlags(c, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }, []flagField[uint64]{
		{"cpu-period", func(v *uint64) { cpu().Period = v }},
		{"cpu-burst", func(v *uint64) { cpu().Burst = v }},
		{"cpu-share", func(v *uint64) { cpu().Shares = v }},
		{"cpu-rt-period", func(v *uint64) { cpu().RealtimePeriod = v }},
	})
	if err != nil {
		return err
	}
	if c.IsSet("cpuset-cpus") {
		cpu().Cpus = c.String("cpuset-cpus")
	}
	if c.IsSet("cpuset-mems") {
		cpu().Mems = c.String("cpuset-mems")
	}
	// 0 leaves the weight as it is; the kernel takes 10 to 1000.
	if c.IsSet("blkio-weight") {
		w, err := strconv.ParseUint(c.String("blkio-weight"), 10, 16)
		if err != nil || w != 0 && (w < 10 || w > 1000) {
			return fmt.Errorf("invalid value for --blkio-weight: %q (range is 10 to 1000)", c.String("blkio-weight"))
		}
		if w != 0 {
			weight := uint16(w)
			res.BlockIO = &specs.LinuxBlockIO{Weight: &weight}
		}
	}
	return r.Update(c.Args().First(), res)
}

// flagField is one of update's flags and where its value goes.
type flagField[T any] struct {
	name string
	set  func(*T)
}

// setFlags parses each field's flag that was given and sets it, failing
// in runc's words on the first value that does not parse.
func setFlags[T any](c *cli.Context, parse func(string) (T, error), fields []flagField[T]) error {
	for _, f := range fields {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := parse(c.String(f.name))
		if err != nil {
			return fmt.Errorf("invalid value for %s: %w", f.name, err)
		}
		f.set(&v)
	}
	return nil
}

// readResources decodes a specs.LinuxResources JSON file, or standard input
// for "-", into res.
func readResources(file string, res *specs.LinuxResources) error {
	var in io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if err := json.NewDecoder(in).Decode(res); err != nil {
		return fmt.Errorf("decode resources: %w", err)
	}
	return nil
}

// ramInBytes parses a memory size as runc's update does (docker's
// units.RAMInBytes): a number with an optional k, m, g, t or p suffix
// (powers of 1024, any case, an optional "i" and "b"); "-1" is no limit.
func ramInBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgtp", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = strings.TrimSpace(t[:n-1])
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(v * float64(mult)), nil
}

// withCache opens the cache named by the global flags for a cache command.
func withCache(f func(c *cli.Context, cache *wasi.Cache) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		cache, err := wasi.OpenCache(c.String("cache-dir"), c.Int64("cache-max"))
		if err != nil {
			return err
		}
		return f(c, cache)
	}
}

// reorderArgs moves a command's flags written after its positional
// arguments in front of them, as runc's command-line library does
// (`runc delete ID -f`, `runc create ID --bundle B`); urfave/cli v2 would
// stop parsing at the first argument. Only the command's own flags move,
// each with its value; "--" ends the reordering; exec keeps its arguments
// as they are (they are the module's command line), and so does ps (what
// follows its id are ps(1)'s options), as runc's do, and every command
// that parses no flags.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := commandIndex(app, args)
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || cmd.Name == "exec" || cmd.Name == "ps" || cmd.SkipFlagParsing {
		return args
	}
	flags := takesValue(cmd.Flags)
	var moved, rest []string
	rest = append(rest, args[i+1:]...)
	var positional []string
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		value, known := flags[name]
		if !strings.HasPrefix(a, "-") || !known {
			positional = append(positional, a)
			continue
		}
		moved = append(moved, a)
		if value && !hasValue && j+1 < len(rest) {
			j++
			moved = append(moved, rest[j])
		}
	}
	out := append(append([]string(nil), args[:i+1]...), moved...)
	return append(out, positional...)
}

// takesValue maps each name and alias of flags to whether it takes a value.
func takesValue(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

// unsupported is a command runw accepts with any flags and refuses with a
// clear error (forwarded for native containers), so that an engine shows
// the user why instead of an unknown-command failure.
func unsupported(name, usage string) *cli.Command {
	return rawCommand(name, usage, func(r *runtime.Runtime, id string, _ []string) error {
		if id != "" {
			if handled, err := r.Native(id, name); handled {
				return err
			}
		}
		return r.Unsupported(name, id)
	})
}

// restoreCommand is restore: a native bundle's goes to the native
// runtime, as its create would (checkpoint of a native container is
// forwarded by unsupported); a wasm bundle's is refused.
func restoreCommand() *cli.Command {
	return rawCommand("restore", "restore a container from a checkpoint (native bundles only)", func(r *runtime.Runtime, id string, args []string) error {
		if id == "" {
			return r.Unsupported("restore", id)
		}
		return r.Restore(id, bundleArg(args))
	})
}

// rawCommand is a command whose flags are the native runtime's, left
// unparsed (SkipFlagParsing) so that they reach it as given: action gets
// the container id (the last argument that is not a flag) and them.
func rawCommand(name, usage string, action func(r *runtime.Runtime, id string, args []string) error) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "<container-id>",
		SkipFlagParsing: true,
		Action: withRuntime(-1, func(c *cli.Context, r *runtime.Runtime) error {
			id := ""
			for _, a := range c.Args().Slice() {
				if a == "--help" || a == "-h" {
					// podman asks `RUNTIME checkpoint --help` and, unless
					// it exits 0, refuses checkpoint and restore for
					// every container, native ones included.
					showUsage(c)
					return nil
				}
				if !strings.HasPrefix(a, "-") {
					id = a
				}
			}
			return action(r, id, c.Args().Slice())
		}),
	}
}

// bundleArg is the --bundle (-b) among a command's unparsed arguments,
// "" when none is given (runc: the current directory).
func bundleArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, flag := range []string{"-b", "-bundle", "--bundle"} {
			if a == flag && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, flag+"="); ok {
				return v
			}
		}
	}
	return ""
}

// showUsage prints a command's usage to stdout, as runc does before an
// argument-count error. (urfave's ShowCommandHelp, called from inside the
// command, would look the name up among its subcommands and fail.)
func showUsage(c *cli.Context) {
	fmt.Printf("Usage: runw %s [command options] %s\n\n%s\n", commandPath(c), c.Command.ArgsUsage, c.Command.Usage)
}

// commandPath names the command as typed: "cache rm", not "rm". The
// app's own root command ("runw") is left out.
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// usageError is the one answer to a wrong argument count, as runc gives
// it: "Incorrect Usage." and the command's usage on stdout, then the
// error line ("runw: "kill" requires a minimum of 1 ...") for fatal.
func usageError(c *cli.Context, format string, args ...any) error {
	fmt.Println("Incorrect Usage.")
	showUsage(c)
	return fmt.Errorf("runw: %q requires "+format, append([]any{commandPath(c)}, args...)...)
}
