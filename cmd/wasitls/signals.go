package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals end a command gracefully: the guest is stopped (its context
// canceled), its connections closed, and the exit code is 128 + the signal.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// interrupted is the cause of a context canceled by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted (" + signalName(e.sig) + ")" }

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func (e interrupted) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitSignal
}

// notifySignals returns a context canceled, with an interrupted cause, by
// the first of stopSignals. A second signal has its default effect (a
// process that does not stop in time can be killed with another Ctrl-C).
func notifySignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(interrupted{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// signalExit is the exit code for a command whose context a signal
// canceled: 130 for SIGINT, 143 for SIGTERM.
func signalExit(ctx context.Context) int {
	var in interrupted
	if errors.As(context.Cause(ctx), &in) {
		return in.exitCode()
	}
	return exitSignal
}
