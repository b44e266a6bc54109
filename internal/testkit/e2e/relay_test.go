package e2e

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/api/kind"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// relayDialer is a conformance.Dialer that runs every connection through a
// guest: per Dial it instantiates the relay guest with a policy built from
// the case's api.Config, lets the guest connect back to a loopback listener
// (the relay) and to the target, and speaks plaintext with it over the
// relay. See internal/guests/relay for the framing; the Rust and C
// guests speak it too (their "relay" mode).
type relayDialer struct {
	t     testing.TB
	guest string   // the relay guest (default: the Go relay)
	mode  []string // arguments before the relay's own
}

// frame is one guest-to-test frame.
type frame struct {
	typ     byte
	payload []byte
}

func (d relayDialer) Dial(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error) {
	targetHost, targetPort, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &api.Error{Kind: api.KindInvalidConfig, Err: err}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	relayPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	c := &relayConn{frames: make(chan frame, 256), exited: make(chan struct{}), readerDone: make(chan struct{})}
	pol := loopback(host.Policy{
		RootCAs:          cfg.RootCAs,
		MinVersion:       cfg.MinVersion,
		MaxVersion:       cfg.MaxVersion,
		HandshakeTimeout: cfg.HandshakeTimeout,
		Fingerprint:      cfg.Fingerprint,
		Options:          cfg.Options,
	})
	if cfg.ClientCertificate != nil {
		// Bound to the destination the relay guest connects to.
		dest := targetHost
		if a, err := netip.ParseAddr(targetHost); err == nil && a.Is6() {
			dest = "[" + targetHost + "]"
		}
		pol.Identities = []host.Identity{{Dest: dest + ":" + targetPort, Certificate: cfg.ClientCertificate}}
	}
	if len(cfg.NextProtos) > 0 {
		pol.ALPN = []host.ALPNRule{{Dest: "*:*", Protocols: cfg.NextProtos}}
	}
	opts := []host.Option{host.WithPolicy(pol), host.WithObserver(c.observe)}
	if cfg.ClientSessionCache != nil {
		// The host keeps a session cache per guest, and each Dial is a new
		// guest; an embedder that wants resumption across guests supplies
		// its own cache through a provider, as here.
		opts = append(opts, host.WithProvider(sharedCache(cfg.ClientSessionCache)))
	}

	// The guest outlives the dial context (it serves the connection), so it
	// gets its own; Close cancels it.
	gctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	guest := d.guest
	if guest == "" {
		guest = relay
	}
	env.Compile(d.t, guest)
	args := append(d.mode[:len(d.mode):len(d.mode)], targetHost, targetPort, "127.0.0.1", relayPort, "hex:"+hex.EncodeToString([]byte(cfg.ServerName)))
	go func() {
		defer close(c.exited)
		mc := guestrun.ModuleConfig(filepath.Base(guest), io.Discard, &c.stderr, args...)
		g, err := env.Instantiate(gctx, guest, mc, opts...)
		if g != nil {
			g.Close(context.Background())
		}
		c.guestErr = err
	}()

	accepted := make(chan net.Conn, 1)
	go func() {
		rc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- rc
	}()
	select {
	case rc, ok := <-accepted:
		if !ok {
			c.kill()
			return nil, errors.New("relay: accept failed")
		}
		c.rc = rc.(*net.TCPConn)
	case <-c.exited:
		// A quick guest may connect, report and exit before this select
		// looks at accepted: its connection waits in the listener's
		// backlog (closing the listener now would drop it), so accept for
		// a bounded time instead.
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		rc, ok := <-accepted
		ln.Close()
		if !ok {
			return nil, fmt.Errorf("relay guest exited before connecting back (%v): %s", c.guestErr, c.stderr.String())
		}
		c.rc = rc.(*net.TCPConn)
	case <-ctx.Done():
		ln.Close()
		if rc, ok := <-accepted; ok {
			rc.Close()
		}
		c.kill()
		return nil, backendkit.Classify(ctx.Err(), stdtls.Name)
	}
	go c.readFrames()

	select {
	case f, ok := <-c.frames:
		switch {
		case ok && f.typ == 'H':
			return c, nil
		case ok && f.typ == 'X':
			c.Close()
			return nil, guestError(string(f.payload))
		default:
			c.Close()
			return nil, fmt.Errorf("relay guest sent no handshake outcome (frame %q, %v): %s", f.typ, c.guestErr, c.stderr.String())
		}
	case <-ctx.Done():
		c.Close()
		return nil, backendkit.Classify(ctx.Err(), stdtls.Name)
	}
}

// sharedCache wraps stdtls so that every guest uses the suite's session cache.
func sharedCache(cache tls.ClientSessionCache) api.Provider {
	return api.ProviderFunc(stdtls.Name, func(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
		cfg = cfg.Clone()
		cfg.ClientSessionCache = cache
		return stdtls.Provider{}.Client(ctx, transport, cfg)
	})
}

// relayConn is the test's end of a relayed connection.
type relayConn struct {
	rc         *net.TCPConn
	frames     chan frame
	readerDone chan struct{}
	exited     chan struct{}
	cancel     context.CancelFunc
	stderr     guestrun.Buffer
	guestErr   error

	mu    sync.Mutex
	state api.ConnectionState

	pending      []byte
	readErr      error
	readDeadline time.Time

	closeOnce sync.Once
}

