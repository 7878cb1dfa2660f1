package netdns

import (
	"bufio"
	"bytes"
	"io"
	"iter"
	"unicode"
	"unicode/utf8"
)

// The container files netdns reads, by guest path.
const (
	hostsPath      = "/etc/hosts"
	servicesPath   = "/etc/services"
	resolvConfPath = "/etc/resolv.conf"
)

// MaxFileSize is how much of each file netdns parses. Files are read
// line by line, never whole, so the bound is on time, not memory: a hosts
// file of many megabytes (ad and tracker block lists) is read to its end,
// as glibc reads it.
const MaxFileSize = 64 << 20

// maxLine is the longest line netdns reads whole. A longer one (real
// lines are a name or a few) is cut at its last blank within maxLine, so
// that no name is read cut short, and the rest of it is skipped.
const maxLine = 64 << 10

// open opens the file at path, or says it can't be read: a hosts or
// services file that is missing or unreadable counts as empty, as glibc's
// files backend treats it, and resolv.conf falls back to its defaults.
func (r resolver) open(path string) (io.ReadCloser, bool) {
	f, err := r.files(path)
	if err != nil || f == nil {
		return nil, false
	}
	return f, true
}

// lines yields each line of the file r reads (up to MaxFileSize bytes),
// at most maxLine bytes of it, with everything from a byte in comment on
// cut off and blank lines skipped: the line format that hosts, services
// and resolv.conf share. The slice it yields is reused from line to line.
func lines(r io.Reader, comment string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if r == nil {
			return
		}
		limited := &io.LimitedReader{R: r, N: MaxFileSize}
		br := bufio.NewReaderSize(limited, 4096)
		var long []byte
		for {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A line longer than the reader's buffer: gathered up to
				// maxLine, the rest skipped.
				long = append(long[:0], line...)
				// cut: the line goes on past maxLine bytes; whole: a
				// blank or its end follows them, so no field is cut.
				cut, whole := false, false
				for err == bufio.ErrBufferFull {
					line, err = br.ReadSlice('\n')
					room := maxLine - len(long)
					if !cut && len(line) > room {
						cut, whole = true, startsBlank(line[room:])
					}
					long = append(long, line[:min(len(line), room)]...)
				}
				if cut && !whole {
					// Whole fields only: a name cut short is another
					// name.
					long = long[:max(bytes.LastIndexFunc(long, unicode.IsSpace), 0)]
				}
				line = long
			}
			if err == io.EOF && limited.N == 0 && !bytes.HasSuffix(line, []byte("\n")) {
				// The line across MaxFileSize: cut, so no line.
				return
			}
			if len(line) > 0 {
				if i := bytes.IndexAny(line, comment); i >= 0 {
					line = line[:i]
				}
				if len(bytes.TrimSpace(line)) > 0 && !yield(line) {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// startsBlank says whether b starts with a blank (a field's end) or a
// newline, as bytes.Fields splits.
func startsBlank(b []byte) bool {
	r, _ := utf8.DecodeRune(b)
	return unicode.IsSpace(r)
}

// maxFields is the most fields records keeps of one line: a service and
// its aliases, a resolv.conf keyword and its arguments (musl reads
// 512-byte lines). Without it, one long line ("a a a ...") became a slice
// of hundreds of thousands of strings, and a lookup reading such a
// services file (which the guest may write) allocated more than the
// memory runw keeps for its init beside the guest's, so the container was
// OOM-killed instead of the guest getting an error. Hosts lines are read
// without it (lookupHosts), as glibc reads them.
const maxFields = 64

// records yields the whitespace-separated fields of each line (lines), at
// most maxFields of them. The slice it yields is reused from line to
// line.
func records(r io.Reader, comment string) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		fields := make([]string, 0, maxFields)
		for line := range lines(r, comment) {
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
