package runtime

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func errnoRet(n uint) *uint { return &n }

// A profile that refuses a system call the init needs is refused before
// it is loaded, naming the call; argument conditions are evaluated as the
// kernel would (clone with a thread's flags passes a rule that only
// refuses namespace flags).
func TestCheckInitAllowed(t *testing.T) {
	cloneNS := specs.LinuxSyscall{
		Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: errnoRet(1),
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}},
	}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxSyscall
		want  string
	}{
		{"allow all", nil, ""},
		{"clone of a namespace refused", []specs.LinuxSyscall{cloneNS}, ""},
		{"unknown names skipped", []specs.LinuxSyscall{{Names: []string{"no_such_syscall"}, Action: specs.ActErrno}}, ""},
		{"write refused", []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: errnoRet(1)}}, "denies write"},
		{"close killed", []specs.LinuxSyscall{{Names: []string{"close"}, Action: specs.ActKillProcess}}, "denies close"},
		{"clone3 says ENOSYS", []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: errnoRet(uint(unix.ENOSYS))}}, ""},
		{"clone3 refused", []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: specs.ActErrno}}, "denies clone3"},
		{"exit_group traced", []specs.LinuxSyscall{{Names: []string{"exit_group"}, Action: specs.ActTrace}}, "denies exit_group"},
		// glibc's thread start makes them with every signal blocked: a
		// trap there kills the init without a word; an error is fine.
		{"rseq trapped", []specs.LinuxSyscall{{Names: []string{"rseq"}, Action: specs.ActTrap}}, "denies rseq"},
		{"set_robust_list killed", []specs.LinuxSyscall{{Names: []string{"set_robust_list"}, Action: specs.ActKill}}, "denies set_robust_list"},
		{"sched_getaffinity trapped", []specs.LinuxSyscall{{Names: []string{"sched_getaffinity"}, Action: specs.ActTrap}}, "denies sched_getaffinity"},
		{"rseq refused", []specs.LinuxSyscall{{Names: []string{"rseq", "set_robust_list", "sched_getaffinity"}, Action: specs.ActErrno}}, ""},
		{"clone of a thread refused", []specs.LinuxSyscall{{
			Names: []string{"clone"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_THREAD, ValueTwo: unix.CLONE_THREAD, Op: specs.OpMaskedEqual}},
		}}, "denies clone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seccompFilter(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: tc.rules})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Release()
			err = checkInitAllowed(f, initNeeds)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// The refusals are one clear line, at create.
func TestSeccompFilterRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    specs.LinuxSeccomp
		want string
	}{
		{"notify default", specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "SCMP_ACT_NOTIFY is not supported"},
		{"notify rule", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "SCMP_ACT_NOTIFY is not supported"},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_WHATEVER"}, "unknown action"},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, "unknown architecture"},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NONSENSE"}}, "not supported"},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}},
		}}}, "unknown operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seccompFilter(&tc.s)
			if err == nil {
				f.Release()
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line with %q", err, tc.want)
			}
		})
	}
}

