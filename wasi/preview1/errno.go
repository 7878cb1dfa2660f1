package preview1

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Errno is a WASI preview1 errno.
type Errno = int32

// The WASI preview1 errno values (witx `errno`).
const (
	ErrnoSuccess        Errno = 0
	Errno2big           Errno = 1
	ErrnoAcces          Errno = 2
	ErrnoAddrinuse      Errno = 3
	ErrnoAddrnotavail   Errno = 4
	ErrnoAfnosupport    Errno = 5
	ErrnoAgain          Errno = 6
	ErrnoAlready        Errno = 7
	ErrnoBadf           Errno = 8
	ErrnoBadmsg         Errno = 9
	ErrnoBusy           Errno = 10
	ErrnoCanceled       Errno = 11
	ErrnoChild          Errno = 12
	ErrnoConnaborted    Errno = 13
	ErrnoConnrefused    Errno = 14
	ErrnoConnreset      Errno = 15
	ErrnoDeadlk         Errno = 16
	ErrnoDestaddrreq    Errno = 17
	ErrnoDom            Errno = 18
	ErrnoDquot          Errno = 19
	ErrnoExist          Errno = 20
	ErrnoFault          Errno = 21
	ErrnoFbig           Errno = 22
	ErrnoHostunreach    Errno = 23
	ErrnoIdrm           Errno = 24
	ErrnoIlseq          Errno = 25
	ErrnoInprogress     Errno = 26
	ErrnoIntr           Errno = 27
	ErrnoInval          Errno = 28
	ErrnoIo             Errno = 29
	ErrnoIsconn         Errno = 30
	ErrnoIsdir          Errno = 31
	ErrnoLoop           Errno = 32
	ErrnoMfile          Errno = 33
	ErrnoMlink          Errno = 34
	ErrnoMsgsize        Errno = 35
	ErrnoMultihop       Errno = 36
	ErrnoNametoolong    Errno = 37
	ErrnoNetdown        Errno = 38
	ErrnoNetreset       Errno = 39
	ErrnoNetunreach     Errno = 40
	ErrnoNfile          Errno = 41
	ErrnoNobufs         Errno = 42
	ErrnoNodev          Errno = 43
	ErrnoNoent          Errno = 44
	ErrnoNoexec         Errno = 45
	ErrnoNolck          Errno = 46
	ErrnoNolink         Errno = 47
	ErrnoNomem          Errno = 48
	ErrnoNomsg          Errno = 49
	ErrnoNoprotoopt     Errno = 50
	ErrnoNospc          Errno = 51
	ErrnoNosys          Errno = 52
	ErrnoNotconn        Errno = 53
	ErrnoNotdir         Errno = 54
	ErrnoNotempty       Errno = 55
	ErrnoNotrecoverable Errno = 56
	ErrnoNotsock        Errno = 57
	ErrnoNotsup         Errno = 58
	ErrnoNotty          Errno = 59
	ErrnoNxio           Errno = 60
	ErrnoOverflow       Errno = 61
	ErrnoOwnerdead      Errno = 62
	ErrnoPerm           Errno = 63
	ErrnoPipe           Errno = 64
	ErrnoProto          Errno = 65
	ErrnoProtonosupport Errno = 66
	ErrnoPrototype      Errno = 67
	ErrnoRange          Errno = 68
	ErrnoRofs           Errno = 69
	ErrnoSpipe          Errno = 70
	ErrnoSrch           Errno = 71
	ErrnoStale          Errno = 72
	ErrnoTimedout       Errno = 73
	ErrnoTxtbsy         Errno = 74
	ErrnoXdev           Errno = 75
	ErrnoNotcapable     Errno = 76

	// errnoMax bounds the table of preallocated results.
	errnoMax = 128
)

