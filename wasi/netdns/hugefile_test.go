package netdns

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// TestHugeLineBounded: a hosts and a services file of one MaxFileSize
// line of one-letter names (the guest can write both) cost a lookup little
// more than the files themselves. Each line used to become a slice of all
// its fields, 8 MiB, and a guest that had taken its whole memory allowance
// got the container OOM-killed by one getaddrinfo instead of an errno.
func TestHugeLineBounded(t *testing.T) {
	line := append([]byte("10.0.0.1 "), bytes.Repeat([]byte("a "), MaxFileSize/2)...)[:MaxFileSize]
	files := func(p string) ([]byte, error) { return line, nil }
	for _, q := range []Query{
		{Node: "nomatch", Service: "80", NoDNS: true},     // the hosts file
		{Node: "localhost", Service: "http", NoDNS: true}, // and the services file
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		Lookup(context.Background(), files, q)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("lookup %q %q allocated %d KiB for a %d KiB file", q.Node, q.Service, got>>10, MaxFileSize>>10)
		}
	}
	// A name among the first fields of a long line still matches.
	addrs, _ := lookupHosts(line, "a", FamilyAny)
	if len(addrs) != 1 {
		t.Errorf("lookupHosts on a long line: %v, want 10.0.0.1", addrs)
	}
}
