package conformance

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
)

// server is a loopback TCP server the suite starts for one case. Every
// accepted connection runs handle in its own goroutine; when the test ends
// the listener and all connections are closed and the goroutines awaited.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// startServer listens on network ("tcp4" on 127.0.0.1, "tcp6" on ::1).
func startServer(t *testing.T, network string, handle func(net.Conn)) *server {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		if network == "tcp6" {
			t.Skipf("IPv6 loopback ::1 is not available: %v", err)
		}
		t.Fatalf("listen: %v", err)
	}
	s := &server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve(handle)
	t.Cleanup(s.close)
	return s
}

func (s *server) serve(handle func(net.Conn)) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			handle(c)
		}()
	}
}

// Addr is the address to dial, e.g. "127.0.0.1:40123".
func (s *server) Addr() string { return s.ln.Addr().String() }

func (s *server) close() {
	s.ln.Close()
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// tlsServer is a crypto/tls server. Its handler runs after a successful
// handshake; handshake errors are reported on handshakeErrs.
type tlsServer struct {
	*server
	handshakeErrs chan error
}

func startTLSServer(t *testing.T, network string, cfg *tls.Config, handle func(*tls.Conn)) *tlsServer {
	t.Helper()
	ts := &tlsServer{handshakeErrs: make(chan error, 256)}
	ts.server = startServer(t, network, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			select {
			case ts.handshakeErrs <- err:
			default:
			}
			return
		}
		defer tc.Close() // close_notify, unless handle closed the transport
		handle(tc)
	})
	return ts
}

// serverConfig is a crypto/tls server configuration presenting cert.
func serverConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// echo copies everything back until the client's close_notify, then sends
// its own close_notify.
func echo(c *tls.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
