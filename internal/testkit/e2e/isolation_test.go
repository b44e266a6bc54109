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
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

// TestTwoGuestsIsolated runs two httpsget guests at the same time in one
// runtime: the first with the host's default provider and roots that trust
// the server, the second with its own provider and roots that do not. The
// second guest's handshake runs while the first guest's request is being
// served, so both are alive together.
func TestTwoGuestsIsolated(t *testing.T) {
	env.Compile(t, httpsget) // before the goroutines: compile may fail the test
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
	ctx := t.Context()
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
	var r1, r2 guestrun.Result
	wg.Go(func() {
		r1 = env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"},
			guestrun.Policy(loopback(host.Policy{RootCAs: p.Roots})))
	})
	wg.Go(func() {
		r2 = env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"},
			guestrun.Policy(loopback(host.Policy{RootCAs: other.Roots})), guestrun.Provider(second))
	})
	wg.Wait()
	if r1.Exit != 0 || !strings.HasSuffix(r1.Stdout, "served while the other guest ran") {
		t.Errorf("first guest: exit %d, stdout %q, stderr %q", r1.Exit, r1.Stdout, r1.Stderr)
	}
	if r2.Exit != 1 || !strings.HasPrefix(r2.Stderr, "error: tls: unknown authority") {
		t.Errorf("second guest: exit %d, stderr %q; want its own roots to reject the server", r2.Exit, r2.Stderr)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the second guest's provider ran %d times, want once (only for its own guest)", n)
	}
}
