// Package spec owns the OCI bundle: it loads and validates config.json,
// resolves guest paths to host paths without ever leaving the rootfs (or a
// bind mount's source), classifies the entrypoint file, and classifies the
// spec's mounts for the grant table. It is the only place that interprets
// the bundle, so every other package works from a Bundle that has already
// been checked. It must never run anything (no processes, no wasm) and never
// write to the bundle: the bundle belongs to the caller (runc semantics), and
// a runtime that modified or executed from it while merely reading the spec
// would surprise every engine that hands us one.
package spec
