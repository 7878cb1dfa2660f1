package preview1

import "encoding/binary"

// memory is the guest's linear memory for the duration of one host call.
// It is taken afresh at every call (memory.grow may move it) and every
// access is bounds-checked here: a guest pointer or length that reaches
// past the end answers EFAULT instead of letting Go read or write outside
// the guest's memory, or panic and take the init down with it.
type memory []byte

// maxMemory is the most of a linear memory a preview 1 call can address:
// 4 GiB, the reach of its 32-bit pointers.
const maxMemory = 1 << 32

// slice returns mem[ptr:ptr+n], or false when any byte lies outside.
func (m memory) slice(ptr, n uint32) ([]byte, bool) {
	end := uint64(ptr) + uint64(n)
	if end > uint64(len(m)) {
		return nil, false
	}
	return m[ptr:end:end], true
}

func (m memory) putU16(ptr uint32, v uint16) bool {
	b, ok := m.slice(ptr, 2)
	if ok {
		binary.LittleEndian.PutUint16(b, v)
	}
	return ok
}

func (m memory) putU32(ptr uint32, v uint32) bool {
	b, ok := m.slice(ptr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}

func (m memory) putU64(ptr uint32, v uint64) bool {
	b, ok := m.slice(ptr, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}

// str reads a guest string (ptr, len). Paths are copied: the resolver keeps
// them beyond the call and the guest's memory may move.
func (m memory) str(ptr, n uint32) (string, bool) {
	b, ok := m.slice(ptr, n)
	if !ok {
		return "", false
	}
	return string(b), true
}

// pathMax is Linux's PATH_MAX, the terminating NUL included: a longer
// path is ENAMETOOLONG there, and here before any work is done for it.
// Without the cap a path in guest memory costs the host many times its
// length (the resolver keeps a string header for each of its components:
// "./" repeated made 64 MiB of path cost 2.8 GiB), so a guest could make
// the init allocate far beyond its own memory limit.
const pathMax = 4096

// path reads a guest path (ptr, n): EFAULT when it lies outside memory,
// ENAMETOOLONG when it is longer than Linux would take.
func (m memory) path(ptr, n uint32) (string, Errno) {
	if _, ok := m.slice(ptr, n); !ok {
		return "", ErrnoFault
	}
	if n >= pathMax {
		return "", ErrnoNametoolong
	}
	p, _ := m.str(ptr, n)
	return p, 0
}

// iovMax is the most buffers one read or write uses: Linux's IOV_MAX.
const iovMax = 1024

// maxRW is the most bytes one read or write moves: Linux's MAX_RW_COUNT
// (INT_MAX rounded down to a page), which readv and writev cut a longer
// iovec array to. The host's loops that finish a blocking send or write,
// or a WAITALL receive (untilAll), stop there too: the count goes back to
// the guest in 32 bits, and the iovecs of a guest may name one buffer
// over and over, far past 4 GiB. Uncut, 1024 iovecs of one 4 MiB buffer
// sent 4 GiB and answered 0 bytes, which a guest that writes until all
// is written sends again; a count past 2 GiB is negative to wasi-libc.
const maxRW = 0x7ffff000

// iovecs reads n iovec records at ptr and returns the non-empty guest
// buffers they name, at most iovMax of them, appended to dst (a scratch
// slice the caller reuses). A record whose buffer is out of range fails
// the whole call with EFAULT.
//
// The cap stops a guest from making the host allocate for its iovec
// array: one record is 8 bytes of guest memory, which the guest need
// never touch (a memory.grow to 4 GiB costs it nothing), but a buffer
// kept for each was a 24-byte slice header of the host's, 12 GiB for a
// 4 GiB array, and stayed in the scratch slice for the rest of the run.
// Buffers beyond the cap, and bytes beyond maxRW, make the read or write
// short, as any may be (readv and writev would refuse more than IOV_MAX
// outright); capped says some were left out, so that a datagram is
// refused rather than sent cut short.
func (m memory) iovecs(dst [][]byte, ptr, n uint32) (bufs [][]byte, capped, ok bool) {
	// In 64 bits: with 4 GiB of memory, 2^29 records are exactly its
	// size, and n*iovecSize in 32 bits would wrap to 0.
	end := uint64(ptr) + uint64(n)*iovecSize
	if end > uint64(len(m)) {
		return dst, false, false
	}
	recs := m[ptr:end]
	kept, total := 0, 0
	for i := uint64(0); i < uint64(n); i++ {
		r := recs[i*iovecSize:]
		buf, ok := m.slice(binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:]))
		if !ok {
			return dst, false, false
		}
		if len(buf) == 0 {
			continue
		}
		if kept == iovMax || total == maxRW {
			capped = true
			continue
		}
		if len(buf) > maxRW-total {
			buf, capped = buf[:maxRW-total], true
		}
		dst = append(dst, buf)
		total += len(buf)
		kept++
	}
	return dst, capped, true
}
