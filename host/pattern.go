package host

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/api"
)

// pattern is a parsed destination pattern.
type pattern struct {
	src    string
	name   string // canonical DNS pattern ("*", "*.suffix" or a name); "" when prefix is used
	prefix netip.Prefix
	isIP   bool
	lo, hi uint16
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

// parsePattern parses "host:port". A pattern the matchers could not
// enforce as written is an error, never a pattern that matches nothing:
// in Deny that would fail open.
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
	bracketed := strings.HasPrefix(host, "[")
	if bracketed {
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
	if strings.Contains(host, "%") {
		return bad("an address with a zone cannot be matched")
	}
	if pf, err := netip.ParsePrefix(host); err == nil {
		if pf.Addr().Is4In6() {
			// Addresses are matched unmapped, so an IPv4-mapped range must
			// lie inside ::ffff:0:0/96 to mean an IPv4 range.
			if pf.Bits() < 96 {
				return bad("an IPv4-mapped range needs a prefix length of at least 96")
			}
			pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
		}
		pt.prefix, pt.isIP = pf.Masked(), true
		return pt, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		pt.prefix, pt.isIP = netip.PrefixFrom(a, a.BitLen()), true
		return pt, nil
	}
	if bracketed || strings.ContainsAny(host, "/[]") {
		return bad("not an IP address or CIDR range")
	}
	name := canonName(host)
	rest := strings.TrimPrefix(name, "*.")
	switch {
	case name == "*":
		pt.name = name
		return pt, nil
	case strings.Contains(rest, "*"):
		return bad(`"*" only as a whole first label`)
	case strings.HasSuffix(rest, ".") || api.ValidateServerName(rest) != nil:
		return bad("not a DNS name")
	}
	labels := strings.Split(rest, ".")
	if _, err := strconv.ParseUint(labels[len(labels)-1], 10, 64); err == nil {
		// All-digit last label: a mistyped address, which no lookup
		// would ever return as a name.
		return bad("not a DNS name, IP address or CIDR range")
	}
	pt.name = name
	return pt, nil
}

// canonName is the form names are stored and compared in: lower case,
// without the trailing dot.
func canonName(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// isLiteral reports whether name is an IP address rather than a DNS name.
func isLiteral(name string) bool {
	_, err := netip.ParseAddr(strings.Trim(name, "[]"))
	return err == nil
}

func (pt *pattern) portOK(port uint16) bool { return port >= pt.lo && port <= pt.hi }

// allPorts reports whether the pattern is for every port.
func (pt *pattern) allPorts() bool { return pt.lo == 0 && pt.hi == 65535 }

// matchName reports whether a DNS name matches the pattern's host; an IP
// pattern matches an address literal inside it.
func (pt *pattern) matchName(name string) bool {
	if pt.isIP {
		if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
			return pt.prefix.Contains(a.Unmap())
		}
		return false
	}
	name = canonName(name)
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

// matchAllow reports whether the pattern, in Allow, admits the address a
// that this guest resolved from names: an IP pattern by the address, a
// name pattern (even "*") only by one of the names.
func (pt *pattern) matchAllow(a netip.Addr, names []string) bool {
	if pt.isIP {
		return a.IsValid() && pt.prefix.Contains(a.Unmap())
	}
	for _, n := range names {
		if pt.matchName(n) {
			return true
		}
	}
	return false
}

// matchDeny reports whether the pattern, in Deny, covers the address a
// (when valid) or one of the names that lead to it. "*" covers every
// destination, so "*:22" refuses port 22 whatever the address.
func (pt *pattern) matchDeny(a netip.Addr, names []string) bool {
	if !pt.isIP && pt.name == "*" {
		return true
	}
	return pt.matchAllow(a, names)
}

// uncovered reports whether some port in [lo, hi] lies outside every
// range in deny.
func uncovered(lo, hi uint16, deny []*pattern) bool {
	for {
		moved := false
		for _, d := range deny {
			if d.lo <= lo && lo <= d.hi {
				if d.hi >= hi {
					return false
				}
				lo, moved = d.hi+1, true
			}
		}
		if !moved {
			return true
		}
	}
}

// CheckPattern reports whether s is a destination pattern the host accepts
// (see Policy), for callers that check a policy before using it.
func CheckPattern(s string) error {
	_, err := parsePattern(s)
	return err
}
