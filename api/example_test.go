package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// pinned is a custom Provider: it wraps another one and accepts a server
// only if its leaf's public key (SubjectPublicKeyInfo) has the pinned SHA-256.
// api.Wrap keeps next's capabilities and fingerprints.
func pinned(next api.Provider, pin [sha256.Size]byte) api.Provider {
	name := "pinned-" + next.Name()
	return api.Wrap(next, name, func(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
		c, err := next.Client(ctx, transport, cfg)
		if err != nil {
			return nil, err
		}
		certs := c.State().PeerCertificates
		if len(certs) == 0 || sha256.Sum256(certs[0].RawSubjectPublicKeyInfo) != pin {
			c.Close()
			return nil, &api.Error{Kind: api.KindPolicyDenied, Backend: name, Err: errors.New("server key does not match the pin")}
		}
		return c, nil
	})
}

// Example_pinning wraps stdtls in a Provider that pins the server's key.
func Example_pinning() {
	cert, roots := selfSigned("localhost")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Go(func() { // a TLS server that greets two clients
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			s.Write([]byte("hello, pinned client"))
			s.Close()
		}
	})
	defer wg.Wait()

	connect := func(p api.Provider) {
		tcp, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fmt.Println(err)
			return
		}
		defer tcp.Close()
		conn, err := p.Client(context.Background(), tcp, &api.Config{ServerName: "localhost", RootCAs: roots})
		if err != nil {
			fmt.Printf("%s: refused, policy denied: %v\n", p.Name(), errors.Is(err, api.ErrPolicyDenied))
			return
		}
		msg, _ := io.ReadAll(conn)
		fmt.Printf("%s: %s\n", p.Name(), msg)
	}
	connect(pinned(stdtls.Provider{}, sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)))
	connect(pinned(stdtls.Provider{}, sha256.Sum256([]byte("some other key"))))
	// Output:
	// pinned-stdtls: hello, pinned client
	// pinned-stdtls: refused, policy denied: true
}

// selfSigned makes a throwaway certificate for name and a pool trusting it.
func selfSigned(name string) (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
