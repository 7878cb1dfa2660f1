package netdns

import (
	"bytes"
	"iter"
	"strings"
)

// The container files netdns reads, by guest path.
const (
	hostsPath      = "/etc/hosts"
	servicesPath   = "/etc/services"
	resolvConfPath = "/etc/resolv.conf"
)

// MaxFileSize is how much of each file netdns parses; Files need not read
// more. Real ones are a few KiB (Debian's /etc/services is about 12 KiB).
const MaxFileSize = 1 << 20

// read returns the file's bytes, or nil when it can't be read: a hosts or
// services file that is missing or unreadable counts as empty, as glibc's
// files backend treats it, and resolv.conf falls back to its defaults.
func (r resolver) read(path string) []byte {
	data, err := r.files(path)
	if err != nil {
		return nil
	}
	return data[:min(len(data), MaxFileSize)]
}

// records yields the whitespace-separated fields of each line of data, with
// everything from a byte in comment on cut off and empty lines skipped: the
// line format that hosts, services and resolv.conf share.
func records(data []byte, comment string) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		for line := range bytes.Lines(data) {
			if i := bytes.IndexAny(line, comment); i >= 0 {
				line = line[:i]
			}
			fields := strings.Fields(string(line))
			if len(fields) > 0 && !yield(fields) {
				return
			}
		}
	}
}
