package pq

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goServer runs a crypto/tls server on 127.0.0.1 until the test ends. handle
// runs on each accepted connection after a successful handshake.
func goServer(t *testing.T, cfg *tls.Config, handle func(*tls.Conn)) string {
	t.Helper()
	return loopback.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if handle != nil {
			handle(tc)
		} else {
			_, _ = io.Copy(tc, tc)
		}
	}).Addr()
}

// dial connects to addr and runs p's handshake; the transport is closed on
// failure and when the test ends.
func dial(t *testing.T, p api.Provider, addr string, cfg *api.Config) (api.Conn, error) {
	t.Helper()
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := p.Client(context.Background(), tcp, cfg)
	if err != nil {
		tcp.Close()
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	return conn, nil
}

func serverConfig(srv *pki.Cert, groups ...tls.CurveID) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{srv.TLS}, CurvePreferences: groups}
}

func clientConfig(p *pki.PKI, opts map[string]string) *api.Config {
	return &api.Config{ServerName: "localhost", RootCAs: p.Roots, Options: opts}
}

// echo checks that the connection carries data both ways.
func echo(t *testing.T, c api.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

func TestRegistered(t *testing.T) {
	p, err := api.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	caps := api.CapabilitiesOf(p)
	if !caps.RequiresPQ || caps.TLS12 || caps.ClassicalOnly || !caps.ReportsGroup {
		t.Fatalf("default capabilities %+v", caps)
	}
	if caps := mustNew(t, WithMode(Prefer)).Capabilities(); caps.RequiresPQ || !caps.TLS12 || !caps.ClassicalOnly {
		t.Fatalf("prefer capabilities %+v", caps)
	}
}

func TestInvalidConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  api.Config
		want string // must appear in the error
	}{
		{"unknown key", api.Config{ServerName: "a.test", Options: map[string]string{"curves": "x"}}, `"curves"`},
		{"unknown mode", api.Config{ServerName: "a.test", Options: map[string]string{"mode": "maybe"}}, `"maybe"`},
		{"unknown group", api.Config{ServerName: "a.test", Options: map[string]string{"groups": "X25519MLKEM768,Kyber"}}, `"Kyber"`},
		{"classical group", api.Config{ServerName: "a.test", Options: map[string]string{"groups": "X25519"}}, "not a hybrid"},
		{"empty groups", api.Config{ServerName: "a.test", Options: map[string]string{"groups": " , "}}, "no groups"},
		{"bad pin", api.Config{ServerName: "a.test", Options: map[string]string{"mldsa-pins": "sha1/abc"}}, `"sha256/"`},
		{"short pin", api.Config{ServerName: "a.test", Options: map[string]string{"mldsa-pins": "sha256/AAAA"}}, "SHA-256"},
		{"TLS 1.2 in require mode", api.Config{ServerName: "a.test", MaxVersion: tls.VersionTLS12}, "TLS 1.3"},
		{"bad server name", api.Config{ServerName: "a b"}, "server name"},
	}
	p := mustNew(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A pipe nobody reads: any I/O would block, so an early return
			// proves the check happens before the network.
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			_, err := p.Client(context.Background(), a, &tc.cfg)
			if !errors.Is(err, api.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want invalid configuration mentioning %s", err, tc.want)
			}
		})
	}
}

func TestParseGroups(t *testing.T) {
	gs, err := ParseGroups("secp256r1mlkem768, X25519MLKEM768,SecP256r1MLKEM768")
	if err != nil || !slices.Equal(gs, []tls.CurveID{tls.SecP256r1MLKEM768, tls.X25519MLKEM768}) {
		t.Fatalf("got %v, %v", gs, err)
	}
}

