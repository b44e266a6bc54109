package host

import (
	"context"
	"errors"
	"net"
	"syscall"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// error-code of wasi:sockets/network, in WIT order.
type errorCode uint8

const (
	ecUnknown errorCode = iota
	ecAccessDenied
	ecNotSupported
	ecInvalidArgument
	ecOutOfMemory
	ecTimeout
	ecConcurrencyConflict
	ecNotInProgress
	ecWouldBlock
	ecInvalidState
	ecNewSocketLimit
	ecAddressNotBindable
	ecAddressInUse
	ecRemoteUnreachable
	ecConnectionRefused
	ecConnectionReset
	ecConnectionAborted
	ecDatagramTooLarge
	ecNameUnresolvable
	ecTemporaryResolverFailure
	ecPermanentResolverFailure
)

// codeOf maps a Go network error to an error-code.
func codeOf(err error) errorCode {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ecUnknown
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return ecNameUnresolvable
		case dnsErr.IsTemporary || dnsErr.IsTimeout:
			return ecTemporaryResolverFailure
		}
		return ecPermanentResolverFailure
	case errors.Is(err, syscall.ECONNREFUSED):
		return ecConnectionRefused
	case errors.Is(err, syscall.ECONNRESET):
		return ecConnectionReset
	case errors.Is(err, syscall.ECONNABORTED):
		return ecConnectionAborted
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded):
		return ecTimeout
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.EHOSTDOWN):
		return ecRemoteUnreachable
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return ecAccessDenied
	case errors.Is(err, syscall.EADDRINUSE):
		return ecAddressInUse
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return ecAddressNotBindable
	case errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.ENOBUFS):
		return ecOutOfMemory
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ecNewSocketLimit
	case errors.Is(err, errors.ErrUnsupported):
		return ecNotSupported
	}
	return ecUnknown
}

// network is the network resource: a capability with no state.
type network struct{}

var sockNetwork = register(&iface{name: witnames.SocketsNetwork, fns: []fnDef{
	def(witnames.NetworkErrorCode, networkErrorCode, p(i32, i32)),
	def(witnames.DropNetwork, dropOf(rNetwork), p(i32)),
	// Not in the WIT: jco's bindings add it to network (a workaround in
	// their generated code), and components built with jco's WIT import
	// it. It checks the handle and does nothing.
	offWIT(def(witnames.NetworkNoop, func(c *call, stack []uint64) {
		c.get(wapi.DecodeU32(stack[0]), rNetwork)
	}, p(i32))),
}})

// networkErrorCode: (borrow<error>, retptr) -> option<error-code>: +0 tag, +1 code.
func networkErrorCode(c *call, stack []uint64) {
	e := c.get(wapi.DecodeU32(stack[0]), rError).(*ioError)
	ret := wapi.DecodeU32(stack[1])
	a := cabi.OptionCodeArea
	b := c.Area(ret, a.Size, a.Align)
	var ne net.Error
	var errno syscall.Errno
	if errors.As(e.err, &ne) || errors.As(e.err, &errno) {
		b[a.Tag] = 1
		b[a.Some] = byte(codeOf(e.err))
		return
	}
	b[a.Tag] = 0
}

// okArea writes the ok tag of a result<T, error-code>-shaped area and
// returns the area for T.
func okArea(c *call, a cabi.CodeArea, ret uint32) []byte {
	b := c.Area(ret, a.Size, a.Align)
	b[a.Tag] = 0
	return b
}

// putCode writes the err case of a result<_, error-code>-shaped area.
func putCode(c *call, a cabi.CodeArea, ret uint32, code errorCode) {
	b := c.Area(ret, a.Size, a.Align)
	b[a.Tag] = 1
	b[a.Code] = byte(code)
}
