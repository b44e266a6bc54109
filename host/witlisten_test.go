package host

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/witnames"
)

// newSocket creates a tcp-socket of ap's family.
func (x *tg) newSocket(v6 bool) uint32 {
	x.t.Helper()
	fam := uint64(0)
	if v6 {
		fam = 1
	}
	x.clearRet()
	x.call(tcpCreateName, witnames.CreateTCPSocket, fam, retArea)
	r := x.ret(8)
	if r[0] != 0 {
		x.t.Fatalf("create-tcp-socket: error-code %d", r[4])
	}
	return cabi.GetU32(r, 4)
}

// sockCall calls a method returning result<_, error-code> and returns the
// code, or -1 for ok.
func (x *tg) sockCall(field string, args ...uint64) int {
	x.t.Helper()
	x.clearRet()
	x.call(tcpName, "[method]tcp-socket."+field, append(args, retArea)...)
	a := cabi.UnitCodeArea
	r := x.ret(a.Size)
	if r[0] != 0 {
		return int(r[a.Code])
	}
	return -1
}

// startBind calls start-bind with ap; -1 is ok.
func (x *tg) startBind(sock uint32, ap netip.AddrPort) int {
	x.t.Helper()
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	defer x.call(networkName, witnames.DropNetwork, uint64(netw))
	flat := cabi.Flatten(ap, 0, 0)
	return x.sockCall("start-bind", append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)...)
}

// bind binds sock to ap (start-bind, finish-bind), failing the test on an
// error, and returns the address bound.
func (x *tg) bind(sock uint32, ap netip.AddrPort) netip.AddrPort {
	x.t.Helper()
	if code := x.startBind(sock, ap); code >= 0 {
		x.t.Fatalf("start-bind %s: %d", ap, code)
	}
	if code := x.sockCall("finish-bind", uint64(sock)); code >= 0 {
		x.t.Fatalf("finish-bind: %d", code)
	}
	return x.localAddress(sock)
}

// listenOn binds a new socket to ap and makes it listen, failing the test
// on any error; it returns the socket and the address bound.
func (x *tg) listenOn(ap netip.AddrPort) (uint32, netip.AddrPort) {
	x.t.Helper()
	sock := x.newSocket(ap.Addr().Is6())
	for _, step := range []func() int{
		func() int { return x.startBind(sock, ap) },
		func() int { return x.sockCall("finish-bind", uint64(sock)) },
		func() int { return x.sockCall("start-listen", uint64(sock)) },
		func() int { return x.sockCall("finish-listen", uint64(sock)) },
	} {
		if code := step(); code >= 0 {
			x.t.Fatalf("listening on %s: error-code %d", ap, code)
		}
	}
	return sock, x.localAddress(sock)
}

func (x *tg) localAddress(sock uint32) netip.AddrPort {
	x.t.Helper()
	a := cabi.SockAddrArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketLocalAddress, uint64(sock), retArea)
	r := x.ret(a.Size)
	if r[0] != 0 {
		x.t.Fatalf("local-address: error-code %d", r[a.Code])
	}
	return cabi.GetSockAddr(r, a.OK)
}

func (x *tg) isListening(sock uint32) bool {
	x.t.Helper()
	return x.call1(tcpName, witnames.TCPSocketIsListening, uint64(sock)) == 1
}

// acceptNow calls accept once: the new socket and its streams, or the code.
func (x *tg) acceptNow(sock uint32) (ns, in, out uint32, code int) {
	x.t.Helper()
	a := cabi.AcceptArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketAccept, uint64(sock), retArea)
	r := x.ret(a.Size)
	if r[0] != 0 {
		return 0, 0, 0, int(r[a.Code])
	}
	return cabi.GetU32(r, a.OK), cabi.GetU32(r, a.OK+4), cabi.GetU32(r, a.OK+8), -1
}

// acceptWait waits on the socket's pollable and accepts.
func (x *tg) acceptWait(sock uint32) (ns, in, out uint32, code int) {
	x.t.Helper()
	p := x.call1(tcpName, witnames.TCPSocketSubscribe, uint64(sock))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.call(ioPollName, witnames.DropPollable, uint64(p))
	return x.acceptNow(sock)
}

var (
	loop4 = netip.MustParseAddrPort("127.0.0.1:0")
	loop6 = netip.MustParseAddrPort("[::1]:0")
)

