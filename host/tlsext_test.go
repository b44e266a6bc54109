package host

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

const tlsExtName = "wasitls:tls/connection"

// idsArea is where putIDs lays out a list<list<u8>> argument.
const idsArea = argArea + 512

// putIDs writes ids as a list<list<u8>> at idsArea and returns its (ptr, len).
func (x *tg) putIDs(ids []string) (uint64, uint64) {
	data := idsArea + uint32(8*len(ids))
	pairs := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint32(pairs[8*i:], data)
		binary.LittleEndian.PutUint32(pairs[8*i+4:], uint32(len(id)))
		x.put(data, []byte(id))
		data += uint32(len(id))
	}
	x.put(idsArea, pairs)
	return idsArea, uint64(len(ids))
}

// byteLists reads a list<list<u8>> the host returned.
func (x *tg) byteLists(ptr, n uint32) [][]byte {
	out := make([][]byte, n)
	pairs := x.bytes(ptr, 8*n)
	for i := range out {
		out[i] = x.bytes(cabi.GetU32(pairs, uint32(8*i)), cabi.GetU32(pairs, uint32(8*i+4)))
	}
	return out
}

// setALPN calls set-alpn-ids; it returns the ids the host will offer, or
// the alpn-error code.
func (x *tg) setALPN(hs uint32, ids []string) (offered []string, code int) {
	x.t.Helper()
	ptr, n := x.putIDs(ids)
	x.clearRet()
	x.call(tlsExtName, witnames.SetALPNIDs, uint64(hs), ptr, n, retArea)
	a := cabi.ALPNIDsArea
	r := x.ret(a.Size)
	if r[0] != 0 {
		return nil, int(r[a.Code])
	}
	offered = []string{}
	for _, b := range x.byteLists(cabi.GetU32(r, a.OK), cabi.GetU32(r, a.OK+4)) {
		offered = append(offered, string(b))
	}
	return offered, -1
}

// facts reads every accessor of the extension for conn.
type facts struct {
	alpn     string
	hasALPN  bool
	version  uint16
	cipher   uint16
	group    uint16
	hasGroup bool
	resumed  bool
	chain    [][]byte
}

func (x *tg) facts(conn uint32) facts {
	x.t.Helper()
	var f facts
	x.clearRet()
	x.call(tlsExtName, witnames.NegotiatedProtocol, uint64(conn), retArea)
	pa := cabi.OptionBytesArea
	if r := x.ret(pa.Size); r[pa.Tag] == 1 {
		f.hasALPN = true
		f.alpn = string(x.bytes(cabi.GetU32(r, pa.Some), cabi.GetU32(r, pa.Some+4)))
	}
	f.version = uint16(x.call1(tlsExtName, witnames.ProtocolVersion, uint64(conn)))
	f.cipher = uint16(x.call1(tlsExtName, witnames.CipherSuite, uint64(conn)))
	x.clearRet()
	x.call(tlsExtName, witnames.KeyExchangeGroup, uint64(conn), retArea)
	ga := cabi.GroupArea
	if r := x.ret(ga.Size); r[ga.Tag] == 1 {
		f.hasGroup = true
		f.group = cabi.GetU16(r, ga.Some)
	}
	f.resumed = x.call1(tlsExtName, "resumed", uint64(conn)) == 1
	x.clearRet()
	x.call(tlsExtName, witnames.PeerCertificates, uint64(conn), retArea)
	r := x.ret(8)
	f.chain = x.byteLists(cabi.GetU32(r, 0), cabi.GetU32(r, 4))
	return f
}

// offeredALPN records the ALPN lists the server's clients offered.
type offeredALPN struct {
	mu   chan struct{}
	seen [][]string
}

// recordOffers makes cfg record each ClientHello's ALPN list in o.
func recordOffers(cfg *tls.Config) *offeredALPN {
	o := &offeredALPN{mu: make(chan struct{}, 1)}
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		o.mu <- struct{}{}
		o.seen = append(o.seen, slices.Clone(h.SupportedProtos))
		<-o.mu
		return nil, nil
	}
	return o
}

func (o *offeredALPN) last() []string {
	o.mu <- struct{}{}
	defer func() { <-o.mu }()
	if len(o.seen) == 0 {
		return nil
	}
	return o.seen[len(o.seen)-1]
}

// alpnServer starts a crypto/tls echo server with cert offering protos, recording the
// ALPN lists its clients offer.
func alpnServer(t *testing.T, cert *pki.Cert, protos ...string) (*echoServer, *offeredALPN) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, NextProtos: protos}
	offers := recordOffers(cfg)
	return startEcho(t, cfg, "tcp", "127.0.0.1:0"), offers
}

