package state

import "errors"

// maxIDLen bounds container ids so they stay usable as file names.
const maxIDLen = 1024

// errInvalidID carries the exact text runc prints, which callers and
// test suites match.
var errInvalidID = errors.New("invalid container ID format")

// errEmptyID is runc's text for an empty id, which it checks before the
// format.
var errEmptyID = errors.New("container id cannot be empty")

// ValidateID reports whether id is safe to use as a container id and so
// as a directory name under the root. As runc: bytes from
// [A-Za-z0-9_.+-] in any position (so ".hidden", "_x", "-x" and "+x" are
// ids), but not "." or "..". runc 1.1's regexp, [\w+-\.], also lets ','
// through by accident (a range from '+' to '.'); later runc spells the
// set out without it, and so does runw. Three names differ from runc on
// purpose: ".native", ".empty" and ".exe" are runw's own directories
// under the root (the native runtime's root, the sealed binary's empty
// layer, the copies of runw's binary the inits run). It
// is at most 1024 bytes long. The error text is exactly "invalid
// container ID format", or runc's "container id cannot be empty" for "".
func ValidateID(id string) error {
	if id == "" {
		return errEmptyID
	}
	if len(id) > maxIDLen || id == "." || id == ".." || reserved[id] {
		return errInvalidID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' || c == '.' || c == '+' || c == '-':
		default:
			return errInvalidID
		}
	}
	return nil
}

// The directories runw keeps under the root for itself.
const (
	// NativeDir is the native runtime's root.
	NativeDir = ".native"
	// EmptyDir is the sealed binary's empty layer.
	EmptyDir = ".empty"
	// ExeDir holds the copies of runw's binary the inits run from.
	ExeDir = ".exe"
)

// reserved are the names runw keeps under the root for itself.
var reserved = map[string]bool{NativeDir: true, EmptyDir: true, ExeDir: true}