// linuxToWASI maps the Linux errno values a host call can return to WASI's.
// An errno with no WASI equivalent becomes EIO.
var linuxToWASI = map[unix.Errno]Errno{
	unix.E2BIG:           Errno2big,
	unix.EACCES:          ErrnoAcces,
	unix.EADDRINUSE:      ErrnoAddrinuse,
	unix.EADDRNOTAVAIL:   ErrnoAddrnotavail,
	unix.EAFNOSUPPORT:    ErrnoAfnosupport,
	unix.EAGAIN:          ErrnoAgain,
	unix.EALREADY:        ErrnoAlready,
	unix.EBADF:           ErrnoBadf,
	unix.EBADMSG:         ErrnoBadmsg,
	unix.EBUSY:           ErrnoBusy,
	unix.ECANCELED:       ErrnoCanceled,
	unix.ECHILD:          ErrnoChild,
	unix.ECONNABORTED:    ErrnoConnaborted,
	unix.ECONNREFUSED:    ErrnoConnrefused,
	unix.ECONNRESET:      ErrnoConnreset,
	unix.EDEADLK:         ErrnoDeadlk,
	unix.EDESTADDRREQ:    ErrnoDestaddrreq,
	unix.EDOM:            ErrnoDom,
	unix.EDQUOT:          ErrnoDquot,
	unix.EEXIST:          ErrnoExist,
	unix.EFAULT:          ErrnoFault,
	unix.EFBIG:           ErrnoFbig,
	unix.EHOSTUNREACH:    ErrnoHostunreach,
	unix.EIDRM:           ErrnoIdrm,
	unix.EILSEQ:          ErrnoIlseq,
	unix.EINPROGRESS:     ErrnoInprogress,
	unix.EINTR:           ErrnoIntr,
	unix.EINVAL:          ErrnoInval,
	unix.EIO:             ErrnoIo,
	unix.EISCONN:         ErrnoIsconn,
	unix.EISDIR:          ErrnoIsdir,
	unix.ELOOP:           ErrnoLoop,
	unix.EMFILE:          ErrnoMfile,
	unix.EMLINK:          ErrnoMlink,
	unix.EMSGSIZE:        ErrnoMsgsize,
	unix.EMULTIHOP:       ErrnoMultihop,
	unix.ENAMETOOLONG:    ErrnoNametoolong,
	unix.ENETDOWN:        ErrnoNetdown,
	unix.ENETRESET:       ErrnoNetreset,
	unix.ENETUNREACH:     ErrnoNetunreach,
	unix.ENFILE:          ErrnoNfile,
	unix.ENOBUFS:         ErrnoNobufs,
	unix.ENODEV:          ErrnoNodev,
	unix.ENOENT:          ErrnoNoent,
	unix.ENOEXEC:         ErrnoNoexec,
	unix.ENOLCK:          ErrnoNolck,
	unix.ENOLINK:         ErrnoNolink,
	unix.ENOMEM:          ErrnoNomem,
	unix.ENOMSG:          ErrnoNomsg,
	unix.ENOPROTOOPT:     ErrnoNoprotoopt,
	unix.ENOSPC:          ErrnoNospc,
	unix.ENOSYS:          ErrnoNosys,
	unix.ENOTCONN:        ErrnoNotconn,
	unix.ENOTDIR:         ErrnoNotdir,
	unix.ENOTEMPTY:       ErrnoNotempty,
	unix.ENOTRECOVERABLE: ErrnoNotrecoverable,
	unix.ENOTSOCK:        ErrnoNotsock,
	unix.EOPNOTSUPP:      ErrnoNotsup,
	unix.ENOTTY:          ErrnoNotty,
	unix.ENXIO:           ErrnoNxio,
	unix.EOVERFLOW:       ErrnoOverflow,
	unix.EOWNERDEAD:      ErrnoOwnerdead,
	unix.EPERM:           ErrnoPerm,
	unix.EPIPE:           ErrnoPipe,
	unix.EPROTO:          ErrnoProto,
	unix.EPROTONOSUPPORT: ErrnoProtonosupport,
	unix.EPROTOTYPE:      ErrnoPrototype,
	unix.ERANGE:          ErrnoRange,
	unix.EROFS:           ErrnoRofs,
	unix.ESPIPE:          ErrnoSpipe,
	unix.ESRCH:           ErrnoSrch,
	unix.ESTALE:          ErrnoStale,
	unix.ETIMEDOUT:       ErrnoTimedout,
	unix.ETXTBSY:         ErrnoTxtbsy,
	unix.EXDEV:           ErrnoXdev,
}

// hostErrno is the Linux errno for e, for runw's own messages (EIO
// where linuxToWASI has none).
func hostErrno(e Errno) unix.Errno {
	for h, w := range linuxToWASI {
		if w == e {
			return h
		}
	}
	return unix.EIO
}

// toErrno turns a host error into the guest's errno.
func toErrno(err error) Errno {
	if err == nil {
		return ErrnoSuccess
	}
	var e unix.Errno
	if errors.As(err, &e) {
		if w, ok := linuxToWASI[e]; ok {
			return w
		}
	}
	return ErrnoIo
}