// mustConnect is connect failing the test on an error code.
func (x *tg) mustConnect(dest netip.AddrPort) (sock, in, out uint32) {
	x.t.Helper()
	sock, in, out, code := x.connect(dest)
	if code >= 0 {
		x.t.Fatalf("connect: error-code %d", code)
	}
	return sock, in, out
}

// A raw guest reads, through wit/ext, exactly what the server negotiated:
// version, cipher suite, group, ALPN, resumption and the chain it sent.
func TestConnectionFactsMatchWhatTheServerSaw(t *testing.T) {
	p := pki.New(t)
	cert := p.Server()
	srv, _ := alpnServer(t, cert, "h2", "http/1.1")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))

	for i, wantResumed := range []bool{false, true} {
		sock, in, out := x.mustConnect(srv.addr)
		conn, tin, tout, errStr := x.handshake("localhost", in, out, func(hs uint32) {
			if got, code := x.setALPN(hs, []string{"h2", "http/1.1"}); code >= 0 || !slices.Equal(got, []string{"h2", "http/1.1"}) {
				t.Fatalf("set-alpn-ids = %q, error %d; want both offered (no policy rule)", got, code)
			}
		})
		if errStr != "" {
			t.Fatalf("handshake: %s", errStr)
		}
		// A line echoed: the server's session ticket has arrived.
		x.writeAll(tout, []byte("ping\n"))
		x.readN(tin, 5)
		f := x.facts(conn)
		srv.mu.Lock()
		st := srv.states[i]
		srv.mu.Unlock()
		if !f.hasALPN || f.alpn != st.NegotiatedProtocol || f.alpn != "h2" {
			t.Errorf("negotiated-protocol %q (some=%v), server chose %q", f.alpn, f.hasALPN, st.NegotiatedProtocol)
		}
		if f.version != st.Version || f.cipher != st.CipherSuite {
			t.Errorf("version %#x cipher %#x, server %#x %#x", f.version, f.cipher, st.Version, st.CipherSuite)
		}
		if wantResumed {
			// TLS 1.3 resumption with a key share: the group is still negotiated.
			if f.hasGroup && f.group != uint16(st.CurveID) {
				t.Errorf("group %#x, server %#x", f.group, uint16(st.CurveID))
			}
		} else if !f.hasGroup || f.group != uint16(st.CurveID) || st.CurveID == 0 {
			t.Errorf("key-exchange-group %#x (some=%v), server %#x", f.group, f.hasGroup, uint16(st.CurveID))
		}
		if f.resumed != st.DidResume || f.resumed != wantResumed {
			t.Errorf("connection %d: resumed %v, server %v, want %v", i, f.resumed, st.DidResume, wantResumed)
		}
		sent := cert.TLS.Certificate
		if len(f.chain) != len(sent) || len(sent) == 0 {
			t.Fatalf("peer-certificates: %d certificates, server sent %d", len(f.chain), len(sent))
		}
		for j := range sent {
			if !bytes.Equal(f.chain[j], sent[j]) {
				t.Errorf("certificate %d differs from what the server sent", j)
			}
		}
		x.closeTLS(sock, conn, tin, tout)
	}
}

// alpnCase connects x to srv, asks for ask before finish (nil: the guest
// does not call set-alpn-ids) and checks what set-alpn-ids returned, what
// the server was offered and what the guest reads as negotiated.
func (x *tg) alpnCase(srv *echoServer, offers *offeredALPN, ask, wantSet, wantOffer []string, wantNeg string) {
	t := x.t
	t.Helper()
	sock, in, out := x.mustConnect(srv.addr)
	var before []func(uint32)
	if ask != nil {
		before = append(before, func(hs uint32) {
			got, code := x.setALPN(hs, ask)
			if code >= 0 || !slices.Equal(got, wantSet) && len(got)+len(wantSet) > 0 {
				t.Errorf("set-alpn-ids(%q) = %q, error %d; want %q", ask, got, code, wantSet)
			}
		})
	}
	conn, tin, tout, errStr := x.handshake("localhost", in, out, before...)
	if errStr != "" {
		t.Fatalf("handshake: %s", errStr)
	}
	if seen := offers.last(); !slices.Equal(seen, wantOffer) && len(seen)+len(wantOffer) > 0 {
		t.Errorf("the server was offered %q, want %q", seen, wantOffer)
	}
	if f := x.facts(conn); f.alpn != wantNeg || f.hasALPN != (wantNeg != "") {
		t.Errorf("negotiated-protocol %q (some=%v), want %q", f.alpn, f.hasALPN, wantNeg)
	}
	x.closeTLS(sock, conn, tin, tout)
}

