package policyfile_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/policyfile"

	_ "github.com/wasitls/wasitls/backends/builtin"
)

const httpsget = "./internal/guests/httpsget"

func TestMain(m *testing.M) { guestrun.Main(m, guestrun.Build(httpsget)) }

// writePKI writes testdata/ca.pem, client.pem and client-key.pem under dir,
// as the example policy names them.
func writePKI(t *testing.T, p *pki.PKI, dir string) {
	t.Helper()
	td := filepath.Join(dir, "testdata")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	p.WriteRoot(t, td, "ca.pem")
	p.Client("policy-client").WriteFiles(t, td, "client")
	p.Server().WriteFiles(t, td, "server")
}

// deprecated fields are former names of others the file sets.
var deprecated = map[string]bool{"Policy.Limits.Sockets": true}

// nonZeroFields fails for every field of v (a struct) left at its zero
// value, recursively for struct fields.
func nonZeroFields(t *testing.T, prefix string, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), prefix+v.Type().Field(i).Name
		if deprecated[name] {
			continue
		}
		if f.Kind() == reflect.Struct {
			nonZeroFields(t, name+".", f)
			continue
		}
		if f.IsZero() {
			t.Errorf("%s is not set by the policy file: add it to the file format and examples/policy.yaml", name)
		}
	}
}

