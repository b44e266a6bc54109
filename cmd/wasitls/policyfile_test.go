package main

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// TestRunPolicyFile fetches a page through the CLI with a policy file that
// sets every field (the server requires the file's client identity), then
// checks how the file and the flags combine and that a bad file stops the
// CLI before the guest runs, naming file and line.
func TestRunPolicyFile(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	dir := t.TempDir()
	p.WriteRoot(t, dir, "ca.pem")
	p.Client("cli-policy").WriteFiles(t, dir, "client")
	roots := x509.NewCertPool()
	roots.AddCert(p.Root.Cert)
	port := startHTTPS(t, p, roots)
	url := "https://localhost:" + port + "/"

	// utls with a fingerprint when the build has it (the ALPN rule then
	// needs its override option); stdtls otherwise.
	backend := "backend: stdtls\n"
	if slices.Contains(wapi.Names(), "utls") {
		backend = "backend: utls\nfingerprint: firefox\noptions: {alpn: override}\n"
	}
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	full := write("full.yaml", backend+`
allow: ["127.0.0.1:`+port+`"]
deny: ["169.254.0.0/16:*"]
dns: true
ca: [ca.pem]
system-roots: false
identities:
  - {cert: client.pem, key: client-key.pem, for: ["localhost:`+port+`"]}
stream-identities: true
alpn:
  - {for: ["localhost:*"], protocols: [http/1.1]}
min-tls: "1.3"
max-tls: "1.3"
handshake-timeout: 10s
limits: {handles: 512, connections: 8, handshakes: 2, buffered-bytes: 1048576, memory: 512MiB}
`)
	r := runCLI(t, "run", "-policy", full, guest, url)
	if r.code != 0 || !strings.Contains(r.stdout, "hello cli-policy over TLS 1.3 alpn=http/1.1") {
		t.Fatalf("with every field: exit %d, stdout %q", r.code, r.stdout)
	}

	// Lists: -allow adds to the file's allow (which lacks the server);
	// scalars: -dns given overrides the file's dns: false.
	partial := write("partial.yaml", `
allow: ["127.0.0.1:1"]
dns: false
ca: [ca.pem]
identities:
  - {cert: client.pem, key: client-key.pem, for: ["*:*"]}
`)
	if r := runCLI(t, "run", "-backend", "stdtls", "-policy", partial, "-allow", "127.0.0.1:"+port, guest, url); r.code != 1 {
		t.Errorf("the file's dns: false: exit %d, want 1 (no name lookup)", r.code)
	}
	if r := runCLI(t, "run", "-backend", "stdtls", "-policy", partial, "-allow", "127.0.0.1:"+port, "-dns=true", guest, url); r.code != 0 || !strings.Contains(r.stdout, "hello cli-policy") {
		t.Errorf("-allow and -dns=true on top of the file: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := runCLI(t, "run", "-backend", "stdtls", "-policy", partial, "-dns=true", guest, url); r.code != 1 || !strings.Contains(r.stderr, "access-denied") {
		t.Errorf("without -allow: exit %d, want 1 and access-denied", r.code)
	}

	bad := write("bad.yaml", "allow: [\"127.0.0.1:443\"]\nlimits:\n  connections: many\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-policy", bad}, "-policy " + bad + `:3: limits.connections: "many" is a str, want a number`},
		{[]string{"-policy", filepath.Join(dir, "none.yaml")}, "none.yaml: no such file"},
		{[]string{"-policy", full, "-max-tls", "1.2"}, "minimum TLS version is above the maximum"},
		{[]string{"-policy", full, "-backend", "stdtls", "-fingerprint", "chrome"}, "backend stdtls has no fingerprints"},
	} {
		r := runCLI(t, append(append([]string{"run"}, tc.args...), guest, url)...)
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
