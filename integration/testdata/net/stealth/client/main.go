// Command client fetches the URL in its first argument with net/http and
// prints the body. github.com/stealthrocket/net/http makes the default
// transport dial through WasmEdge's socket extension (sock_open,
// sock_connect). The host name in the URL is resolved by Go's resolver
// inside the guest, from the container's /etc/hosts and /etc/resolv.conf
// over UDP sockets; built with -tags getaddrinfo, by the host's
// sock_getaddrinfo instead.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"

	_ "github.com/stealthrocket/net/http"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: client URL")
		os.Exit(2)
	}
	resp, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client: read body:", err)
		os.Exit(1)
	}
	fmt.Printf("status %d\n%s", resp.StatusCode, body)
}
