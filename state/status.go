package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Status values, spelled as in the OCI runtime-spec so they can be
// printed by `state` and `list` unchanged.
const (
	// Creating means the container directory exists but state.json has
	// not been saved yet.
	Creating = "creating"
	// Created means the init process is alive and waiting for `start`.
	Created = "created"
	// Running means `start` has recorded the guest released (Started)
	// and init is alive.
	Running = "running"
	// Stopped means the init process has exited (or its pid now belongs
	// to another process).
	Stopped = "stopped"
	// Paused is reserved for the runtime package, which knows about
	// cgroup freezing; Status never returns it.
	Paused = "paused"
)

// procStat is what we need from /proc/<pid>/stat.
type procStat struct {
	state     byte   // field 3
	flags     uint64 // field 9, the kernel's PF_ flags
	startTime uint64 // field 22, in clock ticks since boot
}

// pfExiting is the kernel's PF_EXITING: set as a process begins to exit,
// before it gives up its namespaces and long before it is a zombie.
const pfExiting = 0x4

// readStat reads and parses /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// parseStat parses the contents of /proc/<pid>/stat. Field 2 (comm) is
// in parentheses and may itself contain spaces and ')', so the fields
// after it are found from the last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat: no ')'")
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	const stateIdx, flagsIdx, startIdx = 0, 9 - 3, 22 - 3 // fields 3, 9 and 22
	fields := bytes.Fields(data[i+1:])
	if len(fields) <= startIdx {
		return procStat{}, fmt.Errorf("malformed /proc stat: %d fields after comm", len(fields))
	}
	if len(fields[stateIdx]) != 1 {
		return procStat{}, fmt.Errorf("malformed /proc stat: state %q", fields[stateIdx])
	}
	start, err := strconv.ParseUint(string(fields[startIdx]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: starttime: %w", err)
	}
	flags, err := strconv.ParseUint(string(fields[flagsIdx]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: flags: %w", err)
	}
	return procStat{state: fields[stateIdx][0], flags: flags, startTime: start}, nil
}

// ProcessStartTime returns the start time of pid (field 22 of
// /proc/<pid>/stat). Saved next to a pid, it lets Alive tell the original
// process from a later one that reuses the same pid.
func ProcessStartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.startTime, nil
}

// Alive reports whether pid is a live process (not a zombie or dead) and
// is the same process that had startTime, not a newer one reusing its pid.
func Alive(pid int, startTime uint64) bool {
	_, ok := living(pid, startTime)
	return ok
}

// Ending says whether the process is gone (as Alive says) or on its way:
// it has begun to exit, so that its namespaces may be gone already and
// whatever it was the init of is ending with it.
func Ending(pid int, startTime uint64) bool {
	st, ok := living(pid, startTime)
	return !ok || st.flags&pfExiting != 0
}

// living reads pid's stat and says whether it is Alive.
func living(pid int, startTime uint64) (procStat, bool) {
	if pid <= 0 {
		return procStat{}, false
	}
	st, err := readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return st, false
	}
	return st, st.startTime == startTime
}

// Status derives a container's status from facts rather than trusting
// the file: a nil record (no state.json yet) is Creating; a record whose
// init process is gone is Stopped; otherwise it is Created until `start`
// records the guest released (Started), and Running after.
func Status(c *Container) string {
	switch {
	case c == nil:
		return Creating
	case !Alive(c.InitPid, c.InitStartTime):
		return Stopped
	case !c.Started:
		return Created
	default:
		return Running
	}
}
