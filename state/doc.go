// Package state is the container store of runw: the on-disk record of
// which containers exist and what is known about each one.
//
// It owns one directory per container, <root>/<id>, under a root that
// defaults to /run/runw. Each directory holds state.json, written
// atomically (temporary file in the same directory, then rename; no fsync,
// as runc: the state does not outlive a reboot) so a writer killed mid-way
// never leaves a half-written record, plus
// whatever files the runtime keeps next to it (see Handle.Path). Every
// command that changes a container first takes an exclusive flock on the
// container directory itself, so commands on the same id run one after
// the other while different ids never wait for each other; because the
// lock lives on the directory, deleting the directory leaves nothing
// behind. A read that changes nothing (state, list, the look-up of an id
// handed to a native runtime) goes through Peek without the lock:
// state.json is only ever replaced whole.
// The package also validates container ids, lists the containers under a
// root and derives a container's status from facts (is the init process
// still the same live process?) rather than from what the file says.
//
// It must never run containers, start or signal processes, or parse a
// bundle's config.json: those belong to the runtime and spec packages,
// which store what they need in Container (opaque data goes in
// Container.Extra).
package state
