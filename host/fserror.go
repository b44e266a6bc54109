package host

import (
	"errors"

	expsys "github.com/tetratelabs/wazero/experimental/sys"
)

// fsCode is a wasi:filesystem/types error-code, or fsOK: case i of the
// WIT's enum is fsCode(i+1) (see wire).
type fsCode uint8

// The error-code cases, in the WIT's order.
const (
	fsOK fsCode = iota
	feAccess
	feWouldBlock
	feAlready
	feBadDescriptor
	feBusy
	feDeadlock
	feQuota
	feExist
	feFileTooLarge
	feIllegalByteSequence
	feInProgress
	feInterrupted
	feInvalid
	feIO
	feIsDirectory
	feLoop
	feTooManyLinks
	feMessageSize
	feNameTooLong
	feNoDevice
	feNoEntry
	feNoLock
	feInsufficientMemory
	feInsufficientSpace
	feNotDirectory
	feNotEmpty
	feNotRecoverable
	feUnsupported
	feNoTTY
	feNoSuchDevice
	feOverflow
	feNotPermitted
	fePipe
	feReadOnly
	feInvalidSeek
	feTextFileBusy
	feCrossDevice
)

// errnoCode maps wazero's errno to the error-code.
func errnoCode(e expsys.Errno) fsCode {
	switch e {
	case expsys.EACCES:
		return feAccess
	case expsys.EAGAIN:
		return feWouldBlock
	case expsys.EBADF:
		return feBadDescriptor
	case expsys.EEXIST:
		return feExist
	case expsys.EINTR:
		return feInterrupted
	case expsys.EINVAL, expsys.EFAULT, expsys.ENOTSOCK:
		return feInvalid
	case expsys.EISDIR:
		return feIsDirectory
	case expsys.ELOOP:
		return feLoop
	case expsys.ENAMETOOLONG:
		return feNameTooLong
	case expsys.ENOENT:
		return feNoEntry
	case expsys.ENOSYS, expsys.ENOTSUP:
		return feUnsupported
	case expsys.ENOTDIR:
		return feNotDirectory
	case expsys.ERANGE:
		return feOverflow
	case expsys.ENOTEMPTY:
		return feNotEmpty
	case expsys.EPERM:
		return feNotPermitted
	case expsys.EROFS:
		return feReadOnly
	}
	return feIO
}

// wire is the enum case as the guest sees it.
func (e fsCode) wire() uint8 { return uint8(e - 1) }

// fsError is a filesystem failure carried by a stream's io-error, so that
// filesystem-error-code can recover its code.
type fsError struct {
	code fsCode
	op   string
}

func (e *fsError) Error() string { return "filesystem: " + e.op + ": " + fsCodeNames[e.code.wire()] }

func fsErr(op string, e expsys.Errno) error { return &fsError{code: errnoCode(e), op: op} }

// fsCodeOf returns the error-code behind an io-error's error, if any.
func fsCodeOf(err error) (fsCode, bool) {
	var fe *fsError
	if errors.As(err, &fe) {
		return fe.code, true
	}
	return fsOK, false
}

var fsCodeNames = [...]string{
	"access", "would-block", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist",
	"file-too-large", "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io",
	"is-directory", "loop", "too-many-links", "message-size", "name-too-long", "no-device", "no-entry",
	"no-lock", "insufficient-memory", "insufficient-space", "not-directory", "not-empty",
	"not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow", "not-permitted", "pipe",
	"read-only", "invalid-seek", "text-file-busy", "cross-device",
}
