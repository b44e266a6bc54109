//go:build wasip1

// Command rawget is the baseline guest for the download benchmark: one
// HTTPS GET with the raw bindings only (no net/http, no wasinet, no
// goroutines), reading with blocking-read in 256 KiB steps.
//
//	rawget host port path servername
//
// It prints "download BYTES NANOSECONDS" (bytes include the response head).
package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/ipnamelookup"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

func fail(err error) {
	fmt.Println("error:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: rawget host port path servername")
		os.Exit(2)
	}
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	n := network.InstanceNetwork()
	addr, err := netip.ParseAddr(os.Args[1])
	if err != nil {
		addr, err = resolve(n, os.Args[1])
		if err != nil {
			fail(err)
		}
	}
	sock, err := tcp.CreateTCPSocket(network.FamilyOf(addr))
	if err != nil {
		fail(err)
	}
	if err := sock.StartConnect(n, network.IPSocketAddress{Addr: addr, Port: uint16(port)}); err != nil {
		fail(err)
	}
	p := sock.Subscribe()
	in, out, err := sock.FinishConnect()
	for errors.Is(err, network.WouldBlock) {
		p.Block()
		in, out, err = sock.FinishConnect()
	}
	p.Drop()
	if err != nil {
		fail(err)
	}
	fut := tls.Finish(tls.NewClientHandshake(os.Args[4], in, out))
	fp := fut.Subscribe()
	conn, tin, tout, err := fut.Get()
	for errors.Is(err, tls.ErrPending) {
		fp.Block()
		conn, tin, tout, err = fut.Get()
	}
	fp.Drop()
	fut.Drop()
	if err != nil {
		fail(err)
	}
	req := "GET " + os.Args[3] + " HTTP/1.1\r\nHost: " + os.Args[4] + "\r\nConnection: close\r\n\r\n"
	if err := tout.BlockingWriteAndFlush([]byte(req)); err != nil {
		fail(err)
	}
	total := 0
	for {
		b, err := tin.BlockingRead(256 << 10)
		if errors.Is(err, streams.ErrClosed) {
			break
		}
		if err != nil {
			fail(err)
		}
		total += len(b)
	}
	fmt.Printf("download %d %d\n", total, time.Since(start).Nanoseconds())
	tin.Drop()
	tout.Drop()
	conn.Drop()
	sock.Drop()
}

func resolve(n network.Network, name string) (netip.Addr, error) {
	rs, err := ipnamelookup.ResolveAddresses(n, name)
	if err != nil {
		return netip.Addr{}, err
	}
	defer rs.Drop()
	p := rs.Subscribe()
	defer p.Drop()
	var first netip.Addr
	for {
		a, ok, err := rs.ResolveNextAddress()
		if errors.Is(err, network.WouldBlock) {
			p.Block()
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		if !ok {
			break
		}
		// The test server listens on IPv4 loopback.
		if a.Is4() {
			return a, nil
		}
		if !first.IsValid() {
			first = a
		}
	}
	if !first.IsValid() {
		return netip.Addr{}, network.NameUnresolvable
	}
	return first, nil
}
