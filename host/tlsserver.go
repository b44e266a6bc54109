package host

import (
	"context"
	"fmt"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// ServerTLSModule is the import module of wasitls's server-side TLS
// extension (wit/ext/server.wit): the server counterpart of wasi:tls/types
// 0.2.0-draft, which is client-only. The guest hands over the two streams
// of a connection it accepted; the host runs the handshake with the
// certificate its policy chooses for the client's server name
// (Policy.Serve) and returns plaintext streams.
const ServerTLSModule = "wasitls:tls/server@0.1.0"

var tlsServer = register(&iface{name: witnames.WasitlsTLSServer, exact: ServerTLSModule, fns: []fnDef{
	def(witnames.NewServerHandshake, newServerHandshake, p(i32, i32), i32),
	def(witnames.ServerHandshakeFinish, finishServerHandshake, p(i32), i32),
	def(witnames.ServerConnectionServerName, serverName, p(i32, i32)),
	def(witnames.ServerConnectionALPNID, alpnID, p(i32, i32)),
	def(witnames.ServerConnectionClientCertificateChain, clientChain, p(i32, i32)),
	def(witnames.ServerConnectionCloseOutput, func(c *call, s []uint64) { closeOutputOf(c, s, rServerConnection) }, p(i32)),
	def(witnames.FutureServerStreamsSubscribe, func(c *call, s []uint64) {
		h := wapi.DecodeU32(s[0])
		f := c.get(h, rServerFuture).(*future)
		s[0] = uint64(c.subscribe(f, h))
	}, p(i32), i32),
	def(witnames.FutureServerStreamsGet, func(c *call, s []uint64) { getFuture(c, s, rServerFuture, rServerConnection) }, p(i32, i32)),
	def(witnames.DropServerHandshake, dropOf(rServerHandshake), p(i32)),
	def(witnames.DropServerConnection, dropOf(rServerConnection), p(i32)),
	def(witnames.DropFutureServerStreams, dropOf(rServerFuture), p(i32)),
}})

// newServerHandshake: (own<input-stream>, own<output-stream>) ->
// own<server-handshake>. The streams leave the guest's table, as for
// client-handshake.
func newServerHandshake(c *call, stack []uint64) {
	in, out := c.takeStreams(wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1]), "moved into a server-handshake")
	stack[0] = uint64(c.push(rServerHandshake, &handshake{in: in, out: out}, 0))
}

// finishServerHandshake: (own<server-handshake>) -> own<future-server-streams>.
// Without Policy.Serve the future holds an io-error ("tls: policy
// denied").
func finishServerHandshake(c *call, stack []uint64) {
	hs, f, ctx := c.finish(stack, rServerHandshake, rServerFuture)
	g := c.g

	transport, addr, _, release := g.transport(hs)
	sp, ok := g.pol.serverProvider(g.s.provider)
	name := g.s.provider.Name()
	if ok {
		name = sp.Name()
	}
	deny := func(err error) {
		release()
		err = &api.Error{Kind: api.KindPolicyDenied, Backend: name, Err: err}
		g.observe(ConnEvent{Phase: PhaseHandshake, Addr: addr, Backend: name, Server: true, Err: err})
		f.complete(nil, err)
	}
	switch {
	case g.pol.Serve == nil:
		deny(fmt.Errorf("the guest may not serve TLS (no server certificates)"))
		return
	case !ok:
		deny(fmt.Errorf("backend %s has no server side", name))
		return
	}
	// Not counted against Limits.Handshakes: a server handshake waits for
	// a client, which may send nothing until the handshake timeout, so
	// idle clients would starve every other one. Each holds an accepted
	// connection, so Limits.Connections bounds them.
	cfg := g.pol.serverConfig()
	direct := api.CapabilitiesOf(sp).HonorsContext
	run := func() {
		start := time.Now()
		conn, err := g.runProvider(ctx, transport, cfg.Timeout(), name, direct, func(ctx context.Context) (api.Conn, error) {
			return sp.Server(ctx, transport, cfg)
		})
		f.cancel() // the handshake is over: its context goes
		ev := ConnEvent{Phase: PhaseHandshake, Addr: addr, Backend: name, Duration: time.Since(start), Err: err, Server: true}
		if err != nil {
			release()
			g.observe(ev)
			f.complete(nil, err)
			return
		}
		st := safeState(conn)
		ev.ServerName, ev.State = st.ServerName, st
		g.observe(ev)
		f.complete(&tlsConn{g: g, conn: conn, release: release, addr: addr, name: st.ServerName, backend: name, start: start, state: &st, queued: socketQueued(transport)}, nil)
	}
	g.startHandshake(f, direct, run, release)
}

// serverName: (self, retptr) -> option<string>: the server name the
// client sent (SNI), none if it sent none.
//
//	+0 option tag | +4 ptr | +8 len
func serverName(c *call, stack []uint64) {
	t := c.get(wapi.DecodeU32(stack[0]), rServerConnection).(*tlsConn)
	putOptionBytes(c, wapi.DecodeU32(stack[1]), []byte(t.state.ServerName))
}

// alpnID: (self, retptr) -> option<list<u8>>: the negotiated ALPN
// protocol, none if none was.
//
//	+0 option tag | +4 ptr | +8 len
func alpnID(c *call, stack []uint64) {
	t := c.get(wapi.DecodeU32(stack[0]), rServerConnection).(*tlsConn)
	putOptionBytes(c, wapi.DecodeU32(stack[1]), []byte(t.state.NegotiatedProtocol))
}

// putOptionBytes writes option<list<u8>> (or option<string>): none for
// empty b.
func putOptionBytes(c *call, ret uint32, b []byte) {
	a := cabi.OptionBytesArea
	c.Area(ret, a.Size, a.Align)
	if len(b) == 0 {
		c.Area(ret, a.Size, a.Align)[a.Tag] = 0
		return
	}
	ptr, n := c.PutBytes(b)
	v := c.Area(ret, a.Size, a.Align)
	v[a.Tag] = 1
	cabi.PutU32(v, a.Some+cabi.ListPair.Ptr, ptr)
	cabi.PutU32(v, a.Some+cabi.ListPair.Len, n)
}

// clientChain: (self, retptr) -> list<list<u8>>: the client's certificate
// chain as it sent it (DER, leaf first; verified against
// Policy.Serve.ClientCAs when those are set), empty without one.
//
//	+0 ptr | +4 len, each element (ptr, len) of one certificate
func clientChain(c *call, stack []uint64) {
	t := c.get(wapi.DecodeU32(stack[0]), rServerConnection).(*tlsConn)
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, cabi.CertChain.Size(), cabi.CertChain.Align())
	words := make([]uint32, 0, 2*len(t.state.PeerCertificates))
	for _, cert := range t.state.PeerCertificates {
		p, n := c.PutBytes(cert.Raw)
		words = append(words, p, n)
	}
	putList(c, ret, cabi.CertChain.Case(0), words)
}
