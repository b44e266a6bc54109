package backendkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"

	"github.com/wasitls/wasitls/api"
)

// Classify turns an error from crypto/tls, crypto/x509, net or context into an
// *api.Error. Errors that are already classified are returned unchanged. Backends
// built on crypto/tls use it directly; others map their own alert and record
// errors first and pass the rest through here.
func Classify(err error, backend string) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		if ae.Backend == "" {
			ae.Backend = backend
		}
		return err
	}
	return &api.Error{Kind: classifyKind(err), Alert: alertOf(err), Backend: backend, Err: err}
}

func alertOf(err error) uint8 {
	var a tls.AlertError
	if errors.As(err, &a) {
		return uint8(a)
	}
	if code, ok := remoteAlert(err); ok {
		return code
	}
	return 0
}

// remoteAlert finds an alert received from the peer. crypto/tls (and uTLS,
// its fork) report one as a *net.OpError with Op "remote error" wrapping an
// unexported uint8 type named alert; tls.AlertError is only used for QUIC.
func remoteAlert(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 || v.Type().Name() != "alert" {
		return 0, false
	}
	return uint8(v.Uint()), true
}

// isRemoteAlert reports whether err carries an alert from the peer, with the
// given code or, for code -1, any code.
func isRemoteAlert(err error, code int) bool {
	a, ok := remoteAlert(err)
	return ok && (code < 0 || int(a) == code)
}

func classifyKind(err error) api.Kind {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &unknown):
		return api.KindUnknownAuthority
	case errors.As(err, &hostname):
		return api.KindNameMismatch
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			if strings.Contains(invalid.Detail, "is before") {
				return api.KindNotYetValid
			}
			return api.KindExpired
		}
		return api.KindBadCertificate
	case errors.As(err, &alert):
		if alert == api.AlertProtocolVersion {
			return api.KindProtocolVersion
		}
		return api.KindPeerAlert
	case isRemoteAlert(err, api.AlertProtocolVersion):
		return api.KindProtocolVersion
	case isRemoteAlert(err, -1):
		return api.KindPeerAlert
	case errors.Is(err, context.Canceled):
		return api.KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return api.KindHandshakeTimeout
	case errors.As(err, &record):
		return api.KindProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED):
		return api.KindTransport
	case errors.As(err, &netErr) && netErr.Timeout():
		return api.KindHandshakeTimeout
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "protocol version not supported"), strings.Contains(msg, "unsupported versions"),
		strings.Contains(msg, "server selected unsupported protocol version"):
		return api.KindProtocolVersion
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return api.KindUnknownAuthority
	case strings.HasPrefix(msg, "tls: "), strings.Contains(msg, "local error: tls:"):
		return api.KindProtocol
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return api.KindTransport
	}
	return api.KindUnknown
}
