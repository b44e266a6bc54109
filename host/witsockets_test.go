package host

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// socketTTL reads IP_TTL from the host socket behind the guest's
// tcp-socket handle.
func socketTTL(t *testing.T, x *tg, sock uint32) int {
	t.Helper()
	v, err := x.g.table.get(sock, rTCPSocket)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(*tcpSocket)
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		t.Fatal("the socket has no connection")
	}
	rc, err := conn.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ttl int
	var gerr error
	if err := rc.Control(func(fd uintptr) { ttl, gerr = getsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TTL) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return ttl
}

func (x *tg) setHopLimit(sock uint32, v uint64) {
	x.t.Helper()
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketSetHopLimit, uint64(sock), v, retArea)
	if x.ret(1)[0] != 0 {
		x.t.Fatalf("set-hop-limit(%d) failed", v)
	}
}

// tcp.wit, set-hop-limit: "Equivalent to the IP_TTL & IPV6_UNICAST_HOPS
// socket options." The value reaches the socket, set before the connect
// and after it.
func TestWITSetHopLimitApplies(t *testing.T) {
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))

	sock := x.startConnect(echo.addr, func(sock uint32) { x.setHopLimit(sock, 7) })
	x.finishConnect(sock)
	if ttl := socketTTL(t, x, sock); ttl != 7 {
		t.Fatalf("IP_TTL after set-hop-limit(7) before the connect = %d", ttl)
	}
	x.setHopLimit(sock, 33)
	if ttl := socketTTL(t, x, sock); ttl != 33 {
		t.Fatalf("IP_TTL after set-hop-limit(33) on the connection = %d", ttl)
	}
}

// tcp.wit, shutdown: "receive: Further reads are disallowed" — what the
// input stream had buffered is dropped with them: a read after
// shutdown(receive) reports closed, not the bytes that came before.
func TestWITShutdownReceiveDropsBuffered(t *testing.T) {
	addr := serveOne(t, nil, func(c net.Conn) {
		_, _ = c.Write([]byte("buffered"))
		_, _ = c.Read(make([]byte, 1)) // until the guest closes
	})
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	sock, in, _, code := x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	// Wait until the bytes are buffered in the host.
	p := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(in))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.drop(ioPollName, "pollable", p)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketShutdown, uint64(sock), 0, retArea)
	if x.ret(1)[0] != 0 {
		t.Fatal("shutdown(receive) failed")
	}
	for _, f := range []string{"read", "blocking-read"} {
		x.clearRet()
		x.call(ioStreamsName, "[method]input-stream."+f, uint64(in), 64, retArea)
		if res := x.result(cabi.ReadArea); res != resClosed {
			t.Fatalf("%s after shutdown(receive): %v, want closed", f, res)
		}
	}
}

// ip-name-lookup.wit, resolve-addresses: "Unicode domain names are
// automatically converted to ASCII using IDNA encoding", and
// "invalid-argument: name is a syntactically invalid domain name or IP
// address."
func TestWITLookupIDNA(t *testing.T) {
	q := recordLookups(t, func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"xn--bcher-kva.example:443", "*:443", "127.0.0.0/8:*"}, NameLookup: true}))
	addrs, code := x.resolve("bücher.example")
	if code >= 0 || len(addrs) != 1 {
		t.Fatalf("bücher.example: %v, code %d", addrs, code)
	}
	if got := q.names(); len(got) != 1 || got[0] != "xn--bcher-kva.example" {
		t.Fatalf("the resolver was asked for %q, want the IDNA form xn--bcher-kva.example", got)
	}
	for _, name := range []string{"host:443", "a b.example", "exa_mple..com", "-bad-.example"} {
		if _, code := x.resolve(name); code != int(ecInvalidArgument) {
			t.Errorf("%q: code %d, want invalid-argument (%d)", name, code, ecInvalidArgument)
		}
	}
}

// tcp.wit, start-connect: the socket is implicitly bound when the connect
// starts; local-address: "invalid-state: The socket is not bound to any
// local address." So during connect-in-progress it returns the address.
func TestWITLocalAddressWhileConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	sock := x.startConnect(ln.Addr().(*net.TCPAddr).AddrPort(), nil)
	a := cabi.SockAddrArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketLocalAddress, uint64(sock), retArea)
	r0 := x.ret(a.Size)
	if r0[0] != 0 {
		t.Fatalf("local-address during connect-in-progress: error-code %d", r0[4])
	}
	local := cabi.GetSockAddr(r0, a.OK)
	select {
	case c := <-accepted:
		defer c.Close()
		if want := c.RemoteAddr().(*net.TCPAddr).AddrPort(); local != want {
			t.Fatalf("local-address %v, the peer sees %v", local, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
}
