package host

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// echoServer is a crypto/tls server on loopback that echoes lines and
// records what it saw.
type echoServer struct {
	ln    net.Listener
	addr  netip.AddrPort
	wg    sync.WaitGroup
	conns sync.WaitGroup // connection handlers

	mu        sync.Mutex
	states    []tls.ConnectionState
	sawEOF    int // connections that ended with close_notify
	peerNames []string
}

func startEcho(t *testing.T, cfg *tls.Config, network, laddr string) *echoServer {
	t.Helper()
	ln, err := net.Listen(network, laddr)
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			s.conns.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.conns.Done()
				defer c.Close()
				if cfg == nil { // plain TCP echo
					_, _ = io.Copy(c, c)
					return
				}
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					return
				}
				st := tc.ConnectionState()
				s.mu.Lock()
				s.states = append(s.states, st)
				if len(st.PeerCertificates) > 0 {
					s.peerNames = append(s.peerNames, st.PeerCertificates[0].Subject.CommonName)
				}
				s.mu.Unlock()
				r := bufio.NewReader(tc)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						if errors.Is(err, io.EOF) {
							s.mu.Lock()
							s.sawEOF++
							s.mu.Unlock()
							_ = tc.CloseWrite()
						}
						return
					}
					if _, err := tc.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// serveConns accepts connections on ln until the test ends and runs
// handle for each on its own goroutine, closing the connection after it;
// the test's cleanup closes ln and waits for them.
func serveConns(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// connect opens a TCP connection through wasi:sockets and returns the
// socket and its streams.
func (x *tg) connect(dest netip.AddrPort) (sock, in, out uint32, code int) {
	x.t.Helper()
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	fam := uint64(0)
	if dest.Addr().Is6() {
		fam = 1
	}
	x.clearRet()
	x.call(tcpCreateName, witnames.CreateTCPSocket, fam, retArea)
	h := cabi.HandleArea
	r := x.ret(h.Size)
	if r[h.Tag] != 0 {
		return 0, 0, 0, int(r[h.Code])
	}
	sock = cabi.GetU32(r, h.OK)
	flat := cabi.Flatten(dest, 0, 0)
	args := append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)
	args = append(args, retArea)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketStartConnect, args...)
	x.call(networkName, witnames.DropNetwork, uint64(netw))
	if u := cabi.UnitCodeArea; x.ret(u.Size)[u.Tag] != 0 {
		return sock, 0, 0, int(x.ret(u.Size)[u.Code])
	}
	p := x.call1(tcpName, witnames.TCPSocketSubscribe, uint64(sock))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.call(ioPollName, witnames.DropPollable, uint64(p))
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketFinishConnect, uint64(sock), retArea)
	f := cabi.FinishArea
	r = x.ret(f.Size)
	if r[f.Tag] != 0 {
		return sock, 0, 0, int(r[f.Code])
	}
	return sock, cabi.GetU32(r, cabi.FinishInput), cabi.GetU32(r, cabi.FinishOutput), -1
}

// openTLS connects to dest and runs a handshake for localhost over the
// socket's streams, failing the test on any error; it returns the socket,
// the connection and its streams.
func (x *tg) openTLS(dest netip.AddrPort) (sock, conn, tin, tout uint32) {
	x.t.Helper()
	sock, in, out, code := x.connect(dest)
	if code >= 0 {
		x.t.Fatalf("connect: error-code %d", code)
	}
	conn, tin, tout, errStr := x.handshake("localhost", in, out)
	if errStr != "" {
		x.t.Fatalf("handshake: %s", errStr)
	}
	return sock, conn, tin, tout
}

// closeTLS drops a TLS connection, its streams and its socket.
func (x *tg) closeTLS(sock, conn, tin, tout uint32) {
	x.t.Helper()
	x.drop(ioStreamsName, "input-stream", tin)
	x.drop(ioStreamsName, "output-stream", tout)
	x.drop(tlsName, "client-connection", conn)
	x.drop(tcpName, "tcp-socket", sock)
}

// handshake runs wasi-tls over the streams. It returns the connection and
// its streams, or the io-error's debug string. Each of before is called
// with the client-handshake handle ahead of finish (set-alpn-ids).
func (x *tg) handshake(name string, in, out uint32, before ...func(hs uint32)) (conn, tin, tout uint32, errStr string) {
	x.t.Helper()
	x.put(argArea, []byte(name))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, uint64(len(name)), uint64(in), uint64(out))
	for _, f := range before {
		f(hs)
	}
	fut := x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	return x.awaitFuture(tlsName, "future-client-streams", fut)
}

