// Package runtime runs the container lifecycle the way runc does: create
// (spawn the init and wait until the guest is ready), init (the re-executed
// runw that becomes the container process), start, kill, delete, run,
// exec (another guest in a running container), state, list, pause and
// resume, ps, update, events, the exec fifo, hooks and the console socket.
// A bundle that runs natively (an ELF or #! entrypoint, a pod's sandbox)
// is handed to a native runtime (native.go), which then gets every
// command on that id. The init sandboxes itself before it reports ready
// (sandbox.go): namespaces (namespaces.go, nsenter), the container's root
// (pivot.go), privileges and rlimits (privileges.go), seccomp and
// Landlock; create spawns it into the container's cgroup (cgroups.go).
// Modules are compiled by a confined `runw compile` child (compile.go,
// compileconfine.go; execcompile.go for exec); the init compiles
// in-process only where that child failed.
//
// It composes spec (the bundle), wasi (the guest) and state (the store). It
// must never grant the guest anything itself: grants come only from the
// plan wasi.PlanFor (create) or wasi.ExecPlanFor (exec) makes, to which
// passPreserved adds only the descriptors the caller preserved for the
// guest (Plan.Inherited). It must never leave half-made state behind: a
// failed create removes what it made.
package runtime
