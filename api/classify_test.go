package api

import (
	"errors"
	"net"
	"testing"
)

// alert mimics crypto/tls's unexported alert type: remoteAlert recognises
// it by kind and name, since crypto/tls exports no type for received alerts.
type alert uint8

func (a alert) Error() string { return "tls: alert" }

func TestClassifyRemoteAlert(t *testing.T) {
	for _, tc := range []struct {
		err   error
		kind  Kind
		alert uint8
	}{
		{&net.OpError{Op: "remote error", Err: alert(AlertCertificateRequired)}, KindPeerAlert, AlertCertificateRequired},
		{&net.OpError{Op: "remote error", Err: alert(AlertHandshakeFailure)}, KindPeerAlert, AlertHandshakeFailure},
		{&net.OpError{Op: "remote error", Err: alert(AlertProtocolVersion)}, KindProtocolVersion, AlertProtocolVersion},
		// An alert we sent is our verdict, not the peer's.
		{&net.OpError{Op: "local error", Err: alert(AlertHandshakeFailure)}, KindProtocol, 0},
	} {
		err := Classify(tc.err, "test")
		var e *Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Alert != tc.alert {
			t.Errorf("Classify(%v) = %v, want kind %q alert %d", tc.err, err, tc.kind, tc.alert)
		}
	}
	if !errors.Is(Classify(&net.OpError{Op: "remote error", Err: alert(116)}, ""), &Error{Kind: KindPeerAlert, Alert: 116}) {
		t.Error("errors.Is does not match a peer alert sentinel with its code")
	}
}
