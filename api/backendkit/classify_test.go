package backendkit

import (
	"errors"
	"net"
	"testing"

	"github.com/wasitls/wasitls/api"
)

// alert mimics crypto/tls's unexported alert type: remoteAlert recognises
// it by kind and name, since crypto/tls exports no type for received alerts.
type alert uint8

func (a alert) Error() string { return "tls: alert" }

func TestClassifyRemoteAlert(t *testing.T) {
	for _, tc := range []struct {
		err   error
		kind  api.Kind
		alert uint8
	}{
		{&net.OpError{Op: "remote error", Err: alert(api.AlertCertificateRequired)}, api.KindPeerAlert, api.AlertCertificateRequired},
		{&net.OpError{Op: "remote error", Err: alert(api.AlertHandshakeFailure)}, api.KindPeerAlert, api.AlertHandshakeFailure},
		{&net.OpError{Op: "remote error", Err: alert(api.AlertProtocolVersion)}, api.KindProtocolVersion, api.AlertProtocolVersion},
		// An alert we sent is our verdict, not the peer's.
		{&net.OpError{Op: "local error", Err: alert(api.AlertHandshakeFailure)}, api.KindProtocol, 0},
	} {
		err := Classify(tc.err, "test")
		var e *api.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Alert != tc.alert {
			t.Errorf("Classify(%v) = %v, want kind %q alert %d", tc.err, err, tc.kind, tc.alert)
		}
	}
	if !errors.Is(Classify(&net.OpError{Op: "remote error", Err: alert(116)}, ""), &api.Error{Kind: api.KindPeerAlert, Alert: 116}) {
		t.Error("errors.Is does not match a peer alert sentinel with its code")
	}
}
