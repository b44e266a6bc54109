package pki

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestChainsVerify(t *testing.T) {
	p := New(t)
	inter := x509.NewCertPool()
	inter.AddCert(p.Intermediate.Cert)
	for _, kt := range []KeyType{ECDSA, RSA, Ed25519} {
		c := p.Issue(Leaf{DNSNames: []string{"a.test"}, Key: kt})
		if len(c.TLS.Certificate) != 2 {
			t.Fatalf("key %d: chain length %d, want leaf+intermediate", kt, len(c.TLS.Certificate))
		}
		if _, err := c.Cert.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: p.Roots, Intermediates: inter}); err != nil {
			t.Fatalf("key %d: %v", kt, err)
		}
	}
	if c := p.Issue(Leaf{DNSNames: []string{"a.test"}, NoChain: true}); len(c.TLS.Certificate) != 1 {
		t.Fatal("NoChain kept the intermediate")
	}
	expired := p.Issue(Leaf{DNSNames: []string{"a.test"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	_, err := expired.Cert.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: p.Roots, Intermediates: inter})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("expired leaf verified with %v", err)
	}
	other := New(t)
	if _, err := p.Issue(Leaf{DNSNames: []string{"a.test"}, Issuer: other}).Cert.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: p.Roots}); err == nil {
		t.Fatal("leaf from another root verified")
	}
}
