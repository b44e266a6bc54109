package stdtls_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the shared suite against crypto/tls.
func TestConformance(t *testing.T) {
	conformance.Run(t, stdtls.Provider{}, conformance.RequirePeers(peers.InCI()))
}

// TestServerConformance runs the shared server-side cases.
func TestServerConformance(t *testing.T) {
	conformance.RunServer(t, stdtls.Provider{})
}
