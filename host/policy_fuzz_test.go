package host

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
)

// The policy fuzzer builds policies from a small universe of addresses,
// names and ports, spelled in the ways a pattern may be written, and checks
// every decision against a reference matcher written here from the
// documented rules (not by calling the host's matchers): Deny wins, an
// identity goes only to a destination its pattern covers, nothing panics.
// A second input is any pattern string: if it compiles, it must be
// enforceable (in Deny it refuses something).

var (
	fzAddrs = []netip.Addr{
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("fd00::1"),
	}
	fzNames    = []string{"localhost", "api.internal", "example.com", "a.example.com", "b.a.example.com", "secret.example.com"}
	fzSuffixes = []string{"example.com", "a.example.com", "internal"}
	fzPorts    = []uint16{0, 22, 443, 8443, 65535}
	fzBits4    = []int{8, 16, 24, 32}
	fzBits6    = []int{8, 64, 128}
)

// refPat is a pattern as the reference sees it.
type refPat struct {
	kind   int // 0 address or range, 1 exact name, 2 "*.suffix", 3 "*"
	prefix netip.Prefix
	name   string // kind 1: the name; kind 2: the suffix
	lo, hi uint16
}

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) n(k int) int {
	if s.i >= len(s.b) {
		return 0
	}
	v := int(s.b[s.i])
	s.i++
	return v % k
}

// spell writes a name as a guest or an embedder might: any case, with or
// without the trailing dot.
func spell(s *byteSource, name string) string {
	switch s.n(4) {
	case 1:
		name = strings.ToUpper(name)
	case 2:
		name += "."
	case 3:
		name = strings.ToUpper(name[:1]) + name[1:] + "."
	}
	return name
}

// genPattern returns a pattern and how it is written.
func genPattern(s *byteSource) (refPat, string) {
	var p refPat
	var host string
	switch p.kind = s.n(4); p.kind {
	case 0:
		a := fzAddrs[s.n(len(fzAddrs))]
		if a.Is4() {
			bits := fzBits4[s.n(len(fzBits4))]
			p.prefix = netip.PrefixFrom(a, bits).Masked()
			switch s.n(3) {
			case 0:
				host = p.prefix.String()
			case 1:
				host = a.String() + "/" + fmt.Sprint(bits) // host bits set
			case 2: // the IPv4-mapped form of the range
				host = "[" + netip.AddrFrom16(a.As16()).String() + "/" + fmt.Sprint(96+bits) + "]"
			}
			if bits == 32 && s.n(2) == 0 {
				host = a.String()
			}
		} else {
			bits := fzBits6[s.n(len(fzBits6))]
			p.prefix = netip.PrefixFrom(a, bits).Masked()
			host = "[" + p.prefix.String() + "]"
			if bits == 128 && s.n(2) == 0 {
				host = "[" + a.String() + "]"
			}
		}
	case 1:
		p.name = fzNames[s.n(len(fzNames))]
		host = spell(s, p.name)
	case 2:
		p.name = fzSuffixes[s.n(len(fzSuffixes))]
		host = "*." + spell(s, p.name)
	case 3:
		host = "*"
	}
	var port string
	switch s.n(3) {
	case 0:
		p.lo, p.hi, port = 0, 65535, "*"
	case 1:
		v := fzPorts[s.n(len(fzPorts))]
		p.lo, p.hi, port = v, v, fmt.Sprint(v)
	case 2:
		a, b := fzPorts[s.n(len(fzPorts))], fzPorts[s.n(len(fzPorts))]
		p.lo, p.hi = min(a, b), max(a, b)
		port = fmt.Sprintf("%d-%d", p.lo, p.hi)
	}
	return p, host + ":" + port
}

// refName reports whether the pattern's host matches a DNS name.
func (p refPat) refName(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch p.kind {
	case 1:
		return name == p.name
	case 2:
		return strings.HasSuffix(name, "."+p.name)
	case 3:
		return true
	}
	return false
}

func (p refPat) refPort(port uint16) bool { return p.lo <= port && port <= p.hi }

func (p refPat) anyName(names []string) bool {
	for _, n := range names {
		if p.refName(n) {
			return true
		}
	}
	return false
}

type refPolicy struct {
	allow, deny, idents []refPat
	streamIdentities    bool
}

