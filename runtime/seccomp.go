package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompActions are the actions runw loads, by the spec's names.
//
// SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD kill the whole init, not one
// thread as runc's do: a native process meets its filter single-threaded
// at exec, but the init is a multi-threaded Go program, and with one
// thread gone it would hang half-alive instead of dying where the
// profile says it must.
var seccompActions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillProcess,
	specs.ActKillThread:  libseccomp.ActKillProcess,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
}

// seccompOperators are the argument comparisons, by the spec's names.
var seccompOperators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// seccompArchs maps the spec's SCMP_ARCH_ names to libseccomp's.
var seccompArchs = map[specs.Arch]string{
	specs.ArchX86: "x86", specs.ArchX86_64: "amd64", specs.ArchX32: "x32",
	specs.ArchARM: "arm", specs.ArchAARCH64: "arm64",
	specs.ArchMIPS: "mips", specs.ArchMIPS64: "mips64", specs.ArchMIPS64N32: "mips64n32",
	specs.ArchMIPSEL: "mipsel", specs.ArchMIPSEL64: "mipsel64", specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC: "ppc", specs.ArchPPC64: "ppc64", specs.ArchPPC64LE: "ppc64le",
	specs.ArchS390: "s390", specs.ArchS390X: "s390x", specs.ArchRISCV64: "riscv64",
	specs.ArchPARISC: "parisc", specs.ArchPARISC64: "parisc64",
}

// seccompFlags are the filter flags runw honours. TSYNC is always on:
// the init is multi-threaded and every thread gets the filter.
var seccompFlags = []specs.LinuxSeccompFlag{
	specs.LinuxSeccompFlagLog,
	specs.LinuxSeccompFlagSpecAllow,
	"SECCOMP_FILTER_FLAG_TSYNC",
}

// seccompBefore reports whether the filter must be loaded before the
// init drops its capabilities: without no_new_privs, loading a filter
// needs CAP_SYS_ADMIN (runc orders it the same way).
func (sb *Sandbox) seccompBefore() bool {
	// With a Landlock ruleset, no_new_privs is set in the credential round
	// anyway: the filter can then always go last.
	return sb.Seccomp != nil && !sb.NoNewPrivileges && sb.landlockFD <= 0
}

// applySeccomp loads linux.seccomp on every thread of the init (TSYNC).
// It is the last thing the init does before it reports ready when
// no_new_privs is set, so the filter only has to allow what the init and
// the guest do from then on. The filter is what the kernel still refuses
// to code that escaped the wasm sandbox and the WASI host: with podman's
// profile, no kexec, no bpf, no mount, no new keyring, no ptrace of a
// neighbour.
// first says it runs before the credential round, which the filter must
// then allow too.
func (sb *Sandbox) applySeccomp(first bool) error {
	if sb.Seccomp == nil {
		return nil
	}
	filter, err := seccompFilter(sb.Seccomp)
	if err != nil {
		return err
	}
	defer filter.Release()
	needs := slices.Clone(initNeeds)
	if first {
		needs = append(needs, privilegeNeeds...)
	}
	markConditional(needs, sb.Seccomp)
	if err := checkInitAllowed(filter, needs); err != nil {
		return err
	}
	nameTraps(sb.Seccomp)
	if err := filter.Load(); err != nil {
		return fmt.Errorf("seccomp: load the filter: %w", err)
	}
	return nil
}

// nameTraps gives the init's SIGSYS handler (kernelsignals.go) the names
// of the system calls, when the profile traps any (SCMP_ACT_TRAP), so that
// its one line on a trap names the call. A handler cannot look them up.
func nameTraps(s *specs.LinuxSeccomp) {
	traps := s.DefaultAction == specs.ActTrap
	for _, rule := range s.Syscalls {
		traps = traps || rule.Action == specs.ActTrap
	}
	if !traps {
		return
	}
	for nr := 0; nr < sysNames; nr++ {
		if name, err := libseccomp.ScmpSyscall(nr).GetName(); err == nil {
			nameSyscall(nr, name)
		}
	}
}

// seccompHint is added to the error of an init that died without a word
// when the spec has a seccomp profile: after the filter is loaded the
// init can no longer say what it was refused (the write of its report may
// be the refused call itself).
func (sb *Sandbox) seccompHint() string {
	if sb == nil || sb.Seccomp == nil {
		return ""
	}
	return " (the seccomp profile may deny a system call the init needs)"
}

