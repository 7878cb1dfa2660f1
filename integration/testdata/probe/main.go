// Command probe is a WASI preview1 test guest for runw's integration tests.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -o probe.wasm .
//
// The tests drive it through its arguments. argv[0] is whatever the runtime
// passes; commands start at argv[1] and are executed in order, so several can
// be chained, e.g. `probe.wasm write /data/x hello cat /data/x exit 7`.
//
//	args             print os.Args (including argv[0]) as a JSON array on one line
//	env              print os.Environ() as a JSON array on one line
//	echo TEXT        print TEXT and a newline
//	printn TEXT      print TEXT without a newline
//	stderr TEXT      print TEXT and a newline to stderr
//	cat PATH         print the file's content; "ERR <err>" on error
//	write PATH TEXT  create/truncate PATH with TEXT; print "OK" or "ERR <err>"
//	ls PATH          print the sorted entry names, one per line; "ERR <err>" on error
//	stat PATH        print "OK" if PATH exists, else "ERR <err>"
//	cwd              print the result of os.Getwd ("ERR <err>" on error)
//	exit N           exit with status N
//	sleep DURATION   sleep for DURATION (time.ParseDuration), blocked in a host call
//	spin             busy loop forever without any host call
//	alloc MB         allocate MB MiB, touch every 4096th byte; print "OK"
//	stdin            copy stdin to stdout until EOF
//	isatty           print "tty" if stdout is a character device, else "notty"
//	panic            panic("probe panic"); Go on wasip1 then exits with status 2
//
// All "ERR" results go to stdout, on their own line, and the probe goes on
// with the next command. A missing argument or an unknown command prints a
// message to stderr and exits with status 99. When the commands run out the
// probe exits with status 0.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"
)

// counter is package-level so the compiler cannot prove the spin loop has no
// effect and remove it.
var counter uint64

// sink holds allocations made by "alloc" so they stay live until exit.
var sink [][]byte

func main() {
	args := os.Args[1:]
	// next returns the argument of the current command, or exits with 99.
	next := func(cmd string) string {
		if len(args) == 0 {
			fmt.Fprintf(os.Stderr, "missing argument for %s\n", cmd)
			os.Exit(99)
		}
		a := args[0]
		args = args[1:]
		return a
	}
	for len(args) > 0 {
		cmd := args[0]
		args = args[1:]
		switch cmd {
		case "args":
			printJSON(os.Args)
		case "env":
			printJSON(os.Environ())
		case "echo":
			fmt.Println(next(cmd))
		case "printn":
			fmt.Print(next(cmd))
		case "stderr":
			fmt.Fprintln(os.Stderr, next(cmd))
		case "cat":
			b, err := os.ReadFile(next(cmd))
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			os.Stdout.Write(b)
		case "write":
			path := next(cmd)
			report(os.WriteFile(path, []byte(next(cmd)), 0o644))
		case "ls":
			entries, err := os.ReadDir(next(cmd))
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Println(n)
			}
		case "stat":
			_, err := os.Stat(next(cmd))
			report(err)
		case "cwd":
			wd, err := os.Getwd()
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			fmt.Println(wd)
		case "exit":
			n, err := strconv.Atoi(next(cmd))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad exit status:", err)
				os.Exit(99)
			}
			os.Exit(n)
		case "sleep":
			d, err := time.ParseDuration(next(cmd))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad duration:", err)
				os.Exit(99)
			}
			time.Sleep(d)
		case "spin":
			for counter != ^uint64(0) {
				counter++
				if counter == ^uint64(0) {
					counter = 0
				}
			}
			fmt.Println("spin ended") // unreachable
		case "alloc":
			mb, err := strconv.Atoi(next(cmd))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad size:", err)
				os.Exit(99)
			}
			b := make([]byte, mb<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			sink = append(sink, b)
			fmt.Println("OK")
		case "stdin":
			if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
				fmt.Println("ERR", err)
			}
		case "isatty":
			fi, err := os.Stdout.Stat()
			if err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Println("tty")
			} else {
				fmt.Println("notty")
			}
		case "panic":
			panic("probe panic")
		default:
			fmt.Fprintf(os.Stderr, "unknown command %s\n", cmd)
			os.Exit(99)
		}
	}
}

func printJSON(v []string) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Println(string(b))
}

func report(err error) {
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Println("OK")
}
