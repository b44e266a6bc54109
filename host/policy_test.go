package host

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"
)

func TestPolicyPatterns(t *testing.T) {
	pol, err := compilePolicy(&Policy{
		Allow: []string{"example.com:443", "*.svc.test:8000-8999", "10.0.0.0/8:*", "[fd00::/8]:443", "[::1]:5432", "192.168.1.7:22"},
		Deny:  []string{"10.9.0.0/16:*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dest  string
		names []string
		ok    bool
	}{
		{"10.1.2.3:1", nil, true},
		{"10.9.0.1:80", nil, false}, // denied range wins
		{"[::ffff:10.1.2.3]:80", nil, true},
		{"[::ffff:10.9.2.3]:80", nil, false}, // mapped addresses are normalized before matching
		{"11.0.0.1:443", nil, false},
		{"11.0.0.1:443", []string{"example.com"}, true},
		{"11.0.0.1:444", []string{"example.com"}, false},
		{"11.0.0.1:443", []string{"evil-example.com"}, false},
		{"11.0.0.1:8080", []string{"a.svc.test"}, true},
		{"11.0.0.1:8080", []string{"a.b.svc.test"}, true},
		{"11.0.0.1:8080", []string{"svc.test"}, false},
		{"11.0.0.1:9000", []string{"a.svc.test"}, false},
		{"[fd12::1]:443", nil, true},
		{"[fe80::1]:443", nil, false},
		{"[::1]:5432", nil, true},
		{"127.0.0.1:5432", nil, false},
		{"192.168.1.7:22", nil, true},
	}
	for _, c := range cases {
		err := pol.allowConnect(netip.MustParseAddrPort(c.dest), c.names)
		if (err == nil) != c.ok {
			t.Errorf("%s via %v: allowed=%v, want %v (%v)", c.dest, c.names, err == nil, c.ok, err)
		}
	}
	// Lookup answers: name patterns keep any address outside Deny; IP
	// patterns keep addresses inside them.
	answers := []struct {
		name, addr string
		ok         bool
	}{
		{"example.com", "93.184.216.34", true},
		{"example.com", "10.9.1.1", false},
		{"other.test", "10.1.1.1", true},
		{"other.test", "8.8.8.8", false},
		{"x.svc.test", "::ffff:10.9.0.5", false},
	}
	for _, a := range answers {
		if got := pol.allowAnswer(a.name, netip.MustParseAddr(a.addr)); got != a.ok {
			t.Errorf("answer %s -> %s: %v, want %v", a.name, a.addr, got, a.ok)
		}
	}
}

func TestPolicyDefaultDeny(t *testing.T) {
	pol, err := compilePolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if pol.allowConnect(netip.MustParseAddrPort("127.0.0.1:443"), []string{"localhost"}) == nil {
		t.Fatal("the zero policy allows a connect")
	}
	if pol.NameLookup || pol.allowAnswer("localhost", netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("the zero policy allows name lookup")
	}
	if pol.limits.Handles != DefaultMaxHandles || pol.limits.Connections != DefaultMaxConnections || pol.limits.Handshakes != DefaultMaxHandshakes {
		t.Fatalf("default limits %+v", pol.limits)
	}
}

func TestPolicyBadPatterns(t *testing.T) {
	for _, bad := range []string{"example.com", "::1:443", "[::1:443", "a.*.com:443", "example.com:99999", "example.com:9-1", ":443", "x:y",
		// Patterns that would match nothing (in Deny: fail open) are errors.
		"[::ffff:0:0/95]:*", "[::ffff:127.0.0.1/80]:*", "10.0.0.0/33:*", "10.0.0.300:*", "1.2.3:443", "[localhost]:443",
		"exa mple.com:443", "a..b:443", "0..:0", "example.com..:443", "[fe80::1%eth0]:*", "*.*.example.com:*", "example.*:443", "*x.example.com:*"} {
		if _, err := compilePolicy(&Policy{Allow: []string{bad}}); err == nil || !strings.Contains(err.Error(), "bad destination pattern") {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	for _, bad := range []string{"[::ffff:0:0/95]:*", "10.0.0.0/33:*", "[fe80::1%eth0]:*"} {
		if _, err := compilePolicy(&Policy{Allow: []string{"*:*"}, Deny: []string{bad}}); err == nil {
			t.Errorf("Deny %q compiled", bad)
		}
	}
	// A mapped range of at least 96 bits is the IPv4 range.
	pol, err := compilePolicy(&Policy{Allow: []string{"0.0.0.0/0:*"}, Deny: []string{"[::ffff:10.0.0.0/104]:*"}})
	if err != nil {
		t.Fatal(err)
	}
	if pol.allowConnect(netip.MustParseAddrPort("10.1.2.3:1"), nil) == nil || pol.allowConnect(netip.MustParseAddrPort("11.1.2.3:1"), nil) != nil {
		t.Error("[::ffff:10.0.0.0/104] is not 10.0.0.0/8")
	}
	if _, err := compilePolicy(&Policy{Identities: []Identity{{Dest: "*:*"}}}); err == nil {
		t.Error("identity without certificate accepted")
	}
	if _, err := compilePolicy(&Policy{MinVersion: 0x0301}); err == nil {
		t.Error("TLS 1.0 minimum accepted")
	}
}

func TestPolicyConfig(t *testing.T) {
	pol, err := compilePolicy(&Policy{
		ALPN: []ALPNRule{{Dest: "*.example.com:443", Protocols: []string{"h2", "http/1.1"}}, {Dest: "*:*", Protocols: []string{"http/1.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := func(port uint16) tlsDest {
		return tlsDest{addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), names: []string{"www.example.com"}, ok: true}
	}
	if cfg, _ := pol.config("www.example.com", at(443)); strings.Join(cfg.NextProtos, ",") != "h2,http/1.1" {
		t.Errorf("ALPN for www.example.com:443: %v", cfg.NextProtos)
	}
	if cfg, _ := pol.config("www.example.com", at(8443)); strings.Join(cfg.NextProtos, ",") != "http/1.1" {
		t.Errorf("ALPN for www.example.com:8443: %v", cfg.NextProtos)
	}
	if cfg, id := pol.config("www.example.com", at(1)); cfg.ClientCertificate != nil || id != -1 {
		t.Error("a client certificate without identities")
	}
}

// TestPolicyDenyByName checks that every kind of Deny pattern wins in every
// decision: connects (by the address and by every name this guest resolved
// to it), the lookup gate, the answer filter and the server name.
func TestPolicyDenyByName(t *testing.T) {
	pol, err := compilePolicy(&Policy{
		Allow: []string{"localhost:18443", "127.0.0.0/8:*", "*.example.com:*", "*:443"},
		Deny:  []string{"localhost:*", "secret.example.com:443", "*.internal.example.com:*", "*:22", "*:18444"},
	})
	if err != nil {
		t.Fatal(err)
	}
	conns := []struct {
		dest  string
		names []string
		ok    bool
	}{
		{"127.0.0.1:18443", []string{"localhost"}, false},          // localhost:* wins over localhost:18443 and 127/8
		{"127.0.0.1:18443", []string{"other", "LOCALHOST"}, false}, // any resolved name that is denied
		{"127.0.0.1:18443", nil, true},                             // by address alone (the limitation Deny documents)
		{"127.0.0.1:22", nil, false},                               // *:22 without any name
		{"127.0.0.1:18444", nil, false},
		{"127.0.0.1:18445", nil, true},
		{"93.184.216.34:443", []string{"secret.example.com"}, false},
		{"93.184.216.34:8443", []string{"secret.example.com"}, true}, // secret.example.com is denied on 443 only
		{"93.184.216.34:443", []string{"www.example.com"}, true},
		{"93.184.216.34:443", []string{"www.example.com", "secret.example.com"}, false},
		{"93.184.216.34:80", []string{"a.internal.example.com"}, false},
		{"93.184.216.34:80", []string{"internal.example.com"}, true}, // "*." needs a label before the suffix
		{"93.184.216.34:22", []string{"www.example.com"}, false},
	}
	for _, c := range conns {
		err := pol.allowConnect(netip.MustParseAddrPort(c.dest), c.names)
		if (err == nil) != c.ok {
			t.Errorf("connect %s via %v: allowed=%v, want %v (%v)", c.dest, c.names, err == nil, c.ok, err)
		}
	}
	scopes := []struct {
		name       string
		ok, byName bool
	}{
		{"localhost", false, false},              // denied on every port: no query
		{"LocalHost.", false, false},             // in any spelling
		{"x.internal.example.com", false, false}, // and through a wildcard
		{"secret.example.com", true, true},       // allowed on ports other than 443
		{"www.example.com", true, true},
		{"other.test", true, true}, // "*:443"
	}
	for _, c := range scopes {
		if ok, byName := pol.lookupScope(c.name); ok != c.ok || byName != c.byName {
			t.Errorf("lookupScope(%q) = %v, %v; want %v, %v", c.name, ok, byName, c.ok, c.byName)
		}
	}
	answers := []struct {
		name, addr string
		ok         bool
	}{
		{"localhost", "127.0.0.1", false},
		{"other.test", "127.0.0.1", true},
		{"secret.example.com", "93.184.216.34", true},
		{"x.internal.example.com", "127.0.0.1", false},
		{"127.0.0.1", "127.0.0.1", true}, // a literal: only IP patterns apply
		{"10.0.0.1", "10.0.0.1", false},  // "*:443" is a name pattern, not an address
	}
	for _, a := range answers {
		if got := pol.allowAnswer(a.name, netip.MustParseAddr(a.addr)); got != a.ok {
			t.Errorf("answer %s -> %s: %v, want %v", a.name, a.addr, got, a.ok)
		}
	}
	// A port-only Deny everywhere leaves the lookup no port: refused.
	all, err := compilePolicy(&Policy{Allow: []string{"127.0.0.0/8:*", "*:*"}, Deny: []string{"*:*"}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := all.lookupScope("localhost"); ok || all.allowAnswer("localhost", netip.MustParseAddr("127.0.0.1")) {
		t.Error(`Deny "*:*" lets a lookup through`)
	}
	// Server names: on the connection's port, and whatever the port over
	// streams, except "*" there (it would refuse every such handshake).
	at := func(port uint16) tlsDest {
		return tlsDest{addr: netip.AddrPortFrom(netip.MustParseAddr("93.184.216.34"), port), names: []string{"www.example.com"}, ok: true}
	}
	for _, c := range []struct {
		name string
		d    tlsDest
		ok   bool
	}{
		{"secret.example.com", at(443), false},
		{"SECRET.example.com.", at(443), false},
		{"secret.example.com", at(8443), true},
		{"www.example.com", at(443), true},
		{"www.example.com", at(22), false},
		{"secret.example.com", tlsDest{}, false},
		{"a.internal.example.com", tlsDest{}, false},
		{"www.example.com", tlsDest{}, true},
		{"93.184.216.34", at(22), true}, // literals were decided at connect
	} {
		if err := pol.deniedServerName(c.name, c.d); (err == nil) != c.ok {
			t.Errorf("server name %q over %v: allowed=%v, want %v (%v)", c.name, c.d, err == nil, c.ok, err)
		}
	}
}

// TestPolicyIdentity checks the choice of identity against the destination
// actually connected to, not the server name alone.
func TestPolicyIdentity(t *testing.T) {
	cert := &tls.Certificate{}
	pol, err := compilePolicy(&Policy{Identities: []Identity{
		{Dest: "api.internal:8443", Certificate: cert},
		{Dest: "127.0.0.1:8445", Certificate: cert},
		{Dest: "*.svc.test:*", Certificate: cert},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dest := func(s string, names ...string) tlsDest {
		return tlsDest{addr: netip.MustParseAddrPort(s), names: names, ok: true}
	}
	for _, c := range []struct {
		name string
		d    tlsDest
		want int
	}{
		{"api.internal", dest("10.0.0.5:8443", "api.internal"), 0},
		{"API.internal.", dest("10.0.0.5:8443", "api.internal"), 0},
		{"api.internal", dest("10.0.0.6:8443", "relay.test"), -1}, // a relay: the name never led there
		{"api.internal", dest("10.0.0.6:8443"), -1},
		{"api.internal", dest("10.0.0.5:8444", "api.internal"), -1},
		{"api.internal", tlsDest{}, -1}, // TLS inside TLS
		{"localhost", dest("127.0.0.1:8445", "localhost"), 1},
		{"127.0.0.1", dest("127.0.0.1:8445"), 1},
		{"[::ffff:127.0.0.1]", dest("127.0.0.1:8445"), 1},
		{"localhost", dest("127.0.0.1:8445"), 1},  // an address pattern: the destination decides
		{"127.0.0.2", dest("127.0.0.1:8445"), -1}, // a literal of another address
		{"localhost", dest("127.0.0.2:8445", "localhost"), -1},
		{"a.svc.test", dest("10.1.1.1:1", "a.svc.test", "b.svc.test"), 2},
		{"c.svc.test", dest("10.1.1.1:1", "a.svc.test"), -1}, // matches the pattern but led elsewhere
		{"10.1.1.1", dest("10.1.1.1:1", "a.svc.test"), -1},   // a literal does not match a name pattern
	} {
		if got := pol.identity(c.name, c.d); got != c.want {
			t.Errorf("identity(%q, %v %v) = %d, want %d", c.name, c.d, c.d.names, got, c.want)
		}
	}
	pol.StreamIdentities = true
	if got := pol.identity("a.svc.test", tlsDest{}); got != 2 {
		t.Errorf("StreamIdentities: %d, want 2 (the first for every port)", got)
	}
	if got := pol.identity("api.internal", tlsDest{}); got != -1 {
		t.Errorf("StreamIdentities: api.internal:8443 applied without a port: %d", got)
	}
}
