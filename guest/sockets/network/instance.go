package network

import (
	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/ioerror"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// InstanceNetwork returns the network the host grants this instance.
func InstanceNetwork() Network { return Network(instanceNetwork()) }

// Drop releases the handle.
func (n Network) Drop() { drop(uint32(n)) }

// NetworkErrorCode returns the socket error code behind an io-error that a
// socket's stream reported, if the host knows one. (Unstable upstream:
// feature network-error-code.)
func NetworkErrorCode(err ioerror.Error) (ErrorCode, bool) {
	ret := cabi.NewArea()
	defer ret.Free()
	networkErrorCode(uint32(err), ret.Ptr())
	a := &abi.OptionCodeArea
	if ret.U8(a.Tag) == 0 {
		return 0, false
	}
	return ErrorCode(ret.U8(a.Some)), true
}
