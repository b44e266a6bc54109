package host

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
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

	// Deny lists destinations that are refused even when Allow matches
	// (e.g. "169.254.0.0/16:*"). Name-lookup answers inside a denied range
	// are dropped.
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
	Identities []Identity

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
	Handles int // open handles of every kind (default 4096)

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
	// unread data does not starve a stream the guest waits on. See
	// Guest.BufferedBytes.
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

// pattern is a parsed destination pattern.
type pattern struct {
	src    string
	name   string // lower-case DNS pattern; "" when prefix is used
	prefix netip.Prefix
	isIP   bool
	lo, hi uint16
}

// policy is a validated Policy.
type policy struct {
	Policy
	allow, deny []pattern
	idents      []pattern
	alpn        []pattern
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

func parsePatterns(ss []string) ([]pattern, error) {
	out := make([]pattern, 0, len(ss))
	for _, s := range ss {
		pt, err := parsePattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, pt)
	}
	return out, nil
}

// parsePattern parses "host:port".
func parsePattern(s string) (pattern, error) {
	bad := func(why string) (pattern, error) {
		return pattern{}, fmt.Errorf("host: bad destination pattern %q: %s", s, why)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return bad(`want "host:port" (port may be "*")`)
	}
	host, port := s[:i], s[i+1:]
	pt := pattern{src: s}
	switch {
	case port == "*":
		pt.lo, pt.hi = 0, 65535
	case strings.Contains(port, "-"):
		a, b, _ := strings.Cut(port, "-")
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return bad("bad port range")
		}
		pt.lo, pt.hi = uint16(lo), uint16(hi)
	default:
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return bad("bad port")
		}
		pt.lo, pt.hi = uint16(n), uint16(n)
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return bad("unbalanced brackets")
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return bad("put IPv6 addresses in brackets")
	}
	if host == "" {
		return bad("empty host")
	}
	if pf, err := netip.ParsePrefix(host); err == nil {
		pt.prefix, pt.isIP = pf.Masked(), true
		if pf.Addr().Is4In6() {
			pt.prefix = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96).Masked()
		}
		return pt, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		pt.prefix, pt.isIP = netip.PrefixFrom(a, a.BitLen()), true
		return pt, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if strings.Contains(name[min(1, len(name)):], "*") && !strings.HasPrefix(name, "*.") || strings.Count(name, "*") > 1 {
		return bad(`"*" only as a whole first label`)
	}
	pt.name = name
	return pt, nil
}

func (pt *pattern) portOK(port uint16) bool { return port >= pt.lo && port <= pt.hi }

// matchName reports whether a DNS name matches the pattern's host.
func (pt *pattern) matchName(name string) bool {
	if pt.isIP {
		if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
			return pt.prefix.Contains(a.Unmap())
		}
		return false
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case pt.name == "*":
		return true
	case strings.HasPrefix(pt.name, "*."):
		// One or more labels before the suffix.
		suffix := pt.name[1:]
		return len(name) > len(suffix) && strings.HasSuffix(name, suffix)
	}
	return name == pt.name
}

func (pt *pattern) matchAddr(a netip.Addr) bool { return pt.isIP && pt.prefix.Contains(a.Unmap()) }

// denied reports whether a is in a Deny pattern for port.
func (p *policy) denied(a netip.Addr, port uint16, any bool) bool {
	for i := range p.deny {
		d := &p.deny[i]
		if d.matchAddr(a) && (any || d.portOK(port)) {
			return true
		}
	}
	return false
}

// allowConnect decides a TCP connect to dest, given the names that this
// guest resolved to dest's address.
func (p *policy) allowConnect(dest netip.AddrPort, names []string) error {
	a := dest.Addr().Unmap()
	if p.denied(a, dest.Port(), false) {
		return fmt.Errorf("%s is denied", dest)
	}
	for i := range p.allow {
		pt := &p.allow[i]
		if !pt.portOK(dest.Port()) {
			continue
		}
		if pt.matchAddr(a) {
			return nil
		}
		for _, n := range names {
			if pt.matchName(n) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s is not allowed", dest)
}

// lookupScope says whether the guest may resolve name at all, before any
// query leaves the host. byName: an Allow name pattern matches it, so the
// lookup's own outcome (e.g. name-unresolvable) may be reported. Otherwise a
// lookup is useful only when Allow has IP or CIDR patterns an answer could
// fall into; its failures are then reported as access-denied, so that the
// guest cannot use the resolver as an oracle for names it may not reach.
func (p *policy) lookupScope(name string) (ok, byName bool) {
	for i := range p.allow {
		pt := &p.allow[i]
		if !pt.isIP && pt.matchName(name) {
			return true, true
		}
	}
	for i := range p.allow {
		if p.allow[i].isIP {
			return true, false
		}
	}
	return false, false
}

// allowAnswer decides whether a lookup of name may return a.
func (p *policy) allowAnswer(name string, a netip.Addr) bool {
	a = a.Unmap()
	for i := range p.allow {
		pt := &p.allow[i]
		if (pt.isIP && pt.matchAddr(a)) || (!pt.isIP && pt.matchName(name)) {
			// Denied only if every port of the answer is denied is too
			// clever; a deny range drops the answer outright.
			return !p.denied(a, 0, true)
		}
	}
	return false
}

// config builds the provider's configuration for a handshake.
func (p *policy) config(serverName string, port uint16) *api.Config {
	cfg := p.baseConfig()
	cfg.ServerName = serverName
	for i := range p.idents {
		if p.idents[i].portOK(port) && p.idents[i].matchName(serverName) {
			cfg.ClientCertificate = p.Identities[i].Certificate
			break
		}
	}
	for i := range p.alpn {
		if p.alpn[i].portOK(port) && p.alpn[i].matchName(serverName) {
			cfg.NextProtos = p.ALPN[i].Protocols
			break
		}
	}
	return cfg
}
