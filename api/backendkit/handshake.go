package backendkit

import (
	"context"
	"fmt"
	"net"
	"time"
)

// RunHandshake runs handshake, a blocking exchange over transport, under
// ctx and within timeout: if either ends first, transport is closed (which
// ends the exchange) and the error wraps ctx's error (DeadlineExceeded for
// the timeout). Backends use it instead of crypto/tls's HandshakeContext,
// which starts a goroutine per handshake to watch ctx; this registers a
// callback, and adds a timer only when ctx has no deadline within timeout
// already (the host sets one).
func RunHandshake(ctx context.Context, transport net.Conn, timeout time.Duration, handshake func() error) error {
	ctx, cancel := WithTimeout(ctx, timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = transport.Close() })
	err := handshake()
	if !stop() {
		// ctx ended during the exchange and the transport is closed:
		// whatever the exchange reported, ctx is the cause, and a
		// handshake that just completed has nothing left to run on.
		if err == nil {
			return fmt.Errorf("%w (during the handshake)", ctx.Err())
		}
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// WithTimeout is context.WithTimeout, except that a ctx whose deadline comes
// no later than timeout from now is kept as it is: one timer a handshake,
// whoever sets it.
func WithTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}
