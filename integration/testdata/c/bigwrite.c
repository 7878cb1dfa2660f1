/* bigwrite: 64 raw write(2)s of 1 MiB each to stdout, counting those that
 * return less than asked. A blocking write to a pipe writes everything on
 * Linux; a caller that does not loop (plain write(), not stdio) relies on
 * it. Prints on stderr how many writes were short and the total. */
#include <stdio.h>
#include <unistd.h>

static char buf[1 << 20];

int main(void) {
	int shorts = 0;
	long long total = 0;
	for (int i = 0; i < 64; i++) {
		ssize_t n = write(1, buf, sizeof buf);
		if (n < 0) {
			perror("write");
			return 1;
		}
		if (n != (ssize_t)sizeof buf)
			shorts++;
		total += n;
	}
	fprintf(stderr, "short=%d total=%lld\n", shorts, total);
	return 0;
}
