package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasitls/wasitls/api/kind"
)

// Kind classifies why a connection failed: [kind.Kind], the table the host
// and the guest bindings share. Its names are what a guest sees at the start
// of an io-error's debug string ("tls: name mismatch ..."), so they do not
// change between releases; guest libraries parse them back ([kind.Parse]).
type Kind = kind.Kind

// The kinds.
const (
	KindUnknown          = kind.Unknown          // not classified
	KindUnknownAuthority = kind.UnknownAuthority // the chain does not lead to a trusted root
	KindNameMismatch     = kind.NameMismatch     // the certificate is not valid for the server name
	KindExpired          = kind.Expired          // a certificate in the chain has expired
	KindNotYetValid      = kind.NotYetValid      // a certificate in the chain is not valid yet
	KindBadCertificate   = kind.BadCertificate   // another certificate verification failure
	KindPeerAlert        = kind.PeerAlert        // the peer sent a fatal alert (see Error.Alert)
	KindProtocolVersion  = kind.ProtocolVersion  // no protocol version both sides accept
	KindProtocol         = kind.Protocol         // the peer broke the protocol (garbage, bad record, not TLS)
	KindHandshakeTimeout = kind.HandshakeTimeout // the handshake did not finish in time
	KindCanceled         = kind.Canceled         // the caller's context was canceled
	KindTransport        = kind.Transport        // the transport failed (reset, closed, unreachable)
	KindPQRequired       = kind.PQRequired       // a hybrid post-quantum group was required but not negotiated
	KindPolicyDenied     = kind.PolicyDenied     // the host's policy refused the connection
	KindInvalidConfig    = kind.InvalidConfig    // the configuration (server name, versions, options) is invalid
)

// Error is a classified connection failure.
type Error struct {
	Kind    Kind
	Alert   uint8  // the TLS alert code, for KindPeerAlert
	Backend string // the Provider that failed, if known
	Err     error  // the underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(kind.Prefix)
	b.WriteString(e.Kind.String())
	if e.Kind == KindPeerAlert {
		fmt.Fprintf(&b, " %s (%d)", AlertName(e.Alert), e.Alert)
	}
	if e.Backend != "" {
		b.WriteString(" [")
		b.WriteString(e.Backend)
		b.WriteString("]")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the same kind, so errors.Is(err, ErrExpired) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && t.Backend == "" && t.Kind == e.Kind && (t.Alert == 0 || t.Alert == e.Alert)
}

// Sentinels for errors.Is. They match any *Error of the same Kind.
var (
	ErrUnknownAuthority = &Error{Kind: KindUnknownAuthority}
	ErrNameMismatch     = &Error{Kind: KindNameMismatch}
	ErrExpired          = &Error{Kind: KindExpired}
	ErrNotYetValid      = &Error{Kind: KindNotYetValid}
	ErrBadCertificate   = &Error{Kind: KindBadCertificate}
	ErrPeerAlert        = &Error{Kind: KindPeerAlert}
	ErrProtocolVersion  = &Error{Kind: KindProtocolVersion}
	ErrProtocol         = &Error{Kind: KindProtocol}
	ErrHandshakeTimeout = &Error{Kind: KindHandshakeTimeout}
	ErrCanceled         = &Error{Kind: KindCanceled}
	ErrTransport        = &Error{Kind: KindTransport}
	ErrPQRequired       = &Error{Kind: KindPQRequired}
	ErrPolicyDenied     = &Error{Kind: KindPolicyDenied}
	ErrInvalidConfig    = &Error{Kind: KindInvalidConfig}
)

// KindOf returns the Kind of err, or KindUnknown if err carries no *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// TLS alert codes (RFC 8446 section 6) that classification relies on.
const (
	AlertCloseNotify          = 0
	AlertHandshakeFailure     = 40
	AlertBadCertificate       = 42
	AlertCertificateRequired  = 116
	AlertProtocolVersion      = 70
	AlertInsufficientSecurity = 71
	AlertNoApplicationProto   = 120
)

var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
	44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
	51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 115: "unknown_psk_identity",
	116: "certificate_required", 120: "no_application_protocol",
}

// AlertName returns the RFC 8446 name of a TLS alert code.
func AlertName(code uint8) string {
	if n, ok := alertNames[code]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", code)
}
