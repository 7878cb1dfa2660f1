package preview1

import (
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// fn is one preview1 function: its core parameter types ('i' for i32, 'I'
// for i64; every result is one i32 errno) and its body, which gets the
// guest memory of this call and the raw arguments.
type fn struct {
	name   string
	params string
	body   func(h *Host, m memory, a []wasmtime.Val) Errno
}

// functions lists all 46 functions of wasi_snapshot_preview1.
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
}

// errnoResults holds one preallocated result list per errno, so that a
// host call returns without allocating.
var errnoResults = func() [errnoMax][]wasmtime.Val {
	var r [errnoMax][]wasmtime.Val
	for i := range r {
		r[i] = []wasmtime.Val{wasmtime.ValI32(int32(i))}
	}
	return r
}()

// Link defines every preview1 function in linker, bound to this host.
func (h *Host) Link(linker *wasmtime.Linker) error {
	i32, i64 := wasmtime.NewValType(wasmtime.KindI32), wasmtime.NewValType(wasmtime.KindI64)
	for _, f := range functions {
		params := make([]*wasmtime.ValType, len(f.params))
		for i, c := range f.params {
			params[i] = i32
			if c == 'I' {
				params[i] = i64
			}
		}
		results := []*wasmtime.ValType{i32}
		if f.name == "proc_exit" {
			results = nil
		}
		body := f.body
		err := linker.FuncNew(Module, f.name, wasmtime.NewFuncType(params, results), func(c *wasmtime.Caller, args []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
			var m memory
			if h.mem != nil {
				m = h.mem.UnsafeData(c)
			}
			switch e := body(h, m, args); {
			case e >= 0 && e < errnoMax:
				return errnoResults[e], nil
			case e == errnoExit:
				return nil, wasmtime.NewTrap(trapExit)
			case e == errnoStop:
				return nil, wasmtime.NewTrap(trapStop)
			default:
				return errnoResults[ErrnoIo], nil
			}
		})
		if err != nil {
			return fmt.Errorf("define %s.%s: %w", Module, f.name, err)
		}
	}
	return nil
}

// u32 and u64 read raw arguments: WASI's unsigned values travel as
// wasm's signed i32 and i64.
func u32(v wasmtime.Val) uint32 { return uint32(v.I32()) }
func u64(v wasmtime.Val) uint64 { return uint64(v.I64()) }
