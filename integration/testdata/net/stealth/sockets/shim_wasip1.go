// The wasip1 build listens and dials through stealthrocket/net.

//go:build wasip1

package main

import (
	"net"

	"github.com/stealthrocket/net/wasip1"
)

func listen(n, a string) (net.Listener, error)         { return wasip1.Listen(n, a) }
func dial(n, a string) (net.Conn, error)               { return wasip1.Dial(n, a) }
func listenPacket(n, a string) (net.PacketConn, error) { return wasip1.ListenPacket(n, a) }
