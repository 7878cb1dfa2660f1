package runtime

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets this test binary stand in for runw as fillCache's compile
// child (it runs "/proc/self/exe compile /proc/self/fd/0"), so that the
// tests here drive the real child, confinement and all.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "compile" && os.Args[2] == compileChildArg && os.Getenv(compileChildEnv) == "1" {
		if err := compileChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
