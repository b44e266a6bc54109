package host

import (
	"sync"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// TLSExtModule is the project's extension to wasi:tls (wit/ext/connection.wit):
// ALPN for a handshake, and the facts of an established connection. The
// functions take the handles of wasi:tls/types; a guest that does not
// import the module is served exactly as one that predates it.
const TLSExtModule = "wasitls:tls/connection@0.1.0"

// alpn-error cases.
const (
	alpnInvalidID  = 0
	alpnTooManyIDs = 1
)

var tlsExt = register(&iface{name: witnames.WasitlsTLSConnection, exact: TLSExtModule, fns: []fnDef{
	def(witnames.SetALPNIDs, setALPNIDs, p(i32, i32, i32, i32)),
	def(witnames.NegotiatedProtocol, negotiatedProtocol, p(i32, i32)),
	def(witnames.ProtocolVersion, func(c *call, s []uint64) { s[0] = uint64(c.connState(s[0]).Version) }, p(i32), i32),
	def(witnames.CipherSuite, func(c *call, s []uint64) { s[0] = uint64(c.connState(s[0]).CipherSuite) }, p(i32), i32),
	def(witnames.KeyExchangeGroup, keyExchangeGroup, p(i32, i32)),
	def(witnames.Resumed, func(c *call, s []uint64) {
		resumed := c.connState(s[0]).DidResume
		s[0] = 0
		if resumed {
			s[0] = 1
		}
	}, p(i32), i32),
	def(witnames.PeerCertificates, peerCertificates, p(i32, i32)),
}})

// setALPNIDs: (borrow<client-handshake>, ids_ptr, ids_len, retptr) ->
// result<list<list<u8>>, alpn-error>. Records, for finish, the ids the
// policy allows of those asked for (guestALPN) and returns what the
// backend will offer: those ids, or a list the embedder pinned.
//
//	ids:    ids_ptr -> [ptr,len][ptr,len]... (ids_len pairs, 8 bytes each)
//	retptr: +0 tag | ok: +4 ptr, +8 len of list<list<u8>> | err: +4 alpn-error
func setALPNIDs(c *call, stack []uint64) {
	hs := c.get(wapi.DecodeU32(stack[0]), rHandshake).(*handshake)
	ptr, n, ret := wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2]), wapi.DecodeU32(stack[3])
	a := cabi.ALPNIDsArea
	c.Area(ret, a.Size, a.Align)
	// A list out of bounds traps, however long; a long one in bounds is
	// refused before the host allocates anything for it.
	c.ListBounds(ptr, n, cabi.ListBytes.Elems[0].Size())
	if n > maxALPNIDs {
		b := c.Area(ret, a.Size, a.Align)
		b[a.Tag], b[a.Code] = 1, alpnTooManyIDs
		return
	}
	lists, tooLong := c.ByteLists(ptr, n, maxALPNIDLen)
	code := -1
	if tooLong >= 0 {
		code = alpnInvalidID
	}
	asked := make([]string, 0, len(lists))
	for _, l := range lists {
		if len(l) == 0 {
			code = alpnInvalidID
		}
		asked = append(asked, string(l))
	}
	if code >= 0 {
		b := c.Area(ret, a.Size, a.Align)
		b[a.Tag] = 1
		b[a.Code] = byte(code)
		return
	}
	hs.alpn = c.g.pol.guestALPN(hs.name, hs.port(), asked)
	hs.alpnSet = true
	// What the backend will really offer: the list, unless the embedder
	// pinned a browser's own (api.ALPNReporter).
	cfg := c.g.pol.baseConfig()
	cfg.ServerName, cfg.NextProtos = hs.name, hs.alpn
	offered := api.OfferedALPN(c.g.s.provider, cfg)
	out := make([][]byte, len(offered))
	for i, s := range offered {
		out[i] = []byte(s)
	}
	lp, ln := c.PutByteLists(out)
	b := okArea(c, a, ret)
	cabi.PutU32(b, a.OK+cabi.ListPair.Ptr, lp)
	cabi.PutU32(b, a.OK+cabi.ListPair.Len, ln)
}

// connFacts is what a connection negotiated, read from the backend once
// (it does not change).
type connFacts struct {
	once sync.Once
	st   api.ConnectionState
}

// connState returns the state of the client-connection borrowed as h.
func (c *call) connState(h uint64) *api.ConnectionState {
	t := c.get(wapi.DecodeU32(h), rConnection).(*tlsConn)
	t.facts.once.Do(func() { t.facts.st = safeState(t.conn) })
	return &t.facts.st
}

// negotiatedProtocol: (borrow<client-connection>, retptr) -> option<list<u8>>.
//
//	retptr: +0 tag (0 none, 1 some) | some: +4 ptr, +8 len
func negotiatedProtocol(c *call, stack []uint64) {
	st := c.connState(stack[0])
	putOptionBytes(c, wapi.DecodeU32(stack[1]), []byte(st.NegotiatedProtocol))
}

// keyExchangeGroup: (borrow<client-connection>, retptr) -> option<u16>.
//
//	retptr: +0 tag (0 none: the backend cannot tell, 1 some) | some: +2 u16
func keyExchangeGroup(c *call, stack []uint64) {
	st := c.connState(stack[0])
	a := cabi.GroupArea
	b := c.Area(wapi.DecodeU32(stack[1]), a.Size, a.Align)
	if st.Group == 0 {
		b[a.Tag] = 0
		return
	}
	b[a.Tag] = 1
	cabi.PutU16(b, a.Some, uint16(st.Group))
}

// peerCertificates: (borrow<client-connection>, retptr) -> list<list<u8>>.
//
//	retptr: +0 ptr, +4 len of [ptr,len] pairs, each a DER certificate, leaf first
func peerCertificates(c *call, stack []uint64) {
	st := c.connState(stack[0])
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, cabi.ListBytes.Size(), cabi.ListBytes.Align())
	ders := make([][]byte, len(st.PeerCertificates))
	for i, cert := range st.PeerCertificates {
		ders[i] = cert.Raw
	}
	lp, ln := c.PutByteLists(ders)
	putListArea(c, ret, lp, ln)
}
