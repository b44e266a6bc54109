package host

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"time"

	"github.com/wasitls/wasitls/api"
)

// Policy is what one guest may do. The zero value denies every connection
// and name lookup; fields left zero take the documented defaults.
//
// A destination pattern is "host:port": host is a DNS name, optionally with
// a leading "*." wildcard (one or more labels) or "*" alone, an IP address,
// or a CIDR range; IPv6 goes in brackets ("[::1]:443", "[fd00::/8]:*"). port
// is a number, a range "8000-8999", or "*". Names match case-insensitively.
type Policy struct {
	// Allow lists the destinations the guest may connect to. A connect to an
	// address is allowed when an IP or CIDR pattern contains it, or when the
	// guest looked up a name matching a name pattern and got this address.
	Allow []string

	// Deny lists destinations that are refused even when Allow matches.
	// Deny wins in every decision: a connect is refused when a Deny
	// pattern covers its port and its address ("169.254.0.0/16:*") or any
	// name this guest resolved to the address ("localhost:*",
	// "*.internal.example.com:*"); "*" covers every destination ("*:22").
	// A name lookup is not made when the name is denied on every port an
	// Allow pattern could admit it on, and an answer is dropped unless
	// some port would be allowed for it. A handshake whose server name a
	// Deny name pattern covers on the connection's port is refused. Name
	// patterns match names, not addresses: a connect to an address the
	// guest never looked up under a denied name is decided by the address
	// alone, so deny addresses that must never be reached by address.
	Deny []string

	// NameLookup enables wasi:sockets/ip-name-lookup. Answers are filtered:
	// only addresses the guest could connect to are returned. A name that
	// matches no Allow name pattern is not looked up at all when Allow has
	// only name patterns, so the guest cannot send arbitrary queries to the
	// resolver; when Allow has IP or CIDR patterns any name may be looked up
	// (an answer may fall into them), and a failure for a name that no name
	// pattern allows is reported as access-denied, like a filtered answer.
	NameLookup bool

	// RootCAs are the guest's trust anchors; nil means the system roots.
	RootCAs *x509.CertPool

	// Identities are client certificates presented per destination (mTLS).
	// The first matching entry wins. The guest never sees them.
	//
	// An identity is presented only to the destination the guest actually
	// connected to, with a server name consistent with it: its port must
	// match, and an IP or CIDR pattern must contain the remote address (an
	// address literal as the server name must be that address), while a
	// name pattern must match the server name and the server name must be
	// one this guest looked up and got the remote address for. So
	// "127.0.0.1:8445" applies to https://localhost:8445/ (the guest
	// connected to 127.0.0.1), and "api.internal:443" applies only where
	// the guest's lookup of api.internal led, never to another address it
	// sends the name api.internal to. Handshakes over streams that are not
	// one host TCP connection (TLS inside TLS) get no identity unless
	// StreamIdentities is set. Sessions are resumed only at the
	// destination and with the identity they were made with.
	Identities []Identity

	// StreamIdentities lets handshakes without a host TCP destination (over
	// the plaintext streams of another TLS connection, e.g. through an
	// HTTPS proxy, or over streams of two different sockets) present the
	// first identity whose pattern is for every port ("name:*") and matches
	// the server name. The host cannot tell where such streams lead: set it
	// only when every server the guest can reach through its allowed
	// destinations may receive these identities.
	StreamIdentities bool

	// ALPN offers protocols per destination; the first match wins. No match
	// means no ALPN extension.
	ALPN []ALPNRule

	// MinVersion and MaxVersion bound the TLS version (zero: TLS 1.2, TLS 1.3).
	MinVersion, MaxVersion uint16

	// HandshakeTimeout bounds each handshake (zero: 30 s).
	HandshakeTimeout time.Duration

	// Fingerprint and Options are handed to the provider (api.Config).
	Fingerprint string
	Options     map[string]string

	// Listen lists the local addresses and ports the guest may bind TCP
	// sockets to (and listen on): IP or CIDR patterns only, no names
	// ("127.0.0.1:8443", "[::1]:8000-8999", "0.0.0.0:443" for every
	// interface). Binding anything else is access-denied; port 0 (any free
	// port) is allowed only where the port the system picks is. Connections
	// the guest accepts count against Limits.Connections. Empty: the guest
	// may not bind or listen at all.
	Listen []string

	// Serve lets the guest run TLS server handshakes (wasitls:tls/server)
	// with the certificates it lists; nil: every server handshake fails
	// with the io-error "tls: policy denied". The backend must implement
	// api.ServerProvider (Instantiate refuses one that does not).
	Serve *ServePolicy

	// Limits bound what the guest may hold at once.
	Limits Limits
}