func (r *refPolicy) connect(a netip.Addr, port uint16, names []string) bool {
	for _, d := range r.deny {
		if d.refPort(port) && (d.kind == 0 && d.prefix.Contains(a) || d.kind == 3 || d.kind != 0 && d.anyName(names)) {
			return false
		}
	}
	for _, p := range r.allow {
		if p.refPort(port) && (p.kind == 0 && p.prefix.Contains(a) || p.kind != 0 && p.anyName(names)) {
			return true
		}
	}
	return false
}

// ports returns every port at which a decision can change.
func (r *refPolicy) ports() []uint16 {
	set := map[uint16]bool{0: true, 65535: true}
	for _, ps := range [][]refPat{r.allow, r.deny, r.idents} {
		for _, p := range ps {
			for _, v := range []uint16{p.lo, p.hi} {
				set[v] = true
				if v > 0 {
					set[v-1] = true
				}
				if v < 65535 {
					set[v+1] = true
				}
			}
		}
	}
	var out []uint16
	for v := range set {
		out = append(out, v)
	}
	return out
}

func (r *refPolicy) answer(name string, a netip.Addr) bool {
	var names []string
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil {
		names = []string{name}
	}
	for _, port := range r.ports() {
		if r.connect(a, port, names) {
			return true
		}
	}
	return false
}

// scope: ok when some port is allowed for name by a name pattern or could
// be by an IP pattern, and not denied for the name; byName: by a name pattern.
func (r *refPolicy) scope(name string) (ok, byName bool) {
	for _, port := range r.ports() {
		denied := false
		for _, d := range r.deny {
			if d.kind != 0 && d.refPort(port) && d.refName(name) {
				denied = true
			}
		}
		if denied {
			continue
		}
		for _, p := range r.allow {
			if !p.refPort(port) {
				continue
			}
			if p.kind != 0 && p.refName(name) {
				return true, true
			}
			if p.kind == 0 {
				ok = true
			}
		}
	}
	return ok, false
}

func (r *refPolicy) identity(sn string, d tlsDest) int {
	lit, err := netip.ParseAddr(strings.Trim(sn, "[]"))
	literal := err == nil
	if !d.ok {
		if !r.streamIdentities {
			return -1
		}
		for i, p := range r.idents {
			if p.lo == 0 && p.hi == 65535 && (p.kind == 0 && literal && p.prefix.Contains(lit.Unmap()) || p.kind != 0 && !literal && p.refName(sn)) {
				return i
			}
		}
		return -1
	}
	if literal && lit.Unmap() != d.addr.Addr() {
		return -1 // a literal of another address
	}
	resolved := false
	for _, n := range d.names {
		if !literal && strings.EqualFold(strings.TrimSuffix(sn, "."), n) {
			resolved = true
		}
	}
	for i, p := range r.idents {
		if p.refPort(d.addr.Port()) && (p.kind == 0 && p.prefix.Contains(d.addr.Addr()) || p.kind != 0 && resolved && p.refName(sn)) {
			return i
		}
	}
	return -1
}

func (r *refPolicy) deniedServerName(sn string, d tlsDest) bool {
	if _, err := netip.ParseAddr(strings.Trim(sn, "[]")); err == nil {
		return false
	}
	for _, p := range r.deny {
		if p.kind != 0 && p.refName(sn) && (d.ok && p.refPort(d.addr.Port()) || !d.ok && p.kind != 3) {
			return true
		}
	}
	return false
}

