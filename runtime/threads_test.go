package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"testing"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// allThreads reaches every thread: here it sets no_new_privs (harmless,
// and needs no privilege) in a child with threads of every kind Go makes
// (idle Ms, threads locked to goroutines, os/signal's thread with its
// signals blocked) and reads each thread's status afterwards.
func TestAllThreadsReachesEveryThread(t *testing.T) {
	if os.Getenv("RUNW_TEST_ALLTHREADS") == "1" {
		if err := allThreadsChild(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAllThreadsReachesEveryThread$")
	cmd.Env = append(os.Environ(), "RUNW_TEST_ALLTHREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func allThreadsChild() error {
	ready, stop := make(chan struct{}), make(chan struct{})
	for i := 0; i < 16; i++ {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-stop
		}()
		<-ready
	}
	defer close(stop)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM) // as the init does: os/signal's thread blocks the rest
	if err := allThreads([]step{{nr: unix.SYS_PRCTL, args: [6]uintptr{unix.PR_SET_NO_NEW_PRIVS, 1}, what: "set no_new_privs"}}, 40); err != nil {
		return err
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	if len(tasks) < 17 {
		return fmt.Errorf("only %d threads: the test made too few", len(tasks))
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		if err != nil {
			continue // gone
		}
		if !strings.Contains(string(b), "NoNewPrivs:\t1") {
			return fmt.Errorf("thread %s kept no_new_privs 0", task.Name())
		}
	}
	return nil
}

// A round whose steps change nothing a thread's credentials show still
// reaches every thread: here no_new_privs is already set (inherited from
// whoever started runw: a hardened systemd unit, a Kubernetes pod with
// allowPrivilegeEscalation false) and the capabilities stay, so only the
// Landlock ruleset tells a thread that took the steps from one that did
// not. Every locked thread must then be refused a read the ruleset denies.
func TestAllThreadsLandlockWhenCredentialsStay(t *testing.T) {
	if LandlockABI() == 0 {
		t.Skip("no Landlock")
	}
	if os.Getenv("RUNW_TEST_ALLTHREADS") == "landlock" {
		if err := allThreadsLandlockChild(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAllThreadsLandlockWhenCredentialsStay$")
	cmd.Env = append(os.Environ(), "RUNW_TEST_ALLTHREADS=landlock")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func allThreadsLandlockChild() error {
	file, err := os.CreateTemp("", "runw-landlock")
	if err != nil {
		return err
	}
	file.Close()
	defer os.Remove(file.Name())
	// One channel a thread, so that each one is asked.
	tries := make([]chan chan error, 16)
	for i := range tries {
		tries[i] = make(chan chan error)
		go func(try chan chan error) {
			runtime.LockOSThread()
			for reply := range try {
				f, err := os.Open(file.Name())
				if err == nil {
					f.Close()
				}
				reply <- err
			}
		}(tries[i])
		defer close(tries[i])
	}
	nnp := step{nr: unix.SYS_PRCTL, args: [6]uintptr{unix.PR_SET_NO_NEW_PRIVS, 1}, what: "set no_new_privs"}
	if err := allThreads([]step{nnp}, 40); err != nil {
		return err
	}
	fd, err := ll.LandlockCreateRuleset(&ll.RulesetAttr{HandledAccessFS: ll.AccessFSReadFile}, 0)
	if err != nil {
		return err
	}
	restrict := step{nr: unix.SYS_LANDLOCK_RESTRICT_SELF, args: [6]uintptr{uintptr(fd)}, what: "enter the Landlock ruleset"}
	if err := allThreads([]step{nnp, restrict}, 40); err != nil {
		return err
	}
	for _, try := range tries {
		reply := make(chan error)
		try <- reply
		if err := <-reply; err == nil {
			return fmt.Errorf("a thread read %s outside the ruleset", file.Name())
		}
	}
	return nil
}