// Identity is a client certificate for the destinations matching Dest.
type Identity struct {
	Dest        string
	Certificate *tls.Certificate
}

// ALPNRule offers Protocols to the destinations matching Dest.
type ALPNRule struct {
	Dest      string
	Protocols []string
}

// Limits bound a guest's resources. Zero fields take the defaults.
type Limits struct {
	// Handles bounds open handles of every kind (default 4096); past it a
	// call that would make one traps, except accept, which answers
	// new-socket-limit (and resets the client) while fewer than 16 would
	// be left after it. With Listen set it must be at least 19.
	Handles int

	// Connections bounds the guest's TCP sockets and the connections made
	// with them (default 64); past it create-tcp-socket fails with
	// new-socket-limit. A slot is taken by create-tcp-socket and given back
	// only when nothing keeps the socket or its connection open: the
	// tcp-socket handle, its two streams, a TLS handshake or connection
	// built on them, and output still being sent after the streams were
	// dropped (a peer that never reads keeps its connection, and the slot,
	// until the guest closes). Dropping the tcp-socket handle alone frees
	// nothing while the streams live.
	Connections int

	// Sockets is the former name of Connections, read when Connections
	// is zero.
	//
	// Deprecated: use Connections.
	Sockets int

	Handshakes int // TLS handshakes in flight (default 16)

	// BufferedBytes bounds the bytes the host holds for the guest in its
	// stream buffers, summed over all its streams (default 32 MiB, at least
	// MinBufferedBytes): data read ahead from connections that the guest
	// has not read yet, data written but not yet sent, and check-write
	// grants not yet used. Reaching it is backpressure, not an error: input
	// streams stop reading from their connections (their pollables are not
	// ready until the guest reads something), and check-write grants 0
	// until sends complete. blocking-write-and-flush still progresses: it
	// writes straight from guest memory once earlier writes are out. A part
	// of the quota (1 KiB per input stream being read, at most half) is
	// kept for streams whose buffer the guest has emptied, so one stream's
	// unread data does not starve a stream the guest waits on. An idle
	// output stream holds none of it: the unused rest of a permit is given
	// back once everything written is out (a write within it later is
	// counted then, even past the limit). See Guest.BufferedBytes.
	BufferedBytes int
}

// Default limits.
const (
	DefaultMaxHandles     = 4096
	DefaultMaxConnections = 64
	DefaultMaxHandshakes  = 16

	// DefaultMaxSockets is the former name of DefaultMaxConnections.
	//
	// Deprecated: use DefaultMaxConnections.
	DefaultMaxSockets = DefaultMaxConnections

	DefaultMaxBufferedBytes = 32 << 20

	// MinBufferedBytes is the smallest BufferedBytes; less is raised to it
	// (one check-write budget plus room for reads).
	MinBufferedBytes = 128 << 10
)

// policy is a validated Policy.
type policy struct {
	Policy
	allow, deny []pattern
	idents      []pattern
	alpn        []pattern
	listen      []pattern
	limits      Limits
}

func compilePolicy(p *Policy) (*policy, error) {
	if p == nil {
		p = &Policy{}
	}
	if err := checkPolicy(p); err != nil {
		return nil, err
	}
	c := &policy{Policy: *p, limits: p.Limits}
	var err error
	if c.allow, err = parsePatterns(p.Allow); err != nil {
		return nil, err
	}
	if c.deny, err = parsePatterns(p.Deny); err != nil {
		return nil, err
	}
	for _, id := range p.Identities {
		pt, err := parsePattern(id.Dest)
		if err != nil {
			return nil, err
		}
		if id.Certificate == nil {
			return nil, fmt.Errorf("host: policy identity for %q has no certificate", id.Dest)
		}
		c.idents = append(c.idents, pt)
	}
	if c.listen, err = parseListenPatterns(p.Listen); err != nil {
		return nil, err
	}
	if err := checkServe(p.Serve); err != nil {
		return nil, err
	}
	for _, r := range p.ALPN {
		pt, err := parsePattern(r.Dest)
		if err != nil {
			return nil, err
		}
		c.alpn = append(c.alpn, pt)
	}
	if p.MinVersion != 0 && p.MinVersion < tls.VersionTLS12 {
		return nil, fmt.Errorf("host: policy MinVersion %#x is below TLS 1.2", p.MinVersion)
	}
	if c.limits.Handles <= 0 {
		c.limits.Handles = DefaultMaxHandles
	}
	if c.limits.Connections <= 0 {
		c.limits.Connections = c.limits.Sockets
	}
	if c.limits.Connections <= 0 {
		c.limits.Connections = DefaultMaxConnections
	}
	if c.limits.Handshakes <= 0 {
		c.limits.Handshakes = DefaultMaxHandshakes
	}
	if c.limits.BufferedBytes <= 0 {
		c.limits.BufferedBytes = DefaultMaxBufferedBytes
	}
	c.limits.BufferedBytes = max(c.limits.BufferedBytes, MinBufferedBytes)
	return c, nil
}