func FuzzPolicy(f *testing.F) {
	f.Add([]byte{}, "localhost:*")
	f.Add([]byte{4, 1, 1, 0, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "[::ffff:0:0/95]:*")
	f.Add([]byte("deny wins over allow, identities stay home"), "*.example.com:443")
	f.Fuzz(func(t *testing.T, data []byte, raw string) {
		s := &byteSource{b: data}
		ref := &refPolicy{streamIdentities: s.n(2) == 1}
		pol := &Policy{StreamIdentities: ref.streamIdentities}
		cert := &tls.Certificate{}
		for range s.n(4) {
			p, str := genPattern(s)
			ref.allow, pol.Allow = append(ref.allow, p), append(pol.Allow, str)
		}
		for range s.n(4) {
			p, str := genPattern(s)
			ref.deny, pol.Deny = append(ref.deny, p), append(pol.Deny, str)
		}
		for range s.n(3) {
			p, str := genPattern(s)
			ref.idents, pol.Identities = append(ref.idents, p), append(pol.Identities, Identity{Dest: str, Certificate: cert})
		}
		c, err := compilePolicy(pol)
		if err != nil {
			t.Fatalf("generated policy %+v does not compile: %v", pol, err)
		}
		// Destinations: an address, a port, the names that led to it.
		for range 1 + s.n(6) {
			a := fzAddrs[s.n(len(fzAddrs))]
			port := fzPorts[s.n(len(fzPorts))] + uint16(s.n(3)) - 1
			var names []string
			for range s.n(3) {
				names = append(names, canonName(fzNames[s.n(len(fzNames))]))
			}
			got := c.allowConnect(netip.AddrPortFrom(a, port), names) == nil
			if want := ref.connect(a, port, names); got != want {
				t.Fatalf("connect %s:%d via %q: allowed=%v, reference %v\nallow %q\ndeny %q", a, port, names, got, want, pol.Allow, pol.Deny)
			}
			for _, d := range ref.deny {
				if got && d.refPort(port) && (d.kind == 0 && d.prefix.Contains(a) || d.kind == 3 || d.kind != 0 && d.anyName(names)) {
					t.Fatalf("Deny lost: %s:%d via %q allowed", a, port, names)
				}
			}
			name := spell(s, fzNames[s.n(len(fzNames))])
			if got, want := c.allowAnswer(name, a), ref.answer(name, a); got != want {
				t.Fatalf("answer %s -> %s: %v, reference %v\nallow %q\ndeny %q", name, a, got, want, pol.Allow, pol.Deny)
			}
			if ok, byName := c.lookupScope(name); func() bool { wok, wby := ref.scope(name); return ok != wok || byName != wby }() {
				wok, wby := ref.scope(name)
				t.Fatalf("lookupScope(%q) = %v, %v; reference %v, %v\nallow %q\ndeny %q", name, ok, byName, wok, wby, pol.Allow, pol.Deny)
			}
			// Handshakes: a server name over this destination, or over
			// streams.
			sns := append([]string{name, a.String(), "[" + a.String() + "]"}, names...)
			sn := sns[s.n(len(sns))]
			dest := tlsDest{addr: netip.AddrPortFrom(a, port), names: names, ok: s.n(4) != 0}
			if !dest.ok {
				dest = tlsDest{}
			}
			id := c.identity(sn, dest)
			if want := ref.identity(sn, dest); id != want {
				t.Fatalf("identity(%q over %v via %q) = %d, reference %d\nidentities %+v", sn, dest, names, id, want, pol.Identities)
			}
			if id >= 0 && dest.ok {
				p := ref.idents[id]
				if !p.refPort(port) || p.kind == 0 && !p.prefix.Contains(a) || p.kind != 0 && !slices.Contains(names, canonName(sn)) {
					t.Fatalf("identity %q for %s, a destination its pattern excludes", pol.Identities[id].Dest, dest)
				}
			}
			if got, want := c.deniedServerName(sn, dest) != nil, ref.deniedServerName(sn, dest); got != want {
				t.Fatalf("server name %q over %v: denied=%v, reference %v\ndeny %q", sn, dest, got, want, pol.Deny)
			}
		}

		// Any pattern string: no panic; if it compiles, it is enforceable:
		// as a Deny it refuses a destination that Allow admits.
		if len(raw) > 300 {
			return
		}
		d, err := compilePolicy(&Policy{Allow: []string{"0.0.0.0/0:*", "[::/0]:*", "*:*"}, Deny: []string{raw}})
		if err != nil {
			return
		}
		pt := d.deny[0]
		var a netip.Addr
		var names []string
		switch {
		case pt.isIP:
			if !pt.prefix.IsValid() {
				t.Fatalf("%q compiled to an invalid range", raw)
			}
			a = pt.prefix.Addr()
		default:
			a = netip.MustParseAddr("10.0.0.1")
			witness := strings.Replace(pt.name, "*", "a", 1)
			if api.ValidateServerName(witness) != nil {
				t.Fatalf("%q compiled to a name pattern no server name can match (%q)", raw, pt.name)
			}
			names = []string{witness}
		}
		if d.allowConnect(netip.AddrPortFrom(a, pt.lo), names) == nil {
			t.Fatalf("Deny %q refuses nothing: %s:%d via %q is allowed", raw, a, pt.lo, names)
		}
	})
}
