/* echo: a wasi-libc TCP echo server on the listener runw preopened.
 *
 * It first walks the preopened descriptors from fd 3 the way wasi-libc
 * does (fd_prestat_get until EBADF) and prints how many directories it
 * found and the last one's number; then it prints each file named in its
 * arguments, opened through those directories (if a listener sat among
 * them, wasi-libc would stop early and the files would be unreachable:
 * wasmtime#3936); then the listener fd from RUNW_LISTEN_FDS with its
 * fd_fdstat_get (errno, filetype, flags: NONBLOCK, as runw promises),
 * which it clears with fcntl to block in accept. Every
 * connection gets back what it sends, until it closes its side. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
	int dirs = 0, last = -1;
	for (int fd = 3;; fd++) {
		__wasi_prestat_t ps;
		__wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
		if (e == __WASI_ERRNO_BADF)
			break;
		if (e != 0) {
			printf("prestat %d: errno %d\n", fd, e);
			return 3;
		}
		if (ps.tag == __WASI_PREOPENTYPE_DIR) {
			dirs++;
			last = fd;
		}
	}
	printf("dirs %d last %d\n", dirs, last);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		if (!f) {
			printf("open %s: %s\n", argv[i], strerror(errno));
			return 4;
		}
		char buf[256];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = 0;
		fclose(f);
		printf("file %s: %s\n", argv[i], buf);
	}
	const char *fds = getenv("RUNW_LISTEN_FDS");
	if (!fds) {
		printf("no RUNW_LISTEN_FDS\n");
		return 5;
	}
	int lfd = atoi(fds);
	__wasi_fdstat_t st;
	__wasi_errno_t e = __wasi_fd_fdstat_get(lfd, &st);
	printf("listener %d fdstat %d filetype %d flags %d\n", lfd, e, st.fs_filetype, st.fs_flags);
	/* runw hands the listener over non-blocking, as wasmtime's tcplisten
	 * did: a plain accept loop makes it blocking first. */
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		printf("fcntl: %s\n", strerror(errno));
		return 7;
	}
	fflush(stdout);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0) {
			printf("accept: %s\n", strerror(errno));
			return 6;
		}
		char buf[4096];
		for (;;) {
			ssize_t n = recv(c, buf, sizeof buf, 0);
			if (n <= 0)
				break;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(c, buf + off, n - off, 0);
				if (w < 0) {
					n = 0;
					break;
				}
				off += w;
			}
		}
		close(c);
	}
}
