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
//	notify DURATION  signal.Notify(SIGTERM), then print "signal" when one
//	                 comes or "timeout" after DURATION (Go's runtime waits
//	                 for it by yielding in a loop)
//	spin             busy loop forever without any host call
//	alloc MB         allocate MB MiB, touch every 4096th byte; print "OK"
//	stdin            copy stdin to stdout until EOF
//	isatty           print "tty" if stdout is a character device, else "notty"
//	panic            panic("probe panic"); Go on wasip1 then exits with status 2
//	fdwrite VAR I TEXT  write TEXT to the I-th (from 0) descriptor named in
//	                 the environment variable VAR (comma-separated numbers,
//	                 as RUNW_PRESERVED_FDS); print "OK" or "ERR <err>"
//	fdread VAR I     read that descriptor to EOF and print what it held
//
// File system calls, one WASI call each where Go allows (each prints "OK",
// or what it read, or "ERR <err>"):
//
//	lstat PATH           print "OK file|dir|symlink|other"
//	readlink PATH        print the link's target
//	mkdir PATH           os.Mkdir (0755)
//	rename OLD NEW       os.Rename
//	rm PATH              os.Remove (unlink or rmdir)
//	symlink TARGET LINK  os.Symlink
//	link OLD NEW         os.Link (a hard link)
//	chtimes PATH         os.Chtimes to 2001-09-09 (utimes)
//	truncate PATH SIZE   os.Truncate
//	openw PATH TEXT      open an existing file O_WRONLY (no create, no
//	                     truncate) and write TEXT
//	create PATH          open O_WRONLY|O_CREATE|O_EXCL
//	readn PATH N         read up to N bytes; print "OK n=<read> zeros=<zero bytes>"
//	writen PATH N        open O_WRONLY|O_CREATE, write N bytes in 64 KiB
//	                     writes; print "OK" or the first error
//	openmany PATH MAX    open PATH read-only again and again, keeping every
//	                     descriptor, until an open fails or MAX succeeded;
//	                     print "opened N" then the error or "no error"
//	readloop PATH DUR    read PATH again and again for DUR; then print
//	                     "reads ok=N err=M" and each distinct content read
//	                     ("content %q") and error ("error %q")
//	jsondepth N          json.Unmarshal N nested arrays into an any, as
//	                     encoding/json's TestUnmarshalMaxDepth does
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
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
		case "notify":
			d, err := time.ParseDuration(next(cmd))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad duration:", err)
				os.Exit(99)
			}
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGTERM)
			select {
			case <-c:
				fmt.Println("signal")
			case <-time.After(d):
				fmt.Println("timeout")
			}
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
		case "fdwrite", "fdread":
			f, err := envFile(next(cmd), next(cmd))
			if err != nil {
				fmt.Println("ERR", err)
				if cmd == "fdwrite" {
					next(cmd)
				}
				continue
			}
			if cmd == "fdwrite" {
				_, err = io.WriteString(f, next(cmd))
				if err == nil {
					fmt.Println("OK")
				}
			} else {
				var b []byte
				if b, err = io.ReadAll(f); err == nil {
					fmt.Printf("%s\n", b)
				}
			}
			if err != nil {
				fmt.Println("ERR", err)
			}
		case "lstat":
			fi, err := os.Lstat(next(cmd))
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			switch {
			case fi.Mode().IsRegular():
				fmt.Println("OK file")
			case fi.IsDir():
				fmt.Println("OK dir")
			case fi.Mode()&fs.ModeSymlink != 0:
				fmt.Println("OK symlink")
			default:
				fmt.Println("OK other")
			}
		case "readlink":
			target, err := os.Readlink(next(cmd))
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			fmt.Println(target)
		case "mkdir":
			report(os.Mkdir(next(cmd), 0o755))
		case "rename":
			from := next(cmd)
			report(os.Rename(from, next(cmd)))
		case "rm":
			report(os.Remove(next(cmd)))
		case "symlink":
			target := next(cmd)
			report(os.Symlink(target, next(cmd)))
		case "link":
			old := next(cmd)
			report(os.Link(old, next(cmd)))
		case "chtimes":
			t := time.Unix(1e9, 0)
			report(os.Chtimes(next(cmd), t, t))
		case "truncate":
			p := next(cmd)
			n, err := strconv.ParseInt(next(cmd), 10, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad size:", err)
				os.Exit(99)
			}
			report(os.Truncate(p, n))
		case "openw":
			p := next(cmd)
			text := next(cmd)
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString(text)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			report(err)
		case "create":
			f, err := os.OpenFile(next(cmd), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				err = f.Close()
			}
			report(err)
		case "readn":
			p := next(cmd)
			readN(p, number(next(cmd)))
		case "writen":
			p := next(cmd)
			writeN(p, number(next(cmd)))
		case "openmany":
			p := next(cmd)
			openMany(p, number(next(cmd)))
		case "readloop":
			p := next(cmd)
			d, err := time.ParseDuration(next(cmd))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad duration:", err)
				os.Exit(99)
			}
			readLoop(p, d)
		case "jsondepth":
			n := number(next(cmd))
			data := `{"a":` + strings.Repeat(`[`, n) + strings.Repeat(`]`, n) + `}`
			var v any
			report(json.Unmarshal([]byte(data), &v))
		default:
			fmt.Fprintf(os.Stderr, "unknown command %s\n", cmd)
			os.Exit(99)
		}
	}
}

// number parses a count argument or exits with 99.
func number(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "bad number:", s)
		os.Exit(99)
	}
	return n
}

func readN(p string, n int) {
	f, err := os.Open(p)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	defer f.Close()
	buf := make([]byte, n)
	got, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		fmt.Println("ERR", err)
		return
	}
	zeros := 0
	for _, b := range buf[:got] {
		if b == 0 {
			zeros++
		}
	}
	fmt.Printf("OK n=%d zeros=%d\n", got, zeros)
}

func writeN(p string, n int) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for n > 0 {
		c := chunk
		if n < len(c) {
			c = c[:n]
		}
		w, err := f.Write(c)
		if err != nil {
			fmt.Println("ERR", err)
			return
		}
		n -= w
	}
	report(f.Close())
}

// held keeps the descriptors openmany opened, so none is closed by a
// finalizer while it goes on.
var held []*os.File

func openMany(p string, max int) {
	for len(held) < max {
		f, err := os.Open(p)
		if err != nil {
			fmt.Println("opened", len(held))
			fmt.Println("ERR", err)
			return
		}
		held = append(held, f)
	}
	fmt.Println("opened", len(held))
	fmt.Println("no error")
}

func readLoop(p string, d time.Duration) {
	contents, errs := map[string]bool{}, map[string]bool{}
	ok, bad := 0, 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		b, err := os.ReadFile(p)
		if err != nil {
			bad++
			errs[err.Error()] = true
			continue
		}
		ok++
		contents[string(b)] = true
	}
	fmt.Printf("reads ok=%d err=%d\n", ok, bad)
	for _, c := range sortedKeys(contents) {
		fmt.Printf("content %q\n", c)
	}
	for _, e := range sortedKeys(errs) {
		fmt.Printf("error %q\n", e)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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

// envFile is the i-th descriptor named in the environment variable name.
func envFile(name, i string) (*os.File, error) {
	nums := strings.Split(os.Getenv(name), ",")
	n, err := strconv.Atoi(i)
	if err != nil || n < 0 || n >= len(nums) {
		return nil, fmt.Errorf("%s=%q has no descriptor %s", name, os.Getenv(name), i)
	}
	fd, err := strconv.Atoi(nums[n])
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %v", name, os.Getenv(name), err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
