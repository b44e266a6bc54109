package wasinet

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/wasitls/wasitls/guest/sockets/network"
)

func TestParseHandshakeError(t *testing.T) {
	for _, tc := range []struct {
		debug string
		kind  Kind
		alert uint8
		is    error
	}{
		{"tls: unknown authority [stdtls]: x509: certificate signed by unknown authority", KindUnknownAuthority, 0, ErrUnknownAuthority},
		{"tls: name mismatch [utls]: x509: certificate is valid for a, not b", KindNameMismatch, 0, ErrNameMismatch},
		{"tls: certificate expired", KindExpired, 0, ErrExpired},
		{"tls: certificate not yet valid [pq]", KindNotYetValid, 0, ErrNotYetValid},
		{"tls: peer alert handshake_failure (40) [stdtls]: remote error", KindPeerAlert, 40, &HandshakeError{Kind: KindPeerAlert, Alert: 40}},
		{"tls: post-quantum key exchange required [pq]: X25519", KindPQRequired, 0, ErrPQRequired},
		{"tls: policy denied: example.com:443", KindPolicyDenied, 0, ErrPolicyDenied},
		{"tls: handshake timeout [stdtls]", KindHandshakeTimeout, 0, ErrHandshakeTimeout},
		{"tls: canceledness", KindUnknown, 0, nil},        // not at a word boundary
		{"connection reset by peer", KindUnknown, 0, nil}, // no prefix
		{"", KindUnknown, 0, nil},
	} {
		e := ParseHandshakeError("example.com", tc.debug)
		if e.Kind != tc.kind || e.Alert != tc.alert || e.Debug != tc.debug {
			t.Errorf("%q: got kind %v alert %d", tc.debug, e.Kind, e.Alert)
		}
		wrapped := &net.OpError{Op: "tls handshake", Err: e}
		if tc.is != nil && !errors.Is(wrapped, tc.is) {
			t.Errorf("%q: errors.Is(%v) is false", tc.debug, tc.is)
		}
		if tc.kind != KindNameMismatch && errors.Is(wrapped, ErrNameMismatch) {
			t.Errorf("%q matches ErrNameMismatch", tc.debug)
		}
	}
	if errors.Is(ParseHandshakeError("", "tls: peer alert bad_certificate (42)"), &HandshakeError{Kind: KindPeerAlert, Alert: 40}) {
		t.Error("a sentinel with another alert code matches")
	}
	if !ParseHandshakeError("", "tls: handshake timeout").Timeout() {
		t.Error("handshake timeout is not a Timeout()")
	}
}

func TestSocketError(t *testing.T) {
	err := error(&net.OpError{Op: "dial", Net: "tcp", Err: &SocketError{Code: network.ConnectionRefused}})
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, network.ConnectionRefused) {
		t.Errorf("%v does not match ECONNREFUSED / connection-refused", err)
	}
	if errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%v matches ECONNRESET", err)
	}
	var ne net.Error
	if !errors.As(&net.OpError{Op: "read", Err: &SocketError{Code: network.Timeout}}, &ne) || !ne.Timeout() {
		t.Error("the timeout code is not a net.Error timeout")
	}
	se := &StreamError{Debug: "connection reset by peer", Code: &SocketError{Code: network.ConnectionReset}}
	if !errors.Is(se, syscall.ECONNRESET) || se.Error() != "connection reset by peer" {
		t.Errorf("%v", se)
	}
	if (&StreamError{Debug: "x"}).Unwrap() != nil {
		t.Error("a StreamError without a code unwraps to something")
	}
	if (&SocketError{Code: network.NameUnresolvable}).Unwrap() != nil {
		t.Error("name-unresolvable has no errno but unwraps to one")
	}
}
