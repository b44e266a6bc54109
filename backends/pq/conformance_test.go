package pq

import (
	"testing"

	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/peers"
)

// TestConformance runs the shared suite: servers that offer a hybrid group
// must work exactly as with stdtls; classical-only servers must be refused
// with api.ErrPQRequired (Capabilities.RequiresPQ).
func TestConformance(t *testing.T) {
	conformance.Run(t, New(), conformance.RequirePeers(peers.InCI()))
}

// TestConformancePrefer runs the suite in prefer mode, where classical
// servers are accepted.
func TestConformancePrefer(t *testing.T) {
	conformance.Run(t, New(WithMode(Prefer)), conformance.RequirePeers(peers.InCI()))
}
