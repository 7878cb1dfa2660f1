package preview1

// fn is one preview1 function: its core parameter types ('i' for i32, 'I'
// for i64; every result is one i32 errno) and its body, which gets the
// guest memory of this call and the raw arguments.
type fn struct {
	name   string
	params string
	body   func(h *Host, m memory, a []arg) Errno
}

// functions lists all 46 functions of wasi_snapshot_preview1, then
// WasmEdge's socket extension.
var functions = []fn{
	{"args_get", "ii", (*Host).argsGet},
	{"args_sizes_get", "ii", (*Host).argsSizesGet},
	{"environ_get", "ii", (*Host).environGet},
	{"environ_sizes_get", "ii", (*Host).environSizesGet},
	{"clock_res_get", "ii", (*Host).clockResGet},
	{"clock_time_get", "iIi", (*Host).clockTimeGet},
	{"fd_advise", "iIIi", (*Host).fdAdvise},
	{"fd_allocate", "iII", (*Host).fdAllocate},
	{"fd_close", "i", (*Host).fdClose},
	{"fd_datasync", "i", (*Host).fdDatasync},
	{"fd_fdstat_get", "ii", (*Host).fdFdstatGet},
	{"fd_fdstat_set_flags", "ii", (*Host).fdFdstatSetFlags},
	{"fd_fdstat_set_rights", "iII", (*Host).fdFdstatSetRights},
	{"fd_filestat_get", "ii", (*Host).fdFilestatGet},
	{"fd_filestat_set_size", "iI", (*Host).fdFilestatSetSize},
	{"fd_filestat_set_times", "iIIi", (*Host).fdFilestatSetTimes},
	{"fd_pread", "iiiIi", (*Host).fdPread},
	{"fd_prestat_get", "ii", (*Host).fdPrestatGet},
	{"fd_prestat_dir_name", "iii", (*Host).fdPrestatDirName},
	{"fd_pwrite", "iiiIi", (*Host).fdPwrite},
	{"fd_read", "iiii", (*Host).fdRead},
	{"fd_readdir", "iiiIi", (*Host).fdReaddir},
	{"fd_renumber", "ii", (*Host).fdRenumber},
	{"fd_seek", "iIii", (*Host).fdSeek},
	{"fd_sync", "i", (*Host).fdSync},
	{"fd_tell", "ii", (*Host).fdTell},
	{"fd_write", "iiii", (*Host).fdWrite},
	{"path_create_directory", "iii", (*Host).pathCreateDirectory},
	{"path_filestat_get", "iiiii", (*Host).pathFilestatGet},
	{"path_filestat_set_times", "iiiiIIi", (*Host).pathFilestatSetTimes},
	{"path_link", "iiiiiii", (*Host).pathLink},
	{"path_open", "iiiiiIIii", (*Host).pathOpen},
	{"path_readlink", "iiiiii", (*Host).pathReadlink},
	{"path_remove_directory", "iii", (*Host).pathRemoveDirectory},
	{"path_rename", "iiiiii", (*Host).pathRename},
	{"path_symlink", "iiiii", (*Host).pathSymlink},
	{"path_unlink_file", "iii", (*Host).pathUnlinkFile},
	{"poll_oneoff", "iiii", (*Host).pollOneoff},
	{"proc_exit", "i", (*Host).procExit},
	{"proc_raise", "i", (*Host).procRaise},
	{"sched_yield", "", (*Host).schedYield},
	{"random_get", "ii", (*Host).randomGet},
	{"sock_accept", "iii", (*Host).sockAccept},
	{"sock_recv", "iiiiii", (*Host).sockRecv},
	{"sock_send", "iiiii", (*Host).sockSend},
	{"sock_shutdown", "ii", (*Host).sockShutdown},

	// WasmEdge's socket extension (wasmedge.go). Where its two versions
	// differ, both are listed: the linker picks the one the guest
	// imports, as WasmEdge itself does.
	{"sock_open", "iii", (*Host).sockOpen},
	{"sock_bind", "iii", (*Host).sockBind},
	{"sock_listen", "ii", (*Host).sockListen},
	{"sock_connect", "iii", (*Host).sockConnect},
	{"sock_accept", "ii", (*Host).sockAcceptV1},
	{"sock_recv_from", "iiiiiii", (*Host).sockRecvFromV1},
	{"sock_recv_from", "iiiiiiii", (*Host).sockRecvFromV2},
	{"sock_send_to", "iiiiiii", (*Host).sockSendTo},
	{"sock_getsockopt", "iiiii", (*Host).sockGetsockopt},
	{"sock_setsockopt", "iiiii", (*Host).sockSetsockopt},
	{"sock_getlocaladdr", "iiii", (*Host).sockGetlocaladdrV1},
	{"sock_getlocaladdr", "iii", (*Host).sockGetlocaladdrV2},
	{"sock_getpeeraddr", "iiii", (*Host).sockGetpeeraddrV1},
	{"sock_getpeeraddr", "iii", (*Host).sockGetpeeraddrV2},
	{"sock_getaddrinfo", "iiiiiiii", (*Host).sockGetaddrinfo},
	// WasmEdge also exports each call that has two versions a second
	// time, as <name>_v2 (lib/host/wasi/wasimodule.cpp), and guests
	// written for it import those names directly to get the V2 form
	// without relying on the signature match.
	{"sock_open_v2", "iii", (*Host).sockOpen},
	{"sock_bind_v2", "iii", (*Host).sockBind},
	{"sock_connect_v2", "iii", (*Host).sockConnect},
	{"sock_listen_v2", "ii", (*Host).sockListen},
	{"sock_accept_v2", "iii", (*Host).sockAccept},
	{"sock_recv_v2", "iiiiii", (*Host).sockRecv},
	{"sock_recv_from_v2", "iiiiiiii", (*Host).sockRecvFromV2},
	{"sock_send_v2", "iiiii", (*Host).sockSend},
	{"sock_send_to_v2", "iiiiiii", (*Host).sockSendTo},
	{"sock_getlocaladdr_v2", "iii", (*Host).sockGetlocaladdrV2},
	{"sock_getpeeraddr_v2", "iii", (*Host).sockGetpeeraddrV2},
	// epoll_oneoff is WasmEdge's edge-triggered poll_oneoff. Level-
	// triggered answers are a superset its users (mio) handle: they read
	// until EAGAIN either way.
	{"epoll_oneoff", "iiii", (*Host).pollOneoff},
}

