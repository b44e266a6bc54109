package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
)

// TestTwoGuestsIsolated runs two httpsget guests at the same time in one
// runtime: the first with the host's default provider and roots that trust
// the server, the second with its own provider and roots that do not. The
// second guest's handshake runs while the first guest's request is being
// served, so both are alive together.
func TestTwoGuestsIsolated(t *testing.T) {
	compile(t, httpsget) // before the goroutines: compile may fail the test
	p, other := pki.New(t), pki.New(t)
	inHandler := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		fmt.Fprint(w, "served while the other guest ran")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)

	var calls atomic.Int32
	ctx := ctxFor(t)
	second := api.ProviderFunc("second", func(pctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
		calls.Add(1)
		select {
		case <-inHandler:
		case <-ctx.Done():
		}
		defer close(release)
		return stdtls.Provider{}.Client(pctx, transport, cfg)
	})

	var wg sync.WaitGroup
	var r1, r2 result
	wg.Go(func() {
		r1 = runWith(t, httpsget, []host.Option{host.WithPolicy(loopback(host.Policy{RootCAs: p.Roots}))},
			"localhost", port, "/", "localhost")
	})
	wg.Go(func() {
		r2 = runWith(t, httpsget, []host.Option{host.WithPolicy(loopback(host.Policy{RootCAs: other.Roots})), host.WithProvider(second)},
			"localhost", port, "/", "localhost")
	})
	wg.Wait()
	if r1.exit != 0 || !strings.HasSuffix(r1.stdout, "served while the other guest ran") {
		t.Errorf("first guest: exit %d, stdout %q, stderr %q", r1.exit, r1.stdout, r1.stderr)
	}
	if r2.exit != 1 || !strings.HasPrefix(r2.stderr, "error: tls: unknown authority") {
		t.Errorf("second guest: exit %d, stderr %q; want its own roots to reject the server", r2.exit, r2.stderr)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the second guest's provider ran %d times, want once (only for its own guest)", n)
	}
}
