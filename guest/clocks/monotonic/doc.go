// Package monotonic binds wasi:clocks/monotonic-clock@0.2.6: a clock that
// only moves forward, and timers as pollables, so guests can time out.
//
//	timer := monotonic.SubscribeDuration(2 * time.Second)
//	defer timer.Drop()
//	ready := poll.Poll(dataReady, timer)
package monotonic