// seccompFilter builds the libseccomp filter for the spec's profile, as
// runc's patchbpf-less path does: unknown syscall names are skipped (a
// profile names syscalls of every kernel and arch), a rule whose action is
// the default is skipped (libseccomp refuses it).
func seccompFilter(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	// listenerPath alone is ignored, as the spec says where no rule
	// notifies (runc ignores it); SCMP_ACT_NOTIFY itself is refused
	// (seccompAction).
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	filter, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			filter.Release()
		}
	}()
	// no_new_privs is the spec's to decide (privileges.go), not
	// libseccomp's.
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	// A system call of an architecture the filter does not list (int 0x80
	// from a 64-bit init) kills the init, as KILL actions do: libseccomp's
	// default kills only the thread, which would leave it hung.
	if err := filter.SetBadArchAction(libseccomp.ActKillProcess); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	for _, f := range s.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			err = filter.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = filter.SetSSB(true)
		case "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			err = errors.New("not supported")
		}
		if err != nil {
			return nil, fmt.Errorf("seccomp: flag %s: %w", f, err)
		}
	}
	for _, a := range s.Architectures {
		name, known := seccompArchs[a]
		if !known {
			return nil, fmt.Errorf("seccomp: unknown architecture %s", a)
		}
		arch, err := libseccomp.GetArchFromString(name)
		if err != nil {
			return nil, fmt.Errorf("seccomp: architecture %s: %w", a, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("seccomp: add architecture %s: %w", a, err)
		}
	}
	for _, rule := range s.Syscalls {
		if err := addSeccompRule(filter, def, rule); err != nil {
			return nil, err
		}
	}
	addENOSYSStub(filter, s)
	ok = true
	return filter, nil
}

// addENOSYSStub has the system calls newer than every one the profile
// names answer ENOSYS where its default action would deny them, as runc's
// stub does (libcontainer/seccomp/patchbpf): a program then takes them for
// a kernel that lacks them and falls back (glibc's clone3 to clone, runw's
// openat2 to openat). Profiles older than clone3 and openat2 (Docker's
// before 20.10) are in use, and with EPERM for clone3 create failed ("the
// profile denies clone3"), where runc runs them. runc's stub compares the
// number; here each newer call libseccomp knows gets its rule, which is
// the same for every call this build's libseccomp knows.
func addENOSYSStub(filter *libseccomp.ScmpFilter, s *specs.LinuxSeccomp) {
	if s.DefaultAction == specs.ActAllow || s.DefaultAction == specs.ActLog || s.DefaultAction == specs.ActTrace {
		// Permissive, as runc's isAllowAction counts them.
		return
	}
	if s.DefaultErrnoRet != nil && *s.DefaultErrnoRet == uint(unix.ENOSYS) {
		return
	}
	last := libseccomp.ScmpSyscall(-1)
	for _, rule := range s.Syscalls {
		for _, name := range rule.Names {
			if nr, err := libseccomp.GetSyscallFromName(name); err == nil && nr > last {
				last = nr
			}
		}
	}
	if last < 0 {
		return
	}
	enosys := libseccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))
	for nr := last + 1; nr < last+maxNewerSyscalls; nr++ {
		if _, err := nr.GetName(); err == nil {
			// A call another rule names for another architecture may
			// refuse a second rule: that rule stands.
			_ = filter.AddRule(nr, enosys)
		}
	}
}

// maxNewerSyscalls bounds the numbers addENOSYSStub looks at past the
// profile's last: the kernel's table grows by about ten a year.
const maxNewerSyscalls = 1024

// seccompAction is the libseccomp action for a spec action; ERRNO and
// TRACE return errnoRet, EPERM by default.
func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	if a == specs.ActNotify {
		return 0, errors.New("seccomp: SCMP_ACT_NOTIFY is not supported by runw (a WASI guest cannot be handed to a seccomp agent)")
	}
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("seccomp: unknown action %q", a)
	}
	if act == libseccomp.ActErrno || act == libseccomp.ActTrace {
		ret := int16(unix.EPERM)
		if errnoRet != nil {
			ret = int16(*errnoRet)
		}
		act = act.SetReturnCode(ret)
	}
	return act, nil
}

