package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

const httpsServerSrc = "./examples/guest-https-server"

// The serving flags: each mistake is one line naming the flag, exit 2,
// before the guest runs.
func TestServeBadFlags(t *testing.T) {
	dir, guest, notPEM, missing := badFlagFiles(t)
	p := pki.New(t)
	cert, key := p.Server().WriteFiles(t, dir, "server")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "localhost:8443"}, "-listen localhost:8443: host: bad listen pattern"},
		{[]string{"-listen", "127.0.0.1"}, "-listen 127.0.0.1: host: bad destination pattern"},
		{[]string{"-server-key", key}, "-server-key must follow -server-cert"},
		{[]string{"-server-for", "a.test"}, "-server-for must follow -server-cert"},
		{[]string{"-server-cert", cert}, "-server-cert " + cert + ": missing -server-key FILE"},
		{[]string{"-server-cert", missing, "-server-key", key}, "-server-cert " + missing + ": no such file"},
		{[]string{"-server-cert", notPEM, "-server-key", notPEM}, "-server-cert " + notPEM + " -server-key " + notPEM},
		{[]string{"-server-cert", cert, "-server-key", key, "-server-key", key}, "second -server-key"},
		{[]string{"-server-cert", cert, "-server-key", key, "-server-for", "a..test"}, "bad server name"},
		{[]string{"-server-cert", cert, "-server-key", key, "-client-ca", notPEM}, "-client-ca " + notPEM + ": no PEM certificate"},
		{[]string{"-server-cert", cert, "-server-key", key, "-server-alpn", "h2,,http/1.1"}, "-server-alpn"},
		{[]string{"-client-ca", notPEM}, "-client-ca: needs -server-cert"},
		{[]string{"-server-alpn", "h2"}, "-server-alpn: needs -server-cert"},
	}
	if slices.Contains(wapi.Names(), "utls") {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"-backend", "utls", "-server-cert", cert, "-server-key", key}, "-server-cert: backend utls has no server side"})
	}
	for _, tc := range cases {
		// stdtls serves whatever the build's default backend (-tags default_utls).
		args := append(append([]string{"run", "-backend", "stdtls"}, tc.args...), guest)
		r := runCLI(t, args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit code %d, want 2", args, r.code)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "wasitls: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr %q, want one line naming %q", args, r.stderr, tc.want)
		}
	}
}

// badFlagFiles makes what the bad-flag tests name: a temporary directory,
// a guest that exits 0, a file that is no PEM and the name of a missing one.
func badFlagFiles(t *testing.T) (dir, guest, notPEM, missing string) {
	t.Helper()
	dir = t.TempDir()
	guest = filepath.Join(dir, "exit.wasm")
	if err := os.WriteFile(guest, exitModule(0), 0o644); err != nil {
		t.Fatal(err)
	}
	notPEM = filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, guest, notPEM, filepath.Join(dir, "missing.pem")
}

// `wasitls run -listen ... -server-cert ... -server-for ... -client-ca`
// serves the example guest to curl: SNI picks the certificate, the client
// certificate's subject reaches the guest; SIGTERM stops it (143).
func TestRunServesHTTPS(t *testing.T) {
	curl := peers.Curl(t)
	guest := guestFile(t, httpsServerSrc)
	dir := t.TempDir()
	p := pki.New(t)
	aCert, aKey := p.Issue(pki.Leaf{CommonName: "a.test", DNSNames: []string{"a.test"}}).WriteFiles(t, dir, "a")
	defCert, defKey := p.Server().WriteFiles(t, dir, "default")
	cliCert, cliKey := p.Client("bob").WriteFiles(t, dir, "bob")
	root := p.WriteRoot(t, dir, "root.pem")
	var errb guestrun.Buffer
	cmd, out := startCLI(t, &errb, "run", "-q", "-backend", "stdtls", "-listen", "127.0.0.1:*",
		"-server-cert", aCert, "-server-key", aKey, "-server-for", "a.test",
		"-server-cert", defCert, "-server-key", defKey,
		"-client-ca", root, "-server-alpn", "h2,http/1.1",
		guest, "127.0.0.1:0")
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("guest did not listen: %q, %v; stderr %q", line, err, errb.String())
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, tc := range []struct{ url, want string }{
		{"https://a.test:" + port + "/", `sni="a.test" alpn="h2" client="bob"`},
		{"https://localhost:" + port + "/", `sni="localhost" alpn="h2" client="bob"`},
	} {
		body, err := exec.Command(curl, "-sS", "--max-time", "20", "--http2", "--cacert", root, "--cert", cliCert, "--key", cliKey,
			"--resolve", "a.test:"+port+":127.0.0.1", tc.url).CombinedOutput()
		if err != nil || !strings.Contains(string(body), tc.want) {
			t.Errorf("curl %s: %v %q, want %q", tc.url, err, body, tc.want)
		}
	}
	if body, err := exec.Command(curl, "-sS", "--max-time", "20", "--cacert", root, "https://localhost:"+port+"/").CombinedOutput(); err == nil {
		t.Errorf("curl without a client certificate was served: %q", body)
	}
	checkStops(t, cmd, syscall.SIGTERM, 143, &errb)
}

// -alpn and -server-alpn read their lists alike: spaces around an id go.
func TestParseALPN(t *testing.T) {
	got, err := parseALPN("-server-alpn", "h2, http/1.1", " x ")
	if err != nil || !slices.Equal(got, []string{"h2", "http/1.1", "x"}) {
		t.Fatalf("parseALPN = %q, %v", got, err)
	}
	if _, err := parseALPN("-alpn", strings.Repeat("a", 256)); err == nil {
		t.Fatal("a 256-byte id was accepted")
	}
}
