/* sockets: one program of TCP and UDP calls at their edges, built twice:
 * natively (gcc, BSD sockets) and for wasm32-wasi (clang and wasi-libc,
 * with WasmEdge's sock_open, sock_bind, sock_connect, sock_listen,
 * sock_getlocaladdr, sock_send_to, sock_recv_from, sock_getsockopt and
 * sock_setsockopt declared as imports; wasi-libc's send, recv, accept,
 * shutdown, poll and fcntl for the rest). The process is its own client
 * and server on 127.0.0.1 and ::1. Each line is "name: value", with
 * errno values, poll flags and socket types printed by name, so that
 * TestNetSocketsAsNative compares the two builds line by line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#ifndef __wasi__
#include <signal.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifndef __wasi__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#ifdef __wasi__
typedef struct { uint8_t *buf; uint32_t len; } waddr;
#define IMP(n) __attribute__((import_module("wasi_snapshot_preview1"), import_name(n)))
IMP("sock_open") int32_t w_open(int32_t af, int32_t type, int32_t *fd);
IMP("sock_bind") int32_t w_bind(int32_t fd, waddr *a, int32_t port);
IMP("sock_connect") int32_t w_connect(int32_t fd, waddr *a, int32_t port);
IMP("sock_listen") int32_t w_listen(int32_t fd, int32_t backlog);
IMP("sock_getlocaladdr") int32_t w_local(int32_t fd, waddr *a, uint32_t *port);
IMP("sock_send_to") int32_t w_sendto(int32_t fd, const void *iov, int32_t n, waddr *a, int32_t port, int32_t fl, uint32_t *sent);
IMP("sock_recv_from") int32_t w_recvfrom(int32_t fd, void *iov, int32_t n, waddr *a, int32_t fl, uint32_t *port, uint32_t *nread, uint16_t *roflags);
IMP("sock_getsockopt") int32_t w_getopt(int32_t fd, int32_t lvl, int32_t name, void *val, uint32_t *len);
IMP("sock_setsockopt") int32_t w_setopt(int32_t fd, int32_t lvl, int32_t name, const void *val, uint32_t len);
static int E(int32_t e) { if (e) { errno = e; return -1; } return 0; }
/* 1 = v4, 2 = v6 */
static int mk(int v6, int udp) { int32_t fd; return E(w_open(v6 ? 2 : 1, udp ? 1 : 2, &fd)) ? -1 : fd; }
static uint8_t lo4[4] = {127, 0, 0, 1}, lo6[16] = {[15] = 1};
static int bnd(int fd, int v6, int port) { waddr a = {v6 ? lo6 : lo4, v6 ? 16 : 4}; return E(w_bind(fd, &a, port)); }
static int con(int fd, int v6, int port) { waddr a = {v6 ? lo6 : lo4, v6 ? 16 : 4}; return E(w_connect(fd, &a, port)); }
static int lis(int fd) { return E(w_listen(fd, 16)); }
static int portof(int fd) { uint8_t st[128]; waddr a = {st, 128}; uint32_t p = 0; if (E(w_local(fd, &a, &p))) return -1; return p; }
static int sndto(int fd, const void *b, int n, int v6, int port) { waddr a = {v6 ? lo6 : lo4, v6 ? 16 : 4}; struct { const void *b; uint32_t n; } io = {b, n}; uint32_t s; return E(w_sendto(fd, &io, 1, &a, port, 0, &s)) ? -1 : (int)s; }
static int rcvfrom(int fd, void *b, int n, int *trunc) { uint8_t st[128]; waddr a = {st, 128}; struct { void *b; uint32_t n; } io = {b, n}; uint32_t p, nr; uint16_t rf = 0; if (E(w_recvfrom(fd, &io, 1, &a, 0, &p, &nr, &rf))) return -1; *trunc = rf & 1; return nr; }
static int gopt(int fd, int name, int *v) { uint32_t l = 4; return E(w_getopt(fd, 0, name, v, &l)); }
static int sopt(int fd, int name, int v) { return E(w_setopt(fd, 0, name, &v, 4)); }
static int rst(int fd) { int32_t l[2] = {1, 0}; return E(w_setopt(fd, 0, 9, l, 8)); }
enum { O_REUSE = 0, O_TYPE = 1, O_ERR = 2, O_RCVBUF = 6, O_KEEP = 7, T_DGRAM = 1, T_STREAM = 2 };
static int acc(int fd) { return accept(fd, NULL, NULL); }
#else
static int mk(int v6, int udp) { return socket(v6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0); }
static int sa(struct sockaddr_storage *s, int v6, int port) { memset(s, 0, sizeof *s); if (v6) { struct sockaddr_in6 *a = (void *)s; a->sin6_family = AF_INET6; a->sin6_port = htons(port); a->sin6_addr = in6addr_loopback; return sizeof *a; } struct sockaddr_in *a = (void *)s; a->sin_family = AF_INET; a->sin_port = htons(port); a->sin_addr.s_addr = htonl(0x7f000001); return sizeof *a; }
static int bnd(int fd, int v6, int port) { struct sockaddr_storage s; int l = sa(&s, v6, port); return bind(fd, (void *)&s, l); }
static int con(int fd, int v6, int port) { struct sockaddr_storage s; int l = sa(&s, v6, port); return connect(fd, (void *)&s, l); }
static int lis(int fd) { return listen(fd, 16); }
static int portof(int fd) { struct sockaddr_storage s; socklen_t l = sizeof s; if (getsockname(fd, (void *)&s, &l)) return -1; return ntohs(((struct sockaddr_in *)&s)->sin_port); }
static int sndto(int fd, const void *b, int n, int v6, int port) { struct sockaddr_storage s; int l = sa(&s, v6, port); return sendto(fd, b, n, 0, (void *)&s, l); }
static int rcvfrom(int fd, void *b, int n, int *trunc) { struct iovec io = {b, n}; struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1}; int r = recvmsg(fd, &m, 0); *trunc = !!(m.msg_flags & MSG_TRUNC); return r; }
static int gopt(int fd, int name, int *v) { socklen_t l = 4; return getsockopt(fd, SOL_SOCKET, name, v, &l); }
static int sopt(int fd, int name, int v) { return setsockopt(fd, SOL_SOCKET, name, &v, 4); }
static int rst(int fd) { struct linger l = {1, 0}; return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); }
enum { O_REUSE = SO_REUSEADDR, O_TYPE = SO_TYPE, O_ERR = SO_ERROR, O_RCVBUF = SO_RCVBUF, O_KEEP = SO_KEEPALIVE, T_DGRAM = SOCK_DGRAM, T_STREAM = SOCK_STREAM };
static int acc(int fd) { return accept(fd, NULL, NULL); }
#endif

