package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/wasitls/wasitls/host"
)

// newLogger returns the -v logger: slog's text or JSON handler on w, with
// every event's fields as attributes (format is checked by the caller).
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// logEvent logs a host event at info (warn when it failed or was denied).
// Handshakes are logged by observe.Inspect, which also knows the JA4.
func logEvent(log *slog.Logger, e host.ConnEvent) {
	if e.Phase == host.PhaseHandshake {
		return
	}
	level := slog.LevelInfo
	if e.Err != nil {
		level = slog.LevelWarn
	}
	log.LogAttrs(context.Background(), level, e.Message(), e.Attrs()...)
}
