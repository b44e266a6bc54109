package kind

import (
	"go/build"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		debug string
		kind  Kind
		alert uint8
		ok    bool
	}{
		{"tls: name mismatch [stdtls]: x509: certificate is valid for a, not b", NameMismatch, 0, true},
		{"tls: peer alert unknown_ca (48) [utls]: remote error", PeerAlert, 48, true},
		{"tls: peer alert", PeerAlert, 0, true},
		{"tls: certificate expired: x", Expired, 0, true},
		{"tls: certificate not yet valid", NotYetValid, 0, true},
		{"tls: post-quantum key exchange required [pq]: ...", PQRequired, 0, true},
		{"tls: canceledX", Unknown, 0, false},
		{"tcp: connection-refused", Unknown, 0, false},
		{"", Unknown, 0, false},
	} {
		k, a, ok := Parse(c.debug)
		if k != c.kind || a != c.alert || ok != c.ok {
			t.Errorf("Parse(%q) = %v, %d, %v; want %v, %d, %v", c.debug, k, a, ok, c.kind, c.alert, c.ok)
		}
	}
	for k := Unknown; k <= InvalidConfig; k++ {
		if got, _, ok := Parse(Prefix + k.String() + " [x]: y"); !ok || got != k {
			t.Errorf("round trip of %v: %v, %v", k, got, ok)
		}
	}
}

// TestLeaf keeps the table cheap for guests: every GOOS=wasip1 guest that
// reads an error links it.
func TestLeaf(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if imp != "strconv" {
			t.Errorf("package kind imports %s; it must stay a leaf (strconv only)", imp)
		}
	}
}
