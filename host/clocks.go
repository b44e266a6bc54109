package host

import (
	"sync/atomic"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// clockBase is instant 0 of wasi:clocks/monotonic-clock.
var clockBase = time.Now()

// The clocks follow the guest's ModuleConfig (see NewModuleConfig): its
// WithNanotime / WithWalltime functions when set. An unset monotonic clock
// is the host's (pollables are real timers either way: a configured clock's
// instant is converted to a real deadline by its distance from now); an
// unset wall clock is wazero's fake one. A guest whose config the host
// cannot read has the host's real clocks.

var monotonicClock = register(&iface{name: witnames.ClocksMonotonicClock, fns: []fnDef{
	def(witnames.ClocksMonotonicClockNow, func(c *call, stack []uint64) { stack[0] = c.monotonicNow() }, nil, i64),
	def(witnames.ClocksMonotonicClockResolution, func(c *call, stack []uint64) {
		stack[0] = 1
		if cfg := c.g.cli.cfg; cfg != nil && cfg.nanotime != nil {
			stack[0] = uint64(cfg.nanoRes)
		}
	}, nil, i64),
	def(witnames.SubscribeInstant, func(c *call, stack []uint64) {
		now := c.monotonicNow()
		var d time.Duration
		if stack[0] > now {
			d = clampDur(stack[0] - now)
		}
		stack[0] = uint64(c.subscribe(&deadline{at: time.Now().Add(d)}, 0))
	}, p(i64), i32),
	def(witnames.SubscribeDuration, func(c *call, stack []uint64) {
		stack[0] = uint64(c.subscribe(&deadline{at: time.Now().Add(clampDur(stack[0]))}, 0))
	}, p(i64), i32),
}})

func (c *call) monotonicNow() uint64 {
	if cfg := c.g.cli.cfg; cfg != nil && cfg.nanotime != nil {
		return uint64(cfg.nanotime())
	}
	return uint64(time.Since(clockBase))
}

// clampDur converts a u64 nanosecond count; values beyond Go's range mean
// "never" in practice.
func clampDur(v uint64) time.Duration {
	if v > 1<<62 {
		return 1 << 62
	}
	return time.Duration(v)
}

var wallClock = register(&iface{name: witnames.ClocksWallClock, fns: []fnDef{
	def(witnames.ClocksWallClockNow, func(c *call, stack []uint64) {
		s, ns := c.g.cli.walltime()()
		putDatetime(c, wapi.DecodeU32(stack[0]), uint64(s), uint32(ns))
	}, p(i32)),
	def(witnames.ClocksWallClockResolution, func(c *call, stack []uint64) {
		res := uint64(1)
		if cfg := c.g.cli.cfg; cfg != nil && cfg.walltime != nil {
			res = uint64(cfg.wallRes)
		}
		putDatetime(c, wapi.DecodeU32(stack[0]), res/1e9, uint32(res%1e9))
	}, p(i32)),
}})

// walltime is the guest's wall clock.
func (s *cliState) walltime() func() (int64, int32) {
	s.wallOnce.Do(func() {
		switch {
		case s.cfg == nil:
			s.wall = sysWalltime
		case s.cfg.walltime != nil:
			s.wall = s.cfg.walltime
		default:
			s.wall = fakeWalltime()
		}
	})
	return s.wall
}

func sysWalltime() (int64, int32) {
	t := time.Now()
	return t.Unix(), int32(t.Nanosecond())
}

// fakeWalltime is wazero's default wall clock: 2022-01-01T00:00:00Z,
// advancing 1 ms per reading.
func fakeWalltime() func() (int64, int32) {
	const ms = int64(time.Millisecond)
	t := 1640995200000*ms - ms
	return func() (int64, int32) {
		wt := atomic.AddInt64(&t, ms)
		return wt / 1e9, int32(wt % 1e9)
	}
}

// putDatetime writes record datetime { seconds: u64, nanoseconds: u32 }.
func putDatetime(c *call, ret uint32, s uint64, ns uint32) {
	b := c.Area(ret, cabi.Datetime.Size(), cabi.Datetime.Align())
	cabi.PutU64(b, cabi.Datetime.FieldOffset(0), s)
	cabi.PutU32(b, cabi.Datetime.FieldOffset(1), ns)
}
