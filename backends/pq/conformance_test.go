package pq

import (
	"testing"

	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestConformance runs the shared suite: servers that offer a hybrid group
// must work exactly as with stdtls; classical-only servers must be refused
// with api.ErrPQRequired (Capabilities.RequiresPQ).
func TestConformance(t *testing.T) {
	conformance.Run(t, mustNew(t), conformance.RequirePeers(peers.InCI()))
}

// TestConformancePrefer runs the suite in prefer mode, where classical
// servers are accepted.
func TestConformancePrefer(t *testing.T) {
	conformance.Run(t, mustNew(t, WithMode(Prefer)), conformance.RequirePeers(peers.InCI()))
}

// TestServerConformance runs the server-side cases: in require mode a
// classical or TLS 1.2 client is refused with api.ErrPQRequired, in prefer
// mode served.
func TestServerConformance(t *testing.T) {
	conformance.RunServer(t, mustNew(t))
}

// TestServerConformancePrefer is TestServerConformance in prefer mode.
func TestServerConformancePrefer(t *testing.T) {
	conformance.RunServer(t, mustNew(t, WithMode(Prefer)))
}
