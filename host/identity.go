package host

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strconv"
)

// tlsDest is where a handshake's bytes go: the remote address of the host
// TCP connection both of its streams belong to, and the names this guest
// resolved to that address. ok is false when there is no such connection:
// streams of a TLS connection (TLS inside TLS), or the input stream of one
// socket with the output stream of another.
type tlsDest struct {
	addr  netip.AddrPort
	names []string
	ok    bool
}

func (d tlsDest) String() string {
	if !d.ok {
		return "streams"
	}
	return d.addr.String()
}

// resolvedTo reports whether serverName is a name this guest looked up and
// got the destination's address for.
func (d tlsDest) resolvedTo(serverName string) bool {
	sn := canonName(serverName)
	for _, n := range d.names {
		if n == sn {
			return true
		}
	}
	return false
}

func trimBrackets(s string) string {
	if len(s) > 1 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}

// identity returns the index of the client identity for a handshake with
// serverName over d, or -1 for none. Over a host TCP connection an
// identity applies when its port matches and its host matches the
// destination actually connected to, with a server name consistent with
// it: an IP or CIDR pattern contains the remote address (and an address
// literal as the server name is that address); a name pattern matches the
// server name, and the server name is one this guest looked up and got the
// remote address for. So the server name a guest sends never points the
// host's identity at another server. Without a host TCP destination no
// identity applies unless Policy.StreamIdentities is set; then the first
// identity for every port whose pattern matches the server name does.
func (p *policy) identity(serverName string, d tlsDest) int {
	lit, err := netip.ParseAddr(trimBrackets(serverName))
	literal := err == nil
	if !d.ok {
		if !p.StreamIdentities {
			return -1
		}
		for i := range p.idents {
			// An IP pattern matches an address literal inside it, a name
			// pattern (even "*") only a name.
			if pt := &p.idents[i]; pt.allPorts() && pt.isIP == literal && pt.matchName(serverName) {
				return i
			}
		}
		return -1
	}
	a := d.addr.Addr()
	if literal && lit.Unmap() != a {
		return -1
	}
	for i := range p.idents {
		pt := &p.idents[i]
		if !pt.portOK(d.addr.Port()) {
			continue
		}
		if pt.isIP && pt.prefix.Contains(a) || !pt.isIP && !literal && pt.matchName(serverName) && d.resolvedTo(serverName) {
			return i
		}
	}
	return -1
}

// deniedServerName refuses a handshake whose server name a Deny pattern
// covers: on the destination's port over a host TCP connection, and
// whatever its ports without one (the port is not known; "*" alone, which
// would refuse every such handshake, does not apply there). Without it a
// guest allowed one name of an address could reach a denied name served
// at the same address by sending it as the server name.
func (p *policy) deniedServerName(serverName string, d tlsDest) error {
	if isLiteral(serverName) {
		return nil // the address itself was checked at connect
	}
	for i := range p.deny {
		pt := &p.deny[i]
		if pt.isIP || !pt.matchName(serverName) {
			continue
		}
		if d.ok && pt.portOK(d.addr.Port()) || !d.ok && pt.name != "*" {
			return fmt.Errorf("server name %q is denied by %q", serverName, pt.src)
		}
	}
	return nil
}

// scopedSessions is the guest's session cache as one handshake sees it:
// sessions are stored under the server name (crypto/tls's key) and the
// scope, the destination and identity of the handshake, so a session made
// with one identity or at one destination is never resumed at another (a
// resumed session carries the client authentication of the one it came
// from). It is a comparable value: backends that pair the host's cache
// with one of their own (utls) see the same scope as the same cache.
type scopedSessions struct {
	base  tls.ClientSessionCache
	scope string
}

func newScopedSessions(base tls.ClientSessionCache, d tlsDest, identity int) scopedSessions {
	return scopedSessions{base: base, scope: d.String() + "|" + strconv.Itoa(identity) + "|"}
}

func (s scopedSessions) Get(key string) (*tls.ClientSessionState, bool) {
	return s.base.Get(s.scope + key)
}

func (s scopedSessions) Put(key string, cs *tls.ClientSessionState) { s.base.Put(s.scope+key, cs) }