// TestExampleHasEveryField loads examples/policy.yaml and checks that it
// sets every field of host.Policy: a field added to host.Policy fails here
// until the file format (and the example) can say it.
func TestExampleHasEveryField(t *testing.T) {
	data, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := pki.New(t)
	writePKI(t, p, dir)
	f, err := policyfile.Parse(data, filepath.Join(dir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	nonZeroFields(t, "Policy.", reflect.ValueOf(*f.Policy))
	pol := f.Policy
	if f.Backend != "utls" || pol.Fingerprint != "firefox" || pol.Options["alpn"] != "override" {
		t.Errorf("backend %q fingerprint %q options %v", f.Backend, pol.Fingerprint, pol.Options)
	}
	if len(pol.Allow) != 3 || len(pol.Deny) != 2 || !pol.NameLookup {
		t.Errorf("allow %q deny %q dns %v", pol.Allow, pol.Deny, pol.NameLookup)
	}
	if len(pol.Identities) != 2 || pol.Identities[0].Dest != "api.example.com:443" || pol.Identities[0].Certificate == nil || !pol.StreamIdentities {
		t.Errorf("identities %+v", pol.Identities)
	}
	if len(pol.ALPN) != 2 || pol.ALPN[1].Dest != "*:*" || pol.ALPN[0].Protocols[0] != "h2" {
		t.Errorf("alpn %+v", pol.ALPN)
	}
	if pol.MinVersion != tls.VersionTLS12 || pol.MaxVersion != tls.VersionTLS13 || pol.HandshakeTimeout != 10*time.Second {
		t.Errorf("versions %#x-%#x timeout %v", pol.MinVersion, pol.MaxVersion, pol.HandshakeTimeout)
	}
	if pol.Limits != (host.Limits{Handles: 1024, Connections: 16, Handshakes: 4, BufferedBytes: 8 << 20}) || f.MemoryLimit != 256<<20 {
		t.Errorf("limits %+v memory %d", pol.Limits, f.MemoryLimit)
	}
	if len(pol.Listen) != 1 || pol.Serve == nil || len(pol.Serve.Certificates) != 2 || pol.Serve.Certificates[0].ServerNames[1] != "*.api.example.com" ||
		pol.Serve.ClientCAs == nil || pol.Serve.NextProtos[0] != "h2" || pol.Serve.Provider == nil || pol.Serve.Provider.Name() != "stdtls" {
		t.Errorf("listen %q serve %+v", pol.Listen, pol.Serve)
	}
	if _, err := p.Server().Cert.Verify(x509.VerifyOptions{Roots: pol.RootCAs, Intermediates: interPool(p), DNSName: "localhost"}); err != nil {
		t.Errorf("the file's roots do not hold ca.pem: %v", err)
	}
	// The host accepts it.
	env := guestrun.NewT(t)
	opts, err := f.Options()
	if err != nil {
		t.Fatal(err)
	}
	empty, err := env.Runtime.CompileModule(t.Context(), []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	g, _, _, err := env.Host.Prepare(t.Context(), empty, host.NewModuleConfig(), opts...)
	if err != nil {
		t.Fatalf("host refuses the example: %v", err)
	}
	g.Close(t.Context())
}

func interPool(p *pki.PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Intermediate.Cert)
	return pool
}

// TestErrorsNameFileLineAndField: every mistake names the file, the line and
// the field.
func TestErrorsNameFileLineAndField(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "policy.yaml")
	for _, tc := range []struct{ file, want string }{
		{"allow: [a.com:443]\nalow: [b.com:443]\n", name + `:2: alow: unknown field "alow"`},
		{"allow:\n  - a.com:443\ndeny:\n  - ok.com:1\n  - bad pattern\n", name + `:5: deny[1]: bad destination pattern "bad pattern"`},
		{"limits:\n  connections: many\n", name + `:2: limits.connections: "many" is a str, want a number`},
		{"limits:\n  sockets: 3\n", name + `:2: limits.sockets: unknown field "sockets"`},
		{"limits:\n  connections: -1\n", name + `:2: limits.connections: -1: must not be negative`},
		{"limits:\n  memory: 8GiB\n", name + `:2: limits.memory: "8GiB": want 64KiB to 4GiB`},
		{"backend: stdtls\noptions:\n  nosuch: 1\n", name + `:3: options.nosuch: tls: invalid configuration [stdtls]: unknown option "nosuch"`},
		{"dns: maybe\n", name + `:1: dns: "maybe" is a str, want true or false`},
		{"allow: a.com:443\n", name + `:1: allow: "a.com:443" is a str, want a list`},
		{"min-tls: 1.1\n", name + `:1: min-tls: "1.1": want 1.2 or 1.3`},
		{"min-tls: 1.3\nmax-tls: 1.2\n", name + `:1: min-tls: 1.3 is above max-tls 1.2`},
		{"handshake-timeout: 5\n", name + `:1: handshake-timeout: "5": want a positive duration like 10s`},
		{"backend: nope\n", name + `:1: backend: "nope" is not in this build`},
		{"backend: stdtls\nfingerprint: chrome\n", name + `:2: fingerprint: backend stdtls has no fingerprints`},
		{"ca: [missing.pem]\n", name + `:1: ca[0]: open ` + filepath.Join(dir, "missing.pem")},
		{"identities:\n  - cert: c.pem\n    key: k.pem\n", name + `:2: identities[0]: want for: [HOST:PORT, ...]`},
		{"identities:\n  - cert: c.pem\n    key: k.pem\n    for: ['*:*']\n", name + `:2: identities[0].cert: open ` + filepath.Join(dir, "c.pem")},
		{"alpn:\n  - for: ['*:*']\n", name + `:2: alpn[0]: want protocols:`},
		{"alpn:\n  - protocols: [h2]\n    for: ['x:y']\n", name + `:3: alpn[0].for[0]: bad destination pattern "x:y"`},
		{"listen:\n  - localhost:8443\n", name + `:2: listen[0]: host: bad listen pattern "localhost:8443"`},
		{"serve:\n  alpn: [h2]\n", name + `:2: serve: want certificates:`},
		{"serve:\n  backend: nope\n", name + `:2: serve.backend: "nope" is not in this build`},
		{"serve:\n  certificates:\n    - cert: c.pem\n", name + `:3: serve.certificates[0]: want cert: FILE and key: FILE`},
		{"serve:\n  certificates:\n    - cert: c.pem\n      key: k.pem\n", name + `:3: serve.certificates[0].cert: open ` + filepath.Join(dir, "c.pem")},
		{"allow: [a.com:443\n", name + `:1: did not find expected ',' or ']'`},
		{"- a.com:443\n", name + `:1: want a mapping of policy fields`},
		{"allow: []\n---\ndeny: []\n", name + `:2: more than one YAML document`},
		{"dns: true\ndns: false\n", name + `:2: dns: mapping key "dns" already defined at line 1`},
	} {
		_, err := policyfile.Parse([]byte(tc.file), name)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.file, err, tc.want)
		}
		var pe *policyfile.Error
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%q: %T is not a *policyfile.Error", tc.file, err)
		}
	}
	if _, err := policyfile.Load(filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "nope.yaml: open") {
		t.Errorf("missing file: %v", err)
	}
	// An empty file is the default policy: nothing allowed.
	f, err := policyfile.Parse(nil, name)
	if err != nil || len(f.Policy.Allow) != 0 || !f.Policy.NameLookup {
		t.Errorf("empty file: %+v, %v", f, err)
	}
}

