// Package tls binds wasi:tls/types@0.2.0-draft: TLS client connections that
// the host runs over a guest's streams (normally those of a wasi-sockets
// TCP connection).
//
// The handshake is started by Finish and completes in the background; Get
// never blocks, so wait on the future's pollable:
//
//	hs := tls.NewClientHandshake("example.com", tcpIn, tcpOut) // takes the streams
//	fut := tls.Finish(hs)
//	p := fut.Subscribe()
//	p.Block()
//	p.Drop()
//	conn, in, out, err := fut.Get()
//	fut.Drop()
//	var he *tls.HandshakeError
//	if errors.As(err, &he) {
//		fmt.Println(he.Debug) // e.g. "tls: unknown authority ..."
//	}
//	// ... read from in, write to out ...
//	conn.CloseOutput() // close_notify
//	in.Drop(); out.Drop(); conn.Drop() // children first
package tls
