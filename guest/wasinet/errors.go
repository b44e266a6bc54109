package wasinet

import (
	"strconv"
	"syscall"

	"github.com/wasitls/wasitls/api/kind"
	"github.com/wasitls/wasitls/guest/sockets/network"
)

// Kind is why a TLS handshake failed, as far as the host's debug string
// tells: the host names the classified cause first ("tls: name mismatch
// [stdtls]: ..."). It is the same type as the host's api.Kind.
type Kind = kind.Kind

// The handshake failure kinds.
const (
	KindUnknown          = kind.Unknown          // the debug string names no known cause
	KindUnknownAuthority = kind.UnknownAuthority // the chain does not lead to a root the host trusts
	KindNameMismatch     = kind.NameMismatch     // the certificate is not valid for the server name
	KindExpired          = kind.Expired          // a certificate has expired
	KindNotYetValid      = kind.NotYetValid      // a certificate is not valid yet
	KindBadCertificate   = kind.BadCertificate   // another certificate verification failure
	KindPeerAlert        = kind.PeerAlert        // the server sent a fatal alert (HandshakeError.Alert)
	KindProtocolVersion  = kind.ProtocolVersion  // no protocol version both sides accept
	KindProtocol         = kind.Protocol         // the server broke the protocol
	KindHandshakeTimeout = kind.HandshakeTimeout // the host's handshake timeout fired
	KindCanceled         = kind.Canceled         // the host canceled the handshake
	KindTransport        = kind.Transport        // the connection failed underneath
	KindPQRequired       = kind.PQRequired       // a post-quantum key exchange was required but not negotiated
	KindPolicyDenied     = kind.PolicyDenied     // the host's policy refused the connection
	KindInvalidConfig    = kind.InvalidConfig    // the host refused the configuration (e.g. the server name)
)

// HandshakeError is a TLS handshake the host reported as failed. Debug is
// the host's io-error debug string, verbatim; Kind is derived from its
// "tls: <kind>" prefix, so errors.Is(err, wasinet.ErrNameMismatch) works.
type HandshakeError struct {
	ServerName string
	Kind       Kind
	Alert      uint8 // the TLS alert code, for KindPeerAlert
	Debug      string
}

func (e *HandshakeError) Error() string {
	return "wasinet: TLS handshake with " + strconv.Quote(e.ServerName) + " failed: " + e.Debug
}

// Is matches the sentinel of the same Kind (and Alert, if the sentinel has one).
func (e *HandshakeError) Is(target error) bool {
	t, ok := target.(*HandshakeError)
	return ok && t.Debug == "" && t.ServerName == "" && t.Kind == e.Kind && (t.Alert == 0 || t.Alert == e.Alert)
}

// Timeout reports whether the host's handshake timeout fired.
func (e *HandshakeError) Timeout() bool { return e.Kind == KindHandshakeTimeout }

// Sentinels for errors.Is; each matches any *HandshakeError of its Kind.
var (
	ErrUnknownAuthority = &HandshakeError{Kind: KindUnknownAuthority}
	ErrNameMismatch     = &HandshakeError{Kind: KindNameMismatch}
	ErrExpired          = &HandshakeError{Kind: KindExpired}
	ErrNotYetValid      = &HandshakeError{Kind: KindNotYetValid}
	ErrBadCertificate   = &HandshakeError{Kind: KindBadCertificate}
	ErrPeerAlert        = &HandshakeError{Kind: KindPeerAlert}
	ErrProtocolVersion  = &HandshakeError{Kind: KindProtocolVersion}
	ErrProtocol         = &HandshakeError{Kind: KindProtocol}
	ErrHandshakeTimeout = &HandshakeError{Kind: KindHandshakeTimeout}
	ErrPQRequired       = &HandshakeError{Kind: KindPQRequired}
	ErrPolicyDenied     = &HandshakeError{Kind: KindPolicyDenied}
	ErrInvalidConfig    = &HandshakeError{Kind: KindInvalidConfig}
)

// ParseHandshakeError builds a HandshakeError from a host's debug string.
func ParseHandshakeError(serverName, debug string) *HandshakeError {
	k, alert, _ := kind.Parse(debug)
	return &HandshakeError{ServerName: serverName, Kind: k, Alert: alert, Debug: debug}
}

// SocketError is a wasi-sockets error code. It unwraps to the matching
// syscall.Errno where one exists, so errors.Is(err, syscall.ECONNREFUSED)
// works as it does for the net package.
type SocketError struct {
	Code network.ErrorCode
}

func (e *SocketError) Error() string { return e.Code.Error() }

// Unwrap returns the matching errno, or nil.
func (e *SocketError) Unwrap() error {
	if errno, ok := errnos[e.Code]; ok {
		return errno
	}
	return nil
}

// Timeout reports whether the host timed the operation out.
func (e *SocketError) Timeout() bool { return e.Code == network.Timeout }

// Temporary reports whether retrying may help.
func (e *SocketError) Temporary() bool {
	return e.Code == network.WouldBlock || e.Code == network.TemporaryResolverFailure
}

// Is makes errors.Is(err, network.ConnectionRefused) work as well.
func (e *SocketError) Is(target error) bool {
	c, ok := target.(network.ErrorCode)
	return ok && c == e.Code
}

var errnos = map[network.ErrorCode]syscall.Errno{
	network.AccessDenied:        syscall.EACCES,
	network.NotSupported:        syscall.ENOTSUP,
	network.InvalidArgument:     syscall.EINVAL,
	network.OutOfMemory:         syscall.ENOMEM,
	network.Timeout:             syscall.ETIMEDOUT,
	network.WouldBlock:          syscall.EAGAIN,
	network.NewSocketLimit:      syscall.EMFILE,
	network.AddressNotBindable:  syscall.EADDRNOTAVAIL,
	network.AddressInUse:        syscall.EADDRINUSE,
	network.RemoteUnreachable:   syscall.EHOSTUNREACH,
	network.ConnectionRefused:   syscall.ECONNREFUSED,
	network.ConnectionReset:     syscall.ECONNRESET,
	network.ConnectionAborted:   syscall.ECONNABORTED,
	network.DatagramTooLarge:    syscall.EMSGSIZE,
	network.ConcurrencyConflict: syscall.EALREADY,
}

// StreamError is a failed stream operation: the host's io-error debug
// string and, when the host knows one, the socket error code behind it.
type StreamError struct {
	Debug string
	Code  *SocketError // nil when the host named no socket error code
}

func (e *StreamError) Error() string { return e.Debug }

// Unwrap exposes the socket error code (and through it the errno).
func (e *StreamError) Unwrap() error {
	if e.Code == nil {
		return nil
	}
	return e.Code
}
