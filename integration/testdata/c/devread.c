/* devread: 16 raw reads of 4 MiB each from /dev/urandom and from
 * /dev/zero, and prints how many came back short. Linux answers each
 * whole: a read of them ends early only at a signal, which a native
 * process does not get. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[4 << 20];

int main(void) {
	const char *devices[] = {"/dev/urandom", "/dev/zero"};
	for (int d = 0; d < 2; d++) {
		int fd = open(devices[d], O_RDONLY);
		if (fd < 0) {
			perror(devices[d]);
			return 1;
		}
		int shortn = 0;
		for (int i = 0; i < 16; i++)
			if (read(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
				shortn++;
		printf("%s short=%d\n", devices[d], shortn);
		close(fd);
	}
	return 0;
}