// TestClientHelloOffersOnlyHybrids looks at the ClientHello from the server
// side: require mode must not offer a classical group or TLS 1.2.
func TestClientHelloOffersOnlyHybrids(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	cases := []struct {
		opts       map[string]string
		want       []tls.CurveID
		classicals bool
	}{
		{nil, HybridGroups(), false},
		{map[string]string{"groups": "SecP256r1MLKEM768"}, []tls.CurveID{tls.SecP256r1MLKEM768}, false},
		{map[string]string{"mode": "prefer"}, HybridGroups(), true},
	}
	for _, tc := range cases {
		hellos := make(chan *tls.ClientHelloInfo, 1)
		cfg := serverConfig(srv)
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hellos <- h
			return nil, nil
		}
		addr := goServer(t, cfg, nil)
		if _, err := dial(t, mustNew(t), addr, clientConfig(p, tc.opts)); err != nil {
			t.Fatalf("%v: %v", tc.opts, err)
		}
		h := <-hellos
		var hybrids []tls.CurveID
		classical := false
		for _, g := range h.SupportedCurves {
			if api.IsHybridPQ(g) {
				hybrids = append(hybrids, g)
			} else {
				classical = true
			}
		}
		slices.Sort(hybrids)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(hybrids, want) || classical != tc.classicals {
			t.Errorf("%v: offered %v, want hybrids %v and classical=%v", tc.opts, h.SupportedCurves, want, tc.classicals)
		}
		if !tc.classicals && !slices.Equal(h.SupportedVersions, []uint16{tls.VersionTLS13}) {
			t.Errorf("%v: offered versions %x, want TLS 1.3 only", tc.opts, h.SupportedVersions)
		}
	}
}

func TestGoServerHybridGroups(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	for _, g := range HybridGroups() {
		t.Run(api.GroupName(g), func(t *testing.T) {
			addr := goServer(t, serverConfig(srv, g), nil)
			c, err := dial(t, mustNew(t), addr, clientConfig(p, nil))
			if err != nil {
				t.Fatal(err)
			}
			st := c.State()
			wantHRR := g != tls.X25519MLKEM768 // Go sends X25519MLKEM768 + X25519 shares first
			if st.Group != g || st.HelloRetryRequest != wantHRR || st.Backend != Name || st.Version != tls.VersionTLS13 {
				t.Fatalf("state: group %s HRR %v backend %q version %s; want %s HRR %v", st.GroupName(), st.HelloRetryRequest, st.Backend, st.VersionName(), api.GroupName(g), wantHRR)
			}
			echo(t, c)
		})
	}
}

// TestGroupPolicy: a P-256-only policy negotiates SecP256r1MLKEM768 with a
// server that has all groups, and refuses a server whose only hybrid is
// X25519MLKEM768.
func TestGroupPolicy(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	opts := map[string]string{"groups": "SecP256r1MLKEM768"}
	c, err := dial(t, mustNew(t), goServer(t, serverConfig(srv), nil), clientConfig(p, opts))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.State().Group; g != tls.SecP256r1MLKEM768 {
		t.Fatalf("group %s", api.GroupName(g))
	}
	_, err = dial(t, mustNew(t), goServer(t, serverConfig(srv, tls.X25519MLKEM768, tls.X25519), nil), clientConfig(p, opts))
	if !errors.Is(err, api.ErrPQRequired) {
		t.Fatalf("got %v, want PQ required", err)
	}
	// The provider-level option does the same.
	_, err = dial(t, mustNew(t, WithGroups(tls.SecP384r1MLKEM1024)), goServer(t, serverConfig(srv, tls.X25519MLKEM768), nil), clientConfig(p, nil))
	if !errors.Is(err, api.ErrPQRequired) {
		t.Fatalf("WithGroups: got %v, want PQ required", err)
	}
}

// TestGoServerClassical: a server restricted to classical groups, or to TLS
// 1.2, is refused in require mode with the classified error (wrapping the
// alert), and accepted in prefer mode, which reports the classical group.
func TestGoServerClassical(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	classical := serverConfig(srv, tls.X25519, tls.CurveP256)
	tls12 := serverConfig(srv, tls.X25519, tls.CurveP256)
	tls12.MaxVersion = tls.VersionTLS12
	for _, tc := range []struct {
		name        string
		cfg         *tls.Config
		wantVersion uint16
	}{{"classical groups", classical, tls.VersionTLS13}, {"TLS 1.2 only", tls12, tls.VersionTLS12}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := goServer(t, tc.cfg, nil)
			_, err := dial(t, mustNew(t), addr, clientConfig(p, nil))
			if !errors.Is(err, api.ErrPQRequired) || api.KindOf(err) != api.KindPQRequired {
				t.Fatalf("require: got %v, want PQ required", err)
			}
			// The cause is kept: the server's alert, classified.
			var outer *api.Error
			if !errors.As(err, &outer) || !slices.Contains([]api.Kind{api.KindPeerAlert, api.KindProtocolVersion}, api.KindOf(outer.Err)) ||
				!strings.Contains(err.Error(), "remote error") {
				t.Fatalf("require: %v does not wrap the server's alert", err)
			}
			c, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mode": "prefer"}))
			if err != nil {
				t.Fatalf("prefer: %v", err)
			}
			st := c.State()
			if st.Group != tls.X25519 || st.Version != tc.wantVersion {
				t.Fatalf("prefer: group %s version %s", st.GroupName(), st.VersionName())
			}
			echo(t, c)
			// A provider whose default is prefer needs no option.
			if _, err := dial(t, mustNew(t, WithMode(Prefer)), addr, clientConfig(p, nil)); err != nil {
				t.Fatalf("WithMode(Prefer): %v", err)
			}
		})
	}
}