// tcp.wit, start-listen and accept: a bound socket listens; accept says
// would-block with no pending connection, and then returns a connected
// socket with a pair of streams that read from and write to the client.
// is-listening is true only once listening; local-address is the bound
// address; the accepted socket's remote-address is the client.
func TestWITListenAccept(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}}))
	sock := x.newSocket(false)
	bound := x.bind(sock, loop4)
	if bound.Addr() != loop4.Addr() || bound.Port() == 0 {
		t.Fatalf("local-address after bind = %s", bound)
	}
	// Bound but not listening: the port refuses connections.
	if c, err := net.DialTimeout("tcp", bound.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("a bound socket that does not listen accepted a connection")
	}
	if x.isListening(sock) {
		t.Fatal("is-listening before start-listen")
	}
	if code := x.sockCall("start-listen", uint64(sock)); code >= 0 {
		t.Fatalf("start-listen: %d", code)
	}
	if code := x.sockCall("finish-listen", uint64(sock)); code >= 0 {
		t.Fatalf("finish-listen: %d", code)
	}
	if !x.isListening(sock) {
		t.Fatal("is-listening after finish-listen is false")
	}
	if _, _, _, code := x.acceptNow(sock); code != int(ecWouldBlock) {
		t.Fatalf("accept with nobody connecting: %d, want would-block", code)
	}
	client := dialHost(t, bound.String())
	ns, in, out, code := x.acceptWait(sock)
	if code >= 0 {
		t.Fatalf("accept: %d", code)
	}
	if x.isListening(ns) {
		t.Fatal("the accepted socket says it is listening")
	}
	a := cabi.SockAddrArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketRemoteAddress, uint64(ns), retArea)
	if got := cabi.GetSockAddr(x.ret(a.Size), a.OK); got.String() != client.LocalAddr().String() {
		t.Fatalf("remote-address of the accepted socket = %s, want the client %s", got, client.LocalAddr())
	}
	if got := x.localAddress(ns); got != bound {
		t.Fatalf("local-address of the accepted socket = %s, want %s", got, bound)
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := string(x.readN(in, 4)); got != "ping" {
		t.Fatalf("guest read %q", got)
	}
	x.writeAll(out, []byte("pong"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	x.drop(ioStreamsName, "input-stream", in)
	x.drop(ioStreamsName, "output-stream", out)
	x.drop(tcpName, "tcp-socket", ns)
	x.drop(tcpName, "tcp-socket", sock)
	// Dropping the listener closes the port.
	if c, err := net.DialTimeout("tcp", bound.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after the listener was dropped")
	}
}

// The same over IPv6, where the socket is IPv6-only.
func TestWITListenAcceptIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		peers.Unavailable(t, "no IPv6 loopback: %v", err) // as TestIPv6AndMappedAddresses
	} else {
		ln.Close()
	}
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"[::1]:*"}}))
	sock, bound := x.listenOn(loop6)
	dialHost(t, bound.String())
	if _, _, _, code := x.acceptWait(sock); code >= 0 {
		t.Fatalf("accept: %d", code)
	}
}

// SECURITY.md guarantee 12: IPv6 sockets are IPv6-only, so a guest bound to
// [::] admits no IPv4 client (the policy named no IPv4 address).
func TestWITListenIPv6IsV6Only(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		peers.Unavailable(t, "no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"[::]:*"}}))
	_, bound := x.listenOn(netip.MustParseAddrPort("[::]:0"))
	if c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bound.Port()).String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("an IPv4 client reached a guest bound to [::]:%d", bound.Port())
	}
	c, err := net.DialTimeout("tcp6", netip.AddrPortFrom(netip.MustParseAddr("::1"), bound.Port()).String(), 5*time.Second)
	if err != nil {
		t.Fatalf("an IPv6 client: %v", err)
	}
	c.Close()
}

