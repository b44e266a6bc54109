package pinning_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/examples/pinning"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

// env runs the guests of every test and the example.
var env *guestrun.Env

func TestMain(m *testing.M) {
	env = guestrun.MustNew()
	guestrun.Main(m, guestrun.Build(guestPkg), guestrun.Cleanup(env.Close))
}

const guestPkg = "./internal/guests/demo"

// server is a TLS server on 127.0.0.1 that answers every request with a
// one-line page.
type server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	port int
}

func serve(cert tls.Certificate) (*server, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() {
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				defer tc.Close()
				r := bufio.NewReader(tc)
				for { // the request head
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				fmt.Fprint(tc, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nhello, pinned")
			})
		}
	})
	return s, nil
}

func (s *server) close() {
	s.ln.Close()
	s.wg.Wait()
}

func mustServe(t *testing.T, cert tls.Certificate) *server {
	s, err := serve(cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// fetch runs the demo guest against s with provider p and returns its
// stdout, stderr and exit code.
func fetch(p api.Provider, s *server, roots *x509.CertPool) (stdout, stderr string, code int, err error) {
	port := strconv.Itoa(s.port)
	r, err := env.Exec(guestPkg, []string{"https://localhost:" + port + "/"}, guestrun.Argv0("fetch"),
		guestrun.Provider(p),
		guestrun.Policy(&host.Policy{Allow: []string{"127.0.0.1:" + port}, NameLookup: true, RootCAs: roots}))
	if err == nil {
		err = r.Err
	}
	return r.Stdout, r.Stderr, int(r.Exit), err
}

func mustFetch(t *testing.T, p api.Provider, s *server, roots *x509.CertPool) (string, string, int) {
	t.Helper()
	out, errOut, code, err := fetch(p, s, roots)
	if err != nil {
		t.Fatal(err)
	}
	return out, errOut, code
}

func TestPinned(t *testing.T) {
	ca := pki.New(t)
	srv := ca.Server()
	s := mustServe(t, srv.TLS)
	p := pinning.Wrap(stdtls.Provider{}, pinning.Pin(srv.Cert))
	out, errOut, code := mustFetch(t, p, s, ca.Roots)
	if code != 0 || out != "hello, pinned" {
		t.Errorf("pinned server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestNotPinned(t *testing.T) {
	ca := pki.New(t)
	s := mustServe(t, ca.Server().TLS)
	other := ca.Server() // same names, same CA, another key
	p := pinning.Wrap(stdtls.Provider{}, pinning.Pin(other.Cert))
	out, errOut, code := mustFetch(t, p, s, ca.Roots)
	want := "error: tls: policy denied [pinned-stdtls]: server public key is not pinned: localhost has key "
	if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
		t.Errorf("unpinned server: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
	}
}

// TestProviderDirect uses the wrapper without a guest, as the conformance
// suite or any Go program would: the error is classified.
func TestProviderDirect(t *testing.T) {
	ca := pki.New(t)
	s := mustServe(t, ca.Server().TLS)
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := pinning.Wrap(stdtls.Provider{}) // nothing pinned
	_, err = p.Client(context.Background(), c, &api.Config{ServerName: "localhost", RootCAs: ca.Roots})
	if !errors.Is(err, api.ErrPolicyDenied) || !errors.Is(err, pinning.ErrNotPinned) {
		t.Errorf("err = %v, want policy denied wrapping ErrNotPinned", err)
	}
	if api.CapabilitiesOf(p) != api.CapabilitiesOf(stdtls.Provider{}) {
		t.Errorf("capabilities differ from the wrapped backend's")
	}
}

// Example runs a guest (internal/guests/demo) whose TLS backend only
// accepts one server key.
func Example() {
	cert, roots := localhostCert()
	s, _ := serve(cert)
	defer s.close()

	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	p := pinning.Wrap(stdtls.Provider{}, pinning.Pin(leaf))
	out, _, code, err := fetch(p, s, roots)
	fmt.Println(code, out, err)

	other, _ := localhostCert() // another key
	otherLeaf, _ := x509.ParseCertificate(other.Certificate[0])
	_, errOut, code, err := fetch(pinning.Wrap(stdtls.Provider{}, pinning.Pin(otherLeaf)), s, roots)
	reason, _, _ := strings.Cut(errOut, ": localhost has key") // the key's hash follows
	fmt.Println(code, reason, err)
	// Output:
	// 0 hello, pinned <nil>
	// 1 error: tls: policy denied [pinned-stdtls]: server public key is not pinned <nil>
}

// localhostCert makes a self-signed certificate for localhost.
func localhostCert() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

// TestValidateForwarded: the wrapper forwards the wrapped backend's
// verdict on settings, so a bad option is the host's error when the guest
// is instantiated, not a failed handshake inside it.
func TestValidateForwarded(t *testing.T) {
	p := pinning.Wrap(stdtls.Provider{})
	bad := &api.Config{Options: map[string]string{"nosuch": "1"}}
	if err := api.ValidateConfig(p, bad); !errors.Is(err, api.ErrInvalidConfig) || !strings.Contains(err.Error(), `unknown option "nosuch"`) {
		t.Fatalf("ValidateConfig: %v, want stdtls's invalid config", err)
	}
	ca := pki.New(t)
	s := mustServe(t, ca.Server().TLS)
	port := strconv.Itoa(s.port)
	r, err := env.Exec(guestPkg, []string{"https://localhost:" + port + "/"}, guestrun.Argv0("fetch"), guestrun.Provider(p),
		guestrun.Policy(&host.Policy{Allow: []string{"127.0.0.1:" + port}, NameLookup: true, RootCAs: ca.Roots, Options: map[string]string{"nosuch": "1"}}))
	if err == nil {
		err = r.Err
	}
	if err == nil || !strings.Contains(err.Error(), `backend pinned-stdtls cannot run this policy`) || r.Stderr != "" {
		t.Fatalf("running a guest with a bad option: %v (guest: exit %d, stderr %q), want the host's error before the guest runs", err, r.Exit, r.Stderr)
	}
}
