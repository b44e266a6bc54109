package api

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// MaxServerNameLen is the longest DNS name (RFC 1035, without the trailing dot).
const MaxServerNameLen = 253

// ValidateServerName checks a server name before any network I/O. It accepts
// a DNS name or an IP address literal and returns a KindInvalidConfig *Error
// otherwise: empty, longer than 253 bytes, not UTF-8, containing NUL or other
// control characters, spaces, brackets, colons, '%', slashes or empty labels,
// or an IP address with a zone.
func ValidateServerName(name string) error {
	bad := func(why string) error {
		return &Error{Kind: KindInvalidConfig, Err: fmt.Errorf("invalid server name %q: %s", name, why)}
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxServerNameLen:
		return bad(fmt.Sprintf("%d bytes, longer than %d", len(name), MaxServerNameLen))
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x21 || r == 0x7f {
			return bad("contains a control character or space")
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		if a.Zone() != "" {
			// A zone is local to this host: not a name to verify or send.
			return bad("an IP address with a zone")
		}
		return nil
	}
	if strings.ContainsAny(name, "[]:%/\\") {
		// Parts of addresses and URLs: not a DNS name, and not an address.
		return bad("not a DNS name or an IP address")
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return bad("empty label")
		}
		if len(label) > 63 {
			return bad("label longer than 63 bytes")
		}
	}
	return nil
}
