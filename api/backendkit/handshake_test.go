package backendkit_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api/backendkit"
)

func TestRunHandshake(t *testing.T) {
	read := func(c net.Conn) func() error {
		return func() error { _, err := c.Read(make([]byte, 1)); return err }
	}
	t.Run("Completes", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go func() { _, _ = b.Write([]byte{1}) }()
		if err := backendkit.RunHandshake(context.Background(), a, time.Minute, read(a)); err != nil {
			t.Fatal(err)
		}
		if err := a.SetDeadline(time.Time{}); err != nil { // fails once closed
			t.Fatalf("transport closed after a handshake that completed: %v", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		err := backendkit.RunHandshake(context.Background(), a, 20*time.Millisecond, read(a))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want DeadlineExceeded", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _ = b.Read(make([]byte, 1)); cancel() }()
		err := backendkit.RunHandshake(ctx, a, time.Minute, func() error {
			_, _ = a.Write([]byte{1}) // the peer cancels once it has this
			return read(a)()
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v, want Canceled", err)
		}
	})
	t.Run("CanceledBefore", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := backendkit.RunHandshake(ctx, a, time.Minute, func() error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("%v (ran %t), want Canceled without running", err, ran)
		}
	})
}

func TestWithTimeoutKeepsAnEarlierDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ctx, cancel2 := backendkit.WithTimeout(parent, time.Minute)
	defer cancel2()
	if ctx != parent {
		t.Fatal("a deadline within the timeout was replaced")
	}
	ctx, cancel3 := backendkit.WithTimeout(parent, time.Millisecond)
	defer cancel3()
	if d, _ := ctx.Deadline(); time.Until(d) > 500*time.Millisecond {
		t.Fatalf("deadline in %v, want the shorter timeout", time.Until(d))
	}
}
