// Package preview1 is runw's own implementation of wasi_snapshot_preview1:
// the 46 functions a WASI preview1 guest imports, written over wasmtime's
// core API so that runw, not wasmtime's closed built-in layer, owns the
// descriptor table (stdio, preopened directories, opened files and
// directories, and later sockets) and how every guest path is resolved.
//
// The guest sees one file namespace, the container's, as a native process
// in a runc container with the same config.json would: the rootfs at "/",
// each granted mount at its destination, read-only where the grant says so.
// Every path operation goes through one resolver (view.go), which walks the
// path component by component with O_NOFOLLOW, follows symlinks itself (an
// absolute target restarts at the container's root, never the host's) and
// never lets the kernel follow a link runw did not read.
//
// It must never: reach a host path outside the grants, let a guest pointer
// or length outside the guest's memory reach Go (every access is checked
// and answers EFAULT), block a stop signal (every blocking call also waits
// on the host's stop descriptor), or hand the guest a host descriptor
// number (guest fds are indices into runw's own table).
package preview1