// awaitFuture blocks on a handshake future (of ifaceName's resource res),
// takes its outcome, checks that a second get says it was taken, and drops
// it: the connection and its streams, or the io-error's debug string.
func (x *tg) awaitFuture(ifaceName, res string, fut uint32) (conn, tin, tout uint32, errStr string) {
	x.t.Helper()
	p := x.call1(ifaceName, "[method]"+res+".subscribe", uint64(fut))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.call(ioPollName, witnames.DropPollable, uint64(p))
	a := cabi.FutureGet
	x.clearRet()
	x.call(ifaceName, "[method]"+res+".get", uint64(fut), retArea)
	r := append([]byte(nil), x.ret(a.Size)...)
	if r[a.OptionTag] != 1 || r[a.OuterTag] != 0 {
		x.t.Fatalf("get after ready: %v", r)
	}
	// A second get: the result was taken.
	x.clearRet()
	x.call(ifaceName, "[method]"+res+".get", uint64(fut), retArea)
	if r2 := x.ret(a.Size); r2[a.OptionTag] != 1 || r2[a.OuterTag] != 1 {
		x.t.Fatalf("second get: %v, want some(err)", r2)
	}
	x.call(ifaceName, "[resource-drop]"+res, uint64(fut))
	if r[a.InnerTag] == 1 {
		e := cabi.GetU32(r, a.Error)
		s := x.debugString(e)
		x.call(ioErrorName, witnames.DropError, uint64(e))
		return 0, 0, 0, s
	}
	return cabi.GetU32(r, a.Conn), cabi.GetU32(r, a.Input), cabi.GetU32(r, a.Output), ""
}

func (x *tg) debugString(e uint32) string {
	x.clearRet()
	x.call(ioErrorName, witnames.ErrorToDebugString, uint64(e), retArea)
	l := cabi.ListPair
	r := x.ret(l.Size)
	return string(x.bytes(cabi.GetU32(r, l.Ptr), cabi.GetU32(r, l.Len)))
}

// writeAll writes with blocking-write-and-flush.
func (x *tg) writeAll(out uint32, data []byte) {
	x.t.Helper()
	x.put(argArea, data)
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamBlockingWriteAndFlush, uint64(out), argArea, uint64(len(data)), retArea)
	if a := cabi.UnitArea; x.ret(a.Size)[a.Tag] != 0 {
		x.t.Fatalf("blocking-write-and-flush failed: %v", x.ret(a.Size))
	}
}

// readSome does one blocking-read; closed reports the end of the stream.
func (x *tg) readSome(in uint32, n uint64) (data []byte, closed bool) {
	x.t.Helper()
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamBlockingRead, uint64(in), n, retArea)
	a, l := cabi.ReadArea, cabi.ListPair
	r := x.ret(a.Size)
	if r[a.Tag] != 0 {
		if r[a.ErrTag] == 1 {
			return nil, true
		}
		e := cabi.GetU32(r, a.ErrHandle)
		x.t.Fatalf("read failed: %s", x.debugString(e))
	}
	return x.bytes(cabi.GetU32(r, a.OK+l.Ptr), cabi.GetU32(r, a.OK+l.Len)), false
}

func (x *tg) readN(in uint32, n int) []byte {
	x.t.Helper()
	var out []byte
	for len(out) < n {
		b, closed := x.readSome(in, uint64(n-len(out)))
		if closed {
			x.t.Fatalf("stream closed after %d of %d bytes", len(out), n)
		}
		out = append(out, b...)
	}
	return out
}

func (x *tg) drop(ifaceName, res string, h uint32) {
	x.t.Helper()
	x.call(ifaceName, "[resource-drop]"+res, uint64(h))
}

