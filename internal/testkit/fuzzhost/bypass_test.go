package fuzzhost

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

// A guest cannot get a TLS connection to a server whose certificate its
// policy does not trust, whatever it calls: the handshake takes only a
// server name and two streams, so there is nothing to turn verification
// off with. Every name, both transport paths (the socket itself and the
// stream adapter), and a second guest that trusts the server (so that a
// session ticket exists in the host) all fail verification.
func TestNoWayToSkipVerification(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	evil := pki.New(t) // a CA the guest does not trust
	cert := evil.Issue(pki.Leaf{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	untrusted := newServer(t, "tcp4", "127.0.0.1:0", tlsEcho(&tls.Config{Certificates: []tls.Certificate{cert.TLS}}))

	// A guest that does trust the evil CA connects first: its session
	// ticket must not help the others.
	friend := f.guest(t, f.ctx, func(p *host.Policy) { p.RootCAs = evil.Roots })
	dialTLS(t, friend, untrusted.AddrPort(), "localhost")

	names := []string{"localhost", "LOCALHOST", "localhost.", "127.0.0.1", "", "*", "*.localhost", "wasitls test root",
		strings.Repeat("a", 254), "local\x00host", "xn--localhost", "::1"}
	for _, adapted := range []bool{false, true} {
		for _, name := range names {
			x := f.guest(t, f.ctx, nil)
			_, in, out, err := x.Connect(untrusted.AddrPort())
			if err != nil {
				t.Fatal(err)
			}
			if adapted { // touch the input stream so the host adapts the streams
				if _, err := x.Call(rawguest.Streams, "[method]input-stream.read", uint64(in), 0, rawguest.RetArea); err != nil {
					t.Fatal(err)
				}
			}
			_, _, _, err = x.Handshake(name, in, out)
			var ioe *rawguest.IOError
			switch {
			case errors.As(err, &ioe):
				if !strings.HasPrefix(ioe.Debug, "tls: unknown authority") && !strings.HasPrefix(ioe.Debug, "tls: name mismatch") &&
					!strings.HasPrefix(ioe.Debug, "tls: invalid configuration") {
					t.Errorf("name %q: %s", name, ioe.Debug)
				}
			case rawguest.IsTrap(err): // e.g. a name the host refuses outright
			default:
				t.Errorf("name %q (adapted %v): %v: a connection to an untrusted server", name, adapted, err)
			}
			_ = x.Close(context.Background())
		}
	}
	_ = friend.Close(context.Background())
	untrusted.Close()
}

// Destinations: a denied address is refused directly, by a CIDR deny that
// wins over an allow, by a port outside the allowed one, and through the
// other IP family and IPv4-mapped IPv6 forms.
func TestDeniedAddresses(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	port := f.echo.AddrPort().Port()
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), port)
	cases := []struct {
		name   string
		allow  []string
		deny   []string
		dest   netip.AddrPort
		denied bool
	}{
		{"allowed control", []string{"127.0.0.1:*"}, nil, f.echo.AddrPort(), false},
		{"not allowed", []string{"10.0.0.0/8:*"}, nil, f.echo.AddrPort(), true},
		{"deny wins over allow", []string{"127.0.0.0/8:*"}, []string{"127.0.0.1/32:*"}, f.echo.AddrPort(), true},
		{"other port", []string{"127.0.0.1:1-1023"}, nil, f.echo.AddrPort(), true},
		{"name pattern without a lookup", []string{"localhost:*"}, nil, f.echo.AddrPort(), true},
		{"v4-mapped when only ::1 is allowed", []string{"[::1]:*"}, nil, mapped, true},
		{"v4-mapped when 127.0.0.1 is denied", []string{"[::/0]:*", "0.0.0.0/0:*"}, []string{"127.0.0.0/8:*"}, mapped, true},
		{"v4-mapped allow pattern is the v4 address", []string{"[::ffff:127.0.0.1]:*"}, nil, f.echo.AddrPort(), false},
		{"v4 allow does not admit ::1", []string{"127.0.0.1:*"}, nil, netip.AddrPortFrom(netip.IPv6Loopback(), port), true},
		{"0.0.0.0 (reaches loopback on Linux)", []string{"0.0.0.0/0:*"}, []string{"127.0.0.0/8:*"}, netip.AddrPortFrom(netip.IPv4Unspecified(), port), true},
		{":: (reaches loopback on Linux)", []string{"[::/0]:*"}, []string{"[::1]:*"}, netip.AddrPortFrom(netip.IPv6Unspecified(), port), true},
	}
	if f.echo6 == nil {
		t.Log("no IPv6 loopback: the ::1 cases only check the policy")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := f.guest(t, f.ctx, func(p *host.Policy) { p.Allow, p.Deny = tc.allow, tc.deny })
			_, _, _, err := x.Connect(tc.dest)
			t.Logf("%s -> %v", tc.dest, fmtErr(err))
			// access-denied, or invalid-argument for the unspecified
			// addresses (as WASI specifies): anything but a connection.
			var code rawguest.CodeError
			if tc.denied && (err == nil || !errors.As(err, &code) || (code != rawguest.CodeAccessDenied && code != rawguest.CodeInvalidArgument)) {
				t.Errorf("connect to %s with allow %v deny %v: %v, want access-denied", tc.dest, tc.allow, tc.deny, fmtErr(err))
			}
			if !tc.denied && err != nil {
				t.Errorf("connect to %s: %v", tc.dest, err)
			}
			_ = x.Close(context.Background())
		})
	}
}

