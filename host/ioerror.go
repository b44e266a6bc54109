package host

import (
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// ioError is the wasi:io/error resource: a Go error the guest can print.
type ioError struct{ err error }

var ioErrorIface = register(&iface{name: "wasi:io/error", fns: []fnDef{
	def("[method]error.to-debug-string", errorToDebugString, p(i32, i32)),
	def("[resource-drop]error", dropOf(rError), p(i32)),
}})

// errorToDebugString: (self, retptr) -> +0 ptr, +4 len of a string.
func errorToDebugString(c *call, stack []uint64) {
	e := c.get(wapi.DecodeU32(stack[0]), rError).(*ioError)
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, 8, 4)
	sp, sn := c.PutString(e.err.Error())
	b := c.Area(ret, 8, 4)
	cabi.PutU32(b, 0, sp)
	cabi.PutU32(b, 4, sn)
}