// podman's default profile, as it appears in config.json for its default
// capabilities (the rules without includes or excludes, which is what
// podman keeps for them on amd64 save the capability-gated ones), builds
// and lets the init through.
func TestPodmanProfileLetsInitThrough(t *testing.T) {
	data, err := os.ReadFile("/usr/share/containers/seccomp.json")
	if err != nil {
		t.Skipf("no podman profile: %v", err)
	}
	var p struct {
		specs.LinuxSeccomp
		Syscalls []struct {
			specs.LinuxSyscall
			Includes map[string]any `json:"includes"`
			Excludes map[string]any `json:"excludes"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	s := p.LinuxSeccomp
	s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	s.Syscalls = nil
	for _, r := range p.Syscalls {
		if len(r.Includes) == 0 {
			s.Syscalls = append(s.Syscalls, r.LinuxSyscall)
		}
	}
	f, err := seccompFilter(&s)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if err := checkInitAllowed(f, append(initNeeds, privilegeNeeds...)); err != nil {
		t.Fatal(err)
	}
}

// No capabilities object is no capability; unknown names are left out;
// an ambient capability must be permitted and inheritable.
func TestCapSetsFor(t *testing.T) {
	if s := capSetsFor(nil, 40); s != (capSets{}) {
		t.Errorf("nil capabilities: %+v, want none", s)
	}
	s := capSetsFor(&specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NO_SUCH_THING"},
		Permitted:   []string{"CAP_CHOWN", "CAP_KILL"},
		Inheritable: []string{"CAP_KILL"},
		Ambient:     []string{"CAP_CHOWN", "CAP_KILL"},
	}, 40)
	chown, kill := uint64(1)<<unix.CAP_CHOWN, uint64(1)<<unix.CAP_KILL
	if s.bounding != chown|kill || s.permitted != chown|kill || s.inheritable != kill || s.ambient != kill || s.effective != 0 {
		t.Errorf("got %+v", s)
	}
}

// The sets after runc's exec of the program: a non-root user keeps its
// ambient capabilities alone; root gets inheritable and bounding, within
// what it had under no_new_privs.
func TestCapSetsAfterExec(t *testing.T) {
	chown, kill, net := uint64(1)<<unix.CAP_CHOWN, uint64(1)<<unix.CAP_KILL, uint64(1)<<unix.CAP_NET_BIND_SERVICE
	in := capSets{bounding: chown | kill | net, effective: chown | kill, permitted: chown | kill, inheritable: net, ambient: 0}
	if got := afterExec(in, 1000, true); got.effective != 0 || got.permitted != 0 || got.bounding != in.bounding {
		t.Errorf("uid 1000, no ambient: %+v", got)
	}
	withAmbient := in
	withAmbient.permitted |= net
	withAmbient.ambient = net
	if got := afterExec(withAmbient, 1000, true); got.effective != net || got.permitted != net || got.ambient != net {
		t.Errorf("uid 1000, ambient NET_BIND_SERVICE: %+v", got)
	}
	if got := afterExec(in, 0, false); got.effective != chown|kill|net || got.permitted != chown|kill|net || got.ambient != in.ambient {
		t.Errorf("root: %+v", got)
	}
	if got := afterExec(in, 0, true); got.effective != chown|kill || got.permitted != chown|kill {
		t.Errorf("root under no_new_privs: %+v", got)
	}
}

// runw's own filter (the io.github.runw.seccomp annotation) builds, and
// passes the check every profile passes: it allows what the init needs.
func TestRunwSeccompAllowsTheInit(t *testing.T) {
	f, err := seccompFilter(runwSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if err := checkInitAllowed(f, initNeeds); err != nil {
		t.Fatal(err)
	}
	t.Logf("runw's filter allows %d system calls, ioctl for %d requests", len(runwSyscalls), len(seccompAllowedIoctls))
}

// runw's own filter stops what unshare would give through clone: a new
// user, mount or network namespace from a process that escaped wasmtime.
// podman's profile refuses these flags too.
func TestRunwSeccompRefusesCloneOfNamespaces(t *testing.T) {
	f, err := seccompFilter(runwSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	for _, flag := range []uint64{unix.CLONE_NEWUSER, unix.CLONE_NEWNS, unix.CLONE_NEWNET, unix.CLONE_NEWPID, unix.CLONE_NEWIPC, unix.CLONE_NEWUTS, unix.CLONE_NEWCGROUP} {
		clone := initCall{name: "clone", args: [6]uint64{flag | uint64(unix.SIGCHLD)}}
		if err := checkInitAllowed(f, []initCall{clone}); err == nil {
			t.Errorf("clone with %#x allowed", flag)
		}
	}
}

// runw's own filter lets the init make the TCP and UDP sockets the WASI
// host and its resolver make, with their flags, and refuses every other
// socket a guest that escaped wasmtime could ask the kernel for.
func TestRunwSeccompSocketFamilies(t *testing.T) {
	f, err := seccompFilter(runwSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	socket := func(family, typ, proto int) initCall {
		return initCall{name: "socket", args: [6]uint64{uint64(family), uint64(typ), uint64(proto)}}
	}
	flags := unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	for _, c := range []initCall{
		socket(unix.AF_INET, unix.SOCK_STREAM|flags, 0),
		socket(unix.AF_INET6, unix.SOCK_STREAM|flags, 0),
		socket(unix.AF_INET, unix.SOCK_DGRAM|flags, 0),
		socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0),
		socket(unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP), // Go's IPv6 probe
		socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP),
	} {
		if err := checkInitAllowed(f, []initCall{c}); err != nil {
			t.Errorf("socket%v: %v", c.args[:3], err)
		}
	}
	for _, c := range []initCall{
		socket(unix.AF_UNIX, unix.SOCK_STREAM|flags, 0),
		socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0),
		socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE),
		socket(unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_SOCK_DIAG),
		socket(unix.AF_PACKET, unix.SOCK_RAW, 0x0300), // htons(ETH_P_ALL)
		socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0),
		socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW),
		socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6),
		socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP), // ping socket
		socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP),
		socket(unix.AF_INET, unix.SOCK_SEQPACKET, 0),
		socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP),
		socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDPLITE),
		socket(unix.AF_ALG, unix.SOCK_SEQPACKET, 0),
		socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0),
		socket(unix.AF_INET|1<<32, unix.SOCK_STREAM, 0), // high bits set
		{name: "socketpair", args: [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}},
	} {
		if err := checkInitAllowed(f, []initCall{c}); err == nil {
			t.Errorf("%s%v allowed", c.name, c.args[:3])
		}
	}
}
