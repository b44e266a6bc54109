package pqproof_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/backends/pq/pqproof"
	"github.com/wasitls/wasitls/conformance/pki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProveAndReadProof runs both sides of the protocol with this package
// alone (no pq backend): a crypto/tls server proves its ML-DSA-44 key after
// its handshake, a crypto/tls client reads the frame and checks it against
// its pins, and the server's first application bytes stay readable behind
// the frame.
func TestProveAndReadProof(t *testing.T) {
	p := pki.New(t)
	pub, key, err := mldsa44.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := pqproof.PinOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := mldsa44.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherPin, err := pqproof.PinOf(other)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pins []pqproof.Pin
		want error
	}{
		{"pinned", []pqproof.Pin{otherPin, pin}, nil},
		{"another key pinned", []pqproof.Pin{otherPin}, pqproof.ErrPinMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			served := make(chan error, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					served <- err
					return
				}
				defer conn.Close()
				tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}})
				if err := pqproof.Prove(ctx, tc, key); err != nil {
					served <- err
					return
				}
				_, err = tc.Write([]byte("hello"))
				served <- err
				_, _ = io.Copy(io.Discard, tc) // until the client closes
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			tc := tls.Client(conn, &tls.Config{ServerName: "localhost", RootCAs: p.Roots})
			defer tc.Close()
			if err := tc.HandshakeContext(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := pqproof.ReadProof(ctx, tc, c.pins)
			if err := <-served; err != nil {
				t.Fatalf("server: %v", err)
			}
			if c.want != nil {
				if !errors.Is(err, c.want) || got != "" {
					t.Fatalf("ReadProof = %q, %v; want %v", got, err, c.want)
				}
				return
			}
			if err != nil || got != pin {
				t.Fatalf("ReadProof = %q, %v; want %s", got, err, pin)
			}
			b := make([]byte, 5)
			if _, err := io.ReadFull(tc, b); err != nil || string(b) != "hello" {
				t.Fatalf("application data after the proof: %q, %v", b, err)
			}
		})
	}
}
