// Command hello is the demo guest for runw: a minimal WASI preview1 program.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -o hello.wasm .
//
// It prints a greeting, then its arguments (os.Args[1:]) joined with spaces
// on a second line if there are any.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("Hello from a WebAssembly container!")
	if len(os.Args) > 1 {
		fmt.Println(strings.Join(os.Args[1:], " "))
	}
}
