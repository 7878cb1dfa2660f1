package runtime

import (
	"errors"
	"syscall"
)

// errnoOf strips an *os.PathError (or *os.SyscallError) down to its
// errno when the caller already names the path, quoted: the error's own
// text would repeat the path unquoted, and a path holding a newline would
// split the one error line engines read.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
