package hostile

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wasitls/wasitls/internal/testkit/loopback"
)

// Server is a loopback TCP listener that runs one behaviour per accepted
// connection. Close stops it, closes every connection still open and waits
// for every goroutine it started.
type Server struct {
	srv  *loopback.Server
	b    Behaviour
	env  *Env
	done chan struct{}
	once sync.Once
}

// Env is what behaviours build their answers from: the server certificate
// (trusted by the clients under test) and the real server's configuration.
type Env struct {
	Cert tls.Certificate
	// Big is a certificate whose chain is about 1 MiB.
	Big tls.Certificate
	// ManySANs is a certificate with hundreds of DNS names.
	ManySANs tls.Certificate
	// Drip is the interval between the bytes of the slow behaviour.
	Drip time.Duration
}

// Start listens on 127.0.0.1 and serves b.
func Start(b Behaviour, env *Env) (*Server, error) {
	s := &Server{b: b, env: env, done: make(chan struct{})}
	srv, err := loopback.Start("tcp4", "127.0.0.1:0", func(c net.Conn) {
		s.b.Serve(&Conn{TCPConn: c.(*net.TCPConn), s: s})
	})
	if err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// Addr is the listener's address.
func (s *Server) Addr() *net.TCPAddr { return net.TCPAddrFromAddrPort(s.srv.AddrPort()) }

// WaitIdle waits until every connection made to the server so far has been
// accepted and has ended, or d passed; it reports whether the server is
// idle.
func (s *Server) WaitIdle(d time.Duration) bool { return s.srv.WaitIdle(d) }

// Close stops the server and waits for its goroutines; behaviours see
// Conn.Done closed first.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	s.srv.Close()
}

// Conn is an accepted connection handed to a behaviour.
type Conn struct {
	*net.TCPConn
	s *Server
}

// Env returns the server's environment.
func (c *Conn) Env() *Env { return c.s.env }

// Done is closed when the server closes.
func (c *Conn) Done() <-chan struct{} { return c.s.done }

// Reset closes the connection with an RST (SO_LINGER 0).
func (c *Conn) Reset() {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// sleep waits d or until the server closes; false means closed.
func (c *Conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.s.done:
		return false
	}
}

// drain reads and discards until the client goes away.
func (c *Conn) drain() { _, _ = io.Copy(io.Discard, c) }

// serveHTTP answers one HTTP request on a TLS connection with a short body.
func serveHTTP(tc *tls.Conn) error {
	br := bufio.NewReader(tc)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	_, err := io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	return err
}

// Hook sees each record the real server sends, in order (index i counts
// every record, enc counts the encrypted ones of TLS 1.3, i.e. application
// data records: 0 EncryptedExtensions, 1 Certificate, 2 CertificateVerify,
// 3 Finished, then tickets and data). It writes what the client should get
// with w and returns false to stop relaying (the connection is then closed
// as stop says).
type Hook func(p *Proxy, r record) (keepGoing bool)

// Proxy relays between the client and a real crypto/tls server (run
// in-process over a pipe) and lets a Hook rewrite the server's records.
type Proxy struct {
	C           *Conn
	I, Enc      int // record counters (see Hook)
	ClientHello record
	Keys        *keyLog
	sealer      *serverSealer
	afterCCS    bool // the TLS 1.2 server sent its CCS
	// FromClient receives every record the client sends (the ClientHello
	// too); it is closed when the client's side ends. Records are
	// relayed to the real server as well.
	FromClient chan record
	Forward    func(r record) error
}

// Write sends raw bytes to the client.
func (p *Proxy) Write(b []byte) error {
	_, err := p.C.Write(b)
	return err
}

// ProxyOptions configure the real server behind a Proxy.
type ProxyOptions struct {
	TLS12      bool // force TLS 1.2 (ECDHE-ECDSA-AES128-GCM, key log for injection)
	Cert       *tls.Certificate
	NextProtos []string
	// NoCloseNotify makes the real server close its transport after the
	// response instead of sending close_notify.
	NoCloseNotify bool
	// End is how the connection ends after the hook stops: "rst" or "fin".
	End string
	// AfterEOF runs after the real server's last record (it sent
	// close_notify, or closed), before the connection closes.
	AfterEOF func(p *Proxy)
}

// RunProxy serves c through a real server, with hook applied to every
// server record.
func RunProxy(c *Conn, o ProxyOptions, hook Hook) {
	cert := c.Env().Cert
	if o.Cert != nil {
		cert = *o.Cert
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: o.NextProtos}
	p := &Proxy{C: c, Keys: &keyLog{}, FromClient: make(chan record, 256)}
	if o.TLS12 {
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		cfg.KeyLogWriter = p.Keys
	}
	srvEnd, proxyEnd := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the real server
		defer wg.Done()
		tc := tls.Server(srvEnd, cfg)
		if err := tc.Handshake(); err == nil && serveHTTP(tc) == nil && !o.NoCloseNotify {
			_ = tc.CloseWrite()
		}
		srvEnd.Close()
	}()
	hello := make(chan record, 1)
	go func() { // client to server, record by record; the first is kept
		defer wg.Done()
		defer close(p.FromClient)
		defer proxyEnd.Close()
		for i := 0; ; i++ {
			r, err := readRecord(c)
			if err != nil {
				close(hello)
				return
			}
			if i == 0 {
				hello <- r
			}
			select {
			case p.FromClient <- r:
			default: // nobody watches: keep relaying
			}
			if _, err := proxyEnd.Write(r); err != nil {
				return
			}
		}
	}()
	p.ClientHello = <-hello
	p.Forward = func(r record) error { return p.Write(r) }
	ended := true
	for {
		r, err := readRecord(proxyEnd)
		if err != nil {
			break
		}
		if o.TLS12 && r.typ() == recCCS {
			p.afterCCS = true
		}
		keep := hook(p, r)
		if r.typ() == recAppData {
			p.Enc++
		}
		p.I++
		if !keep {
			ended = false
			break
		}
	}
	if ended && o.AfterEOF != nil {
		o.AfterEOF(p)
	}
	proxyEnd.Close()
	if o.End == "rst" {
		c.Reset()
	} else {
		_ = c.CloseWrite()
		c.drain()
		c.Close()
	}
	wg.Wait()
}

// forward is the identity hook.
func forward(p *Proxy, r record) bool { return p.Forward(r) == nil }

// Sealer returns an encrypter for injecting TLS 1.2 records after the
// server's Finished (the first encrypted record had sequence number 0).
func (p *Proxy) Sealer(serverHello record) (*serverSealer, error) {
	if p.sealer != nil {
		return p.sealer, nil
	}
	cr := clientRandomOf(p.ClientHello)
	ms := p.Keys.get(cr)
	rnd, _, ok := serverHelloOffsets(serverHello)
	if cr == nil || ms == nil || !ok {
		return nil, errors.New("hostile: no TLS 1.2 keys")
	}
	s, err := newServerSealer(ms, cr, serverHello[rnd:rnd+32])
	if err != nil {
		return nil, err
	}
	s.seq = 1
	p.sealer = s
	return s, nil
}
