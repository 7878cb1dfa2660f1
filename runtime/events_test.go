package runtime

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// The stats event names every figure as runc 1.1's `events --stats` does
// (types.Stats): go-runc and scripts read throttling from
// throttledPeriods and throttledTime, per-CPU usage from percpu_kernel,
// memory.stat from raw. The names were taken from runc's output on this
// machine beside runw's; throttled_periods, once written here, read as
// zero throttling to every consumer.
func TestStatsEventNamesAreRuncs(t *testing.T) {
	var s cgroups.Stats
	s.CpuStats.ThrottlingData = cgroups.ThrottlingData{Periods: 7, ThrottledPeriods: 5, ThrottledTime: 3}
	s.CpuStats.CpuUsage = cgroups.CpuUsage{TotalUsage: 9, PercpuUsage: []uint64{4, 5}, PercpuUsageInKernelmode: []uint64{1, 1}, PercpuUsageInUsermode: []uint64{3, 4}}
	s.MemoryStats.Stats = map[string]uint64{"total_rss": 1}
	s.MemoryStats.Cache = 2
	s.MemoryStats.SwapUsage = cgroups.MemoryData{Usage: 1, Limit: 2}
	s.MemoryStats.KernelTCPUsage = cgroups.MemoryData{Usage: 1}
	s.BlkioStats.IoServiceBytesRecursive = []cgroups.BlkioStatEntry{{Major: 8, Op: "Read", Value: 1}}
	s.PidsStats = cgroups.PidsStats{Current: 3, Limit: 16}
	out, err := json.Marshal(convertStats(&s))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"throttling":{"periods":7,"throttledPeriods":5,"throttledTime":3}`,
		`"percpu":[4,5]`, `"percpu_kernel":[1,1]`, `"percpu_user":[3,4]`,
		`"cache":2`, `"swap":{"limit":2,"usage":1,"failcnt":0}`, `"kernelTCP":{"limit":0,"usage":1,"failcnt":0}`,
		`"raw":{"total_rss":1}`, `"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":1}]`,
		`"pids":{"current":3,"limit":16}`, `"intel_rdt":{}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("stats event lacks %s:\n%s", want, out)
		}
	}
}
