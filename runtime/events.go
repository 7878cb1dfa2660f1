package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/cgroups"

	"github.com/runw/runw/state"
)

// Event is one line of `runw events`, in runc's shape.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// statsData is runc's stats event (runc/types.Stats), field by field,
// with runc's JSON names and omitempty rules, so that a consumer of
// `runc events` (go-runc's Stats, scripts) finds every figure where runc
// puts it: per-CPU usage, CFS throttling, cpuset, the swap/kernel
// entries, memory.stat as "raw" and the page cache, failcnt, blkio and
// hugetlb.
type statsData struct {
	CPU               cpuStats           `json:"cpu"`
	CPUSet            cpusetStats        `json:"cpuset"`
	Memory            memoryStats        `json:"memory"`
	Pids              pidsStats          `json:"pids"`
	Blkio             blkioStats         `json:"blkio"`
	Hugetlb           map[string]hugetlb `json:"hugetlb"`
	IntelRdt          struct{}           `json:"intel_rdt"`
	NetworkInterfaces []struct{}         `json:"network_interfaces"`
}

// cpuStats is runc's types.Cpu: usage in nanoseconds, per CPU too, and
// the CFS quota's throttling.
type cpuStats struct {
	Usage struct {
		Total        uint64   `json:"total,omitempty"`
		Percpu       []uint64 `json:"percpu,omitempty"`
		PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
		PercpuUser   []uint64 `json:"percpu_user,omitempty"`
		Kernel       uint64   `json:"kernel"`
		User         uint64   `json:"user"`
	} `json:"usage,omitempty"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling,omitempty"`
}

// cpusetStats is runc's types.CPUSet: the cpuset controller's files.
type cpusetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// memoryEntry is runc's types.MemoryEntry: one counter of the memory
// controller (usage, swap, kernel, kernel TCP) in bytes.
type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// memoryStats is runc's types.Memory; Raw is memory.stat by name.
type memoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     memoryEntry       `json:"usage,omitempty"`
	Swap      memoryEntry       `json:"swap,omitempty"`
	Kernel    memoryEntry       `json:"kernel,omitempty"`
	KernelTCP memoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// pidsStats is runc's types.Pids.
type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// blkioEntry is runc's types.BlkioEntry: one device's figure.
type blkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// blkioStats is runc's types.Blkio, recursive figures by device.
type blkioStats struct {
	IoServiceBytesRecursive []blkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []blkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []blkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []blkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []blkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []blkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []blkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []blkioEntry `json:"sectorsRecursive,omitempty"`
}

// hugetlb is runc's types.Hugetlb, for one page size.
type hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// memEntry is one memory counter as runc reports it.
func memEntry(e cgroups.MemoryData) memoryEntry {
	return memoryEntry{Limit: e.Limit, Usage: e.Usage, Max: e.MaxUsage, Failcnt: e.Failcnt}
}

