// Package runtime runs the container lifecycle the way runc does: create
// (spawn the init and wait until the guest is ready), init (the re-executed
// runw that becomes the container process), start, kill, delete, run, list,
// the exec fifo, hooks and the console socket.
//
// It composes spec (the bundle), wasi (the guest) and state (the store). It
// must never grant the guest anything itself: grants come only from
// wasi.PlanFor. It must never leave half-made state behind: a failed create
// removes what it made.
package runtime
