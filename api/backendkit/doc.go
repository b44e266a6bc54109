// Package backendkit is the backend author's kit: the helpers a TLS backend
// (an [api.Provider]) uses to keep the promises of the api contract, which an
// embedder of the host never needs.
//
//   - [Classify] turns crypto/tls, crypto/x509, net and context errors into
//     classified [*api.Error]s.
//   - [EOFWatch] and [ConnError] tell a peer's close_notify from a cut
//     transport, so a truncated response is never an ordinary io.EOF.
//   - [RunHandshake] bounds a blocking handshake by a context and a timeout
//     without a goroutine per handshake (a backend built with it can declare
//     Capabilities.HonorsContext).
//
// The core of a minimal backend on crypto/tls (TestMinimalBackend runs the
// whole of it through conformance.Run: it also declares Capabilities and
// sets ClientSessionCache and GetClientCertificate, without which the
// suite's resumption and client-certificate cases fail):
//
//	type mini struct{}
//
//	func (mini) Name() string { return "mini" }
//
//	func (mini) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
//		if err := api.ValidateServerName(cfg.ServerName); err != nil {
//			return nil, err
//		}
//		minV, maxV := cfg.Versions()
//		w := &backendkit.EOFWatch{Conn: transport}
//		tc := tls.Client(w, &tls.Config{ServerName: cfg.ServerName, RootCAs: cfg.RootCAs,
//			MinVersion: minV, MaxVersion: maxV, NextProtos: cfg.NextProtos})
//		if err := backendkit.RunHandshake(ctx, transport, cfg.Timeout(), tc.Handshake); err != nil {
//			return nil, backendkit.Classify(err, "mini")
//		}
//		return &miniConn{Conn: tc, w: w}, nil
//	}
//
//	type miniConn struct {
//		*tls.Conn
//		w *backendkit.EOFWatch
//	}
//
//	func (c *miniConn) Read(b []byte) (int, error) {
//		n, err := c.Conn.Read(b)
//		return n, backendkit.ConnError(err, c.w.Ended(), "mini", func(err error) error { return backendkit.Classify(err, "mini") })
//	}
//
// (with Write, Flush, CloseWrite and State written the same way).
package backendkit
