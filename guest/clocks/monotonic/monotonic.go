package monotonic

import (
	"time"

	"github.com/wasitls/wasitls/guest/io/poll"
)

// Instant is a clock reading in nanoseconds from an arbitrary start.
type Instant uint64

// Now returns the current reading.
func Now() Instant { return Instant(now()) }

// Resolution returns the clock's tick length.
func Resolution() time.Duration { return time.Duration(resolution()) }

// SubscribeInstant returns a pollable that is ready once the clock reaches when.
func SubscribeInstant(when Instant) poll.Pollable {
	return poll.Pollable(subscribeInstant(uint64(when)))
}

// SubscribeDuration returns a pollable that is ready once d has passed.
// Negative durations count as zero.
func SubscribeDuration(d time.Duration) poll.Pollable {
	return poll.Pollable(subscribeDuration(uint64(max(d, 0))))
}

// Add returns i+d.
func (i Instant) Add(d time.Duration) Instant { return i + Instant(max(d, 0)) }

// Sub returns i-j.
func (i Instant) Sub(j Instant) time.Duration { return time.Duration(i - j) }
