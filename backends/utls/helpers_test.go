package utls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/exaring/ja4plus"
	"github.com/open-ch/ja3"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what a test server learned from one ClientHello.
type seen struct {
	JA4       string
	JA3       string // MD5
	JA3String string
	ALPN      []string
	Versions  []uint16
	Exts      []uint16
}

// recordConn keeps the bytes the server reads until the ClientHello record
// is complete, for the JA3 parser (which wants the raw record).
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if len(c.buf) < 1<<16 {
		c.buf = append(c.buf, b[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordConn) firstRecord() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) < 5 {
		return nil
	}
	n := 5 + (int(c.buf[3])<<8 | int(c.buf[4]))
	if len(c.buf) < n {
		return nil
	}
	return c.buf[:n]
}

// server is a crypto/tls server on loopback that records every ClientHello
// and echoes what it reads.
type server struct {
	addr  string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	slots map[string]chan seen // by client address
}

// slot is where the hello from the client at addr is delivered.
func (s *server) slot(addr string) chan seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.slots[addr]
	if !ok {
		ch = make(chan seen, 1)
		s.slots[addr] = ch
	}
	return ch
}

// startServer serves with a leaf for localhost/127.0.0.1/::1 from p; mod may
// change the server config.
func startServer(t testing.TB, p *pki.PKI, mod func(*tls.Config)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), ln: ln, slots: map[string]chan seen{}}
	base := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	if mod != nil {
		mod(base)
	}
	cfg := s.config(base)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// config wraps base so that every ClientHello is recorded. One config
// serves every connection, so session tickets stay valid across them.
func (s *server) config(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sn := seen{JA4: ja4plus.JA4(h), ALPN: h.SupportedProtos, Versions: h.SupportedVersions, Exts: h.Extensions}
		if rc, ok := h.Conn.(*recordConn); ok {
			if rec := rc.firstRecord(); rec != nil {
				if j, err := ja3.ComputeJA3FromSegment(rec); err == nil {
					sn.JA3, sn.JA3String = j.GetJA3Hash(), j.GetJA3String()
				}
			}
		}
		select {
		case s.slot(h.Conn.RemoteAddr().String()) <- sn:
		default: // a second hello on one connection
		}
		if base.GetConfigForClient != nil {
			return base.GetConfigForClient(h)
		}
		return nil, nil
	}
	return cfg
}

func (s *server) serve(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	tc := tls.Server(&recordConn{Conn: c}, cfg)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		return
	}
	_, _ = io.Copy(tc, tc)
	_ = tc.CloseWrite()
}

// hello returns what the server saw from the client at addr.
func (s *server) hello(t testing.TB, addr string) seen {
	t.Helper()
	select {
	case h := <-s.slot(addr):
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("the server saw no ClientHello")
		return seen{}
	}
}

// dial connects to addr and runs p.Client. local is the client's address,
// the key of the server's record of the hello.
func dial(t testing.TB, p api.Provider, addr string, cfg *api.Config) (c api.Conn, local string, err error) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	local = raw.LocalAddr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err = p.Client(ctx, raw, cfg)
	if err != nil {
		raw.Close()
		return nil, local, err
	}
	return c, local, nil
}

// roundTrip writes a line, reads the echo, then half-closes and waits for
// the server's EOF, proving the connection carries data both ways.
func roundTrip(t testing.TB, c api.Conn) {
	t.Helper()
	msg := []byte("ping over utls\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echo %q, want %q", got, msg)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if n, err := c.Read(got); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseWrite read %d bytes, %v; want the server's EOF", n, err)
	}
}

func newProvider(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pipe returns the two ends of a loopback TCP connection.
func pipe(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-ch
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
