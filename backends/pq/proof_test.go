package pq

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq/pqproof"
	"github.com/wasitls/wasitls/conformance/pki"
)

// wireMagic starts a proof frame (pqproof's doc), written out so that the
// tests pin the wire format rather than read it from the code under test.
const wireMagic = "WPQ1"

func genKey(t *testing.T, sch sign.Scheme) (sign.PublicKey, sign.PrivateKey, pqproof.Pin) {
	t.Helper()
	pub, priv, err := sch.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pin, err := pqproof.PinOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, pin
}

// proofServer is a Go server that sends frame(conn) after the handshake,
// then a banner, then echoes.
func proofServer(t *testing.T, srv *pki.Cert, frame func(*tls.Conn) []byte) string {
	return goServer(t, serverConfig(srv), func(c *tls.Conn) {
		if f := frame(c); f != nil {
			if _, err := c.Write(append(f, "BANNER\n"...)); err != nil {
				return
			}
		}
		_, _ = io.Copy(c, c)
	})
}

func validFrame(t *testing.T, key sign.PrivateKey) func(*tls.Conn) []byte {
	return func(c *tls.Conn) []byte {
		var b bytes.Buffer
		if err := pqproof.WriteProof(&b, c.ConnectionState(), key); err != nil {
			t.Error(err)
			return nil
		}
		return b.Bytes()
	}
}

// readBanner checks that the application data behind the proof reached the
// client intact, then that the connection echoes.
func readBanner(t *testing.T, c api.Conn) {
	t.Helper()
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "BANNER\n" {
		t.Fatalf("banner: %q, %v", buf, err)
	}
	echo(t, c)
}

func wantProofError(t *testing.T, err error, sentinel error) {
	t.Helper()
	if !errors.Is(err, api.ErrBadCertificate) || !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want bad certificate wrapping %q", err, sentinel)
	}
}

func TestProofAllLevels(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	for _, sch := range []sign.Scheme{mldsa44.Scheme(), mldsa65.Scheme(), mldsa87.Scheme()} {
		t.Run(sch.Name(), func(t *testing.T) {
			_, priv, pin := genKey(t, sch)
			addr := proofServer(t, srv, validFrame(t, priv))
			c, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mldsa-pins": string(pin)}))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.(*Conn).ProvenPin(); got != pin {
				t.Fatalf("proven pin %q, want %q", got, pin)
			}
			readBanner(t, c)
		})
	}
}

