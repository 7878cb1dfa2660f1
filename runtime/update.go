package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/state"
)

// Update applies new cgroup limits (--resources FILE or - for stdin, as
// specs.LinuxResources JSON, merged with the individual flags). The
// guest's in-engine memory cap was fixed at instantiation; the cgroup
// limit is what changes.
func (r *Runtime) Update(id, resourcesFile string, flags *specs.LinuxResources) error {
	res := &specs.LinuxResources{}
	if resourcesFile != "" {
		var in io.Reader = os.Stdin
		if resourcesFile != "-" {
			f, err := os.Open(resourcesFile)
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		if err := json.NewDecoder(in).Decode(res); err != nil {
			return fmt.Errorf("decode resources: %w", err)
		}
	}
	if flags != nil {
		mergeResources(res, flags)
	}
	if err := checkPidsLimit(res); err != nil {
		return err
	}
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	if st := r.status(c); st == state.Stopped {
		return ErrNotRunning
	}
	cr := resourcesFrom(res, &cgroups.Resources{})
	m, err := cgroupManager(c.CgroupPath, cr)
	if err != nil {
		return err
	}
	return m.Set(cr)
}

// mergeResources lets individual flags override the resources file.
func mergeResources(dst, src *specs.LinuxResources) {
	if src.Memory != nil {
		if dst.Memory == nil {
			dst.Memory = &specs.LinuxMemory{}
		}
		if src.Memory.Limit != nil {
			dst.Memory.Limit = src.Memory.Limit
		}
		if src.Memory.Reservation != nil {
			dst.Memory.Reservation = src.Memory.Reservation
		}
		if src.Memory.Swap != nil {
			dst.Memory.Swap = src.Memory.Swap
		}
	}
	if src.CPU != nil {
		if dst.CPU == nil {
			dst.CPU = &specs.LinuxCPU{}
		}
		if src.CPU.Shares != nil {
			dst.CPU.Shares = src.CPU.Shares
		}
		if src.CPU.Quota != nil {
			dst.CPU.Quota = src.CPU.Quota
		}
		if src.CPU.Period != nil {
			dst.CPU.Period = src.CPU.Period
		}
		if src.CPU.Cpus != "" {
			dst.CPU.Cpus = src.CPU.Cpus
		}
		if src.CPU.Mems != "" {
			dst.CPU.Mems = src.CPU.Mems
		}
		if src.CPU.RealtimePeriod != nil {
			dst.CPU.RealtimePeriod = src.CPU.RealtimePeriod
		}
		if src.CPU.RealtimeRuntime != nil {
			dst.CPU.RealtimeRuntime = src.CPU.RealtimeRuntime
		}
	}
	if src.Pids != nil {
		dst.Pids = src.Pids
	}
	if src.BlockIO != nil {
		dst.BlockIO = src.BlockIO
	}
}