// addSeccompRule adds one of the spec's syscall rules. Conditions on
// different arguments are ANDed in one rule; libseccomp cannot AND two on
// the same argument, so then each condition is a rule of its own (ORed),
// as runc does.
func addSeccompRule(filter *libseccomp.ScmpFilter, def libseccomp.ScmpAction, rule specs.LinuxSyscall) error {
	act, err := seccompAction(rule.Action, rule.ErrnoRet)
	if err != nil {
		return err
	}
	if act == def {
		return nil
	}
	var conds []libseccomp.ScmpCondition
	sameArg := false
	seen := map[uint]bool{}
	for _, a := range rule.Args {
		op, ok := seccompOperators[a.Op]
		if !ok {
			return fmt.Errorf("seccomp: unknown operator %q", a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if op != libseccomp.CompareMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return fmt.Errorf("seccomp: condition on argument %d: %w", a.Index, err)
		}
		sameArg = sameArg || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	for _, name := range rule.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			logDebugf("seccomp: syscall %q unknown here; skipped", name)
			continue
		}
		switch {
		case len(conds) == 0:
			err = filter.AddRule(call, act)
		case sameArg:
			for _, c := range conds {
				if err = filter.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = filter.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("seccomp: rule for %s: %w", name, err)
		}
	}
	return nil
}

// SeccompVersion is the libseccomp runw is linked with, as runc's
// --version prints it ("2.5.4").
func SeccompVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// seccompSupported lists what `runw features` reports: the actions,
// operators and architectures above, and the flags, by the spec's names.
func seccompSupported() (actions, operators, archs, flags []string) {
	for a := range seccompActions {
		actions = append(actions, string(a))
	}
	for o := range seccompOperators {
		operators = append(operators, string(o))
	}
	for a, name := range seccompArchs {
		if _, err := libseccomp.GetArchFromString(name); err == nil {
			archs = append(archs, string(a))
		}
	}
	for _, f := range seccompFlags {
		flags = append(flags, string(f))
	}
	for _, l := range [][]string{actions, operators, archs, flags} {
		slices.Sort(l)
	}
	return actions, operators, archs, flags
}

// initCall is a system call the init makes once its filter is loaded.
type initCall struct {
	name string
	args [6]uint64
	// enosys: the caller falls back on ENOSYS, so that answer will do.
	enosys bool
	// anyError: the caller goes on after any error, so only an action
	// that ends the init there (a trap, a kill) is refused.
	anyError bool
	// conditional: a rule of the profile looks at this call's arguments,
	// and it is checked at more of them (argsTried).
	conditional bool
}

// initNeeds are the system calls without which the init could not report,
// wait for start, run the guest or exit, once its filter is loaded: the Go
// runtime's (memory, threads, signals, timers, the netpoller) and the
// init's own (its fifo and sync pipe). A profile that refuses one would
// leave the init dead without a word or hung (denied close: the report
// never ends; denied exit_group: it cannot exit); checked before loading,
// it is one clear error at create instead.
var initNeeds = []initCall{
	{name: "read"}, {name: "write"}, {name: "close"}, {name: "openat"}, {name: "fcntl"},
	{name: "futex"}, {name: "mmap"}, {name: "munmap"}, {name: "mprotect"}, {name: "madvise"},
	{name: "rt_sigreturn"}, {name: "rt_sigaction"}, {name: "rt_sigprocmask"}, {name: "sigaltstack"},
	{name: "tgkill"}, {name: "gettid"}, {name: "getpid"}, {name: "sched_yield"},
	{name: "nanosleep"}, {name: "clock_gettime"}, {name: "epoll_pwait"}, {name: "epoll_ctl"},
	{name: "exit"}, {name: "exit_group"},
	// glibc's pthread_create (the guest's thread, cgo's threads): clone3,
	// or clone when clone3 says ENOSYS (podman's profile says so), with
	// these flags.
	{name: "clone3", enosys: true},
	{name: "clone", args: [6]uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID}},
	// glibc's start of each new thread (the guest's, cgo's), which goes on
	// without them, but makes them with every signal blocked: there
	// SCMP_ACT_TRAP's SIGSYS kills the init without a word (159 at start,
	// the guest never run), where no handler can say what happened. And
	// the guest thread's own signal stack (wasi/stack.go), whose
	// pthread_getattr_np asks sched_getaffinity: a trap there would end
	// every container before its guest ran.
	{name: "set_robust_list", anyError: true}, {name: "rseq", anyError: true},
	{name: "sched_getaffinity", anyError: true},
}

// privilegeNeeds are what applyPrivileges calls when the filter is loaded
// before it (no no_new_privs).
var privilegeNeeds = []initCall{
	{name: "prctl"}, {name: "capset"}, {name: "capget"}, {name: "setgroups"},
	{name: "setresuid"}, {name: "setresgid"}, {name: "getdents64"},
}

// auditArch is AUDIT_ARCH_* of the architecture runw is built for, as the
// kernel puts it in seccomp_data.
var auditArch = map[string]uint32{"amd64": 0xc000003e, "arm64": 0xc00000b7}