static const char *ename(int e) {
	switch (e) {
#define N(x) case x: return #x;
	N(EAGAIN) N(EADDRINUSE) N(EALREADY) N(ECONNREFUSED) N(ECONNRESET) N(EINPROGRESS)
	N(EINVAL) N(EISCONN) N(ENOTCONN) N(EPIPE) N(EBADF) N(ENOTSOCK) N(EOPNOTSUPP)
	N(EACCES) N(EPERM) N(EIO) N(EMSGSIZE) N(ENOPROTOOPT) N(EDESTADDRREQ) N(EAFNOSUPPORT)
#undef N
	}
	static char b[16];
	snprintf(b, sizeof b, "errno %d", e);
	return b;
}
static void out(const char *name, int r) {
	if (r < 0) printf("%s: %s\n", name, ename(errno));
	else printf("%s: %d\n", name, r);
	fflush(stdout);
}
static void outs(const char *name, const char *s) { printf("%s: %s\n", name, s); fflush(stdout); }
/* poll's revents by name: in, out, err, hup, nval. */
static const char *pname(int r) {
	static char b[64];
	if (r < 0) return ename(errno);
	if (r == 0) return "none";
	b[0] = 0;
	if (r & (POLLIN | POLLRDNORM)) strcat(b, "in ");
	if (r & (POLLOUT | POLLWRNORM)) strcat(b, "out ");
	if (r & POLLERR) strcat(b, "err ");
	if (r & POLLHUP) strcat(b, "hup ");
	if (r & POLLNVAL) strcat(b, "nval ");
	b[strlen(b) - 1] = 0;
	return b;
}
/* SO_ERROR's value by name: Linux's errno natively, WASI's (which are
 * wasi-libc's E* values) under WASI. */
