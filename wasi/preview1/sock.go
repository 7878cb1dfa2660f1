package preview1

// The four preview1 socket calls. No descriptor is a socket yet (the
// networking grant adds them), so each answers EBADF for a closed
// descriptor and ENOTSOCK for any other, as on Linux.

func (h *Host) notSock(fd int32) Errno {
	if _, e := h.fds.get(fd); e != 0 {
		return e
	}
	return ErrnoNotsock
}

func (h *Host) sockAccept(m memory, a []arg) Errno   { return h.notSock(a[0].I32()) }
func (h *Host) sockRecv(m memory, a []arg) Errno     { return h.notSock(a[0].I32()) }
func (h *Host) sockSend(m memory, a []arg) Errno     { return h.notSock(a[0].I32()) }
func (h *Host) sockShutdown(m memory, a []arg) Errno { return h.notSock(a[0].I32()) }
