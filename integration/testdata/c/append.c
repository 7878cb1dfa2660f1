/* append: sets O_APPEND on stdout with fcntl, seeks it to the start and
 * writes "B", which natively lands at the end of the file. Prints on
 * stderr whether F_GETFL then reports O_APPEND, and stdout's offset. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
	int fl = fcntl(1, F_GETFL);
	if (fl < 0 || fcntl(1, F_SETFL, fl | O_APPEND) != 0) {
		perror("fcntl");
		return 1;
	}
	if (lseek(1, 0, SEEK_SET) != 0) {
		perror("lseek");
		return 1;
	}
	if (write(1, "B", 1) != 1) {
		perror("write");
		return 1;
	}
	off_t end = lseek(1, 0, SEEK_CUR);
	fprintf(stderr, "append=%d offset=%lld\n", (fcntl(1, F_GETFL) & O_APPEND) != 0, (long long)end);
	return 0;
}
