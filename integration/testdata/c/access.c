// access.c: for each path argument, what wasi-libc's access(W_OK) says
// and whether open(O_WRONLY) then writes "w" (TestAccessWriteOnReadOnlyMounts).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *name(int err) {
	switch (err) {
	case EACCES: return "EACCES";
	case EROFS: return "EROFS";
	case EBADF: return "EBADF";
	}
	return strerror(err);
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		int a = access(argv[i], W_OK);
		printf("%s access=%s", argv[i], a == 0 ? "ok" : name(errno));
		int fd = open(argv[i], O_WRONLY);
		if (fd < 0) {
			printf(" open=%s\n", name(errno));
			continue;
		}
		printf(" write=%s\n", write(fd, "w", 1) == 1 ? "ok" : name(errno));
		close(fd);
	}
	return 0;
}
