// Command sockets runs Go's net API at its edges over IPv4 and IPv6
// loopback: deadlines on read, accept and UDP reads, a read blocked while
// the connection is closed, the peer's close and CloseWrite, a listener's
// port in use, a refused dial, 200 connections in a row, a datagram read
// into a short buffer. It builds twice: for wasip1, dialling and listening
// through github.com/stealthrocket/net (WasmEdge's socket calls), and
// natively with package net. Each line is "name: value", errors printed by
// kind, so that TestNetGoSocketsAsNative compares the two line by line.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

func class(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "deadline"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.EADDRINUSE):
		return "EADDRINUSE"
	case errors.Is(err, syscall.EPIPE):
		return "EPIPE"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case strings.Contains(err.Error(), "use of closed file"):
		// A connection made from a file (net.FileConn, as
		// stealthrocket's are) reports its own close so.
		return "closed file"
	}
	return fmt.Sprintf("other %T %v", err, err)
}

func out(name string, v any) { fmt.Printf("%s: %v\n", name, v) }

func main() {
	for _, host := range []string{"127.0.0.1", "::1"} {
		fmt.Println("==", host)
		hp := func(p int) string { return net.JoinHostPort(host, fmt.Sprint(p)) }
		ln, err := listen("tcp", hp(0))
		if err != nil {
			out("listen", class(err))
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		out("listen port nonzero", port > 0)
		out("listener addr type", fmt.Sprintf("%T", ln.Addr()))
		_, err = listen("tcp", hp(port))
		out("listen in use", class(err))
		acc := make(chan net.Conn, 1)
		go func() { c, _ := ln.Accept(); acc <- c }()
		c, err := dial("tcp", hp(port))
		out("dial", class(err))
		s := <-acc
		out("conn type", fmt.Sprintf("%T", c))
		out("remote is listener", c.RemoteAddr().String() == ln.Addr().String())
		out("local matches server remote", c.LocalAddr().String() == s.RemoteAddr().String())
		c.Write([]byte("hello"))
		b := make([]byte, 100)
		n, err := s.Read(b)
		out("read", fmt.Sprint(n, " ", class(err)))
		s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		t0 := time.Now()
		_, err = s.Read(b)
		out("read past deadline", class(err))
		out("deadline honoured", time.Since(t0) >= 40*time.Millisecond && time.Since(t0) < 2*time.Second)
		s.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() { _, err := s.Read(b); done <- err }()
		time.Sleep(30 * time.Millisecond)
		s.Close()
		select {
		case err := <-done:
			out("read during close", class(err))
		case <-time.After(3 * time.Second):
			out("read during close", "hung")
		}
		_, err = c.Read(b)
		out("read after peer close", class(err))
		var werr error
		for i := 0; i < 10 && werr == nil; i++ {
			_, werr = c.Write([]byte("x"))
			time.Sleep(5 * time.Millisecond)
		}
		out("write after peer close", class(werr))
		c.Close()
		_, err = c.Write([]byte("x"))
		out("write after own close", class(err))

		// CloseWrite
		go func() { c, _ := ln.Accept(); acc <- c }()
		c, _ = dial("tcp", hp(port))
		s = <-acc
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			out("closewrite", class(cw.CloseWrite()))
			_, err = s.Read(b)
			out("read after peer closewrite", class(err))
			_, err = s.Write([]byte("still"))
			out("write back after peer closewrite", class(err))
			n, err = c.Read(b)
			out("read the reply", fmt.Sprint(n, " ", class(err)))
		} else {
			out("closewrite", "none")
		}
		c.Close()
		s.Close()

		// accept deadline
		if dl, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
			dl.SetDeadline(time.Now().Add(50 * time.Millisecond))
			_, err = ln.Accept()
			out("accept past deadline", class(err))
			dl.SetDeadline(time.Time{})
		} else {
			out("accept past deadline", "no SetDeadline")
		}
		// many connections
		okc := 0
		for i := 0; i < 200; i++ {
			go func() { c, _ := ln.Accept(); acc <- c }()
			c, err := dial("tcp", hp(port))
			if err != nil {
				break
			}
			s := <-acc
			c.Write([]byte("p"))
			if n, _ := s.Read(b); n == 1 {
				okc++
			}
			c.Close()
			s.Close()
		}
		out("200 connections", okc)
		ln.Close()
		_, err = ln.Accept()
		out("accept after close", class(err))
		_, err = dial("tcp", hp(port))
		out("dial closed port", class(err))

		// UDP
		pc, err := listenPacket("udp", hp(0))
		if err != nil {
			out("listenpacket", class(err))
			continue
		}
		pc2, _ := listenPacket("udp", hp(0))
		_, err = pc2.WriteTo([]byte("0123456789abcdef"), pc.LocalAddr())
		out("udp writeto", class(err))
		small := make([]byte, 4)
		n, from, err := pc.ReadFrom(small)
		out("udp readfrom small", fmt.Sprint(n, " ", class(err)))
		out("udp from is sender", from != nil && from.String() == pc2.LocalAddr().String())
		pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, _, err = pc.ReadFrom(small)
		out("udp read past deadline", class(err))
		pc.Close()
		pc2.Close()
	}
}