static const char *soerr(int fd) { int v; if (gopt(fd, O_ERR, &v)) return ename(errno); return v ? ename(v) : "0"; }
static int nb(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
static int pl(int fd, int ev, int ms) { struct pollfd p = {fd, ev, 0}; int r = poll(&p, 1, ms); return r <= 0 ? r : p.revents; }

int main(void) {
#ifndef __wasi__
	signal(SIGPIPE, SIG_IGN);
#endif
	static char buf[65536];
	for (int v6 = 0; v6 < 2; v6++) {
		printf("== %s\n", v6 ? "ipv6" : "ipv4");
		int l = mk(v6, 0);
		out("bind port 0", bnd(l, v6, 0));
		out("listen", lis(l));
		out("listen twice", lis(l));
		int port = portof(l);
		out("port nonzero", port > 0);
		int v;
		outs("SO_TYPE of a listener", gopt(l, O_TYPE, &v) ? ename(errno) : v == T_STREAM ? "stream" : v == T_DGRAM ? "dgram" : "other");
		int c = mk(v6, 0);
		out("connect", con(c, v6, port));
		out("connect again", con(c, v6, port));
		int s = acc(l);
		out("accept", s >= 0);
		out("send", send(c, "hello", 5, 0));
		out("recv PEEK", recv(s, buf, 100, MSG_PEEK));
		out("recv", recv(s, buf, 100, 0));
		out("recv empty nonblock", (nb(s), recv(s, buf, 100, 0)));
		outs("poll idle 0ms", pname(pl(s, POLLIN, 0)));
		outs("poll idle 50ms", pname(pl(s, POLLIN, 50)));
		outs("poll out", pname(pl(c, POLLOUT, 0)));
		send(c, "abc", 3, 0);
		send(c, "def", 3, 0);
		usleep(10000);
		out("recv WAITALL 6", recv(s, buf, 6, MSG_WAITALL));
		out("shutdown WR", shutdown(c, SHUT_WR));
		outs("poll after peer FIN", pname(pl(s, POLLIN, 100)));
		out("recv after FIN", recv(s, buf, 100, 0));
		out("send after own SHUT_WR", send(c, "x", 1, 0));
		out("close server side", close(s));
		usleep(20000);
		int r = 0, i;
		for (i = 0; i < 5 && r >= 0; i++) { r = send(c, "y", 1, 0); usleep(10000); }
		out("send to closed peer (last)", r);
		outs("poll closed peer", pname(pl(c, POLLIN | POLLOUT, 0)));
		outs("poll closed peer OUT only", pname(pl(c, POLLOUT, 300)));
		outs("poll closed peer IN only", pname(pl(c, POLLIN, 300)));
		close(c);
		/* A reset after part of a WAITALL read: the part, then the
		 * reset, never a clean end. */
		c = mk(v6, 0); con(c, v6, port); s = acc(l);
		memset(buf, 'r', 30000);
		out("send before a reset", send(c, buf, 30000, 0));
		out("SO_LINGER 0", rst(c));
		close(c);
		usleep(20000);
		outs("poll after a reset", pname(pl(s, POLLIN, 100)));
		static char rbuf[100000];
		out("recv WAITALL past a reset", recv(s, rbuf, sizeof rbuf, MSG_WAITALL));
		out("recv after the reset", recv(s, rbuf, sizeof rbuf, 0));
		out("recv after the reset again", recv(s, rbuf, sizeof rbuf, 0));
		close(s);
		/* The same, the reset read through SO_ERROR, which clears it. */
		c = mk(v6, 0); con(c, v6, port); s = acc(l);
		send(c, buf, 30000, 0); rst(c); close(c);
		usleep(20000);
		out("recv WAITALL past a reset (2)", recv(s, rbuf, sizeof rbuf, MSG_WAITALL));
		outs("SO_ERROR after the part", soerr(s));
		out("recv after SO_ERROR", recv(s, rbuf, sizeof rbuf, 0));
		close(s);
		/* 4 MB through two non-blocking ends in one thread: short
		 * sends and reads, EAGAIN on both sides, nothing lost. */
		c = mk(v6, 0); con(c, v6, port); s = acc(l); nb(c); nb(s);
		int sent = 0, got = 0;
		static char big[1 << 20];
		for (int k = 0; k < 100000 && got < (4 << 20); k++) {
			int left = (4 << 20) - sent;
			if (left > 0) {
				int n = send(c, big, left < (int)sizeof big ? left : (int)sizeof big, 0);
				if (n > 0) sent += n;
			}
			int n = recv(s, buf, sizeof buf, 0);
			if (n > 0) got += n;
			else pl(s, POLLIN, 10);
		}
		out("4MB nonblocking transfer got", got);
		close(c); close(s);
		/* closed port */
		int dead = mk(v6, 0); bnd(dead, v6, 0); int dport = portof(dead); close(dead);
		c = mk(v6, 0);
		out("connect closed port", con(c, v6, dport));
		close(c);
		c = mk(v6, 0); nb(c);
		out("nb connect closed port", con(c, v6, dport));
		outs("poll nb refused", pname(pl(c, POLLOUT, 200)));
		outs("SO_ERROR refused", soerr(c));
		outs("SO_ERROR again", soerr(c));
		close(c);
		c = mk(v6, 0); nb(c);
		out("nb connect", con(c, v6, port));
		outs("poll nb connect", pname(pl(c, POLLOUT, 200)));
		outs("SO_ERROR connected", soerr(c));
		s = acc(l);
		out("accept after nb", s >= 0);
		close(c); close(s);
		int b = mk(v6, 0);
		out("bind in use", bnd(b, v6, port));
		out("shutdown unconnected", shutdown(b, SHUT_RDWR));
		out("accept on non-listening", acc(b));
		out("SO_REUSEADDR get", gopt(b, O_REUSE, &v) ? -1 : v);
		out("SO_KEEPALIVE set", sopt(b, O_KEEP, 1));
		out("SO_KEEPALIVE get", gopt(b, O_KEEP, &v) ? -1 : v);
		out("SO_RCVBUF set 65536", sopt(b, O_RCVBUF, 65536));
		out("SO_RCVBUF get at least 65536", gopt(b, O_RCVBUF, &v) ? -1 : v >= 65536);
		close(b);
		/* UDP */
		int u = mk(v6, 1);
		out("udp bind", bnd(u, v6, 0));
		int up = portof(u);
		memset(buf, 'z', 100);
		out("udp sendto self", sndto(u, buf, 100, v6, up));
		int tr = -1;
		out("udp recvfrom 10", rcvfrom(u, buf, 10, &tr));
		out("udp trunc flag", tr);
		out("udp recv empty nb", (nb(u), recv(u, buf, 10, 0)));
		int u2 = mk(v6, 1);
		out("udp connect", con(u2, v6, up));
		out("udp send connected", send(u2, "abc", 3, 0));
		out("udp recv", recv(u, buf, 100, 0));
		out("udp sendto 0-byte", sndto(u2, buf, 0, v6, up));
		out("udp recv 0-byte", recv(u, buf, 100, 0));
		close(u); close(u2);
		int cl = mk(v6, 1);
		dead = mk(v6, 1); bnd(dead, v6, 0); dport = portof(dead); close(dead);
		con(cl, v6, dport);
		send(cl, "a", 1, 0);
		usleep(20000);
		out("udp send after ICMP unreachable", send(cl, "a", 1, 0));
		close(cl);
		close(l);
	}
	return 0;
}