// blkio is a list of the blkio controller's figures as runc reports them.
func blkio(in []cgroups.BlkioStatEntry) []blkioEntry {
	var out []blkioEntry
	for _, e := range in {
		out = append(out, blkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

// convertStats is runc's convertLibcontainerStats for the cgroup figures.
func convertStats(s *cgroups.Stats) statsData {
	var d statsData
	cu := &d.CPU.Usage
	cu.Total = s.CpuStats.CpuUsage.TotalUsage
	cu.Percpu = s.CpuStats.CpuUsage.PercpuUsage
	cu.PercpuKernel = s.CpuStats.CpuUsage.PercpuUsageInKernelmode
	cu.PercpuUser = s.CpuStats.CpuUsage.PercpuUsageInUsermode
	cu.Kernel = s.CpuStats.CpuUsage.UsageInKernelmode
	cu.User = s.CpuStats.CpuUsage.UsageInUsermode
	d.CPU.Throttling.Periods = s.CpuStats.ThrottlingData.Periods
	d.CPU.Throttling.ThrottledPeriods = s.CpuStats.ThrottlingData.ThrottledPeriods
	d.CPU.Throttling.ThrottledTime = s.CpuStats.ThrottlingData.ThrottledTime

	cs := s.CPUSetStats
	d.CPUSet = cpusetStats{CPUs: cs.CPUs, CPUExclusive: cs.CPUExclusive, Mems: cs.Mems,
		MemHardwall: cs.MemHardwall, MemExclusive: cs.MemExclusive, MemoryMigrate: cs.MemoryMigrate,
		MemorySpreadPage: cs.MemorySpreadPage, MemorySpreadSlab: cs.MemorySpreadSlab,
		MemoryPressure: cs.MemoryPressure, SchedLoadBalance: cs.SchedLoadBalance,
		SchedRelaxDomainLevel: cs.SchedRelaxDomainLevel}

	d.Memory.Cache = s.MemoryStats.Cache
	d.Memory.Usage = memEntry(s.MemoryStats.Usage)
	d.Memory.Swap = memEntry(s.MemoryStats.SwapUsage)
	d.Memory.Kernel = memEntry(s.MemoryStats.KernelUsage)
	d.Memory.KernelTCP = memEntry(s.MemoryStats.KernelTCPUsage)
	d.Memory.Raw = s.MemoryStats.Stats

	d.Pids.Current = s.PidsStats.Current
	d.Pids.Limit = s.PidsStats.Limit

	b := s.BlkioStats
	d.Blkio = blkioStats{
		IoServiceBytesRecursive: blkio(b.IoServiceBytesRecursive),
		IoServicedRecursive:     blkio(b.IoServicedRecursive),
		IoQueuedRecursive:       blkio(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  blkio(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     blkio(b.IoWaitTimeRecursive),
		IoMergedRecursive:       blkio(b.IoMergedRecursive),
		IoTimeRecursive:         blkio(b.IoTimeRecursive),
		SectorsRecursive:        blkio(b.SectorsRecursive),
	}
	d.Hugetlb = map[string]hugetlb{}
	for k, v := range s.HugetlbStats {
		d.Hugetlb[k] = hugetlb{Usage: v.Usage, Max: v.MaxUsage, Failcnt: v.Failcnt}
	}
	return d
}

// Events writes stats events for a container: one with once (--stats),
// else one every interval until the container stops, and an oom event
// as soon as the kernel's OOM killer acts in the container's cgroup
// (its oom_kill count grows; checked every oomPoll), as runc's stream
// has one. As runc, a container already stopped is an error, and one
// that stops (or is deleted) while its events stream ends the stream
// with success, after the oom event of an OOM kill that stopped it.
func (r *Runtime) Events(id string, interval time.Duration, once bool, w io.Writer) error {
	if interval <= 0 {
		return errors.New("duration interval must be greater than 0") // runc's text
	}
	enc := json.NewEncoder(w)
	var m cgroups.Manager
	var ooms uint64
	var next time.Time
	for first := true; ; first = false {
		if m != nil {
			if n, err := m.OOMKillCount(); err == nil && n > ooms {
				ooms = n
				if err := enc.Encode(Event{Type: "oom", ID: id}); err != nil {
					return err
				}
			}
		}
		h, c, err := r.lockLoad(id)
		if !first && errors.Is(err, state.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		h.Unlock()
		if r.status(c) == state.Stopped {
			if !first {
				return nil
			}
			return fmt.Errorf("container with id %s is not running", id) // runc's text
		}
		if m == nil {
			if m, err = cgroupManager(c.CgroupPath, nil); err != nil {
				return err
			}
			ooms, _ = m.OOMKillCount()
		}
		if now := time.Now(); !now.Before(next) {
			s, err := m.GetStats()
			if err != nil {
				return err
			}
			if err := enc.Encode(Event{Type: "stats", ID: id, Data: convertStats(s)}); err != nil {
				return err
			}
			if once {
				return nil
			}
			next = now.Add(interval)
		}
		time.Sleep(min(oomPoll, time.Until(next)))
	}
}

// oomPoll is how often a running events stream looks for an OOM kill.
const oomPoll = 250 * time.Millisecond
