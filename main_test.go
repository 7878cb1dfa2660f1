package main

import "testing"

// Memory sizes as runc's update takes them (docker's units.RAMInBytes).
func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"100": 100, "-1": -1, "512k": 512 << 10, "100M": 100 << 20, "1g": 1 << 30, "1GiB": 1 << 30,
		"2gb": 2 << 30, "1.5m": 3 << 19, "64 MiB": 64 << 20,
	} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("ramInBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "ten", "-5", "1x", "1e30g"} {
		if got, err := ramInBytes(in); err == nil {
			t.Errorf("ramInBytes(%q) = %d, want an error", in, got)
		}
	}
}
