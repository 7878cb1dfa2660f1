package netdns

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

// bytesFiles serves every path with data.
func bytesFiles(data []byte) Files {
	return func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// leastAllocated runs f three times and reports the fewest bytes the
// process allocated during one run. The count is the whole process's, so
// the least of three keeps a goroutine left by another test (a resolver's
// timer, the testing package's own) from failing a bound that f keeps.
func leastAllocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestHugeLineBounded: a hosts and a services file of one 1 MiB line of
// one-letter names (the guest can write both) cost a lookup little more
// than the reader's buffers. Each line used to become a slice of all its
// fields, 8 MiB, and a guest that had taken its whole memory allowance
// got the container OOM-killed by one getaddrinfo instead of an errno.
func TestHugeLineBounded(t *testing.T) {
	const size = 1 << 20
	line := append([]byte("10.0.0.1 "), bytes.Repeat([]byte("a "), size/2)...)[:size]
	for _, q := range []Query{
		{Node: "nomatch", Service: "80", NoDNS: true},     // the hosts file
		{Node: "localhost", Service: "http", NoDNS: true}, // and the services file
	} {
		got := leastAllocated(func() { Lookup(context.Background(), bytesFiles(line), q) })
		if got > 1<<20 {
			t.Errorf("lookup %q %q allocated %d KiB for a %d KiB file", q.Node, q.Service, got>>10, size>>10)
		}
	}
	// A name among the first fields of a long line still matches.
	addrs, _ := lookupHosts(bytes.NewReader(line), "a", FamilyAny)
	if len(addrs) != 1 {
		t.Errorf("lookupHosts on a long line: %v, want 10.0.0.1", addrs)
	}
}

// TestLargeHostsFile: a hosts file of many megabytes (an ad and tracker
// block list) is read to its end, as glibc reads it, in memory that does
// not grow with it; a line longer than maxLine keeps its whole names
// only, never one cut short; a line may name more than maxFields names.
// The first two used to be read up to 1 MiB: names past it went to DNS,
// and the line across the cut answered for the prefix of its name.
func TestLargeHostsFile(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 5<<20; i++ {
		fmt.Fprintf(&b, "0.0.0.0 blocked-%d.example\n", i)
	}
	b.WriteString("10.9.9.9 latehost\n")
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	b.WriteString("10.5.5.5 " + strings.Join(names, " ") + "\n")
	long := "10.7.7.7 first " + strings.Repeat("x", maxLine) + " last\n"
	b.WriteString(long)
	data := []byte(b.String())
	for _, c := range []struct {
		name, want string
	}{
		{"latehost", "10.9.9.9"},
		{"n80", "10.5.5.5"},
		{"n99", "10.5.5.5"},
		{"first", "10.7.7.7"},
		{"last", ""},
		{"blocked-0.example", "0.0.0.0"},
	} {
		var addrs []netip.Addr
		n := leastAllocated(func() { addrs, _ = lookupHosts(bytes.NewReader(data), c.name, FamilyAny) })
		got := ""
		if len(addrs) > 0 {
			got = addrs[0].String()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if n > 256<<10 {
			t.Errorf("%s: the lookup allocated %d KiB for a %d KiB file", c.name, n>>10, len(data)>>10)
		}
	}
	// The line cut at maxLine answers for no prefix of its long name.
	if addrs, _ := lookupHosts(bytes.NewReader(data), "x", FamilyAny); len(addrs) != 0 {
		t.Errorf("a prefix of the cut name: %v, want none", addrs)
	}
}

// TestHostsLinesAtTheBounds: a name that ends exactly at maxLine is whole
// and kept, whatever follows it; the line across MaxFileSize is cut, and
// answers for no name, not even for a prefix of its own.
func TestHostsLinesAtTheBounds(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("p ", n/2) }
	head := "1.2.3.4 "
	filler := pad(maxLine - len(head) - len("target"))
	for _, tail := range []string{"\n", " more\n", "\tmore\n", ""} {
		line := head + filler + "target" + tail
		if len(head+filler+"target") != maxLine {
			t.Fatalf("the name ends at %d, want maxLine", len(head+filler+"target"))
		}
		addrs, _ := lookupHosts(strings.NewReader(line), "target", FamilyAny)
		if len(addrs) != 1 {
			t.Errorf("a name ending at maxLine, followed by %q: %v, want 1.2.3.4", tail, addrs)
		}
	}
	// A name across maxLine is dropped, not cut short.
	line := head + pad(maxLine-len(head)-3) + "crossing\n"
	if i := strings.Index(line, "crossing"); i >= maxLine || i+len("crossing") <= maxLine {
		t.Fatalf("the name spans %d to %d, want it across maxLine", i, i+len("crossing"))
	}
	if addrs, _ := lookupHosts(strings.NewReader(line), "cros", FamilyAny); len(addrs) != 0 {
		t.Errorf("the prefix of a name across maxLine: %v, want none", addrs)
	}
	// The file's last line cut at MaxFileSize.
	before := MaxFileSize - len("1.2.3.4 examp")
	lines := strings.Repeat("0.0.0.0 x\n", before/10)
	if r := before - len(lines); r > 0 {
		lines += strings.Repeat("#", r-1) + "\n"
	}
	data := lines + "1.2.3.4 example.com\n"
	if strings.Index(data, "le.com") != MaxFileSize {
		t.Fatalf("the cut is at %d, want MaxFileSize", strings.Index(data, "le.com"))
	}
	for _, name := range []string{"examp", "example.com"} {
		if addrs, _ := lookupHosts(strings.NewReader(data), name, FamilyAny); len(addrs) != 0 {
			t.Errorf("%s on the line across MaxFileSize: %v, want none (runw reads %d bytes of a file)", name, addrs, MaxFileSize)
		}
	}
	if addrs, _ := lookupHosts(strings.NewReader(data), "x", FamilyAny); len(addrs) != 1 {
		t.Errorf("x, on every line before the cut: %v, want 0.0.0.0", addrs)
	}
}