func TestProofProviderPins(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	_, priv, pin := genKey(t, mldsa65.Scheme())
	_, _, otherPin := genKey(t, mldsa65.Scheme())
	addr := proofServer(t, srv, validFrame(t, priv))
	// Several pins (e.g. during a key rotation): one matching is enough.
	prov := mustNew(t, WithMLDSAPins("LOCALHOST.", otherPin, pin))
	c, err := dial(t, prov, addr, clientConfig(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	readBanner(t, c)
	// Pins for another name do not apply: the proof stays unread for the guest.
	c, err = dial(t, mustNew(t, WithMLDSAPins("db.internal", otherPin)), addr, clientConfig(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.(*Conn).ProvenPin() != "" {
		t.Fatal("a pin was reported for an unpinned name")
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head); err != nil || string(head) != wireMagic {
		t.Fatalf("unpinned connection read %q, %v", head, err)
	}
	// A per-connection option replaces the provider's pins.
	_, err = dial(t, prov, addr, clientConfig(p, map[string]string{"mldsa-pins": string(otherPin)}))
	wantProofError(t, err, pqproof.ErrPinMismatch)
}

// TestProve uses the server-side helper as a server would.
func TestProve(t *testing.T) {
	p := pki.New(t)
	_, priv, pin := genKey(t, mldsa65.Scheme())
	addr := goServer(t, serverConfig(p.Server()), func(c *tls.Conn) {
		if err := pqproof.Prove(context.Background(), c, priv); err != nil {
			t.Error(err)
			return
		}
		_, _ = io.WriteString(c, "BANNER\n")
		_, _ = io.Copy(c, c)
	})
	c, err := dial(t, mustNew(t, WithMLDSAPins("localhost", pin)), addr, clientConfig(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	readBanner(t, c)
}

func TestProofMismatchedKey(t *testing.T) {
	p := pki.New(t)
	_, priv, _ := genKey(t, mldsa65.Scheme())
	_, _, pinnedPin := genKey(t, mldsa65.Scheme())
	addr := proofServer(t, p.Server(), validFrame(t, priv))
	_, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mldsa-pins": string(pinnedPin)}))
	wantProofError(t, err, pqproof.ErrPinMismatch)
}

// TestProofForged: frames that name the pinned key but carry a signature the
// key did not make over this connection.
func TestProofForged(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	pub, priv, pin := genKey(t, mldsa65.Scheme())
	_, attacker, _ := genKey(t, mldsa65.Scheme())
	der, err := pqproof.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	frameWith := func(sig []byte) []byte {
		f := append([]byte(wireMagic), binary.BigEndian.AppendUint16(nil, uint16(len(der)))...)
		f = append(f, der...)
		f = binary.BigEndian.AppendUint16(f, uint16(len(sig)))
		return append(f, sig...)
	}
	exporter := func(c *tls.Conn, label string) []byte {
		cs := c.ConnectionState()
		ekm, err := cs.ExportKeyingMaterial(label, nil, 32)
		if err != nil {
			t.Error(err)
		}
		return ekm
	}
	sent := make(chan []byte, 1)
	first := proofServer(t, srv, func(c *tls.Conn) []byte {
		f := validFrame(t, priv)(c)
		sent <- f
		return f
	})
	if _, err := dial(t, mustNew(t), first, clientConfig(p, map[string]string{"mldsa-pins": string(pin)})); err != nil {
		t.Fatal(err)
	}
	replay := <-sent // a valid proof of an earlier connection

	cases := map[string]func(*tls.Conn) []byte{
		"signed by another key": func(c *tls.Conn) []byte {
			return frameWith(mldsa65.Scheme().Sign(attacker, exporter(c, pqproof.ProofLabel), &sign.SignatureOpts{Context: pqproof.ProofContext}))
		},
		"bit flipped": func(c *tls.Conn) []byte {
			f := validFrame(t, priv)(c)
			f[len(f)-100] ^= 0x01
			return f
		},
		"other exporter label": func(c *tls.Conn) []byte {
			return frameWith(mldsa65.Scheme().Sign(priv, exporter(c, "EXPORTER-other"), &sign.SignatureOpts{Context: pqproof.ProofContext}))
		},
		"no context string": func(c *tls.Conn) []byte {
			return frameWith(mldsa65.Scheme().Sign(priv, exporter(c, pqproof.ProofLabel), nil))
		},
		"replayed from another connection": func(*tls.Conn) []byte { return replay },
		"short signature": func(c *tls.Conn) []byte {
			f := validFrame(t, priv)(c)
			return frameWith(f[len(f)-mldsa65.SignatureSize : len(f)-1])
		},
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			addr := proofServer(t, srv, frame)
			_, err := dial(t, mustNew(t), addr, clientConfig(p, map[string]string{"mldsa-pins": string(pin)}))
			wantProofError(t, err, pqproof.ErrBadProof)
		})
	}
}

func TestProofMissing(t *testing.T) {
	p := pki.New(t)
	srv := p.Server()
	_, _, pin := genKey(t, mldsa65.Scheme())
	opts := map[string]string{"mldsa-pins": string(pin)}

	t.Run("server speaks first", func(t *testing.T) {
		addr := proofServer(t, srv, func(*tls.Conn) []byte { return []byte("220 smtp.test ESMTP\r\n") })
		_, err := dial(t, mustNew(t), addr, clientConfig(p, opts))
		wantProofError(t, err, pqproof.ErrNoProof)
	})
	t.Run("server closes", func(t *testing.T) {
		addr := goServer(t, serverConfig(srv), func(*tls.Conn) {})
		_, err := dial(t, mustNew(t), addr, clientConfig(p, opts))
		wantProofError(t, err, pqproof.ErrNoProof)
	})
	t.Run("silent server times out", func(t *testing.T) {
		addr := goServer(t, serverConfig(srv), func(c *tls.Conn) { _, _ = io.Copy(io.Discard, c) })
		cfg := clientConfig(p, opts)
		cfg.HandshakeTimeout = 300 * time.Millisecond
		_, err := dial(t, mustNew(t), addr, cfg)
		wantProofError(t, err, pqproof.ErrNoProof)
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		ready := make(chan struct{})
		addr := goServer(t, serverConfig(srv), func(c *tls.Conn) {
			close(ready)
			_, _ = io.Copy(io.Discard, c)
		})
		tcp, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tcp.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-ready; cancel() }()
		_, err = mustNew(t).Client(ctx, tcp, clientConfig(p, opts))
		if !errors.Is(err, api.ErrCanceled) {
			t.Fatalf("got %v, want canceled", err)
		}
	})
	t.Run("oversized length", func(t *testing.T) {
		addr := proofServer(t, srv, func(*tls.Conn) []byte { return []byte("WPQ1\xff\xff") })
		_, err := dial(t, mustNew(t), addr, clientConfig(p, opts))
		wantProofError(t, err, pqproof.ErrBadProof)
	})
}

func TestPublicKeyEncoding(t *testing.T) {
	for _, tc := range []struct {
		sch sign.Scheme
		oid asn1.ObjectIdentifier
	}{{mldsa44.Scheme(), pqproof.OIDMLDSA44}, {mldsa65.Scheme(), pqproof.OIDMLDSA65}, {mldsa87.Scheme(), pqproof.OIDMLDSA87}} {
		// circl's own identifiers agree with ours (RFC 9881).
		if got := tc.sch.(interface{ Oid() asn1.ObjectIdentifier }).Oid(); !got.Equal(tc.oid) {
			t.Errorf("%s: circl OID %v, ours %v", tc.sch.Name(), got, tc.oid)
		}
		pub, _, err := tc.sch.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		der, err := pqproof.MarshalPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		back, err := pqproof.ParsePublicKey(der)
		if err != nil || !back.Equal(pub) {
			t.Fatalf("%s: round trip %v", tc.sch.Name(), err)
		}
		if _, err := pqproof.ParsePublicKey(append(der, 0)); err == nil {
			t.Errorf("%s: trailing byte accepted", tc.sch.Name())
		}
		// Truncating the key by one byte must be refused (lengths fixed up).
		bad := der[:len(der)-1]
		bad[3]--  // SEQUENCE length (long form, 2 bytes)
		bad[20]-- // BIT STRING length
		if _, err := pqproof.ParsePublicKey(bad); err == nil || !strings.Contains(err.Error(), "bytes") {
			t.Errorf("%s: short key: %v", tc.sch.Name(), err)
		}
	}
	if _, err := pqproof.ParsePublicKeyPEM([]byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("a certificate PEM block was accepted as a public key")
	}
}
