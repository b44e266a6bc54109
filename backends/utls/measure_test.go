package utls

import (
	"os"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// TestMeasure prints the JA4 and JA3 of every built-in fingerprint, to
// refresh fingerprintTable after a uTLS upgrade:
//
//	MEASURE=1 go test ./backends/utls -run TestMeasure -v
//
// MEASURE_NAMES=a,b limits the names, MEASURE_ROUNDS=1 connects 30 times
// each (to find hellos whose JA4 varies). It is skipped otherwise.
func TestMeasure(t *testing.T) {
	if os.Getenv("MEASURE") == "" {
		t.Skip("MEASURE not set")
	}
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t, WithALPN(ALPNFingerprint))
	names := BuiltinFingerprints()
	if n := os.Getenv("MEASURE_NAMES"); n != "" {
		names = strings.Split(n, ",")
	}
	rounds := 2
	if os.Getenv("MEASURE_ROUNDS") != "" {
		rounds = 30
	}
	for _, name := range names {
		for i := 0; i < rounds; i++ {
			c, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: name})
			var h seen
			if err == nil || api.KindOf(err) != api.KindInvalidConfig {
				h = s.hello(t, local)
			}
			if err != nil {
				t.Logf("%-18s ERROR %v  %s", name, err, h.JA4)
				continue
			}
			st := c.State()
			c.Close()
			t.Logf("%-18s %s %s %s %s %s", name, h.JA4, h.JA3, st.VersionName(), st.GroupName(), st.NegotiatedProtocol)
		}
	}
}
