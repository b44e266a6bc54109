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

// TestNew: New has the shape of the other backends' constructors; a named
// instance passes the suite, which checks that its states carry its name,
// and a bad option is New's error.
func TestNew(t *testing.T) {
	p, err := stdtls.New(stdtls.WithName("stdtls-second"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "stdtls-second" {
		t.Fatalf("Name %q", p.Name())
	}
	conformance.Run(t, p, conformance.RequirePeers(peers.InCI()))
	if _, err := stdtls.New(stdtls.WithName("")); err == nil {
		t.Error("New accepted an empty name")
	}
}
