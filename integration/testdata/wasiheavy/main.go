// wasiheavy is a guest that spends its time in WASI calls, for the
// benchmark that compares runw's preview1 host with wasmtime's built-in
// one: a loop of open/fstat/read/close, a readdir of 1,000 entries and
// 100,000 small unbuffered writes to a file. Its work directory is the
// first argument (default /tmp).
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := "/tmp"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	must := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	many := filepath.Join(dir, "many")
	must(os.MkdirAll(many, 0o755))
	for i := 0; i < 1000; i++ {
		f, err := os.OpenFile(filepath.Join(many, fmt.Sprintf("f%04d", i)), os.O_CREATE|os.O_WRONLY, 0o644)
		must(err)
		f.Close()
	}
	target := filepath.Join(many, "f0001")
	buf := make([]byte, 64)
	for i := 0; i < 10000; i++ {
		f, err := os.Open(target)
		must(err)
		_, err = f.Stat()
		must(err)
		_, _ = f.Read(buf)
		f.Close()
	}
	entries, err := os.ReadDir(many)
	must(err)
	if len(entries) != 1000 {
		must(fmt.Errorf("readdir: %d entries", len(entries)))
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	must(err)
	line := []byte("0123456789abcdef")
	for i := 0; i < 100000; i++ {
		_, err := out.Write(line)
		must(err)
	}
	must(out.Close())
	must(os.RemoveAll(many))
}
