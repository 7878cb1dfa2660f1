package netdns

import "fmt"

// Code says why a lookup failed, as getaddrinfo's EAI_* codes do. The values
// are WasmEdge's __WASI_ERRNO_AI* numbers (thirdparty/wasi/api.hpp), so the
// WASI host can hand a Code to the guest as its errno unchanged.
type Code uint16

const (
	// CodeAddrFamily (EAI_ADDRFAMILY): a numeric host of the other family
	// than Query.Family asks for ("::1" with Family 4).
	CodeAddrFamily Code = 77
	// CodeAgain (EAI_AGAIN): try later. No nameserver answered in time,
	// every one answered SERVFAIL, REFUSED or NOTIMP, or the context
	// ended.
	CodeAgain Code = 78
	// CodeFail (EAI_FAIL): no nameserver may be asked (the connect grant
	// allows none). An answer retrying won't fix (FORMERR, a malformed
	// reply) is CodeNoName, as glibc says.
	CodeFail Code = 80
	// CodeFamily (EAI_FAMILY): Query.Family is not 0, 4 or 6.
	CodeFamily Code = 81
	// CodeNoData (EAI_NODATA): the name exists but has no address of the
	// family asked for.
	CodeNoData Code = 83
	// CodeNoName (EAI_NONAME): the name does not exist (NXDOMAIN, in no
	// hosts file), is not a valid name, Node and Service are both empty, or
	// NumericHost/NumericServ was set and the string is not numeric.
	CodeNoName Code = 84
	// CodeService (EAI_SERVICE): the service is not a port number and not
	// a name known for the socket type asked for.
	CodeService Code = 85
	// CodeSockType (EAI_SOCKTYPE): Query.SockType is not 0, 1 or 2.
	CodeSockType Code = 86
)

// String is the gai_strerror text glibc gives for the code.
func (c Code) String() string {
	switch c {
	case CodeAddrFamily:
		return "address family for hostname not supported"
	case CodeAgain:
		return "temporary failure in name resolution"
	case CodeFail:
		return "non-recoverable failure in name resolution"
	case CodeFamily:
		return "ai_family not supported"
	case CodeNoData:
		return "no address associated with hostname"
	case CodeNoName:
		return "name or service not known"
	case CodeService:
		return "servname not supported for ai_socktype"
	case CodeSockType:
		return "ai_socktype not supported"
	}
	return fmt.Sprintf("getaddrinfo error %d", uint16(c))
}

// Error is every error Lookup returns: the caller maps Code to the guest's
// errno and may log the rest.
type Error struct {
	Code Code
	// Name is what failed: the node, or the service for CodeService.
	Name string
	// Err is the underlying cause when there is one (a context error, a
	// socket error); nil otherwise.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("lookup %q: %s: %v", e.Name, e.Code, e.Err)
	}
	return fmt.Sprintf("lookup %q: %s", e.Name, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

func fail(code Code, name string) *Error { return &Error{Code: code, Name: name} }