// Name lookups: answers outside the policy are dropped, a lookup whose
// answers are all dropped is access-denied, an IP literal is no way around
// a name-only allow, and lookups are off unless enabled. The expected
// answers are the system resolver's for localhost, filtered by the test.
func TestNameLookupFiltering(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	truth, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", "localhost")
	if err != nil || len(truth) == 0 {
		t.Fatalf("the system cannot resolve localhost: %v", err)
	}
	for i := range truth {
		truth[i] = truth[i].Unmap()
	}
	loop4 := netip.MustParsePrefix("127.0.0.0/8")
	cases := []struct {
		name   string
		pol    func(*host.Policy)
		lookup string
		keep   func(netip.Addr) bool // nil: access-denied expected
	}{
		{"control", func(p *host.Policy) { p.Allow = []string{"localhost:*"} }, "localhost", func(netip.Addr) bool { return true }},
		{"deny 127/8 drops the v4 answers", func(p *host.Policy) { p.Allow, p.Deny = []string{"localhost:*"}, []string{"127.0.0.0/8:*"} },
			"localhost", func(a netip.Addr) bool { return !loop4.Contains(a) }},
		{"deny both families", func(p *host.Policy) {
			p.Allow, p.Deny = []string{"localhost:*"}, []string{"127.0.0.0/8:*", "[::1]:*"}
		}, "localhost", nil},
		{"allow by address keeps only that address", func(p *host.Policy) { p.Allow = []string{"[::1]:*"} }, "localhost",
			func(a netip.Addr) bool { return a == netip.IPv6Loopback() }},
		{"IP literal under a name-only allow", func(p *host.Policy) { p.Allow = []string{"localhost:*"} }, "127.0.0.1", nil},
		// Names no pattern allows are not looked up at all (no DNS query
		// leaves the host), and an unresolvable name is no different from
		// a filtered one (no oracle for which names exist).
		{"a name no pattern allows", func(p *host.Policy) { p.Allow = []string{"localhost:*"} }, "ip6-localhost", nil},
		{"an unresolvable name no pattern allows", func(p *host.Policy) { p.Allow = []string{"localhost:*"} }, "does-not-exist.invalid", nil},
		{"an unresolvable name under an address allow", func(p *host.Policy) { p.Allow = []string{"127.0.0.1:*"} }, "does-not-exist.invalid", nil},
		{"lookups off", func(p *host.Policy) { p.Allow, p.NameLookup = []string{"localhost:*"}, false }, "localhost", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := f.guest(t, f.ctx, tc.pol)
			got, err := x.Resolve(tc.lookup)
			var want []netip.Addr
			if tc.keep != nil {
				for _, a := range truth {
					if tc.keep(a) {
						want = append(want, a)
					}
				}
			}
			t.Logf("%s -> %v %v (system: %v, want %v)", tc.lookup, got, fmtErr(err), truth, want)
			if len(want) == 0 {
				if !errors.Is(err, rawguest.CodeAccessDenied) || len(got) != 0 {
					t.Errorf("lookup %s: %v %v, want access-denied", tc.lookup, got, err)
				}
			} else if err != nil || !slices.Equal(got, want) {
				t.Errorf("lookup %s: %v %v, want %v", tc.lookup, got, err, want)
			}
			// A dropped answer of localhost cannot be connected to either.
			for _, a := range truth {
				if tc.lookup != "localhost" {
					break
				}
				if slices.Contains(want, a) || a != netip.MustParseAddr("127.0.0.1") {
					continue
				}
				if _, _, _, err := x.Connect(netip.AddrPortFrom(a, f.echo.AddrPort().Port())); err == nil {
					t.Errorf("connected to %s, an answer the policy dropped", a)
				}
			}
			_ = x.Close(context.Background())
		})
	}
}

