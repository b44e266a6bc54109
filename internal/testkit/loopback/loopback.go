// Package loopback runs throwaway TCP servers on 127.0.0.1 for tests. Serve
// hands each accepted connection to a handler on its own goroutine; when the
// test ends it closes the listener and every live connection and waits for
// the handlers, so a server never outlives its test (goleak stays quiet) and
// a handler blocked on a silent client is released.
//
//	srv := loopback.Serve(t, func(c net.Conn) { io.Copy(c, c) })
//	conn, err := net.Dial("tcp", srv.Addr())
package loopback

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a running loopback server.
type Server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	live map[net.Conn]struct{}
	seen map[string]bool // remote addresses accepted, for WaitIdle's barrier
	idle *sync.Cond      // signalled on every accept and handler exit
	once sync.Once
}

// Serve listens on 127.0.0.1 and runs handle for each connection until tb
// ends. handle need not close the connection.
func Serve(tb testing.TB, handle func(net.Conn)) *Server {
	tb.Helper()
	return ServeOn(tb, "tcp4", "127.0.0.1:0", handle)
}

// ServeOn is Serve on another loopback address, e.g. ("tcp6", "[::1]:0").
func ServeOn(tb testing.TB, network, addr string, handle func(net.Conn)) *Server {
	tb.Helper()
	s, err := Start(network, addr, handle)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start is ServeOn for a caller without a test at hand (a server package
// used by tests): the caller closes the server.
func Start(network, addr string, handle func(net.Conn)) (*Server, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("loopback: listen on %s %s: %w", network, addr, err)
	}
	s := &Server{ln: ln, live: map[net.Conn]struct{}{}, seen: map[string]bool{}}
	s.idle = sync.NewCond(&s.mu)
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.live[c] = struct{}{}
			s.seen[c.RemoteAddr().String()] = true
			s.idle.Broadcast()
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.live, c)
					s.idle.Broadcast()
					s.mu.Unlock()
				}()
				handle(c)
			})
		}
	})
	return s, nil
}

// WaitIdle waits until every connection made so far was accepted and its
// handler has returned, or d passed, and reports whether the server is idle.
// A barrier connection, accepted after every earlier one (the listen queue
// is FIFO), shows that none is still waiting to be accepted.
func (s *Server) WaitIdle(d time.Duration) bool {
	timer := time.AfterFunc(d, func() { s.mu.Lock(); s.idle.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(d)
	barrier, err := net.Dial(s.ln.Addr().Network(), s.ln.Addr().String())
	if err != nil {
		return false
	}
	me := barrier.LocalAddr().String()
	s.mu.Lock()
	for !s.seen[me] && time.Now().Before(deadline) {
		s.idle.Wait()
	}
	s.seen = map[string]bool{}
	s.mu.Unlock()
	barrier.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.live) > 0 && time.Now().Before(deadline) {
		s.idle.Wait()
	}
	return len(s.live) == 0
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the port as a string.
func (s *Server) Port() string { return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) }

// AddrPort returns the address as a netip.AddrPort.
func (s *Server) AddrPort() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// Close stops accepting, closes every live connection and waits for the
// handlers. It runs when the test ends; calling it earlier is fine.
func (s *Server) Close() {
	s.once.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.live {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}