// The ids a guest asks for are offered as the policy allows them: the
// intersection with the destination's ALPN rule, in the guest's order; all
// of them without a rule; none (no extension) when nothing is left. A
// guest that never calls set-alpn-ids gets the rule's list, as before the
// extension existed, and can still read what was negotiated.
func TestSetALPNIDsOffersThePolicyIntersection(t *testing.T) {
	p := pki.New(t)
	srv, offers := alpnServer(t, p.Server(), "h2", "http/1.1")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	h1 := []string{"http/1.1"}
	for _, c := range []struct {
		name       string
		rules      []ALPNRule
		ask, offer []string
		negotiated string
	}{
		{"no rule: offered as asked", nil, []string{"h2", "http/1.1"}, []string{"h2", "http/1.1"}, "h2"},
		{"rule http/1.1: h2 left out", []ALPNRule{{Dest: "localhost:*", Protocols: []string{"http/1.1", "x-other"}}}, []string{"h2", "http/1.1"}, h1, "http/1.1"},
		{"rule for another host: offered as asked", []ALPNRule{{Dest: "elsewhere:*", Protocols: h1}}, []string{"h2"}, []string{"h2"}, "h2"},
		{"nothing allowed: no ALPN", []ALPNRule{{Dest: "*:*", Protocols: []string{"x-other"}}}, []string{"h2"}, []string{}, ""},
		{"guest asks for nothing: no ALPN despite the rule", []ALPNRule{{Dest: "*:*", Protocols: []string{"h2"}}}, []string{}, []string{}, ""},
		{"guest never asks: the rule's list", []ALPNRule{{Dest: "*:*", Protocols: h1}}, nil, h1, "http/1.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, ALPN: c.rules}))
			x.alpnCase(srv, offers, c.ask, c.offer, c.offer, c.negotiated)
		})
	}
}

// Bad ids are an alpn-error, and leave the handshake as it was; bad
// pointers and handles trap.
func TestSetALPNIDsRefusesBadIDsAndTrapsOnBadInput(t *testing.T) {
	p := pki.New(t)
	srv, offers := alpnServer(t, p.Server(), "h2", "http/1.1")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
	sock, in, out := x.mustConnect(srv.addr)
	many := make([]string, maxALPNIDs+1)
	for i := range many {
		many[i] = "p"
	}
	conn, tin, tout, errStr := x.handshake("localhost", in, out, func(hs uint32) {
		for _, c := range []struct {
			ids  []string
			want int
		}{
			{[]string{"h2", ""}, alpnInvalidID},
			{[]string{strings.Repeat("x", 256)}, alpnInvalidID},
			{many, alpnTooManyIDs},
		} {
			if got, code := x.setALPN(hs, c.ids); code != c.want {
				t.Errorf("set-alpn-ids(%d ids) = %q, error %d; want error %d", len(c.ids), got, code, c.want)
			}
		}
		x.wantTrap([]string{"out of bounds"}, tlsExtName, witnames.SetALPNIDs, uint64(hs), 0xfffffff0, 4, retArea)
		// An element pointing outside memory traps too.
		x.put(idsArea, []byte{0xf0, 0xff, 0xff, 0xff, 4, 0, 0, 0})
		x.wantTrap([]string{"out of bounds"}, tlsExtName, witnames.SetALPNIDs, uint64(hs), idsArea, 1, retArea)
		x.wantTrap([]string{"out of bounds"}, tlsExtName, witnames.SetALPNIDs, uint64(hs), idsArea, 0, 0xfffffff0)
		x.wantTrap([]string{"handle"}, tlsExtName, witnames.SetALPNIDs, uint64(hs)+1000, idsArea, 0, retArea)
	})
	if errStr != "" {
		t.Fatalf("handshake: %s", errStr)
	}
	if seen := offers.last(); len(seen) != 0 {
		t.Errorf("refused lists changed the offer: %q", seen)
	}
	// The accessors trap on anything but a live client-connection.
	for _, fn := range []string{"negotiated-protocol", witnames.KeyExchangeGroup, "peer-certificates"} {
		x.wantTrap([]string{"handle"}, tlsExtName, fn, uint64(tin), retArea)
		x.wantTrap([]string{"out of bounds"}, tlsExtName, fn, uint64(conn), 0xfffffff0)
	}
	for _, fn := range []string{"protocol-version", witnames.CipherSuite, "resumed"} {
		x.wantTrap([]string{"handle"}, tlsExtName, fn, uint64(sock))
	}
	x.closeTLS(sock, conn, tin, tout)
	x.wantTrap([]string{"handle"}, tlsExtName, witnames.ProtocolVersion, uint64(conn))
}