// Policy.Listen: binding is denied by default (access-denied), outside the
// addresses and ports given, and for port 0 when the port the system picks
// is not given. Nothing is left bound after a denial.
func TestWITBindPolicy(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"*:*"}}))
	if code := x.startBind(x.newSocket(false), loop4); code != int(ecAccessDenied) {
		t.Fatalf("bind without Listen: %d, want access-denied", code)
	}
	free := freePort(t)
	y := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Listen: []string{netip.AddrPortFrom(loop4.Addr(), free).String()}}))
	for _, ap := range []netip.AddrPort{
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), free), // another address
		netip.AddrPortFrom(loop4.Addr(), free+1),                   // another port
		netip.AddrPortFrom(netip.IPv4Unspecified(), free),          // every interface
		loop4, // any port: the system's pick is not free
	} {
		if code := y.startBind(y.newSocket(false), ap); code != int(ecAccessDenied) {
			t.Errorf("bind %s: %d, want access-denied", ap, code)
		}
	}
	sock, bound := y.listenOn(netip.AddrPortFrom(loop4.Addr(), free))
	if bound.Port() != free {
		t.Fatalf("bound %s", bound)
	}
	y.drop(tcpName, "tcp-socket", sock)
	if _, err := compilePolicy(&Policy{Listen: []string{"localhost:8443"}}); err == nil {
		t.Fatal("a name as a listen pattern was accepted")
	}
}

// dialHost connects a host client to addr, closed when the test ends.
func dialHost(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// freePort returns a port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// tcp.wit, start-bind's typical errors: the wrong address family, an
// address that is not unicast and an IPv4-mapped IPv6 address are
// invalid-argument; a bound socket is invalid-state; an address in use is
// address-in-use. finish-bind without start-bind is not-in-progress. A
// failed bind may be retried.
func TestWITBindErrors(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"0.0.0.0/0:*", "[::/0]:*"}}))
	s4, s6 := x.newSocket(false), x.newSocket(true)
	cases := []struct {
		sock uint32
		ap   string
		want errorCode
	}{
		{s4, "[::1]:0", ecInvalidArgument},
		{s6, "127.0.0.1:0", ecInvalidArgument},
		{s4, "224.0.0.1:0", ecInvalidArgument},
		{s4, "255.255.255.255:0", ecInvalidArgument},
		{s6, "[ff02::1]:0", ecInvalidArgument},
		{s6, "[::ffff:127.0.0.1]:0", ecInvalidArgument},
	}
	for _, c := range cases {
		if code := x.startBind(c.sock, netip.MustParseAddrPort(c.ap)); code != int(c.want) {
			t.Errorf("start-bind %s: %d, want %d", c.ap, code, c.want)
		}
	}
	if code := x.sockCall("finish-bind", uint64(s4)); code != int(ecNotInProgress) {
		t.Fatalf("finish-bind without start-bind: %d, want not-in-progress", code)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if code := x.startBind(s4, busy.Addr().(*net.TCPAddr).AddrPort()); code != int(ecAddressInUse) {
		t.Fatalf("start-bind to a port in use: %d, want address-in-use", code)
	}
	// Retried after the failure, with other arguments.
	if code := x.startBind(s4, loop4); code >= 0 {
		t.Fatalf("start-bind after a failed one: %d", code)
	}
	if code := x.startBind(s4, loop4); code != int(ecConcurrencyConflict) {
		t.Fatalf("start-bind while a bind is in progress: %d, want concurrency-conflict", code)
	}
	if code := x.sockCall("finish-bind", uint64(s4)); code >= 0 {
		t.Fatalf("finish-bind: %d", code)
	}
	if code := x.startBind(s4, loop4); code != int(ecInvalidState) {
		t.Fatalf("start-bind on a bound socket: %d, want invalid-state", code)
	}
	if code := x.sockCall("finish-bind", uint64(s4)); code != int(ecNotInProgress) {
		t.Fatalf("finish-bind twice: %d, want not-in-progress", code)
	}
}

