// Command server is an HTTP server that opens its own listening socket
// with github.com/stealthrocket/net's wasip1.Listen, i.e. WasmEdge's
// socket extension (sock_open, sock_bind, sock_listen), not a preopened
// listener. It listens on LISTEN_ADDR (default :8081) and answers every
// request with "hello from stealthrocket\n".
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8081"
	}
	l, err := wasip1.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server: listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", addr)
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from stealthrocket\n")
	}))
	fmt.Fprintln(os.Stderr, "server: serve:", err)
	os.Exit(1)
}