// denyRanges returns the Deny patterns that cover a destination given by
// its address (if valid) and the names that lead to it, on any port; the
// caller checks their ports. "*" covers every destination.
func (p *policy) denyRanges(a netip.Addr, names []string) []*pattern {
	var out []*pattern
	for i := range p.deny {
		d := &p.deny[i]
		if d.matchDeny(a, names) {
			out = append(out, d)
		}
	}
	return out
}

// allowConnect decides a TCP connect to dest, given the names that this
// guest resolved to dest's address. Deny wins: a Deny pattern refuses the
// connect when it covers the port and the address or any of the names.
func (p *policy) allowConnect(dest netip.AddrPort, names []string) error {
	a := dest.Addr().Unmap()
	for i := range p.deny {
		d := &p.deny[i]
		if d.portOK(dest.Port()) && d.matchDeny(a, names) {
			return fmt.Errorf("%s is denied by %q", dest, d.src)
		}
	}
	for i := range p.allow {
		pt := &p.allow[i]
		if pt.portOK(dest.Port()) && pt.matchAllow(a, names) {
			return nil
		}
	}
	return fmt.Errorf("%s is not allowed", dest)
}

// lookupScope says whether the guest may resolve name at all, before any
// query leaves the host. byName: an Allow name pattern matches it on a port
// no Deny pattern for the name covers, so the lookup's own outcome (e.g.
// name-unresolvable) may be reported. Otherwise a lookup is useful only
// when Allow has IP or CIDR patterns an answer could fall into; its
// failures are then reported as access-denied, so that the guest cannot
// use the resolver as an oracle for names it may not reach. A name denied
// on every port an Allow pattern could admit it on is not looked up.
func (p *policy) lookupScope(name string) (ok, byName bool) {
	names := []string{canonName(name)}
	deny := p.denyRanges(netip.Addr{}, names)
	for i := range p.allow {
		pt := &p.allow[i]
		if !pt.isIP && pt.matchName(name) && uncovered(pt.lo, pt.hi, deny) {
			return true, true
		}
	}
	for i := range p.allow {
		pt := &p.allow[i]
		if pt.isIP && uncovered(pt.lo, pt.hi, deny) {
			return true, false
		}
	}
	return false, false
}

// allowAnswer decides whether a lookup of name may return a: only when
// some port would then be allowed for a connect to a, by an Allow pattern
// for a or for name, and not covered by a Deny pattern for either. An
// address literal is not a name: only IP patterns apply to it.
func (p *policy) allowAnswer(name string, a netip.Addr) bool {
	a = a.Unmap()
	var names []string
	if !isLiteral(name) {
		names = []string{canonName(name)}
	}
	deny := p.denyRanges(a, names)
	for i := range p.allow {
		pt := &p.allow[i]
		if pt.matchAllow(a, names) && uncovered(pt.lo, pt.hi, deny) {
			return true
		}
	}
	return false
}

// config builds the provider's configuration for a handshake with
// serverName over d, and the index of the identity it presents (-1: none).
func (p *policy) config(serverName string, d tlsDest) (*api.Config, int) {
	cfg := p.baseConfig()
	cfg.ServerName = serverName
	id := p.identity(serverName, d)
	if id >= 0 {
		cfg.ClientCertificate = p.Identities[id].Certificate
	}
	cfg.NextProtos, _ = p.alpnRule(serverName, d.addr.Port())
	return cfg, id
}
