// Package component runs WASI 0.2 command components (`wasi:cli/run`)
// through libwasmtime's component C API, which wasmtime-go v39 links but
// does not wrap. It binds the few functions runw needs (compile,
// serialize, deserialize, link WASI 0.2, instantiate, call `run`) with its
// own small cgo file against the same static library.
//
// WASI 0.2 here is wasmtime's own implementation, fed from a wasi_config:
// argv, env, stdio and preopened directories with read-only or read-write
// rights. runw's preview1 host (wasi/preview1) is not involved.
//
// It must never grant the component anything its Config does not name: no
// host environment, no directory but the listed ones, no network, and it
// never links wasi:http. It never forks and never decides the exit status;
// package wasi maps a Result to one.
package component
