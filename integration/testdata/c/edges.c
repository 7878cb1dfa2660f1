// edges: WASI preview1 calls at their edges, made directly (wasi/api.h,
// no libc translation), one line each: "name: errno [result]". The same
// module runs under runw and under wasmtime's built-in WASI
// (TestWASIEdgesAsWasmtime), and every line must read the same, but for
// the differences runw chooses, which that test names.
//
// Usage: edges SCRATCH, SCRATCH the name of an empty, writable preopen.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t scratch;

static void out(const char *name, __wasi_errno_t e) { printf("%s: %d\n", name, e); }

static __wasi_fd_t find_preopen(const char *name) {
	for (__wasi_fd_t fd = 3; fd < 64; fd++) {
		__wasi_prestat_t st;
		if (__wasi_fd_prestat_get(fd, &st) != 0)
			break;
		char buf[256];
		size_t n = st.u.dir.pr_name_len;
		if (n >= sizeof buf || __wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, n) != 0)
			continue;
		buf[n] = 0;
		if (strcmp(buf, name) == 0)
			return fd;
	}
	return (__wasi_fd_t)-1;
}

static __wasi_fd_t open_at(__wasi_fd_t dir, const char *path, __wasi_oflags_t of, __wasi_rights_t rights, __wasi_fdflags_t ff, __wasi_errno_t *e) {
	__wasi_fd_t fd = (__wasi_fd_t)-1;
	*e = __wasi_path_open(dir, 0, path, of, rights, rights, ff, &fd);
	return fd;
}

static void file(const char *path, const char *text) {
	__wasi_errno_t e;
	__wasi_fd_t fd = open_at(scratch, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0, &e);
	if (e != 0) {
		printf("setup %s: %d\n", path, e);
		return;
	}
	__wasi_ciovec_t iov = {(const uint8_t *)text, strlen(text)};
	__wasi_size_t n;
	(void)__wasi_fd_write(fd, &iov, 1, &n);
	(void)__wasi_fd_close(fd);
}

// A directory descriptor is no file.
static void directory_descriptor(void) {
	__wasi_errno_t e;
	(void)__wasi_path_create_directory(scratch, "d");
	__wasi_fd_t d = open_at(scratch, "d", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR, 0, &e);
	out("open d", e);
	uint8_t buf[16];
	__wasi_iovec_t iov = {buf, sizeof buf};
	__wasi_ciovec_t ciov = {buf, sizeof buf};
	__wasi_size_t n;
	__wasi_filesize_t pos;
	out("dir fd_read", __wasi_fd_read(d, &iov, 1, &n));
	out("dir fd_pread", __wasi_fd_pread(d, &iov, 1, 0, &n));
	out("dir fd_write", __wasi_fd_write(d, &ciov, 1, &n));
	out("dir fd_pwrite", __wasi_fd_pwrite(d, &ciov, 1, 0, &n));
	out("dir fd_seek set", __wasi_fd_seek(d, 0, __WASI_WHENCE_SET, &pos));
	out("dir fd_seek cur", __wasi_fd_seek(d, 0, __WASI_WHENCE_CUR, &pos));
	out("dir fd_seek end", __wasi_fd_seek(d, 0, __WASI_WHENCE_END, &pos));
	out("dir fd_tell", __wasi_fd_tell(d, &pos));
	out("dir fd_advise", __wasi_fd_advise(d, 0, 0, __WASI_ADVICE_DONTNEED));
	out("dir fd_allocate", __wasi_fd_allocate(d, 0, 1));
	out("dir fd_datasync", __wasi_fd_datasync(d));
	out("dir fd_sync", __wasi_fd_sync(d));
	out("dir fd_fdstat_set_flags", __wasi_fd_fdstat_set_flags(d, __WASI_FDFLAGS_NONBLOCK));
	out("dir fd_filestat_set_size", __wasi_fd_filestat_set_size(d, 0));
	__wasi_subscription_t sub = {0};
	__wasi_event_t ev;
	sub.userdata = 1;
	sub.u.tag = __WASI_EVENTTYPE_FD_READ;
	sub.u.u.fd_read.file_descriptor = d;
	out("dir poll_oneoff", __wasi_poll_oneoff(&sub, &ev, 1, &n));
	sub.u.u.fd_read.file_descriptor = 999;
	out("closed poll_oneoff", __wasi_poll_oneoff(&sub, &ev, 1, &n));
	(void)__wasi_fd_close(d);
}

