package api

import (
	"strings"
	"testing"
)

// TestValidateServerName checks that nothing a guest sends as a server name
// smuggles control characters, spaces or a zone through the IP-literal path.
func TestValidateServerName(t *testing.T) {
	for _, ok := range []string{"localhost", "api.internal.", "xn--bcher-kva.example", "127.0.0.1", "::1", "[::1]", "a-b_c.example.com"} {
		if err := ValidateServerName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a..b", "local\x00host", "::1%\x00\r\n", "[::1%\r\nHost: x]", "fe80::1%eth0", "::1%", "127.0.0.1\n", "a:b", "x/y",
		strings.Repeat("a", 254), strings.Repeat("a", 64) + ".example"} {
		if err := ValidateServerName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if KindOf(err) != KindInvalidConfig {
			t.Errorf("%q: kind %v", bad, KindOf(err))
		}
	}
}
