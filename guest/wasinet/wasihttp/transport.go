// Package wasihttp is an http.RoundTripper for GOOS=wasip1 guests whose
// connections go through guest/wasinet: HTTPS over HTTP/2 when the server
// negotiates h2, HTTP/1.1 otherwise.
//
//	client := &http.Client{Transport: wasihttp.NewTransport()}
//	resp, err := client.Get("https://api.internal:8443/")
//	// resp.Proto is "HTTP/2.0" or "HTTP/1.1"
//
// The guest asks the host for ALPN h2 and http/1.1 through the project's
// extension to wasi:tls (wasitls:tls/connection, see wit/ext); the host
// offers what its policy allows, and the protocol the server chose decides
// which of the two transports (golang.org/x/net/http2, net/http) carries
// the requests to that server from then on. A guest built with this
// package therefore runs only on a wasitls host. It lives apart from
// wasinet so that guests that do not speak HTTP do not link HTTP/2.
package wasihttp

import (
	"context"
	ctls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"

	"github.com/wasitls/wasitls/guest/wasinet"
	_ "github.com/wasitls/wasitls/guest/wasinet/tlsext" // ALPN and the negotiated protocol
)

// ALPN ids.
const (
	H2    = "h2"
	HTTP1 = "http/1.1"
)

// Transport sends HTTPS requests over HTTP/2 or HTTP/1.1, as each server
// negotiates, and plain http:// requests over HTTP/1.1. Make it with
// NewTransport; it is safe for concurrent use.
type Transport struct {
	dialer wasinet.Dialer
	h1     *http.Transport
	h2     *http2.Transport

	mu      sync.Mutex
	protos  map[string]string             // "host:port" -> the protocol its server chose
	spare   map[string][]*wasinet.TLSConn // handshaken, waiting for the transport of their protocol
	probing map[string]chan struct{}      // first dials under way; closed when one ends
}

// Option configures a Transport.
type Option func(*Transport)

// WithDialer sets the dialer's settings (Timeout); its NextProtos are set
// per connection by the Transport.
func WithDialer(d wasinet.Dialer) Option { return func(t *Transport) { t.dialer = d } }

// WithHTTP1 lets f adjust the HTTP/1.1 transport (timeouts, keep-alives,
// connection limits); its dial functions are the Transport's.
func WithHTTP1(f func(*http.Transport)) Option {
	return func(t *Transport) { f(t.h1) }
}

// NewTransport returns a Transport.
func NewTransport(opts ...Option) *Transport {
	t := &Transport{protos: map[string]string{}, spare: map[string][]*wasinet.TLSConn{}, probing: map[string]chan struct{}{}}
	t.h1 = &http.Transport{ForceAttemptHTTP2: false}
	t.h2 = &http2.Transport{}
	for _, o := range opts {
		o(t)
	}
	t.h1.DialContext = t.dialer.DialContext
	t.h1.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.conn(ctx, network, addr, HTTP1)
	}
	t.h2.DialTLSContext = func(ctx context.Context, network, addr string, _ *ctls.Config) (net.Conn, error) {
		return t.conn(ctx, network, addr, H2)
	}
	return t
}

// RoundTrip sends req over the protocol its server negotiated; the first
// request to a server dials it offering both, and requests that arrive
// meanwhile wait for that dial rather than make their own.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" {
		return t.h1.RoundTrip(req)
	}
	proto, err := t.protocol(req.Context(), authority(req))
	if err != nil {
		return nil, err
	}
	if proto == H2 {
		return t.h2.RoundTrip(req)
	}
	return t.h1.RoundTrip(req)
}

// protocol is the protocol of the server at addr, learnt by one dial
// offering both at a time: the handshaken connection waits in spare for
// the transport of its protocol, whose own pool then shares it (HTTP/2
// multiplexes every request on it). If that dial fails, the next waiter
// tries its own.
func (t *Transport) protocol(ctx context.Context, addr string) (string, error) {
	for {
		t.mu.Lock()
		if p, ok := t.protos[addr]; ok {
			t.mu.Unlock()
			return p, nil
		}
		if done, ok := t.probing[addr]; ok {
			t.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		done := make(chan struct{})
		t.probing[addr] = done
		t.mu.Unlock()
		c, err := t.dial(ctx, "tcp", addr, []string{H2, HTTP1})
		var p string
		if err == nil {
			p = protoOf(c)
		}
		t.mu.Lock()
		delete(t.probing, addr)
		close(done)
		if err == nil {
			t.protos[addr] = p
			t.spare[addr] = append(t.spare[addr], c)
		}
		t.mu.Unlock()
		return p, err
	}
}

// Protocol is the protocol the server at addr ("host:port") is spoken
// with: "h2" when it negotiated h2, "http/1.1" otherwise (no ALPN
// included), and whether the Transport has connected to it.
func (t *Transport) Protocol(addr string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.protos[addr]
	return p, ok
}

// CloseIdleConnections closes the idle connections of both transports and
// any handshaken connection not handed to one yet.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	spare := t.spare
	t.spare = map[string][]*wasinet.TLSConn{}
	t.mu.Unlock()
	for _, cs := range spare {
		for _, c := range cs {
			c.Close()
		}
	}
	t.h1.CloseIdleConnections()
	t.h2.CloseIdleConnections()
}

// conn hands the transport of proto a connection to addr: a spare one
// whose server chose proto, or a new one that offers only proto.
func (t *Transport) conn(ctx context.Context, network, addr, proto string) (net.Conn, error) {
	t.mu.Lock()
	cs := t.spare[addr]
	for i, c := range cs {
		if protoOf(c) == proto {
			t.spare[addr] = append(cs[:i:i], cs[i+1:]...)
			t.mu.Unlock()
			return c, nil
		}
	}
	t.mu.Unlock()
	c, err := t.dial(ctx, network, addr, []string{proto})
	if err != nil {
		return nil, err
	}
	if got := protoOf(c); got != proto {
		// The host's policy (or a backend pinned to a browser's ALPN
		// list) made this connection speak something else.
		c.Close()
		return nil, fmt.Errorf("wasihttp: %s: asked for ALPN %q, the server chose %q", addr, proto, got)
	}
	return c, nil
}

func (t *Transport) dial(ctx context.Context, network, addr string, protos []string) (*wasinet.TLSConn, error) {
	d := t.dialer
	d.NextProtos = protos
	c, err := d.DialTLSContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*wasinet.TLSConn)
	if !ok {
		c.Close()
		return nil, errors.New("wasihttp: the dialer returned no *wasinet.TLSConn")
	}
	return tc, nil
}

// protoOf is the negotiated protocol, HTTP/1.1 when the server chose none
// (a server without ALPN speaks HTTP/1.1).
func protoOf(c *wasinet.TLSConn) string {
	if p := c.ConnectionState().NegotiatedProtocol; p != "" {
		return p
	}
	return HTTP1
}

// authority is the "host:port" both transports dial for req.
func authority(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(host, port)
}
