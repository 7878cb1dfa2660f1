package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// inprocConns is how many clients keep a connection open at once, as wrk's
// connections do in the network benchmark.
const inprocConns = 32

// inproc serves n GET / requests from inprocConns in-process clients, each
// on a keep-alive net.Pipe connection to the real http.Server, and prints
// "inproc: N requests in D: R req/s". It exits 1 on any error.
func inproc(arg string) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "hello: HELLO_INPROC=%q: want a positive count\n", arg)
		os.Exit(1)
	}
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	go http.Serve(l, handlers())
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	errs := make(chan error, inprocConns)
	start := time.Now()
	for range inprocConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client(l, &left); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(l.done)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "hello: inproc:", err)
		os.Exit(1)
	default:
	}
	fmt.Printf("inproc: %d requests in %v: %.0f req/s\n", n, elapsed, float64(n)/elapsed.Seconds())
}

// client sends GET / on one connection until the shared count runs out,
// reading each response whole and checking its body.
func client(l *pipeListener, left *atomic.Int64) error {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
	case <-l.done:
		return net.ErrClosed
	}
	defer c.Close()
	r := bufio.NewReader(c)
	req := []byte("GET / HTTP/1.1\r\nHost: inproc\r\nUser-Agent: inproc\r\n\r\n")
	for left.Add(-1) >= 0 {
		if _, err := c.Write(req); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(body) != "hello from wasm\n" {
			return fmt.Errorf("GET /: %s %q", resp.Status, body)
		}
	}
	return nil
}

// pipeListener hands the server the far ends of the clients' pipes.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errors.New("inproc: listener closed")
	}
}

func (l *pipeListener) Close() error   { return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "inproc" }
