// Package nsenter enters, before the Go runtime starts any thread, the
// cgroups and the namespaces that a multi-threaded process cannot enter
// (or not cheaply).
//
// A process enters its cgroup v1 hierarchies alone through their tasks
// files only while it has one thread (runtime/cgroups.go says why it is
// cheaper than the parent writing its pid).
// setns(2) into a user namespace needs a single-threaded caller, and into a
// mount namespace (or unshare(2) of one) a caller that shares no
// filesystem attributes with another thread; a new cgroup namespace must
// be made only once the process sits in its container's cgroup, so that
// the cgroup is its root.
// By the time Go code runs, the runtime has started threads, so these steps
// run here, in a C constructor that the dynamic loader calls before main
// (runc's nsexec works the same way). It does nothing unless the process
// is a `runw init` started by create or exec with _RUNW_NSEXEC set; the
// other namespaces are joined or made by the parent when it spawns the
// init (runtime/namespaces.go).
//
// Import it for its side effect, from main.
package nsenter

/*
#cgo CFLAGS: -Wall
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The init's protocol is defined in runtime/protocol.go; these two names
// must match it.
// RUNW_SYNC_FD is syncPipeFD: the init's sync pipe, read by the parent.
#define RUNW_SYNC_FD 4
// RUNW_NSEXEC_ENV is nsexecEnv: it names the fd of the orders pipe.
#define RUNW_NSEXEC_ENV "_RUNW_NSEXEC"
// RUNW_OOM_ENV is oomEnv: process.oomScoreAdj, for set_oom.
#define RUNW_OOM_ENV "_RUNW_OOM_SCORE_ADJ"

// report_fd is where fail reports: the init's sync pipe, or the standard
// error of a compile child (which has no sync pipe).
static int report_fd = RUNW_SYNC_FD;

// fail reports on the init's sync pipe (read by create as the one error
// line, protocol.go's errorPrefix first) and ends the process before any
// guest code exists.
static void fail(const char *what, const char *path) {
	char msg[4200];
	int n = snprintf(msg, sizeof msg, "error: %s %s: %s", what, path, strerror(errno));
	if (n > 0) {
		// snprintf counts what did not fit; the NUL is not sent.
		ssize_t w = write(report_fd, msg, n >= (int)sizeof msg ? (int)sizeof msg - 1 : n);
		(void)w;
	}
	_exit(1);
}

// parse_fd reads a descriptor number the parent wrote, or fails.
static int parse_fd(const char *what, const char *s) {
	char *end;
	errno = 0;
	long fd = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || fd < 3 || fd > 65535) {
		errno = EINVAL;
		fail(what, s);
	}
	return (int)fd;
}

static int open_ns(const char *path, const char *what) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(what, path);
	return fd;
}

static void join(int fd, const char *path, int type, const char *what) {
	if (setns(fd, type) < 0)
		fail(what, path);
	close(fd);
}

// enter_cgroup moves the process into one cgroup v1 hierarchy's cgroup by
// writing "0" to its tasks file, which the parent opened (fd): the calling
// thread, the only one, so the whole process. The kernel moves a lone
// caller without taking the global threadgroup lock that a pid written to
// cgroup.procs takes, and so without waiting for an RCU grace period
// (runtime/cgroups.go). The constructor opens no path for this: the parent
// chose and opened the files.
static void enter_cgroup(const char *arg) {
	int fd = parse_fd("cgroup order: bad descriptor", arg);
	ssize_t w;
	do
		w = write(fd, "0", 1);
	while (w < 0 && errno == EINTR);
	if (w != 1) {
		// Name the cgroup, not the descriptor, in the one error line.
		int saved = errno;
		char link[64], path[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, path, sizeof path - 1);
		path[n > 0 ? n : 0] = 0;
		errno = saved;
		fail("enter cgroup through", n > 0 ? path : arg);
	}
	close(fd);
}

// joins are the "join KIND PATH" orders: the namespaces an unprivileged
// runw cannot join from its spawning thread (runtime/namespaces.go), joined
// here once in their user namespace, in the order sent.
static struct {
	int flag, fd;
	const char *path;
} joins[8];
static int njoins;

// ns_flag is the CLONE_NEW* flag of a namespace kind as /proc/<pid>/ns
// names it, among those allowed (a mask), or 0.
static int ns_flag(const char *kind, int allowed) {
	static const struct {
		const char *kind;
		int flag;
	} kinds[] = {{"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID}, {"net", CLONE_NEWNET},
		     {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kind, kinds[i].kind) == 0)
			return kinds[i].flag & allowed;
	return 0;
}

static void add_join(char *order) {
	if (njoins == (int)(sizeof joins / sizeof joins[0])) {
		errno = E2BIG;
		fail("too many join orders at", order);
	}
	char *path = strchr(order, ' ');
	if (path == NULL) {
		errno = EINVAL;
		fail("bad join order", order);
	}
	*path++ = 0;
	int flag = ns_flag(order, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP);
	if (flag == 0) {
		errno = EINVAL;
		fail("bad join order", order);
	}
	joins[njoins].flag = flag;
	joins[njoins].path = path;
	njoins++;
}

// set_oom writes process.oomScoreAdj (adj, as runw sent it) for an init
// that joins a user namespace by path, while it is still dumpable and in
// runw's user namespace: its /proc files are its own user's then. Once
// non-dumpable, they are host root's, which an unprivileged runw may not
// write, and from inside the joined namespace the init may not either
// ("open /proc/self/oom_score_adj: permission denied"). runc's nsexec also
// sets it before joining.
static void set_oom(const char *adj) {
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("set oom_score_adj to", adj);
	ssize_t w = write(fd, adj, strlen(adj));
	if (w != (ssize_t)strlen(adj))
		fail("set oom_score_adj to", adj);
	close(fd);
}

// new_flags reads a "new KIND..." order: the namespaces the init makes
// once it is in the user namespace it joined by path, so that they are
// that namespace's own. Made by the parent's clone() instead, they
// belonged to runw's user namespace, over which the init, root only of the
// one it joined, has no privilege: it could not make its mounts slaves,
// mount its /proc, or bring up its loopback (runc's nsexec also unshares
// after joining the user namespace).
static int new_flags(char *kinds) {
	int flags = 0;
	for (char *save = NULL, *k = strtok_r(kinds, " ", &save); k != NULL; k = strtok_r(NULL, " ", &save)) {
		int flag = ns_flag(k, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
		if (flag == 0) {
			errno = EINVAL;
			fail("bad new namespace order", k);
		}
		flags |= flag;
	}
	return flags;
}

// join_user joins the user namespace at path (fd open on it), if any, and
// becomes its root, as runc's init does.
static void join_user(int fd, const char *path) {
	if (path == NULL)
		return;
	join(fd, path, CLONE_NEWUSER, "join user namespace");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		fail("become root in user namespace", path);
}

static pid_t proxied;

// forward passes a signal sent to the proxy on to the init. Only one sent
// by a process (kill, sigqueue: si_code <= 0): one the kernel raised for a
// terminal (^C, a hang-up) reached the init itself, in the same process
// group, and would arrive twice.
static void forward(int sig, siginfo_t *info, void *uctx) {
	(void)uctx;
	if (info->si_code <= 0)
		kill(proxied, sig);
}

// enter_pid_namespace puts the init in the pid namespace the process has
// joined, which only its children enter: it forks, and the child goes on
// to become the init. The parent stays, a proxy in C that never runs Go:
// the process runw started, waited for and signalled (the pid file names
// it), it passes on every signal sent to it and ends as the init ends,
// with its exit status or by its signal. runc's nsexec forks for the same
// reason and hands the grandchild's pid back instead; a proxy keeps
// runw's own wait and its --pid-file readers' (conmon's) as they are.
//
// The proxy is no door into the container: outside its pid namespace, the
// container's processes cannot name it; non-dumpable (above) with its
// memory made outside the user namespace, they cannot ptrace it or read
// its /proc files; it keeps no descriptor (the sync pipe, the cache's, a
// mount's), so none can be taken from it, and runw sees the sync pipe's end
// when the init closes it. If the proxy is killed (SIGKILL, which it
// cannot pass on), the init is killed with it (PR_SET_PDEATHSIG), as if it
// had been killed itself.
static void enter_pid_namespace(void) {
	sigset_t all, old;
	sigfillset(&all);
	// Blocked across the fork: a signal in between is passed on once the
	// proxy has its handlers, never lost nor acted on by the proxy.
	sigprocmask(SIG_BLOCK, &all, &old);
	// The proxy holds alive's write end for its life: the init sees
	// whether it died before the init's PR_SET_PDEATHSIG took effect
	// (getppid says nothing here: a parent outside the pid namespace is 0).
	int alive[2];
	if (pipe2(alive, O_CLOEXEC) < 0)
		fail("fork into pid namespace", "");
	pid_t pid = fork();
	if (pid < 0)
		fail("fork into pid namespace", "");
	if (pid == 0) {
		close(alive[1]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			fail("set parent-death signal", "");
		struct pollfd p = {.fd = alive[0], .events = POLLIN};
		if (poll(&p, 1, 0) != 0)
			_exit(1);
		close(alive[0]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	proxied = pid;
	// No descriptor kept but alive's end: see above. close_range(2) is in
	// Linux 5.9.
	if (alive[1] > 0)
		syscall(SYS_close_range, 0, alive[1] - 1, 0);
	syscall(SYS_close_range, alive[1] + 1, ~0U, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	// Dies of the init's signal (dumping no core: it is non-dumpable).
	int sig = WTERMSIG(status);
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	kill(getpid(), sig);
	_exit(128 + sig);
}

// RUNW_MAX_ORDERS is maxOrders in runtime/protocol.go: the parent refuses
// longer orders. Change both together.
#define RUNW_MAX_ORDERS 16384

// runw_nsenter reads its orders from the pipe named by RUNW_NSEXEC_ENV,
// written by the parent once the init is started: lines "tasks FD",
// "mnt PATH", "user PATH", "join KIND PATH" and "cgroup". The cgroups
// come first, before anything else runs; then the mount namespace, while
// the init still has the host's privileges over it; the user namespace
// last among the joins; the new cgroup namespace at the end, once the
// init is in its cgroup. With "join" orders (an unprivileged runw), the
// user namespace comes first, then the mount namespace and the joins.
//
// It acts only in `runw init` (glibc passes a constructor the program's
// argv), never on the environment of another runw command, except for
// the compile child of fillCache, which may be given "tasks" orders alone
// (exec's compile in the container's cgroup, runtime/compile.go): it
// enters its cgroups before Go starts and before it reads the module. It
// reads the orders to their end and refuses any it does not know, so
// that an order cut short or mistyped is an error, never silently
// skipped (a skipped "tasks" would leave the init outside its limits).
__attribute__((constructor)) static void runw_nsenter(int argc, char **argv, char **envp) {
	// The compile child of an init (fillCache: "compile /proc/self/fd/0",
	// last) inherits the init's handed-over descriptors, the cache
	// directory among them: non-dumpable as the init is, below.
	int compile_child = argc >= 3 && strcmp(argv[argc - 2], "compile") == 0 && strcmp(argv[argc - 1], "/proc/self/fd/0") == 0;
	if (compile_child) {
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		report_fd = 2;
	} else if (argc < 2 || strcmp(argv[1], "init") != 0) {
		return;
	} else {
		const char *adj = getenv(RUNW_OOM_ENV);
		if (adj != NULL) {
			set_oom(adj);
			unsetenv(RUNW_OOM_ENV);
		}
		// Non-dumpable until the handed-over descriptors of runw's cache
		// are closed (Init closes them; applyPrivileges then makes the
		// init dumpable): among them is runw's writable cache directory,
		// and a root process of the container's pid namespace without
		// CAP_SYS_PTRACE (a native sidecar, default capabilities) opened
		// any artifact in it for writing through /proc/<init>/fd/N, as
		// runc's init is non-dumpable for the same reason (CVE-2016-9962).
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		// Named before Go starts a thread, so that every thread inherits
		// it: exec'd through /proc/self/fd/N, each would show as "N" in
		// top and ps -L.
		prctl(PR_SET_NAME, "runw-init", 0, 0, 0);
	}
	const char *v = getenv(RUNW_NSEXEC_ENV);
	if (v == NULL)
		return;
	int fd = parse_fd("namespace orders: bad descriptor", v);
	unsetenv(RUNW_NSEXEC_ENV);
	static char buf[RUNW_MAX_ORDERS];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read namespace orders from", v);
		if (r == 0)
			break;
		n += r;
		if (n == sizeof buf - 1) {
			errno = E2BIG;
			fail("read namespace orders from", v);
		}
	}
	buf[n] = 0;
	close(fd);
	char *mnt = NULL, *user = NULL;
	int cgroup = 0, private_mounts = 0, unshare_flags = 0;
	njoins = 0;
	for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "tasks ", 6) == 0)
			enter_cgroup(line + 6);
		else if (compile_child) {
			errno = EINVAL;
			fail("unknown compile order", line);
		} else if (strncmp(line, "mnt ", 4) == 0)
			mnt = line + 4;
		else if (strncmp(line, "user ", 5) == 0)
			user = line + 5;
		else if (strncmp(line, "join ", 5) == 0)
			add_join(line + 5);
		else if (strncmp(line, "new ", 4) == 0)
			unshare_flags = new_flags(line + 4);
		else if (strcmp(line, "cgroup") == 0)
			cgroup = 1;
		else if (strcmp(line, "private-mounts") == 0)
			private_mounts = 1;
		else {
			errno = EINVAL;
			fail("unknown namespace order", line);
		}
	}
	// All opened before any is joined: the paths are the host's
	// (/proc/<init pid>/ns/...), which the container's mount namespace,
	// with the /proc of its own pid namespace, no longer shows.
	int mntfd = mnt != NULL ? open_ns(mnt, "join mount namespace") : -1;
	int userfd = user != NULL ? open_ns(user, "join user namespace") : -1;
	for (int i = 0; i < njoins; i++)
		joins[i].fd = open_ns(joins[i].path, "join namespace");
	int pid = 0;
	if (njoins == 0) {
		// The mount namespace while the init still has the host's
		// privileges over it (one not owned by the user namespace).
		if (mnt != NULL)
			join(mntfd, mnt, CLONE_NEWNS, "join mount namespace");
		join_user(userfd, user);
	} else {
		// An unprivileged runw has no privilege over any namespace
		// before it is in their owner, the user namespace.
		join_user(userfd, user);
		if (mnt != NULL)
			join(mntfd, mnt, CLONE_NEWNS, "join mount namespace");
		for (int i = 0; i < njoins; i++) {
			join(joins[i].fd, joins[i].path, joins[i].flag, "join namespace");
			pid |= joins[i].flag == CLONE_NEWPID;
		}
	}
	if (unshare_flags != 0) {
		if (unshare(unshare_flags) < 0)
			fail("create namespaces in user namespace", user != NULL ? user : "");
		pid |= (unshare_flags & CLONE_NEWPID) != 0;
	}
	// Before the fork, so that the proxy is in it too: runw exec joins
	// the namespaces of the process runw started, and found this one
	// the host's.
	if (cgroup && unshare(CLONE_NEWCGROUP) < 0)
		fail("create cgroup namespace", "");
	if (pid)
		enter_pid_namespace();
	// An exec'd component's own copy of the mount namespace it joined,
	// where it takes its "/" without touching the container's mounts
	// (runtime/pivot.go execRootCopy). Never done on a joined namespace
	// itself: a failure here ends the process.
	if (private_mounts) {
		if (mnt == NULL)
			errno = EINVAL;
		if (mnt == NULL || unshare(CLONE_NEWNS) < 0)
			fail("make a private copy of the mount namespace", mnt != NULL ? mnt : "");
	}
}
*/
import "C"