// A file descriptor is no directory.
static void file_descriptor(void) {
	__wasi_errno_t e;
	file("f", "0123456789");
	__wasi_fd_t f = open_at(scratch, "f", 0, __WASI_RIGHTS_FD_READ, 0, &e);
	__wasi_fd_t g;
	__wasi_filestat_t st;
	out("file path_open", __wasi_path_open(f, 0, "x", 0, 0, 0, 0, &g));
	out("stdout path_open", __wasi_path_open(1, 0, "x", 0, 0, 0, 0, &g));
	out("file path_create_directory", __wasi_path_create_directory(f, "x"));
	out("file path_filestat_get", __wasi_path_filestat_get(f, 0, "x", &st));
	out("file path_unlink_file", __wasi_path_unlink_file(f, "x"));
	uint8_t buf[4];
	__wasi_ciovec_t ciov = {buf, sizeof buf};
	__wasi_size_t n;
	out("read-only fd_write", __wasi_fd_write(f, &ciov, 1, &n));
	out("read-only fd_filestat_set_size", __wasi_fd_filestat_set_size(f, 0));
	__wasi_filesize_t pos;
	out("fd_seek before 0", __wasi_fd_seek(f, -1, __WASI_WHENCE_SET, &pos));
	out("fd_seek past the end", __wasi_fd_seek(f, 100, __WASI_WHENCE_SET, &pos));
	printf("fd_seek past the end: at %llu\n", (unsigned long long)pos);
	(void)__wasi_fd_close(f);
	out("fd_close twice", __wasi_fd_close(f));
}

static void links(void) {
	file("t", "t");
	file("target", "target");
	uint8_t buf[16];
	__wasi_size_t n;
	out("symlink l", __wasi_path_symlink("target", scratch, "l"));
	size_t rooms[] = {0, 1, 6, 16};
	for (size_t i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
		memset(buf, '.', sizeof buf);
		n = 99;
		__wasi_errno_t e = __wasi_path_readlink(scratch, "l", buf, rooms[i], &n);
		printf("readlink into %zu: %d %lu %.8s\n", rooms[i], e, e == 0 ? n : 0, (char *)buf);
	}
	out("readlink of a file", __wasi_path_readlink(scratch, "t", buf, sizeof buf, &n));
	out("link following", __wasi_path_link(scratch, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "l", scratch, "h1"));
	out("link", __wasi_path_link(scratch, 0, "t", scratch, "h2"));
	out("link over a name", __wasi_path_link(scratch, 0, "t", scratch, "h2"));
	out("symlink at file/", __wasi_path_symlink("x", scratch, "t/"));
	out("symlink at dir/", __wasi_path_symlink("x", scratch, "d/"));
	out("symlink at missing/", __wasi_path_symlink("x", scratch, "m/"));
	out("symlink absolute", __wasi_path_symlink("/etc", scratch, "abs"));
	out("symlink over a file", __wasi_path_symlink("x", scratch, "t"));
	(void)__wasi_path_create_directory(scratch, "ldir");
	out("symlink to a directory", __wasi_path_symlink("ldir", scratch, "ld"));
	__wasi_errno_t e;
	__wasi_fd_t lfd = open_at(scratch, "ld", __WASI_OFLAGS_DIRECTORY, 0, 0, &e);
	out("open a symlink to a directory as one, not followed", e);
	if (e == 0)
		(void)__wasi_fd_close(lfd);
}

static void paths(void) {
	__wasi_errno_t e;
	__wasi_fd_t fd;
	open_at(scratch, "/etc", 0, 0, 0, &e);
	out("absolute path", e);
	open_at(scratch, "d/../../x", 0, 0, 0, &e);
	out("dotdot above a directory", e);
	fd = open_at(scratch, "d", __WASI_OFLAGS_DIRECTORY, 0, 0, &e);
	__wasi_fd_t g = open_at(fd, "../t", 0, 0, 0, &e);
	out("dotdot above an opened directory", e);
	if (e == 0)
		(void)__wasi_fd_close(g);
	(void)__wasi_fd_close(fd);
	open_at(scratch, "nd", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_DIRECTORY, 0, 0, &e);
	out("create a directory with path_open", e);
	open_at(scratch, "d", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_TRUNC, 0, 0, &e);
	out("truncate a directory", e);
	open_at(scratch, "d", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_EXCL, 0, 0, &e);
	out("exclusive directory", e);
	open_at(scratch, "t", __WASI_OFLAGS_DIRECTORY, 0, 0, &e);
	out("file as a directory", e);
	open_at(scratch, "t/", 0, 0, 0, &e);
	out("file with a slash", e);
	open_at(scratch, "missing", 0, 0, 0, &e);
	out("missing", e);
	open_at(scratch, "t", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0, 0, &e);
	out("exclusive over a file", e);
	out("mkdir over a file", __wasi_path_create_directory(scratch, "t"));
	out("rmdir a file", __wasi_path_remove_directory(scratch, "t"));
	out("unlink a directory", __wasi_path_unlink_file(scratch, "d"));
	file("d/inside", "x");
	out("rmdir a full directory", __wasi_path_remove_directory(scratch, "d"));
	out("rename a directory onto a file", __wasi_path_rename(scratch, "d", scratch, "t"));
	out("rename a file onto a directory", __wasi_path_rename(scratch, "t", scratch, "d"));
	out("rename a directory into itself", __wasi_path_rename(scratch, "d", scratch, "d/sub"));
	out("empty path", __wasi_path_create_directory(scratch, ""));
}

