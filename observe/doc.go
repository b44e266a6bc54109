// Package observe turns what a wasitls host sees into reports, logs and
// metrics, so that an embedder writes no observer of its own:
//
//   - [Metrics] counts handshakes and their failures by backend and kind,
//     TCP connects, policy denials and plaintext bytes, and reads open
//     connections, handles and sockets per guest; Metrics.Observe is the
//     function for host.WithObserver. It has no dependency: export
//     [Metrics.Snapshot] with whatever the program uses (examples/prometheus
//     does it for Prometheus).
//   - [Inspect] wraps a backend to report each handshake with the JA4 of the
//     ClientHello the backend sent ([Handshake], the CLI's -v report);
//     [LogHandshakes] logs those reports.
//   - host.WithLogger already logs every host event with its fields as slog
//     attributes (host.ConnEvent.Attrs); Handshake.Attrs uses the same names.
//
// None of them changes what the host does: Inspect keeps the wrapped
// backend's capabilities (api.Wrap), so handshakes run on the same path.
//
//	m := observe.NewMetrics()
//	h := host.New(r, host.WithObserver(m.Observe), host.WithLogger(logger))
//	m.Watch(h)
//	p := observe.Inspect(stdtls.Provider{}, observe.LogHandshakes(logger))
//	g, err := h.Instantiate(ctx, compiled, mc, host.WithProvider(p), host.WithPolicy(policy))
package observe
