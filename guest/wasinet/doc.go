// Package wasinet gives standard Go guest programs (GOOS=wasip1) net.Conn
// connections over wasi-sockets, and TLS over them through wasi-tls, so that
// ordinary net/http clients and database drivers run as WebAssembly guests.
//
//	tr := &http.Transport{
//		DialContext:    wasinet.DialContext,    // plain TCP through wasi-sockets
//		DialTLSContext: wasinet.DialTLSContext, // TLS run by the host through wasi-tls
//	}
//	resp, err := (&http.Client{Transport: tr}).Get("https://localhost:8443/")
//
// STARTTLS (PostgreSQL's SSLRequest, SMTP, ...): dial, talk plaintext, then
// upgrade the same socket:
//
//	c, _ := wasinet.DialContext(ctx, "tcp", "db:5432")
//	c.Write(sslRequest)
//	io.ReadFull(c, answer[:1]) // 'S'
//	tc, err := wasinet.ClientContext(ctx, c, "db")
//
// The host runs the handshake by its own policy (trusted roots, versions,
// ALPN, client certificate); the guest only names the server, and may ask
// for ALPN protocols with Dialer.NextProtos and read what was negotiated
// with TLSConn.ConnectionState, through the project's extension to
// wasi:tls (wasitls:tls/connection). The extension is optional: only a
// guest that imports package tlsext for its side effect links (and so
// imports) it, and then needs a host that serves it, as wasitls does;
// without tlsext a wasinet guest imports the standard wasi:tls interface
// alone and runs on any wasi-tls host, Dialer.NextProtos is an
// ErrNoExtension and ConnectionState has ServerName and HandshakeComplete
// only. Package wasihttp builds on them (and imports tlsext): an
// http.RoundTripper that speaks HTTP/2 to servers that choose h2. A failed
// handshake is a *HandshakeError carrying the host's debug string, whose
// "tls: <kind>" prefix gives its Kind: errors.Is(err, ErrUnknownAuthority).
// Reads return io.EOF at the end of the stream (close_notify for TLS);
// deadlines give a *net.OpError whose Timeout() is true and which
// errors.Is os.ErrDeadlineExceeded. Socket error codes unwrap to
// syscall errnos (errors.Is(err, syscall.ECONNREFUSED)).
//
// # Waiting
//
// The wasip1 runtime is single-threaded: a host call that blocks stops
// every goroutine. So no goroutine ever blocks in the host on its own.
// Operations are non-blocking host calls; a goroutine that has to wait
// registers its pollable (and deadline) with the poller and parks on a
// channel, which lets every other goroutine run. One poller goroutine
// (started on the first wait, parked on a channel while nobody waits) runs
// rounds:
//
//  1. wake waiters whose deadline passed;
//  2. check each waiter's pollable.ready and wake the ready ones;
//  3. if none was ready and the run queue is empty (runtime/metrics
//     /sched/goroutines/runnable), call wasi:io/poll over all the waiters'
//     pollables plus a timer for the nearest deadline, capped at the timer
//     slack (20 ms, SetTimerSlack): only here does the guest sleep in the
//     host, and poll returns as soon as anything is ready;
//  4. runtime.Gosched, so woken and other goroutines run first.
//
// The slack exists because Go timers of other goroutines (time.Sleep,
// context deadlines) cannot fire while the guest sleeps in the host: it is
// how late they may be. An idle guest thus wakes 1/slack times a second;
// a busy one costs a few ready checks per scheduling round. ReadStats
// reports the poller's counters.
//
// # Other platforms
//
// The package builds on every platform, so that its documentation shows
// and code that refers to it compiles, but only a GOOS=wasip1 guest run by
// a wasitls host can connect: elsewhere the dial functions and Client
// return ErrUnsupportedPlatform.
package wasinet
