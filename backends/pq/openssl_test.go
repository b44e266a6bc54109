package pq

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// startSServer runs OpenSSL 3.0's s_server (no hybrid groups) with -www and
// returns its address once it prints ACCEPT.
func startSServer(t *testing.T, srv *pki.Cert, extra ...string) string {
	t.Helper()
	bin := peers.OpenSSL(t)
	certFile, keyFile := srv.WriteFiles(t, t.TempDir(), "server")
	args := append([]string{"s_server", "-accept", "127.0.0.1:0", "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, stderr := peers.Start(t, cmd) // it quits when its stdin closes
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }() // keep s_server from blocking on a full pipe
			return addr
		}
	}
	t.Fatalf("s_server exited before ACCEPT: %v\n%s", sc.Err(), stderr.String())
	return ""
}

func TestOpenSSL30Classical(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	for _, tc := range []struct {
		name        string
		args        []string
		wantVersion uint16
	}{{"TLS 1.3", nil, tls.VersionTLS13}, {"TLS 1.2 only", []string{"-tls1_2"}, tls.VersionTLS12}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startSServer(t, srv, tc.args...)
			_, err := dial(t, mustNew(t), addr, clientConfig(p, nil))
			if !errors.Is(err, api.ErrPQRequired) {
				t.Fatalf("require: got %v, want PQ required", err)
			}
			c, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mode": "prefer"}))
			if err != nil {
				t.Fatalf("prefer: %v", err)
			}
			st := c.State()
			if st.Group != tls.X25519 || st.Version != tc.wantVersion || st.HelloRetryRequest {
				t.Fatalf("prefer: group %s version %s HRR %v", st.GroupName(), st.VersionName(), st.HelloRetryRequest)
			}
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read: %v", err)
			}
			if !bytes.HasPrefix(resp, []byte("HTTP/1.0 200")) {
				t.Fatalf("response %.60q", resp)
			}
		})
	}
}
