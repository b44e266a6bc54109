package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/exaring/ja4plus"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

// TestFingerprintThroughGuest runs one unchanged guest binary several times,
// switching only the host's backend and fingerprint, and checks what the
// server saw: each uTLS parrot's JA4 (values measured in backends/utls), and
// a stdtls JA4 different from all of them.
func TestFingerprintThroughGuest(t *testing.T) {
	p := pki.New(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.Server().TLS},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			seen = append(seen, ja4plus.JA4(h))
			mu.Unlock()
			return nil, nil
		},
	}
	srv.StartTLS()
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)

	// The browsers' own ALPN lists, pinned (the guest states none).
	parrot, err := utls.New(utls.WithALPN(utls.ALPNFingerprint))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		provider    api.Provider
		fingerprint string
		want        string // "" for stdtls: only "different from the parrots"
	}{
		{parrot, "chrome", "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		{parrot, "firefox", "t13d1715h2_5b57614c22b0_5c2c66f702b0"},
		{parrot, "safari", "t13d2014h2_a09f3c656075_14788d8d241b"},
		{parrot, "edge", "t13d1515h2_8daaf6152771_de4a06bb82e3"},
		{stdtls.Provider{}, "", ""},
	}
	got := map[string]bool{}
	for _, c := range cases {
		name := c.provider.Name() + "/" + c.fingerprint
		mu.Lock()
		seen = nil
		mu.Unlock()
		r := env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"},
			guestrun.Provider(c.provider),
			guestrun.Policy(loopback(host.Policy{RootCAs: p.Roots, Fingerprint: c.fingerprint})))
		if r.Exit != 0 {
			t.Fatalf("%s: exit %d, stderr:\n%s", name, r.Exit, r.Stderr)
		}
		mu.Lock()
		hellos := append([]string(nil), seen...)
		mu.Unlock()
		if len(hellos) != 1 {
			t.Fatalf("%s: server saw %d ClientHellos, want 1", name, len(hellos))
		}
		t.Logf("%-14s JA4 %s", name, hellos[0])
		if c.want != "" && hellos[0] != c.want {
			t.Errorf("%s: JA4 %s, want %s", name, hellos[0], c.want)
		}
		if c.want == "" && got[hellos[0]] {
			t.Errorf("%s: JA4 %s equals a parrot's", name, hellos[0])
		}
		got[hellos[0]] = true
	}
}
