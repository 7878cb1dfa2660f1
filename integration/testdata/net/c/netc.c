/* netc: a C client of WasmEdge's socket extension, calling sock_open,
 * sock_bind and sock_connect through declared imports (wasi-libc has no
 * socket(), bind() or connect()) and wasi-libc's send, recv and shutdown
 * (preview1's sock_send, sock_recv, sock_shutdown) for the data.
 *
 *	netc open                 sock_open an IPv4 TCP socket
 *	netc bind PORT            ... and bind it to 0.0.0.0:PORT
 *	netc connect IP PORT MSG  ... connect to IP:PORT, send MSG, shut down
 *	                          the write side, print what comes back
 *
 * Each call's WASI errno is printed as "name=N" so that tests assert the
 * exact value; the exit status is 0 only when everything succeeded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
	uint8_t *buf;
	uint32_t len;
} wasi_address;

__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_open")))
int32_t sock_open(int32_t af, int32_t type, int32_t *fd);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_bind")))
int32_t sock_bind(int32_t fd, wasi_address *addr, int32_t port);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_connect")))
int32_t sock_connect(int32_t fd, wasi_address *addr, int32_t port);

enum { AF_INET4 = 1, TYPE_STREAM = 2 };

static int open_socket(void) {
	int32_t fd = -1;
	int32_t e = sock_open(AF_INET4, TYPE_STREAM, &fd);
	printf("open=%d\n", e);
	return e ? -1 : fd;
}

static int parse_ip(const char *s, uint8_t ip[4]) {
	unsigned a, b, c, d;
	if (sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
		return -1;
	ip[0] = a, ip[1] = b, ip[2] = c, ip[3] = d;
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "open"))
		return open_socket() < 0 ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "bind")) {
		int fd = open_socket();
		if (fd < 0)
			return 1;
		uint8_t any[4] = {0, 0, 0, 0};
		wasi_address addr = {any, 4};
		int32_t e = sock_bind(fd, &addr, atoi(argv[2]));
		printf("bind=%d\n", e);
		return e ? 1 : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "connect")) {
		uint8_t ip[4];
		if (parse_ip(argv[2], ip) < 0) {
			printf("bad address %s\n", argv[2]);
			return 2;
		}
		int fd = open_socket();
		if (fd < 0)
			return 1;
		wasi_address addr = {ip, 4};
		int32_t e = sock_connect(fd, &addr, atoi(argv[3]));
		printf("connect=%d\n", e);
		if (e)
			return 1;
		size_t len = strlen(argv[4]);
		ssize_t n = send(fd, argv[4], len, 0);
		if (n != (ssize_t)len) {
			printf("send=%zd\n", n);
			return 1;
		}
		shutdown(fd, SHUT_WR);
		printf("reply=");
		char buf[4096];
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			fwrite(buf, 1, n, stdout);
		printf("\n");
		if (n < 0) {
			printf("recv failed\n");
			return 1;
		}
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: netc open | bind PORT | connect IP PORT MSG\n");
	return 2;
}