// tcp.wit, start-listen: "the socket must already be explicitly bound"
// (invalid-state), invalid-state when connected or already listening;
// finish-listen without start-listen is not-in-progress. accept on a
// socket that does not listen is invalid-state.
func TestWITListenErrors(t *testing.T) {
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, Listen: []string{"127.0.0.1:*"}}))
	unbound := x.newSocket(false)
	if code := x.sockCall("start-listen", uint64(unbound)); code != int(ecInvalidState) {
		t.Fatalf("start-listen unbound: %d, want invalid-state", code)
	}
	if code := x.sockCall("finish-listen", uint64(unbound)); code != int(ecNotInProgress) {
		t.Fatalf("finish-listen without start-listen: %d, want not-in-progress", code)
	}
	if _, _, _, code := x.acceptNow(unbound); code != int(ecInvalidState) {
		t.Fatalf("accept unbound: %d, want invalid-state", code)
	}
	connected, _, _, code := x.connect(echo.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	if code := x.sockCall("start-listen", uint64(connected)); code != int(ecInvalidState) {
		t.Fatalf("start-listen connected: %d, want invalid-state", code)
	}
	if _, _, _, code := x.acceptNow(connected); code != int(ecInvalidState) {
		t.Fatalf("accept connected: %d, want invalid-state", code)
	}
	ln, _ := x.listenOn(loop4)
	if code := x.sockCall("start-listen", uint64(ln)); code != int(ecInvalidState) {
		t.Fatalf("start-listen listening: %d, want invalid-state", code)
	}
	if code := x.sockCall("finish-listen", uint64(ln)); code != int(ecNotInProgress) {
		t.Fatalf("finish-listen listening: %d, want not-in-progress", code)
	}
	// start-connect on a listening socket: invalid-state (tcp.wit).
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	flat := cabi.Flatten(echo.addr, 0, 0)
	if code := x.sockCall("start-connect", append([]uint64{uint64(ln), uint64(netw)}, flat[:]...)...); code != int(ecInvalidState) {
		t.Fatalf("start-connect listening: %d, want invalid-state", code)
	}
	x.call(networkName, witnames.DropNetwork, uint64(netw))
}

// tcp.wit, set-listen-backlog-size: 0 is invalid-argument; any other value
// never causes an error; invalid-state in connect-in-progress or connected.
func TestWITListenBacklog(t *testing.T) {
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, Listen: []string{"127.0.0.1:*"}}))
	s := x.newSocket(false)
	if code := x.sockCall("set-listen-backlog-size", uint64(s), 0); code != int(ecInvalidArgument) {
		t.Fatalf("backlog 0: %d, want invalid-argument", code)
	}
	for _, v := range []uint64{1, 1 << 40} {
		if code := x.sockCall("set-listen-backlog-size", uint64(s), v); code >= 0 {
			t.Fatalf("backlog %d before listening: %d", v, code)
		}
	}
	ln, _ := x.listenOn(loop4)
	if code := x.sockCall("set-listen-backlog-size", uint64(ln), 7); code >= 0 {
		t.Fatalf("backlog on a listening socket: %d", code)
	}
	conn, _, _, code := x.connect(echo.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	if code := x.sockCall("set-listen-backlog-size", uint64(conn), 5); code != int(ecInvalidState) {
		t.Fatalf("backlog connected: %d, want invalid-state", code)
	}
}

// tcp.wit, accept: the accepted socket inherits the listener's
// keep-alive-enabled, hop-limit and the other options; the hop limit
// reaches the accepted connection's socket.
func TestWITAcceptInheritsOptions(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}}))
	sock := x.newSocket(false)
	x.setHopLimit(sock, 9)
	if code := x.sockCall("set-keep-alive-enabled", uint64(sock), 0); code >= 0 {
		t.Fatal(code)
	}
	if code := x.sockCall("set-keep-alive-count", uint64(sock), 3); code >= 0 {
		t.Fatal(code)
	}
	for _, f := range []string{"start-bind", "finish-bind", "start-listen", "finish-listen"} {
		var code int
		if f == "start-bind" {
			code = x.startBind(sock, loop4)
		} else {
			code = x.sockCall(f, uint64(sock))
		}
		if code >= 0 {
			t.Fatalf("%s: %d", f, code)
		}
	}
	dialHost(t, x.localAddress(sock).String())
	ns, _, _, code := x.acceptWait(sock)
	if code >= 0 {
		t.Fatalf("accept: %d", code)
	}
	if ttl := socketTTL(t, x, ns); ttl != 9 {
		t.Fatalf("IP_TTL of the accepted socket = %d, want the listener's 9", ttl)
	}
	b := cabi.BoolCodeArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketKeepAliveEnabled, uint64(ns), retArea)
	if r := x.ret(b.Size); r[0] != 0 || r[b.OK] != 0 {
		t.Fatalf("keep-alive-enabled of the accepted socket: %v, want ok(false)", r[:b.Size])
	}
	u := cabi.U32CodeArea
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketKeepAliveCount, uint64(ns), retArea)
	if r := x.ret(u.Size); r[0] != 0 || cabi.GetU32(r, u.OK) != 3 {
		t.Fatalf("keep-alive-count of the accepted socket: %v, want ok(3)", r[:u.Size])
	}
}

