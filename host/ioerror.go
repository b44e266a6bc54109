package host

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// ioError is the wasi:io/error resource: a Go error the guest can print
// (see guestText); the observer and the logger get the whole error.
type ioError struct{ err error }

var ioErrorIface = register(&iface{name: witnames.IOError, fns: []fnDef{
	def(witnames.ErrorToDebugString, errorToDebugString, p(i32, i32)),
	def(witnames.DropError, dropOf(rError), p(i32)),
}})

// errorToDebugString: (self, retptr) -> +0 ptr, +4 len of a string.
func errorToDebugString(c *call, stack []uint64) {
	e := c.get(wapi.DecodeU32(stack[0]), rError).(*ioError)
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, cabi.ListPair.Size, cabi.ListPair.Align)
	sp, sn := c.PutString(guestText(e.err))
	putListArea(c, ret, sp, sn)
}

// guestText is what the guest reads of err. A certificate verification
// failure says its kind and what is about the server's own certificate,
// never the rest of the x509 message: that names the host's trust anchors
// ("... while trying to verify candidate authority certificate NAME") and
// the constraints of its private roots, which are the embedder's.
func guestText(err error) string {
	var ae *api.Error
	if !errors.As(err, &ae) || !verificationFailure(ae) {
		return err.Error()
	}
	safe := *ae
	safe.Err = nil
	var (
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		unknown x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &host):
		safe.Err = host // the names in the server's certificate, and the guest's own
	case errors.As(err, &invalid):
		safe.Err = errors.New(strings.TrimSuffix(x509.CertificateInvalidError{Reason: invalid.Reason}.Error(), ": "))
	case errors.As(err, &unknown):
		safe.Err = errors.New("x509: certificate signed by unknown authority")
	}
	return safe.Error()
}

// verificationFailure reports whether e is a failure to verify the
// server's certificate (by its kind, or by an x509 error in its chain).
func verificationFailure(e *api.Error) bool {
	switch e.Kind {
	case api.KindUnknownAuthority, api.KindNameMismatch, api.KindExpired, api.KindNotYetValid, api.KindBadCertificate:
		return true
	}
	var (
		verify  *tls.CertificateVerificationError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		unknown x509.UnknownAuthorityError
		system  x509.SystemRootsError
		cons    x509.ConstraintViolationError
	)
	return errors.As(e, &verify) || errors.As(e, &host) || errors.As(e, &invalid) || errors.As(e, &unknown) ||
		errors.As(e, &system) || errors.As(e, &cons)
}
