// Command hello is the HTTP server of runw's network tests and benchmark,
// one program built twice: for GOOS=wasip1 (a runw guest) and natively
// (the same server under runc, the benchmark's baseline).
//
// Under runw it serves on the listener runw preopened for it: the first
// descriptor named in RUNW_LISTEN_FDS, opened with net.FileListener, the
// preview1 way. Without RUNW_LISTEN_FDS (the native build) it listens on
// LISTEN_ADDR (default :8080) itself.
//
//	GET  /            "hello from wasm\n"
//	POST /echo        the request body
//	GET  /file?path=P the file at P (a preopened directory must be visible)
//	GET  /fds         RUNW_LISTEN_FDS
//
// With HELLO_INPROC=N it serves N requests to in-process clients over
// net.Pipe instead (inproc.go): the same handlers and net/http code with
// no socket, no host call on the request path and no kernel, so that the
// wasm build against the native one measures the guest's own code.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
)

func main() {
	if n := os.Getenv("HELLO_INPROC"); n != "" {
		inproc(n)
		return
	}
	l, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello: listener:", err)
		os.Exit(1)
	}
	fmt.Printf("serving on fds %q\n", os.Getenv("RUNW_LISTEN_FDS"))
	err = http.Serve(l, handlers())
	fmt.Fprintln(os.Stderr, "hello: serve:", err)
	os.Exit(1)
}

func handlers() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from wasm\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/fds", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, os.Getenv("RUNW_LISTEN_FDS"))
	})
	return mux
}

func listener() (net.Listener, error) {
	if fds := os.Getenv("RUNW_LISTEN_FDS"); fds != "" {
		first, _, _ := strings.Cut(fds, ",")
		fd, err := strconv.Atoi(first)
		if err != nil {
			return nil, fmt.Errorf("RUNW_LISTEN_FDS=%q: %v", fds, err)
		}
		// Closing f after, as FileListener's documentation says: on
		// wasip1 the listener shares its descriptor (docs/networking.md).
		f := os.NewFile(uintptr(fd), "listener")
		defer f.Close()
		return net.FileListener(f)
	}
	if runtime.GOOS == "wasip1" {
		// net.Listen would give Go's in-process fake network, which
		// nothing outside the guest can reach.
		return nil, fmt.Errorf("RUNW_LISTEN_FDS is not set: no preopened listener")
	}
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	return net.Listen("tcp", addr)
}
