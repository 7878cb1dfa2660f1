package preview1

import (
	"math/rand"
	"testing"
)

// TestTableGivesLowestFreeNumber drives the descriptor table with random
// opens, closes and renumbers and checks every open against a plain model
// of POSIX's rule: the lowest free number from 3. add's starting hint
// (table.low) must never skip a free number or hand out a taken one.
func TestTableGivesLowestFreeNumber(t *testing.T) {
	// Stdio and two preopens, appended as preview1.New does (bypassing
	// add): they may be closed and renumbered over like any other.
	var tb table
	model := map[int32]*fdEntry{}
	for i := int32(0); i < 5; i++ {
		e := &fdEntry{}
		tb.fds = append(tb.fds, e)
		model[i] = e
	}
	lowest := func() int32 {
		n := int32(firstFree)
		for model[n] != nil {
			n++
		}
		return n
	}
	rng := rand.New(rand.NewSource(1))
	open := func() []int32 {
		var ns []int32
		for n := range model {
			ns = append(ns, n)
		}
		return ns
	}
	for i := 0; i < 20000; i++ {
		ns := open()
		switch op := rng.Intn(10); {
		case op < 5 || len(ns) == 0:
			e := &fdEntry{}
			want := lowest()
			got, errno := tb.add(e)
			if errno != 0 || got != want {
				t.Fatalf("step %d: add gave %d (%d), want %d", i, got, errno, want)
			}
			model[got] = e
		case op < 8:
			fd := ns[rng.Intn(len(ns))]
			tb.remove(fd)
			delete(model, fd)
		default:
			from, to := ns[rng.Intn(len(ns))], ns[rng.Intn(len(ns))]
			if from == to {
				continue
			}
			tb.move(from, to)
			model[to] = model[from]
			delete(model, from)
		}
		for n, e := range model {
			if got, errno := tb.get(n); errno != 0 || got != e {
				t.Fatalf("step %d: fd %d holds %p (%d), want %p", i, n, got, errno, e)
			}
		}
	}
}

// BenchmarkTableAcceptClose is a server's steady state: 10,000 open
// connections, one closed and one accepted in each iteration.
func BenchmarkTableAcceptClose(b *testing.B) {
	var tb table
	for i := 0; i < 10000; i++ {
		tb.add(&fdEntry{})
	}
	e := &fdEntry{}
	for i := 0; b.Loop(); i++ {
		fd := int32(firstFree + i%10000)
		tb.remove(fd)
		if got, _ := tb.add(e); got != fd {
			b.Fatalf("add gave %d after closing %d", got, fd)
		}
	}
}