static void times(void) {
	file("tm", "x");
	out("set times, both ATIM and ATIM_NOW", __wasi_path_filestat_set_times(scratch, 0, "tm", 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
	out("set times", __wasi_path_filestat_set_times(scratch, 0, "tm", 1000000000ull, 2000000000ull, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
	__wasi_filestat_t st;
	out("stat", __wasi_path_filestat_get(scratch, 0, "tm", &st));
	printf("stat: size %llu atim %llu mtim %llu nlink %llu type %d\n", (unsigned long long)st.size, (unsigned long long)st.atim, (unsigned long long)st.mtim, (unsigned long long)st.nlink, st.filetype);
	__wasi_timestamp_t t;
	out("clock_res_get realtime", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &t));
}

static void misc(void) {
	uint8_t buf[4];
	__wasi_size_t n;
	out("random_get of 0", __wasi_random_get(buf, 0));
	out("sched_yield", __wasi_sched_yield());
	__wasi_prestat_t pst;
	out("prestat of a closed fd", __wasi_fd_prestat_get(999, &pst));
	out("prestat_dir_name too short", __wasi_fd_prestat_dir_name(scratch, buf, 0));
	__wasi_fdstat_t fst;
	out("fdstat of a closed fd", __wasi_fd_fdstat_get(999, &fst));
	out("renumber to a closed fd", __wasi_fd_renumber(scratch, 999));
	__wasi_subscription_t sub = {0};
	__wasi_event_t ev;
	out("poll_oneoff of nothing", __wasi_poll_oneoff(&sub, &ev, 0, &n));
}

static void more(void) {
	__wasi_errno_t e;
	__wasi_size_t n;
	(void)__wasi_path_create_directory(scratch, "rd");
	file("rd/a", "a");
	file("rd/bb", "bb");
	__wasi_fd_t d = open_at(scratch, "rd", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, &e);
	uint8_t buf[256];
	out("readdir into 8 bytes", __wasi_fd_readdir(d, buf, 8, 0, &n));
	printf("readdir into 8 bytes: %lu\n", n);
	out("readdir past the end", __wasi_fd_readdir(d, buf, sizeof buf, 1000, &n));
	printf("readdir past the end: %lu\n", n);
	__wasi_fdstat_t fst;
	out("fdstat of a directory", __wasi_fd_fdstat_get(d, &fst));
	printf("fdstat of a directory: type %d flags %d\n", fst.fs_filetype, fst.fs_flags);
	(void)__wasi_fd_close(d);
	__wasi_fd_t f = open_at(scratch, "rd/bb", 0, __WASI_RIGHTS_FD_READ, 0, &e);
	out("readdir of a file", __wasi_fd_readdir(f, buf, sizeof buf, 0, &n));
	__wasi_iovec_t iov = {buf, 4};
	out("pread at 2^63", __wasi_fd_pread(f, &iov, 1, 1ull << 63, &n));
	out("pread past the end", __wasi_fd_pread(f, &iov, 1, 100, &n));
	printf("pread past the end: %lu\n", n);
	out("read into nothing", __wasi_fd_read(f, &iov, 0, &n));
	printf("read into nothing: %lu\n", n);
	__wasi_subscription_t sub[2] = {{0}};
	__wasi_event_t ev[2];
	sub[0].userdata = 1;
	sub[0].u.tag = __WASI_EVENTTYPE_FD_READ;
	sub[0].u.u.fd_read.file_descriptor = f;
	out("poll a file", __wasi_poll_oneoff(sub, ev, 1, &n));
	printf("poll a file: %lu events, userdata %llu error %d type %d\n", n, (unsigned long long)ev[0].userdata, ev[0].error, ev[0].type);
	out("fd_renumber to itself", __wasi_fd_renumber(f, f));
	__wasi_prestat_t pst;
	out("prestat of a file", __wasi_fd_prestat_get(f, &pst));
	out("prestat_dir_name of a file", __wasi_fd_prestat_dir_name(f, buf, sizeof buf));
	__wasi_filestat_t st;
	out("set times of a read-only descriptor", __wasi_fd_filestat_set_times(f, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
	(void)__wasi_fd_close(f);
	out("stat a file with a slash", __wasi_path_filestat_get(scratch, 0, "rd/bb/", &st));
	out("readlink of a directory", __wasi_path_readlink(scratch, "rd", buf, sizeof buf, &n));
	out("symlink to nothing", __wasi_path_symlink("", scratch, "empty"));
	out("rmdir .", __wasi_path_remove_directory(scratch, "rd/."));
	out("unlink with a slash", __wasi_path_unlink_file(scratch, "rd/bb/"));
	out("rename a file to a name with a slash", __wasi_path_rename(scratch, "rd/a", scratch, "rd/cc/"));
	out("rename a missing name", __wasi_path_rename(scratch, "rd/none", scratch, "rd/cc"));
	out("rename onto itself", __wasi_path_rename(scratch, "rd/bb", scratch, "rd/bb"));
	out("mkdir with a slash", __wasi_path_create_directory(scratch, "nd2/"));
	out("rmdir with a slash", __wasi_path_remove_directory(scratch, "nd2/"));
	open_at(scratch, ".", __WASI_OFLAGS_CREAT, 0, 0, &e);
	out("create .", e);
	// A last "." or "..", with or without a slash, names a directory
	// that is there: EEXIST to CREAT|EXCL, as on Linux and wasmtime.
	const char *dots[] = {".", "./", "rd/.", "rd/./", "rd/..", "rd/../"};
	for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++) {
		char name[64];
		open_at(scratch, dots[i], __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, __WASI_RIGHTS_FD_WRITE, 0, &e);
		snprintf(name, sizeof name, "create %s exclusively", dots[i]);
		out(name, e);
		open_at(scratch, dots[i], __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, &e);
		snprintf(name, sizeof name, "create %s", dots[i]);
		out(name, e);
	}
	// Through a symlink whose body ends in "/": CREAT is EISDIR, as for
	// the name with its slash itself, whatever is there (Linux and
	// wasmtime); without CREAT the file is not a directory.
	(void)__wasi_path_symlink("bb/", scratch, "rd/to-file-slash");
	(void)__wasi_path_symlink("none/", scratch, "rd/to-none-slash");
	(void)__wasi_path_symlink("cc/", scratch, "rd/to-dir-slash");
	(void)__wasi_path_create_directory(scratch, "rd/cc");
	const char *slashed[] = {"rd/to-file-slash", "rd/to-none-slash", "rd/to-dir-slash"};
	for (size_t i = 0; i < sizeof slashed / sizeof slashed[0]; i++) {
		char name[80];
		__wasi_fd_t g = (__wasi_fd_t)-1;
		e = __wasi_path_open(scratch, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, slashed[i], __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &g);
		snprintf(name, sizeof name, "create through %s", slashed[i]);
		out(name, e);
		e = __wasi_path_open(scratch, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, slashed[i], 0, __WASI_RIGHTS_FD_READ, 0, 0, &g);
		snprintf(name, sizeof name, "open through %s", slashed[i]);
		out(name, e);
		if (e == 0)
			(void)__wasi_fd_close(g);
	}
	(void)__wasi_path_remove_directory(scratch, "rd/cc");
	f = open_at(scratch, "rd/bb", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_READ, 0, &e);
	out("truncate without the write right", e);
	if (e == 0)
		(void)__wasi_fd_close(f);
}

// Where runw chooses otherwise than wasmtime (TestWASIEdgesAsWasmtime
// names each line).
static void choices(void) {
	__wasi_errno_t e;
	__wasi_fd_t f = open_at(scratch, "alloc", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ALLOCATE, 0, &e);
	out("fd_allocate", __wasi_fd_allocate(f, 0, 4096));
	(void)__wasi_fd_close(f);
	f = open_at(scratch, "alloc", 0, __WASI_RIGHTS_FD_WRITE, __WASI_FDFLAGS_SYNC, &e);
	out("open with SYNC", e);
	if (e == 0)
		(void)__wasi_fd_close(f);
	f = open_at(scratch, "\xff\xfe", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, &e);
	out("a name that is not UTF-8", e);
	if (e == 0)
		(void)__wasi_fd_close(f);
	__wasi_timestamp_t t;
	out("clock_res_get process CPU time", __wasi_clock_res_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &t));
	out("stdout NONBLOCK", __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_NONBLOCK));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (scratch = find_preopen(argv[1])) == (__wasi_fd_t)-1) {
		printf("usage: edges SCRATCH (a preopen)\n");
		return 2;
	}
	directory_descriptor();
	file_descriptor();
	links();
	paths();
	times();
	misc();
	more();
	choices();
	return 0;
}
