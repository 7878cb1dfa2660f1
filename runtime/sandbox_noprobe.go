//go:build !runw_sandboxprobe

package runtime

import "github.com/runw/runw/wasi"

// enterSandbox is what the init calls: Sandbox.apply. The test-only build
// (tag runw_sandboxprobe, sandbox_probe.go) adds native probes after it.
func enterSandbox(sb *Sandbox, plan *wasi.Plan, fifo string) error {
	return sb.apply(plan, fifo)
}
