// Package pki makes a throwaway public-key infrastructure for tests: a root,
// an intermediate, and leaves of every key type and defect the conformance
// suite needs. Nothing is read from disk or the network; every call to New
// makes fresh keys.
//
//	p := pki.New(t)
//	srv := p.Issue(pki.Leaf{DNSNames: []string{"localhost"}, Key: pki.ECDSA})
//	cfg := &tls.Config{Certificates: []tls.Certificate{srv.TLS}}
//	client := &tls.Config{RootCAs: p.Roots, ServerName: "localhost"}
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// KeyType selects a leaf's key algorithm.
type KeyType int

const (
	ECDSA   KeyType = iota // ECDSA P-256 (the default)
	RSA                    // RSA 2048
	Ed25519                // Ed25519
)

// Cert is an issued certificate with its key and chain.
type Cert struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	Chain    []*x509.Certificate // the leaf, then the issuers up to but excluding the root
	TLS      tls.Certificate     // the leaf and its chain, ready for tls.Config.Certificates
	CertPEM  []byte              // the leaf alone
	ChainPEM []byte              // the leaf followed by its intermediates
	KeyPEM   []byte              // PKCS #8
}

// WriteFiles writes ChainPEM and KeyPEM to dir as name.pem and name-key.pem,
// for peers that read files (OpenSSL, Node.js, PostgreSQL, the CLI).
func (c *Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, c.ChainPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// PKI is a root and an intermediate that issue leaves.
type PKI struct {
	t            testing.TB
	Root         *Cert
	Intermediate *Cert
	Roots        *x509.CertPool // holds Root only
	RootPEM      []byte
}

// Leaf describes a certificate to issue.
type Leaf struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	Key        KeyType
	NotBefore  time.Time // zero: an hour ago
	NotAfter   time.Time // zero: a day from now
	Client     bool      // ExtKeyUsageClientAuth instead of ServerAuth
	NoChain    bool      // leave the intermediate out of TLS/ChainPEM (server missing its intermediate)
	FromRoot   bool      // issue directly from the root, with no intermediate
	Issuer     *PKI      // issue from another PKI (e.g. an untrusted root); nil means this one
	ExtraSANs  int       // add this many extra DNS SANs (n0.example.test, ...)
	RSABits    int       // RSA key size; zero means 2048
}

var serial atomic.Int64

// New makes a fresh root and intermediate. It fails t on error.
func New(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{t: t}
	now := time.Now()
	p.Root = p.sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "wasitls test root", Organization: []string{"wasitls tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, newKey(t, ECDSA, 0), nil)
	p.Intermediate = p.sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "wasitls test intermediate", Organization: []string{"wasitls tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, newKey(t, ECDSA, 0), p.Root)
	p.Roots = x509.NewCertPool()
	p.Roots.AddCert(p.Root.Cert)
	p.RootPEM = p.Root.CertPEM
	return p
}

// WriteRoot writes the root certificate to dir/name and returns the path.
func (p *PKI) WriteRoot(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, p.RootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue issues a leaf described by l.
func (p *PKI) Issue(l Leaf) *Cert {
	p.t.Helper()
	issuerPKI := p
	if l.Issuer != nil {
		issuerPKI = l.Issuer
	}
	issuer := issuerPKI.Intermediate
	if l.FromRoot {
		issuer = issuerPKI.Root
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: l.CommonName, Organization: []string{"wasitls tests"}},
		DNSNames:    l.DNSNames,
		IPAddresses: l.IPs,
		NotBefore:   l.NotBefore,
		NotAfter:    l.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	if l.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if l.Key == RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for i := 0; i < l.ExtraSANs; i++ {
		tmpl.DNSNames = append(tmpl.DNSNames, "n"+strconv.Itoa(i)+".example.test")
	}
	c := issuerPKI.sign(tmpl, newKey(p.t, l.Key, l.RSABits), issuer)
	if l.NoChain {
		c.Chain = c.Chain[:1]
		c.TLS.Certificate = c.TLS.Certificate[:1]
		c.ChainPEM = c.CertPEM
	}
	return c
}

// Server issues an ECDSA server leaf for "localhost", 127.0.0.1 and ::1.
func (p *PKI) Server() *Cert {
	return p.Issue(Leaf{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}})
}

// Client issues an ECDSA client-auth leaf whose CommonName is cn.
func (p *PKI) Client(cn string) *Cert {
	return p.Issue(Leaf{CommonName: cn, Client: true})
}

func (p *PKI) sign(tmpl *x509.Certificate, key crypto.Signer, issuer *Cert) *Cert {
	p.t.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1) + time.Now().UnixNano()%1_000_000_000*1000)
	parent, parentKey := tmpl, key
	if issuer != nil {
		parent, parentKey = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		p.t.Fatalf("pki: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatalf("pki: parse certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatalf("pki: marshal key: %v", err)
	}
	c := &Cert{
		Cert:    cert,
		Key:     key,
		Chain:   []*x509.Certificate{cert},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	c.TLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	c.ChainPEM = append([]byte(nil), c.CertPEM...)
	if issuer != nil && issuer.Cert.IsCA && !isSelfSigned(issuer.Cert) {
		c.Chain = append(c.Chain, issuer.Chain...)
		for _, ic := range issuer.Chain {
			c.TLS.Certificate = append(c.TLS.Certificate, ic.Raw)
			c.ChainPEM = append(c.ChainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.Raw})...)
		}
	}
	return c
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

func newKey(t testing.TB, kt KeyType, rsaBits int) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case RSA:
		if rsaBits == 0 {
			rsaBits = 2048
		}
		k, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case Ed25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatalf("pki: generate key: %v", err)
	}
	return k
}