// TestLoadedPolicyThroughGuest runs a real guest with a policy from a file:
// the server requires the client certificate the file gives for its
// destination and the ALPN the file offers; a destination outside the
// file's allow list is refused.
func TestLoadedPolicyThroughGuest(t *testing.T) {
	p := pki.New(t)
	dir := t.TempDir()
	writePKI(t, p, dir)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.Root.Cert)
	var gotALPN, gotClient string
	port := guestrun.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, NextProtos: []string{"h2", "http/1.1"},
			ClientCAs: clientCAs, ClientAuth: tls.RequireAndVerifyClientCert})
		if err := tc.Handshake(); err != nil {
			return
		}
		st := tc.ConnectionState()
		gotALPN, gotClient = st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName
		if _, err := bufio.NewReader(tc).ReadString('\n'); err != nil {
			return
		}
		io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		tc.Close()
	})
	file := filepath.Join(dir, "policy.yaml")
	data := "backend: stdtls\nallow: ['127.0.0.1:" + port + "']\nca: [testdata/ca.pem]\nsystem-roots: false\n" +
		"identities:\n  - {cert: testdata/client.pem, key: testdata/client-key.pem, for: ['localhost:" + port + "']}\n" +
		"alpn:\n  - protocols: [http/1.1]\nmin-tls: '1.3'\n"
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := policyfile.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := f.Options()
	if err != nil {
		t.Fatal(err)
	}
	env := guestrun.NewT(t)
	r := env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"}, guestrun.HostOptions(opts...))
	for _, ev := range r.Events {
		if ev.Phase == host.PhaseHandshake && ev.Identity != "localhost:"+port {
			t.Errorf("handshake event names identity %q, want the file's localhost:%s", ev.Identity, port)
		}
	}
	if r.Exit != 0 || !strings.HasSuffix(r.Stdout, "ok") {
		t.Fatalf("exit %d stdout %q stderr %q", r.Exit, r.Stdout, r.Stderr)
	}
	if gotClient != "policy-client" || gotALPN != "http/1.1" {
		t.Errorf("server saw client %q, ALPN %q", gotClient, gotALPN)
	}
	r = env.Run(t, httpsget, []string{"127.0.0.1", "1", "/", "localhost"}, guestrun.HostOptions(opts...))
	if r.Exit != 1 || !strings.Contains(r.Stderr, "access-denied") {
		t.Errorf("outside allow: exit %d stderr %q", r.Exit, r.Stderr)
	}
}

// TestSystemRoots: system-roots: false trusts only the listed files; an
// empty list then trusts nothing (not the system roots).
func TestSystemRoots(t *testing.T) {
	p := pki.New(t)
	dir := t.TempDir()
	writePKI(t, p, dir)
	name := filepath.Join(dir, "policy.yaml")
	only := x509.NewCertPool()
	only.AddCert(p.Root.Cert)
	f, err := policyfile.Parse([]byte("ca: [testdata/ca.pem]\nsystem-roots: false\n"), name)
	if err != nil || !f.Policy.RootCAs.Equal(only) {
		t.Errorf("ca with system-roots: false is not the file alone (%v)", err)
	}
	f, err = policyfile.Parse([]byte("system-roots: false\n"), name)
	if err != nil || f.Policy.RootCAs == nil || !f.Policy.RootCAs.Equal(x509.NewCertPool()) {
		t.Errorf("system-roots: false alone is not an empty pool (%v)", err)
	}
	f, err = policyfile.Parse([]byte("ca: [testdata/ca.pem]\n"), name)
	sys, _ := x509.SystemCertPool()
	hasSystem := sys != nil && !sys.Equal(x509.NewCertPool())
	if err != nil || hasSystem && (f.Policy.RootCAs.Equal(only) || f.Policy.RootCAs.Equal(sys)) {
		t.Errorf("ca alone is not the system roots plus the file (%v)", err)
	}
}

// TestJSON: JSON is YAML, so a policy written as JSON loads the same way,
// with the same line numbers in errors.
func TestJSON(t *testing.T) {
	name := filepath.Join(t.TempDir(), "policy.json")
	f, err := policyfile.Parse([]byte(`{"allow": ["a.example:443"], "dns": false, "limits": {"connections": 3}}`), name)
	if err != nil || len(f.Policy.Allow) != 1 || f.Policy.NameLookup || f.Policy.Limits.Connections != 3 {
		t.Fatalf("%+v, %v", f, err)
	}
	_, err = policyfile.Parse([]byte("{\n  \"allow\": [\"a.example:443\"],\n  \"deny\": [\"nope\"]\n}\n"), name)
	if err == nil || !strings.HasPrefix(err.Error(), name+`:3: deny[0]: bad destination pattern "nope"`) {
		t.Errorf("JSON error: %v", err)
	}
}
