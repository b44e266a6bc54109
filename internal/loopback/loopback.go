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
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
)

// Server is a running loopback server.
type Server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	live map[net.Conn]struct{}
	once sync.Once
}

// Serve listens on 127.0.0.1 and runs handle for each connection until tb
// ends. handle need not close the connection.
func Serve(tb testing.TB, handle func(net.Conn)) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("loopback: listen: %v", err)
	}
	s := &Server{ln: ln, live: map[net.Conn]struct{}{}}
	tb.Cleanup(s.Close)
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.live[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.live, c)
					s.mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	return s
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
