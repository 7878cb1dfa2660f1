package state

import "errors"

// maxIDLen bounds container ids so they stay usable as file names.
const maxIDLen = 1024

// errInvalidID carries the exact text runc prints, which callers and
// test suites match.
var errInvalidID = errors.New("invalid container ID format")

// ValidateID reports whether id is safe to use as a container id and so
// as a directory name under the root: it must match
// ^[A-Za-z0-9][A-Za-z0-9_.+-]*$ and be at most 1024 bytes long. That
// rules out "", "." , ".." and anything with a path separator. The error
// text is exactly "invalid container ID format".
func ValidateID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return errInvalidID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			// Always allowed.
		case i > 0 && (c == '_' || c == '.' || c == '+' || c == '-'):
			// Allowed, but not as the first byte.
		default:
			return errInvalidID
		}
	}
	return nil
}
