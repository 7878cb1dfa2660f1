package runtime

import (
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/runw/runw/state"
)

// Event is one line of `runw events`, in runc's shape.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// statsData carries the figures runc's stats event names the same way.
type statsData struct {
	CPU struct {
		Usage struct {
			Total  uint64 `json:"total"`
			Kernel uint64 `json:"kernel"`
			User   uint64 `json:"user"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage uint64 `json:"usage"`
			Max   uint64 `json:"max"`
			Limit uint64 `json:"limit"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	} `json:"pids"`
}

// Events writes stats events for a container: one with once (--stats),
// else one every interval until the container stops.
func (r *Runtime) Events(id string, interval time.Duration, once bool, w io.Writer) error {
	if interval <= 0 {
		return errors.New("duration interval must be greater than 0") // runc's text
	}
	enc := json.NewEncoder(w)
	for {
		h, c, err := r.lockLoad(id)
		if err != nil {
			return err
		}
		h.Unlock()
		if r.status(c) == state.Stopped {
			return ErrNotRunning
		}
		m, err := cgroupManager(c.CgroupPath, nil)
		if err != nil {
			return err
		}
		s, err := m.GetStats()
		if err != nil {
			return err
		}
		var d statsData
		d.CPU.Usage.Total = s.CpuStats.CpuUsage.TotalUsage
		d.CPU.Usage.Kernel = s.CpuStats.CpuUsage.UsageInKernelmode
		d.CPU.Usage.User = s.CpuStats.CpuUsage.UsageInUsermode
		d.Memory.Usage.Usage = s.MemoryStats.Usage.Usage
		d.Memory.Usage.Max = s.MemoryStats.Usage.MaxUsage
		d.Memory.Usage.Limit = s.MemoryStats.Usage.Limit
		d.Pids.Current = s.PidsStats.Current
		d.Pids.Limit = s.PidsStats.Limit
		if err := enc.Encode(Event{Type: "stats", ID: id, Data: d}); err != nil {
			return err
		}
		if once {
			return nil
		}
		time.Sleep(interval)
	}
}