// TestOtherFailuresStayClassified: require mode must not relabel a
// certificate failure as "PQ required".
func TestOtherFailuresStayClassified(t *testing.T) {
	p := pki.New(t)
	addr := goServer(t, serverConfig(p.Server()), nil)
	_, err := dial(t, mustNew(t), addr, clientConfig(pki.New(t), nil))
	if !errors.Is(err, api.ErrUnknownAuthority) {
		t.Fatalf("got %v, want unknown authority", err)
	}
	cfg := clientConfig(p, nil)
	cfg.ServerName = "other.test"
	if _, err := dial(t, mustNew(t), addr, cfg); !errors.Is(err, api.ErrNameMismatch) {
		t.Fatalf("got %v, want name mismatch", err)
	}
}

// TestResumption: a resumed TLS 1.3 session still runs a hybrid key exchange
// (psk_dhe_ke), so the group check passes and is reported.
func TestResumption(t *testing.T) {
	p := pki.New(t)
	addr := goServer(t, serverConfig(p.Server()), nil)
	cache := tls.NewLRUClientSessionCache(4)
	for i, wantResume := range []bool{false, true} {
		cfg := clientConfig(p, nil)
		cfg.ClientSessionCache = cache
		c, err := dial(t, mustNew(t), addr, cfg)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		echo(t, c) // reads the session ticket
		st := c.State()
		if st.DidResume != wantResume || !api.IsHybridPQ(st.Group) {
			t.Fatalf("connection %d: resumed %v group %s", i, st.DidResume, st.GroupName())
		}
		c.Close()
	}
}

// TestHybridsDisabledByGODEBUG: with the hybrid groups switched off in the
// process, require mode has nothing to offer and says so; prefer mode falls
// back to a classical group.
func TestHybridsDisabledByGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "tlsmlkem=0,tlssecpmlkem=0")
	p := pki.New(t)
	addr := goServer(t, serverConfig(p.Server()), nil)
	_, err := dial(t, mustNew(t), addr, clientConfig(p, nil))
	if !errors.Is(err, api.ErrPQRequired) || !strings.Contains(err.Error(), "GODEBUG") {
		t.Fatalf("require: got %v, want PQ required naming GODEBUG", err)
	}
	c, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mode": "prefer"}))
	if err != nil {
		t.Fatalf("prefer: %v", err)
	}
	if g := c.State().Group; api.IsHybridPQ(g) {
		t.Fatalf("prefer: group %s although hybrids are disabled", api.GroupName(g))
	}
}

// mustNew is New for tests, whose options are valid.
func mustNew(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNewRefusesBadOptions: a bad option is New's error, before any guest
// connects, not a pin that can never match or a mode nobody chose.
func TestNewRefusesBadOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"empty name":   WithName(""),
		"unknown mode": WithMode(Mode(7)),
		"md5 pin":      WithMLDSAPins("db.internal", "md5/AAAA"),
		"short pin":    WithMLDSAPins("db.internal", "sha256/AAAA"),
	} {
		if p, err := New(opt); err == nil {
			t.Errorf("%s: New accepted it (%v)", name, p)
		}
	}
	_, _, pin := genKey(t, mldsa65.Scheme())
	p := mustNew(t, WithMLDSAPins("DB.internal.", " "+pin+" "))
	if got := p.pins["db.internal"]; len(got) != 1 || got[0] != pin {
		t.Errorf("pins %v, want [%s]", got, pin)
	}
}
