package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// foreignGuests are the guests built by other compilers, with their own
// canonical-ABI code (see internal/guests/rusttls and ctls).
var foreignGuests = []string{rusttls, ctls}

// TestHTTPSGetForeignGuests: the Rust and C guests fetch a page the way
// wasi-libc sends (check-write + write, no flush) and read until the
// server closes, from Go's crypto/tls and from OpenSSL's s_server. A host
// that sends only on flush never sends their request: the run times out.
func TestHTTPSGetForeignGuests(t *testing.T) {
	p := pki.New(t)
	port := httpsServer(t, p.Server().TLS, "hello from crypto/tls")
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
	sport := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	pol := loopback(host.Policy{RootCAs: p.Roots})
	for _, guest := range foreignGuests {
		t.Run(filepath.Base(guest), func(t *testing.T) {
			env.Compile(t, guest)
			r := env.Run(t, guest, []string{"get", "localhost", port, "/path", "localhost"},
				guestrun.Policy(pol), guestrun.Timeout(20*time.Second))
			if r.Exit != 0 {
				t.Fatalf("crypto/tls: exit %d, stderr:\n%s", r.Exit, r.Stderr)
			}
			if !strings.HasPrefix(r.Stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.Stdout, "hello from crypto/tls /path localhost\n") {
				t.Errorf("crypto/tls: response:\n%s", r.Stdout)
			}

			r = env.Run(t, guest, []string{"get", "localhost", sport, "/", "localhost"},
				guestrun.Policy(pol), guestrun.Timeout(20*time.Second))
			if r.Exit != 0 {
				t.Fatalf("s_server: exit %d, stderr:\n%s", r.Exit, r.Stderr)
			}
			if !strings.HasPrefix(r.Stdout, "HTTP/1.0 200 ok\r\n") || !strings.Contains(r.Stdout, "TLSv1.3") {
				t.Errorf("s_server: not its status page over TLS 1.3:\n%s", r.Stdout)
			}
		})
	}
}
