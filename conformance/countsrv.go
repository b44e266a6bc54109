package conformance

import (
	"net"
	"sync"
	"testing"
)

// countingServer proves that a client sent nothing. It accepts connections
// in order and never reads from them, so whatever a client wrote stays in
// the socket's receive queue, where bytesQueued can count it.
type countingServer struct {
	ln       net.Listener
	accepted chan net.Conn
	wg       sync.WaitGroup
}

func startCountingServer(t *testing.T) *countingServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &countingServer{ln: ln, accepted: make(chan net.Conn, 64)}
	s.wg.Go(func() {
		defer close(s.accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted <- c
		}
	})
	t.Cleanup(func() {
		ln.Close()
		for c := range s.accepted {
			c.Close()
		}
		s.wg.Wait()
	})
	return s
}

func (s *countingServer) Addr() string { return s.ln.Addr().String() }

// assertNoBytes fails t if any connection the client made carried data.
func (s *countingServer) assertNoBytes(t *testing.T) {
	t.Helper()
	n, conns := s.queued(t)
	if n > 0 {
		t.Fatalf("the client sent %d bytes over %d connections before failing", n, conns)
	}
	t.Logf("no bytes sent (%d connections opened before the failure)", conns)
}

// queued counts the bytes waiting on every connection accepted so far and
// closes them. It connects a sentinel first: the listener accepts in order,
// so once the sentinel is accepted every earlier connection has been too,
// and loopback has delivered a write before the writer's call returned.
func (s *countingServer) queued(t *testing.T) (n, conns int) {
	t.Helper()
	sentinel, err := net.Dial("tcp4", s.Addr())
	if err != nil {
		t.Fatalf("sentinel dial: %v", err)
	}
	defer sentinel.Close()
	for c := range s.accepted {
		if c.RemoteAddr().String() == sentinel.LocalAddr().String() {
			c.Close()
			return n, conns
		}
		conns++
		q, err := bytesQueued(c)
		c.Close()
		if err != nil {
			t.Fatalf("counting bytes: %v", err)
		}
		n += q
	}
	t.Fatal("the counting server stopped before the sentinel arrived")
	return 0, 0
}
