package wasinet

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/wasitls/wasitls/guest/sockets/network"
)

// Kind is why a TLS handshake failed, as far as the host's debug string
// tells: the host names the classified cause first ("tls: name mismatch
// [stdtls]: ..."). The names are the ones wasitls hosts use.
type Kind int

// The handshake failure kinds.
const (
	KindUnknown          Kind = iota // the debug string names no known cause
	KindUnknownAuthority             // the chain does not lead to a root the host trusts
	KindNameMismatch                 // the certificate is not valid for the server name
	KindExpired                      // a certificate has expired
	KindNotYetValid                  // a certificate is not valid yet
	KindBadCertificate               // another certificate verification failure
	KindPeerAlert                    // the server sent a fatal alert (HandshakeError.Alert)
	KindProtocolVersion              // no protocol version both sides accept
	KindProtocol                     // the server broke the protocol
	KindHandshakeTimeout             // the host's handshake timeout fired
	KindCanceled                     // the host canceled the handshake
	KindTransport                    // the connection failed underneath
	KindPQRequired                   // a post-quantum key exchange was required but not negotiated
	KindPolicyDenied                 // the host's policy refused the connection
	KindInvalidConfig                // the host refused the configuration (e.g. the server name)
)

// kindNames are the prefixes a host's debug string starts with, after "tls: ".
var kindNames = [...]string{
	KindUnknown:          "handshake failure",
	KindUnknownAuthority: "unknown authority",
	KindNameMismatch:     "name mismatch",
	KindExpired:          "certificate expired",
	KindNotYetValid:      "certificate not yet valid",
	KindBadCertificate:   "bad certificate",
	KindPeerAlert:        "peer alert",
	KindProtocolVersion:  "protocol version",
	KindProtocol:         "protocol error",
	KindHandshakeTimeout: "handshake timeout",
	KindCanceled:         "canceled",
	KindTransport:        "transport failure",
	KindPQRequired:       "post-quantum key exchange required",
	KindPolicyDenied:     "policy denied",
	KindInvalidConfig:    "invalid configuration",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

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
	e := &HandshakeError{ServerName: serverName, Debug: debug}
	rest, ok := strings.CutPrefix(debug, "tls: ")
	if !ok {
		return e
	}
	// Longest name first, so that a name that prefixes another cannot win.
	best := -1
	for k, name := range kindNames {
		if strings.HasPrefix(rest, name) && (best < 0 || len(name) > len(kindNames[best])) {
			// The name must end at a word boundary: "canceled" must not
			// match "canceledX".
			if len(rest) == len(name) || strings.ContainsRune(" :[(", rune(rest[len(name)])) {
				best = k
			}
		}
	}
	if best < 0 {
		return e
	}
	e.Kind = Kind(best)
	if e.Kind == KindPeerAlert {
		// "peer alert <name> (<code>)"
		if i := strings.IndexByte(rest, '('); i >= 0 {
			if j := strings.IndexByte(rest[i:], ')'); j > 0 {
				if v, err := strconv.ParseUint(rest[i+1:i+j], 10, 8); err == nil {
					e.Alert = uint8(v)
				}
			}
		}
	}
	return e
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