// firstUnstable is where the preview 0 forms (unstable.go) start in
// functions: they are linked only for wasi_unstable imports.
var firstUnstable = len(functions)

func init() { functions = append(functions, unstable...) }

// lookup finds the function named name whose core parameters are params,
// or -1.
func lookup(name, params string) int { return lookupIn(Module, name, params) }

// lookupIn is lookup for an import from module: a wasi_unstable import
// takes its preview 0 form where there is one, else the preview 1
// function.
func lookupIn(module, name, params string) int {
	return lookupWhere(module, name, func(f *fn) bool { return f.params == params })
}

// lookupWhere is lookupIn for a function that match accepts, whatever
// its parameters.
func lookupWhere(module, name string, match func(f *fn) bool) int {
	found := -1
	for i := range functions {
		f := &functions[i]
		if f.name != name || !match(f) {
			continue
		}
		isUnstable := i >= firstUnstable
		if isUnstable == (module == ModuleUnstable) {
			return i
		}
		if !isUnstable && found < 0 {
			found = i
		}
	}
	if module == ModuleUnstable {
		return found
	}
	return -1
}

// u32 and u64 read raw arguments: WASI's unsigned values travel as
// wasm's signed i32 and i64.
func u32(v arg) uint32 { return uint32(v.lo) }
func u64(v arg) uint64 { return v.lo }
