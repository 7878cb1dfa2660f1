/* emfile: opens "/" until EMFILE, then at the limit stats nested paths,
 * closes one descriptor and opens nested files, and prints each result
 * (0 or the errno's name), as a server at its RLIMIT_NOFILE would meet
 * them. Linux needs no descriptor for stat and one for open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
	int last = -1, n = 0;
	for (;;) {
		int fd = open("/", O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			if (errno != EMFILE) {
				perror("open /");
				return 1;
			}
			break;
		}
		last = fd;
		n++;
	}
	/* No descriptor is free: an open is EMFILE, as on Linux, and must
	 * not take one of runw's spares (then every later walk was short). */
	int o = open("/d/sub/f", O_RDONLY);
	printf("open at the limit=%s\n", o >= 0 ? "0" : strerror(errno));
	struct stat st;
	int r = stat("/d/sub/f", &st);
	printf("stat=%s\n", r == 0 ? "0" : strerror(errno));
	/* Paths runw walks step by step (a "..", a link into a deep
	 * directory): each step is a descriptor of runw's. */
	r = stat("/d/sub/a/b/c/../../../f", &st);
	printf("stat deep=%s\n", r == 0 ? "0" : strerror(errno));
	r = stat("/d/deep/../../../f", &st);
	printf("stat link=%s\n", r == 0 ? "0" : strerror(errno));
	close(last);
	int fd = open("/d/sub/f", O_RDONLY);
	printf("open=%s\n", fd >= 0 ? "0" : strerror(errno));
	if (fd >= 0)
		close(fd);
	fd = open("/d/deep/../../../a/b/c/../../../f", O_RDONLY);
	printf("open deep=%s\n", fd >= 0 ? "0" : strerror(errno));
	/* The last descriptor taken, a walk still has its spares. */
	r = stat("/d/sub/a/b/c/../../../f", &st);
	printf("stat deep again=%s\n", r == 0 ? "0" : strerror(errno));
	fprintf(stderr, "%d descriptors opened\n", n);
	return 0;
}