func TestTLSEcho(t *testing.T) {
	fds := countFDs(t)
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, NextProtos: []string{"x-echo"}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	var events []ConnEvent
	var evMu sync.Mutex
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.3", WithPolicy(&Policy{
		Allow:   []string{"127.0.0.1:*"},
		RootCAs: p.Roots,
		ALPN:    []ALPNRule{{Dest: "localhost:*", Protocols: []string{"x-echo"}}},
	}), WithObserver(func(e ConnEvent) { evMu.Lock(); events = append(events, e); evMu.Unlock() }))

	sock, in, out, code := x.connect(srv.addr)
	if code >= 0 {
		t.Fatalf("connect: error-code %d", code)
	}
	conn, tin, tout, errStr := x.handshake("localhost", in, out)
	if errStr != "" {
		t.Fatalf("handshake: %s", errStr)
	}
	// The streams were moved into the handshake.
	x.wantTrap([]string{"moved into a client-handshake"}, ioStreamsName, witnames.DropInputStream, uint64(in))

	msg := []byte("hello, wasi-tls\n")
	x.writeAll(tout, msg)
	if got := x.readN(tin, len(msg)); string(got) != string(msg) {
		t.Fatalf("echo: %q", got)
	}
	// Dropping the connection before its streams traps.
	x.wantTrap([]string{"still has 2 child"}, tlsName, witnames.DropClientConnection, uint64(conn))

	x.call(tlsName, witnames.ClientConnectionCloseOutput, uint64(conn))
	if _, closed := x.readSome(tin, 100); !closed {
		t.Fatal("want the end of the stream after close_notify both ways")
	}
	x.closeTLS(sock, conn, tin, tout)
	if n := x.g.OpenHandles(); n != 0 {
		t.Fatalf("%d handles open after dropping everything", n)
	}
	srv.mu.Lock()
	if len(srv.states) != 1 || srv.states[0].NegotiatedProtocol != "x-echo" || srv.sawEOF != 1 {
		t.Errorf("server saw states=%d alpn=%q close_notify=%d", len(srv.states), srv.states[0].NegotiatedProtocol, srv.sawEOF)
	}
	srv.mu.Unlock()

	_ = x.g.Close(ctx) // the connection's close may still be draining until here
	srv.conns.Wait()
	evMu.Lock()
	var phases []string
	for _, e := range events {
		phases = append(phases, e.Phase.String())
		if e.Phase == PhaseHandshake && (e.State.Version != tls.VersionTLS13 || e.State.NegotiatedProtocol != "x-echo" || e.Backend != "stdtls") {
			t.Errorf("handshake event: %v", e)
		}
	}
	evMu.Unlock()
	if strings.Join(phases, ",") != "connect,handshake,close" {
		t.Errorf("events: %v", phases)
	}

	if got := countFDs(t); got > fds+1 { // the listener is still open
		t.Errorf("fds: %d before, %d after", fds, got)
	}
}

func TestTLSHandshakeErrors(t *testing.T) {
	p := pki.New(t)
	other := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	cases := []struct {
		name  string
		roots *pki.PKI
		sni   string
		want  api.Kind
	}{
		{"wrong name", p, "wrong.example", api.KindNameMismatch},
		{"unknown authority", other, "localhost", api.KindUnknownAuthority},
		{"invalid server name", p, "bad name", api.KindInvalidConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTG(t, ctx, h, "0.2.0", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: tc.roots.Roots}))
			sock, in, out, code := x.connect(srv.addr)
			if code >= 0 {
				t.Fatalf("connect: %d", code)
			}
			_, _, _, errStr := x.handshake(tc.sni, in, out)
			if !strings.HasPrefix(errStr, "tls: "+tc.want.String()) {
				t.Fatalf("io-error %q, want prefix %q", errStr, "tls: "+tc.want.String())
			}
			x.drop(tcpName, "tcp-socket", sock)
			if n := x.g.OpenHandles(); n != 0 {
				t.Fatalf("%d handles open", n)
			}
		})
	}
}

// TestVerificationErrorsKeepTrustAnchorsFromGuest: the guest learns why
// verification failed, not the names of the host's trust anchors. Every
// pki root is called "wasitls test root", so a server chain from another
// PKI makes crypto/x509 name the guest's trusted root as the candidate
// that failed; the observer (the embedder) still gets the whole error.
func TestVerificationErrorsKeepTrustAnchorsFromGuest(t *testing.T) {
	p := pki.New(t)
	trusted := pki.New(t)
	expired := p.Issue(pki.Leaf{CommonName: "localhost", DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	for _, tc := range []struct {
		name   string
		cert   tls.Certificate
		roots  *pki.PKI
		sni    string
		guest  string // the whole debug string the guest reads
		hidden string // in the observer's error, not in the guest's
	}{
		{"unknown authority", p.Server().TLS, trusted, "localhost",
			"tls: unknown authority [stdtls]: x509: certificate signed by unknown authority", `candidate authority certificate "wasitls test root"`},
		{"expired", expired.TLS, p, "localhost",
			"tls: certificate expired [stdtls]: x509: certificate has expired or is not yet valid", "current time"},
		{"name mismatch", p.Server().TLS, p, "wrong.example",
			"tls: name mismatch [stdtls]: x509: certificate is valid for localhost, not wrong.example", "failed to verify certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}}, "tcp4", "127.0.0.1:0")
			var mu sync.Mutex
			var observed string
			x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: tc.roots.Roots}),
				WithObserver(func(e ConnEvent) {
					if e.Phase == PhaseHandshake && e.Err != nil {
						mu.Lock()
						observed = e.Err.Error()
						mu.Unlock()
					}
				}))
			_, in, out, _ := x.connect(srv.addr)
			_, _, _, errStr := x.handshake(tc.sni, in, out)
			if errStr != tc.guest {
				t.Errorf("guest read %q\nwant        %q", errStr, tc.guest)
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(observed, tc.hidden) {
				t.Errorf("observer got %q, want the whole error (with %q)", observed, tc.hidden)
			}
		})
	}
}