// secretLog collects the TLS secrets a server logs (NSS key log format).
type secretLog struct {
	mu      sync.Mutex
	secrets [][]byte
}

func (l *secretLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(string(p), "\n") {
		if fs := strings.Fields(line); len(fs) == 3 {
			if b, err := hex.DecodeString(fs[2]); err == nil {
				l.secrets = append(l.secrets, b)
			}
		}
	}
	return len(p), nil
}

// After an mTLS connection (and after using it), the guest's memory holds
// neither the client's private key (its scalar or its PKCS #8 encoding) nor
// any of the connection's traffic secrets, nor the client certificate the
// host presented for it.
func TestKeyMaterialNotInGuestMemory(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	client := f.pki.Client("guest-identity")
	keys := &secretLog{}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(f.pki.Root.Cert)
	mtls := newServer(t, "tcp4", "127.0.0.1:0", func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{f.pki.Server().TLS}, ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs: clientCAs, KeyLogWriter: keys})
		_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
		if tc.Handshake() != nil {
			return
		}
		_, _ = tc.Write([]byte("hello " + tc.ConnectionState().PeerCertificates[0].Subject.CommonName))
		_ = tc.CloseWrite()
		_, _ = tc.Read(make([]byte, 1))
	})
	x := f.guest(t, f.ctx, func(p *host.Policy) {
		p.Identities = []host.Identity{{Dest: "127.0.0.1:*", Certificate: &client.TLS}}
	})
	_, _, tin, _ := dialTLS(t, x, mtls.AddrPort(), "localhost")
	got, err := x.ReadAll(tin)
	if err != nil || string(got) != "hello guest-identity" {
		t.Fatalf("mTLS exchange: %q %v", got, err)
	}
	mem := x.Mod.Memory()
	all, ok := mem.Read(0, mem.Size())
	if !ok {
		t.Fatal("cannot read guest memory")
	}
	ec := client.Key.(*ecdsa.PrivateKey)
	scalar, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"private key scalar": scalar, "PKCS #8 key": pkcs8, "client certificate": client.Cert.Raw}
	keys.mu.Lock()
	for i, s := range keys.secrets {
		needles["traffic secret "+string(rune('0'+i))] = s
	}
	keys.mu.Unlock()
	if len(needles) < 5 {
		t.Fatalf("only %d needles: the key log is empty", len(needles))
	}
	for what, n := range needles {
		if bytes.Contains(all, n) {
			t.Errorf("the guest's memory contains the %s", what)
		}
	}
	t.Logf("scanned %d bytes of guest memory for %d secrets", len(all), len(needles))
	_ = x.Close(context.Background())
	mtls.Close()
}