func (c *relayConn) observe(e host.ConnEvent) {
	if e.Phase == host.PhaseHandshake && e.Err == nil {
		c.mu.Lock()
		c.state = e.State
		c.mu.Unlock()
	}
}

// kill stops the guest and waits for it.
func (c *relayConn) kill() {
	c.cancel()
	<-c.exited
}

// readFrames moves frames from the relay socket to c.frames until the
// relay ends; a relay that ends without 'E' or 'X' yields nothing more and
// Read reports it.
func (c *relayConn) readFrames() {
	defer close(c.readerDone)
	defer close(c.frames)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(c.rc, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > 16<<20 {
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.rc, p); err != nil {
			return
		}
		c.frames <- frame{hdr[0], p}
		if hdr[0] == 'E' || hdr[0] == 'X' {
			return
		}
	}
}

func (c *relayConn) Read(b []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		var timeout <-chan time.Time
		if !c.readDeadline.IsZero() {
			timer := time.NewTimer(time.Until(c.readDeadline))
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case f, ok := <-c.frames:
			switch {
			case !ok:
				c.readErr = &api.Error{Kind: api.KindTransport, Backend: stdtls.Name,
					Err: fmt.Errorf("relay guest went away without an end frame: %s", c.stderr.String())}
			case f.typ == 'D':
				c.pending = f.payload
			case f.typ == 'E':
				c.readErr = io.EOF
			case f.typ == 'X':
				c.readErr = guestError(string(f.payload))
			default:
				c.readErr = fmt.Errorf("relay: unexpected frame %q", f.typ)
			}
		case <-timeout:
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *relayConn) Write(b []byte) (int, error) { return c.rc.Write(b) }

// CloseWrite half-closes the relay; the guest answers with close-output
// (close_notify).
func (c *relayConn) CloseWrite() error { return c.rc.CloseWrite() }

func (c *relayConn) Flush() error { return nil }

func (c *relayConn) Close() error {
	c.closeOnce.Do(func() {
		c.rc.Close()
		c.kill()
		<-c.readerDone
	})
	return nil
}

func (c *relayConn) State() api.ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *relayConn) LocalAddr() net.Addr                { return c.rc.LocalAddr() }
func (c *relayConn) RemoteAddr() net.Addr               { return c.rc.RemoteAddr() }
func (c *relayConn) SetReadDeadline(t time.Time) error  { c.readDeadline = t; return nil }
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.rc.SetWriteDeadline(t) }
func (c *relayConn) SetDeadline(t time.Time) error {
	c.readDeadline = t
	return c.rc.SetWriteDeadline(t)
}

// guestError turns the text of an 'X' frame back into an *api.Error: the
// host's debug strings start with "tls: <kind>" (api.Error.Error), socket
// failures are "tcp: <error-code>", and stream failures after the
// handshake carry the transport's own message.
func guestError(msg string) error {
	e := &api.Error{Kind: api.KindUnknown, Err: errors.New("guest: " + msg)}
	if code, ok := strings.CutPrefix(msg, "tcp: "); ok {
		e.Kind = api.KindTransport
		if code == "access-denied" {
			e.Kind = api.KindPolicyDenied
		}
		return e
	}
	if k, alert, ok := kind.Parse(msg); ok {
		e.Kind, e.Alert = k, alert
		rest := strings.TrimPrefix(msg, kind.Prefix+k.String())
		if i, j := strings.Index(rest, "["), strings.Index(rest, "]"); i >= 0 && j > i && !strings.Contains(rest[:i], ":") {
			e.Backend = rest[i+1 : j]
		}
		return e
	}
	for _, s := range []string{"EOF", "reset", "broken pipe", "closed", "refused"} {
		if strings.Contains(msg, s) {
			e.Kind = api.KindTransport
		}
	}
	return e
}

func TestConformanceThroughGuest(t *testing.T) {
	env.Compile(t, relay)
	conformance.RunDialer(t, relayDialer{t: t}, api.CapabilitiesOf(stdtls.Provider{}),
		conformance.WithBackendName(stdtls.Name),
		conformance.WithBulkBytes(16<<20),
		conformance.RequirePeers(peers.InCI()),
	)
}

// TestConformanceThroughForeignGuests runs the whole conformance suite
// through guests built by other compilers (Rust, C) with their own
// canonical-ABI code, which write the way wasi-libc does: check-write and
// write, never flush. The cases are the suite's, run by the same Dialer as
// the Go relay's.
func TestConformanceThroughForeignGuests(t *testing.T) {
	for _, guest := range []string{rusttls, ctls} {
		t.Run(filepath.Base(guest), func(t *testing.T) {
			env.Compile(t, guest)
			conformance.RunDialer(t, relayDialer{t: t, guest: guest, mode: []string{"relay"}}, api.CapabilitiesOf(stdtls.Provider{}),
				conformance.WithBackendName(stdtls.Name),
				conformance.WithBulkBytes(16<<20),
				conformance.RequirePeers(peers.InCI()),
			)
		})
	}
}