// Accepted connections count against Limits.Connections: with 2, the
// listener and one accepted connection fill it, the next accept is
// new-socket-limit and that client is reset; once the first connection is
// gone, accept works again.
func TestAcceptCountsConnections(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}, Limits: Limits{Connections: 2}}))
	sock, bound := x.listenOn(loop4)
	dialHost(t, bound.String())
	ns, in, out, code := x.acceptWait(sock)
	if code >= 0 {
		t.Fatalf("first accept: %d", code)
	}
	c2 := dialHost(t, bound.String())
	if _, _, _, code := x.acceptWait(sock); code != int(ecNewSocketLimit) {
		t.Fatalf("accept past the limit: %d, want new-socket-limit", code)
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("the refused client read %v, want a reset", err)
	}
	x.drop(ioStreamsName, "input-stream", in)
	x.drop(ioStreamsName, "output-stream", out)
	x.drop(tcpName, "tcp-socket", ns)
	dialHost(t, bound.String())
	if _, _, _, code := x.acceptWait(sock); code >= 0 {
		t.Fatalf("accept after a slot came back: %d", code)
	}
}

// tcp.wit: a socket bound with start-bind may connect instead of listening;
// it connects from the bound address (local-address stays what bind
// gave), and the connect is still decided by Allow.
func TestWITConnectFromBoundAddress(t *testing.T) {
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{echo.addr.String()}, Listen: []string{"127.0.0.1:*"}}))
	sock := x.newSocket(false)
	bound := x.bind(sock, loop4)
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	flat := cabi.Flatten(echo.addr, 0, 0)
	if code := x.sockCall("start-connect", append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)...); code >= 0 {
		t.Fatalf("start-connect: %d", code)
	}
	x.call(networkName, witnames.DropNetwork, uint64(netw))
	p := x.call1(tcpName, witnames.TCPSocketSubscribe, uint64(sock))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.call(ioPollName, witnames.DropPollable, uint64(p))
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketFinishConnect, uint64(sock), retArea)
	a := cabi.FinishArea
	r2 := x.ret(a.Size)
	if r2[0] != 0 {
		t.Fatalf("finish-connect: error-code %d", r2[a.Code])
	}
	if got := x.localAddress(sock); got != bound {
		t.Fatalf("local-address after the connect = %s, want the bound %s", got, bound)
	}
	out := cabi.GetU32(r2, a.OK+4)
	in := cabi.GetU32(r2, a.OK)
	x.writeAll(out, []byte("hi"))
	if got := string(x.readN(in, 2)); got != "hi" {
		t.Fatalf("echo: %q", got)
	}
	// A bound socket connecting where Allow does not reach: access-denied.
	other := x.newSocket(false)
	if code := x.startBind(other, loop4); code >= 0 {
		t.Fatal(code)
	}
	x.sockCall("finish-bind", uint64(other))
	netw = x.call1(instNetName, witnames.InstanceNetwork)
	flat = cabi.Flatten(netip.MustParseAddrPort("127.0.0.1:1"), 0, 0)
	if code := x.sockCall("start-connect", append([]uint64{uint64(other), uint64(netw)}, flat[:]...)...); code != int(ecAccessDenied) {
		t.Fatalf("start-connect outside Allow from a bound socket: %d, want access-denied", code)
	}
	x.call(networkName, witnames.DropNetwork, uint64(netw))
}

// A remote peer opening connections must not make a serving guest trap on
// its handle limit: with Limits.Handles the tighter bound, accept answers
// new-socket-limit (and resets the client) while the guest still has
// handles to serve what it accepted.
func TestAcceptLeavesHandlesToServe(t *testing.T) {
	ctx, r := newRuntime(t)
	const handles = 40
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}, Limits: Limits{Connections: 1000, Handles: handles}}))
	sock, bound := x.listenOn(loop4)
	accepted := 0
	for {
		c := dialHost(t, bound.String())
		_, _, _, code := x.acceptWait(sock)
		if code == int(ecNewSocketLimit) {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the refused client read %v, want a reset", err)
			}
			break
		}
		if code >= 0 {
			t.Fatalf("accept %d: error-code %d", accepted+1, code)
		}
		accepted++
		if accepted > handles {
			t.Fatalf("%d connections accepted under a limit of %d handles", accepted, handles)
		}
	}
	if free := handles - x.g.OpenHandles(); accepted == 0 || free < acceptReserve {
		t.Fatalf("accepted %d, %d handles free after the refusal, want some accepted and at least %d free", accepted, free, acceptReserve)
	}
}
