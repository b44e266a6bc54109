//go:build wasip1

// Package gutil is the plumbing the test guests share: resolve, connect,
// handshake and write with the raw wasitls bindings. It is deliberately
// thin; a net.Conn-style library is a separate piece of work.
//
//	sock, in, out, err := gutil.Dial("localhost", 8443)
//	conn, tin, tout, err := gutil.Handshake("localhost", in, out)
package gutil

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/ipnamelookup"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

// Message renders an error the way the guests report it: the io-error's
// debug string, or "tcp: <error-code>" for socket errors.
func Message(err error) string {
	var code network.ErrorCode
	var se *streams.StreamError
	var he *tls.HandshakeError
	switch {
	case errors.As(err, &he):
		return he.Debug
	case errors.As(err, &se):
		if se.Closed {
			return "stream closed"
		}
		return se.Debug
	case errors.As(err, &code):
		return "tcp: " + code.String()
	}
	return err.Error()
}

// CheckAllocations exits 1 if a block the host allocated through
// cabi_realloc was never taken by a binding (a leak in the bindings).
func CheckAllocations() {
	if n := cabi.Live(); n != 0 {
		fmt.Fprintf(os.Stderr, "error: %d host allocations were never taken by the bindings\n", n)
		os.Exit(1)
	}
}

// Fail prints "error: <message>" to stderr and exits 1.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "error: "+Message(err))
	os.Exit(1)
}

// Resolve returns the addresses of name, waiting on the lookup's pollable.
func Resolve(n network.Network, name string) ([]netip.Addr, error) {
	rs, err := ipnamelookup.ResolveAddresses(n, name)
	if err != nil {
		return nil, err
	}
	defer rs.Drop()
	p := rs.Subscribe()
	defer p.Drop()
	var addrs []netip.Addr
	for {
		a, ok, err := rs.ResolveNextAddress()
		switch {
		case errors.Is(err, network.WouldBlock):
			p.Block()
		case err != nil:
			return addrs, err
		case !ok:
			return addrs, nil
		default:
			addrs = append(addrs, a)
		}
	}
}

// Connect opens a TCP connection to addr:port.
func Connect(n network.Network, addr netip.Addr, port uint16) (tcp.TCPSocket, streams.InputStream, streams.OutputStream, error) {
	sock, err := tcp.CreateTCPSocket(network.FamilyOf(addr))
	if err != nil {
		return 0, 0, 0, err
	}
	if err := sock.StartConnect(n, network.IPSocketAddress{Addr: addr.Unmap(), Port: port}); err != nil {
		sock.Drop()
		return 0, 0, 0, err
	}
	// The pollable is a child of the socket: drop it before the socket.
	p := sock.Subscribe()
	for {
		in, out, err := sock.FinishConnect()
		if errors.Is(err, network.WouldBlock) {
			p.Block()
			continue
		}
		p.Drop()
		if err != nil {
			sock.Drop()
			return 0, 0, 0, err
		}
		return sock, in, out, nil
	}
}

// Dial resolves host and connects to the first address that answers.
func Dial(n network.Network, host string, port uint16) (tcp.TCPSocket, streams.InputStream, streams.OutputStream, error) {
	addrs, err := Resolve(n, host)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(addrs) == 0 {
		return 0, 0, 0, network.NameUnresolvable
	}
	var last error
	for _, a := range addrs {
		sock, in, out, err := Connect(n, a, port)
		if err == nil {
			return sock, in, out, nil
		}
		last = err
	}
	return 0, 0, 0, last
}

// Handshake runs a wasi-tls client handshake over in/out (which it hands to
// the host) and waits for the outcome.
func Handshake(serverName string, in streams.InputStream, out streams.OutputStream) (tls.ClientConnection, streams.InputStream, streams.OutputStream, error) {
	fut := tls.Finish(tls.NewClientHandshake(serverName, in, out))
	defer fut.Drop()
	p := fut.Subscribe()
	defer p.Drop()
	for {
		conn, tin, tout, err := fut.Get()
		if errors.Is(err, tls.ErrPending) {
			p.Block()
			continue
		}
		return conn, tin, tout, err
	}
}

// WriteAll writes b with check-write / write / flush, waiting on the
// stream's pollable for budget, then waits until the flush is done.
func WriteAll(out streams.OutputStream, b []byte) error {
	p := out.Subscribe()
	defer p.Drop()
	for len(b) > 0 {
		n, err := out.CheckWrite()
		if err != nil {
			return err
		}
		if n == 0 {
			p.Block()
			continue
		}
		chunk := b[:min(uint64(len(b)), n, streams.MaxBlockingWrite)]
		if err := out.Write(chunk); err != nil {
			return err
		}
		b = b[len(chunk):]
	}
	return out.BlockingFlush()
}

// CloseOutput sends close_notify and waits until the host reports the
// output closed (or failed), so that a following socket shutdown cannot
// overtake it.
func CloseOutput(conn tls.ClientConnection, out streams.OutputStream) {
	conn.CloseOutput()
	p := out.Subscribe()
	defer p.Drop()
	for {
		n, err := out.CheckWrite()
		if err != nil || n > 0 {
			return
		}
		p.Block()
	}
}
