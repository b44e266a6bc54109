package main

import (
	"strings"
	"testing"
)

// TestDemoServe: demo -serve has the example server guest serve Go's client
// over HTTP/2 with mTLS, and prints what the guest saw: the server name
// the client sent, the ALPN protocol and the client certificate's subject.
func TestDemoServe(t *testing.T) {
	r := runCLI(t, "demo", "-serve", "-backend", "stdtls", "-q")
	if r.code != 0 {
		t.Fatalf("demo -serve exit code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := `hello from a wasm guest; proto=HTTP/2.0 sni="localhost" alpn="h2" client="` + demoClientName + `"`
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks the guest's view %q:\n%s", want, r.stdout)
	}
	if !strings.Contains(r.stdout, "and the client: TLS 1.3, ") || !strings.Contains(r.stdout, "ALPN h2") {
		t.Errorf("stdout lacks the client's view:\n%s", r.stdout)
	}
}
