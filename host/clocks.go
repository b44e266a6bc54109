package host

import (
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// clockBase is instant 0 of wasi:clocks/monotonic-clock.
var clockBase = time.Now()

var monotonicClock = register(&iface{name: "wasi:clocks/monotonic-clock", fns: []fnDef{
	def("now", func(c *call, stack []uint64) { stack[0] = uint64(time.Since(clockBase)) }, nil, i64),
	def("resolution", func(c *call, stack []uint64) { stack[0] = 1 }, nil, i64),
	def("subscribe-instant", func(c *call, stack []uint64) {
		stack[0] = uint64(c.subscribe(&deadline{at: clockBase.Add(clampDur(stack[0]))}, 0))
	}, p(i64), i32),
	def("subscribe-duration", func(c *call, stack []uint64) {
		stack[0] = uint64(c.subscribe(&deadline{at: time.Now().Add(clampDur(stack[0]))}, 0))
	}, p(i64), i32),
}})

// clampDur converts a u64 nanosecond count; values beyond Go's range mean
// "never" in practice.
func clampDur(v uint64) time.Duration {
	if v > 1<<62 {
		return 1 << 62
	}
	return time.Duration(v)
}

var wallClock = register(&iface{name: "wasi:clocks/wall-clock", fns: []fnDef{
	def("now", func(c *call, stack []uint64) {
		now := time.Now()
		putDatetime(c, wapi.DecodeU32(stack[0]), uint64(now.Unix()), uint32(now.Nanosecond()))
	}, p(i32)),
	def("resolution", func(c *call, stack []uint64) { putDatetime(c, wapi.DecodeU32(stack[0]), 0, 1) }, p(i32)),
}})

// putDatetime writes record datetime { seconds: u64 @0, nanoseconds: u32 @8 }.
func putDatetime(c *call, ret uint32, s uint64, ns uint32) {
	b := c.Area(ret, cabi.Datetime.Size(), cabi.Datetime.Align())
	cabi.PutU64(b, cabi.Datetime.FieldOffset(0), s)
	cabi.PutU32(b, cabi.Datetime.FieldOffset(1), ns)
}