// checkInitAllowed runs the filter's BPF program on each of the init's
// needs, as the kernel would, and refuses a profile that denies one.
func checkInitAllowed(filter *libseccomp.ScmpFilter, needs []initCall) error {
	arch, ok := auditArch[goruntime.GOARCH]
	if !ok {
		return nil
	}
	prog, err := filterProgram(filter)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return fmt.Errorf("seccomp: the filter's program: %w", err)
	}
	for _, c := range needs {
		nr, err := libseccomp.GetSyscallFromName(c.name)
		if err != nil {
			continue
		}
		for _, args := range argsTried(c) {
			// seccomp_data, one 32-bit word at a time at its place in
			// the host's layout; x/net/bpf loads words big-endian.
			var data [64]byte
			put := func(off int, v uint32) { binary.BigEndian.PutUint32(data[off:], v) }
			put(0, uint32(nr))
			put(4, arch)
			for i, a := range args {
				lo, hi := 16+8*i, 16+8*i+4
				if hostBigEndian {
					lo, hi = hi, lo
				}
				put(lo, uint32(a))
				put(hi, uint32(a>>32))
			}
			ret, err := vm.Run(data[:])
			if err != nil {
				return fmt.Errorf("seccomp: run the filter's program: %w", err)
			}
			act := uint32(ret) & unix.SECCOMP_RET_ACTION_FULL
			if c.enosys && uint32(ret) == unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
				continue
			}
			if c.anyError && act != unix.SECCOMP_RET_TRAP && act != unix.SECCOMP_RET_KILL_PROCESS && act != unix.SECCOMP_RET_KILL_THREAD {
				continue
			}
			if act != unix.SECCOMP_RET_ALLOW && act != unix.SECCOMP_RET_LOG {
				return fmt.Errorf("seccomp: the profile denies %s, which runw's init needs to run the guest", c.name)
			}
		}
	}
	return nil
}

// markConditional marks the needs a rule of s looks at the arguments of.
func markConditional(needs []initCall, s *specs.LinuxSeccomp) {
	conditional := map[string]bool{}
	for _, rule := range s.Syscalls {
		if len(rule.Args) > 0 {
			for _, name := range rule.Names {
				conditional[name] = true
			}
		}
	}
	for i := range needs {
		needs[i].conditional = conditional[needs[i].name]
	}
}

// argsTried are the arguments a need is checked with: its own where it
// names them (clone's flags), else none, and, where a rule of the profile
// looks at the call's arguments, the descriptors the init passes at its
// descriptor arguments (descriptorArgs). Checked with zeros alone, a rule
// that denied close of a descriptor above 2 passed, and create waited for
// ever on an init that could close nothing. Only descriptors: other
// values the init never passes (mprotect's PROT_EXEC, which systemd's
// MemoryDenyWriteExecute denies) refused profiles it runs under.
func argsTried(c initCall) [][6]uint64 {
	tried := [][6]uint64{c.args}
	if c.args != [6]uint64{} || !c.conditional {
		return tried
	}
	for _, i := range descriptorArgs[c.name] {
		for _, fd := range []uint64{3, 4, 5, 8, 16, 32, 64} {
			var a [6]uint64
			a[i] = fd
			tried = append(tried, a)
		}
	}
	return tried
}

// descriptorArgs are the arguments that are descriptors, of the init's
// needs that take one.
var descriptorArgs = map[string][]int{
	"read": {0}, "write": {0}, "close": {0}, "fcntl": {0},
	"epoll_ctl": {0, 2}, "epoll_pwait": {0},
}

// hostBigEndian: where the high word of a 64-bit argument sits.
var hostBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// filterProgram is the filter as the classic BPF program libseccomp would
// load, exported through a pipe (libseccomp 2.5 cannot export to memory)
// and read beside the export. Not through a file: the init has its
// process.rlimits by then, and a small RLIMIT_FSIZE (`docker run --ulimit
// fsize=4000`) cut the export short without an error, so that create
// failed on a filter it read back malformed, where runc runs the
// container. A pipe is no file the limit holds.
func filterProgram(filter *libseccomp.ScmpFilter) ([]bpf.Instruction, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	read := make(chan []byte, 1)
	go func() {
		raw, _ := io.ReadAll(r)
		read <- raw
	}()
	err = filter.ExportBPF(w)
	w.Close()
	raw := <-read
	if err != nil {
		return nil, fmt.Errorf("export the filter: %w", err)
	}
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("export the filter: %d bytes, not a program", len(raw))
	}
	prog := make([]bpf.Instruction, 0, len(raw)/8)
	for i := 0; i+8 <= len(raw); i += 8 {
		prog = append(prog, bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(raw[i:]),
			Jt: raw[i+2], Jf: raw[i+3],
			K: binary.NativeEndian.Uint32(raw[i+4:]),
		}.Disassemble())
	}
	return prog, nil
}
