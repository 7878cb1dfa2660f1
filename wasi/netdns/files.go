package netdns

import (
	"bytes"
	"iter"
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

// maxFields is the most fields records keeps of one line: an address or
// service and its names (glibc keeps 35 aliases a hosts line, musl reads
// 512-byte lines). Without it, one line of a MaxFileSize file ("a a a
// ...") became a slice of 512 Ki strings, 8 MiB, and a lookup reading
// such a hosts and services file (which the guest may write) allocated
// about 20 MiB: more than the memory runw keeps for its init beside the
// guest's, so the container was OOM-killed instead of the guest getting
// an error.
const maxFields = 64

// records yields the whitespace-separated fields of each line of data (at
// most maxFields of them), with everything from a byte in comment on cut
// off and empty lines skipped: the line format that hosts, services and
// resolv.conf share. The slice it yields is reused from line to line.
func records(data []byte, comment string) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		fields := make([]string, 0, maxFields)
		for line := range bytes.Lines(data) {
			if i := bytes.IndexAny(line, comment); i >= 0 {
				line = line[:i]
			}
			fields = fields[:0]
			for f := range bytes.FieldsSeq(line) {
				if len(fields) == maxFields {
					break
				}
				fields = append(fields, string(f))
			}
			if len(fields) > 0 && !yield(fields) {
				return
			}
		}
	}
}
