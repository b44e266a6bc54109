package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
)

// A backend author's CI without OpenSSL: the cases against s_server skip
// (even under CI=true, which GitHub Actions sets), unless the suite is run
// with RequirePeers(true), which fails them. Run in a child process whose
// PATH has no openssl.
func TestMissingOpenSSL(t *testing.T) {
	if mode := os.Getenv("CONFORMANCE_MISSING_OPENSSL"); mode != "" {
		Run(t, stdtls.Provider{}, RequirePeers(mode == "require"))
		return
	}
	for _, tc := range []struct {
		mode string
		fail bool
		want string
	}{
		{"skip", false, "openssl is not on PATH: the cases against OpenSSL s_server are skipped"},
		{"require", true, "openssl is not on PATH, and the suite was run with RequirePeers(true)"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingOpenSSL$/^OpenSSL", "-test.v")
		cmd.Env = append(os.Environ(), "CONFORMANCE_MISSING_OPENSSL="+tc.mode, "PATH="+t.TempDir(), "CI=true")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.fail {
			t.Errorf("%s: failed %v, want %v:\n%s", tc.mode, failed, tc.fail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "--- ") {
			t.Errorf("%s: output does not say %q:\n%s", tc.mode, tc.want, out)
		}
	}
}
