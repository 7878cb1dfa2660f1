/* emfile: opens "/" until EMFILE, then at the limit stats a nested path,
 * closes one descriptor and opens a nested file, and prints each result
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
	struct stat st;
	int r = stat("/d/sub/f", &st);
	printf("stat=%s\n", r == 0 ? "0" : strerror(errno));
	close(last);
	int fd = open("/d/sub/f", O_RDONLY);
	printf("open=%s\n", fd >= 0 ? "0" : strerror(errno));
	fprintf(stderr, "%d descriptors opened\n", n);
	return 0;
}
