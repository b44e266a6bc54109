package host

import (
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
	for _, bad := range []string{"example.com", "::1:443", "[::1:443", "a.*.com:443", "example.com:99999", "example.com:9-1", ":443", "x:y"} {
		if _, err := compilePolicy(&Policy{Allow: []string{bad}}); err == nil || !strings.Contains(err.Error(), "bad destination pattern") {
			t.Errorf("%q: err %v", bad, err)
		}
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
	if got := pol.config("www.example.com", 443).NextProtos; strings.Join(got, ",") != "h2,http/1.1" {
		t.Errorf("ALPN for www.example.com:443: %v", got)
	}
	if got := pol.config("www.example.com", 8443).NextProtos; strings.Join(got, ",") != "http/1.1" {
		t.Errorf("ALPN for www.example.com:8443: %v", got)
	}
	if pol.config("x", 1).ClientCertificate != nil {
		t.Error("a client certificate without identities")
	}
}
