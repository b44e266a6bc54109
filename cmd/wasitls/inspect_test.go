package main

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
)

// TestJA4BadInput checks that JA4 rejects what is not a ClientHello with an
// error rather than a panic or a made-up fingerprint.
func TestJA4BadInput(t *testing.T) {
	hello := clientHello(t)
	for name, raw := range map[string][]byte{
		"empty":     nil,
		"http":      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"truncated": hello[:len(hello)/2],
		"header":    hello[:5],
	} {
		if fp, err := JA4(raw); err == nil {
			t.Errorf("%s: JA4 = %q, want an error", name, fp)
		}
	}
	fp, err := JA4(hello)
	if err != nil || !strings.HasPrefix(fp, "t13d") {
		t.Errorf("a crypto/tls ClientHello: JA4 = %q, %v", fp, err)
	}
}

// clientHello records the first flight of a crypto/tls client.
func clientHello(t *testing.T) []byte {
	c1, c2 := net.Pipe()
	rec := &recorder{Conn: c1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(rec, &tls.Config{ServerName: "example.com"}).Handshake()
	}()
	buf := make([]byte, 64<<10)
	n, err := c2.Read(buf) // the ClientHello, written in one call
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	<-done
	if got := rec.hello(); string(got) != string(buf[:n]) {
		t.Fatalf("recorder kept %d bytes, the client wrote %d", len(got), n)
	}
	return buf[:n]
}

// TestInspectorForwards checks that -v's inspector is the backend it wraps
// for the host: the same capabilities (so the host runs handshakes the same
// way) and the same verdict on settings.
func TestInspectorForwards(t *testing.T) {
	for _, name := range wapi.Names() {
		p, err := wapi.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		in := inspector{Provider: p, fn: func(handshakeRecord) {}}
		if got, want := wapi.CapabilitiesOf(in), wapi.CapabilitiesOf(p); got != want {
			t.Errorf("%s: inspector capabilities %+v, backend %+v", name, got, want)
		}
		bad := &wapi.Config{Options: map[string]string{"nosuch": "1"}}
		if err := wapi.ValidateConfig(in, bad); err == nil || !strings.Contains(err.Error(), `unknown option "nosuch"`) {
			t.Errorf("%s: inspector accepts an unknown option: %v", name, err)
		}
		if err := wapi.ValidateConfig(in, &wapi.Config{}); err != nil {
			t.Errorf("%s: inspector refuses the empty config: %v", name, err)
		}
	}
}
