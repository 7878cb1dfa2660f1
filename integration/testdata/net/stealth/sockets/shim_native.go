// The native build listens and dials with package net.

//go:build !wasip1

package main

import "net"

func listen(n, a string) (net.Listener, error)         { return net.Listen(n, a) }
func dial(n, a string) (net.Conn, error)               { return net.Dial(n, a) }
func listenPacket(n, a string) (net.PacketConn, error) { return net.ListenPacket(n, a) }
