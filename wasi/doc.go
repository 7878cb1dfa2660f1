// Package wasi turns a validated bundle into a running WebAssembly guest.
//
// It owns the capability Plan (argv, env, preopened directories with their
// read-only or read-write rights, memory limit) derived from config.json, the
// wasmtime engine configuration, the cache of compiled modules and
// components, and running the guest (a module's _start, a component's
// wasi:cli/run through wasi/component) and mapping how it ended to an exit
// status.
//
// It must never grant the guest anything the spec did not: no host
// environment, no directory that is not the rootfs, a bind mount's source or
// a private tmpfs directory. It never forks, never touches container state
// and never decides process lifecycle; package runtime does that.
package wasi
