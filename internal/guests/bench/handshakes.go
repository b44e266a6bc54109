//go:build wasip1

package main

import (
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/guest/clocks/monotonic"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

// handshakes makes n connections one after another and prints "ok N NS".
// Each is what the native loop does with net.Dial, tls.Client, Handshake
// and Close, through the WIT calls in order: create-tcp-socket,
// start-connect, subscribe, block, finish-connect, the client-handshake
// constructor, finish, subscribe, block, get, and the drops. It is
// straight-line code rather than open(1): open's bookkeeping for many
// connections at once (slices, a state machine, a timestamp per
// connection) cost the guest more than some of those calls, and the
// native loop keeps none of it either.
func handshakes(t target, n uint64) {
	family := network.FamilyOf(t.addr)
	remote := network.IPSocketAddress{Addr: t.addr, Port: t.port}
	start := monotonic.Now()
	for range n {
		s, err := tcp.CreateTCPSocket(family)
		if err != nil {
			fail(err)
		}
		if err := s.StartConnect(t.net, remote); err != nil {
			fail(err)
		}
		p := s.Subscribe()
		p.Block()
		in, out, err := s.FinishConnect()
		for errors.Is(err, network.WouldBlock) { // never, once the pollable is ready; kept for the letter of the WIT
			p.Block()
			in, out, err = s.FinishConnect()
		}
		if err != nil {
			fail(err)
		}
		p.Drop()
		f := tls.Finish(tls.NewClientHandshake(t.name, in, out))
		p = f.Subscribe()
		p.Block()
		c, tin, tout, err := f.Get()
		if err != nil {
			fail(err)
		}
		p.Drop()
		f.Drop()
		tin.Drop()
		tout.Drop()
		c.Drop()
		s.Drop()
	}
	fmt.Printf("ok %d %d\n", n, monotonic.Now().Sub(start))
}
