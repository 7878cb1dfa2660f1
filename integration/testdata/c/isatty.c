/* isatty: prints what wasi-libc's isatty says of the three standard
 * streams, as "stdin=N stdout=N stderr=N". */
#include <stdio.h>
#include <unistd.h>

int main(void) {
	int in = isatty(0), out = isatty(1), err = isatty(2);
	printf("stdin=%d stdout=%d stderr=%d\n", in, out, err);
	return 0;
}
