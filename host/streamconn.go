package host

import (
	"net"
	"os"
	"sync"
	"time"
)

// streamConn adapts an input and an output stream to a net.Conn, for a
// handshake over streams that are not (or no longer) a plain TCP socket.
// Reads and writes also end when the guest closes or a deadline passes.
type streamConn struct {
	in            *inStream
	out           *outStream
	done          chan struct{}
	once          sync.Once
	local, remote net.Addr

	mu              sync.Mutex
	readDL, writeDL time.Time
}

func (s *streamConn) deadline(write bool) (<-chan time.Time, func()) {
	s.mu.Lock()
	dl := s.readDL
	if write {
		dl = s.writeDL
	}
	s.mu.Unlock()
	if dl.IsZero() {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(dl))
	return t.C, func() { t.Stop() }
}

func (s *streamConn) Read(p []byte) (int, error) {
	for {
		a, b, err := s.in.p.peek(uint64(len(p)))
		if len(a) > 0 {
			n := copy(p, a)
			n += copy(p[n:], b)
			s.in.p.consume(uint64(n))
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if err := s.block(s.in.p, false); err != nil {
			return 0, err
		}
	}
}

// block waits for w, the end of the adapter, the guest, or the deadline.
func (s *streamConn) block(w waitable, write bool) error {
	timeout, stop := s.deadline(write)
	defer stop()
	for !w.ready() {
		select {
		case <-w.readyCh():
		case <-s.done:
			return net.ErrClosed
		case <-s.in.p.g.ctx.Done():
			return net.ErrClosed
		case <-timeout:
			return os.ErrDeadlineExceeded
		}
	}
	return nil
}

func (s *streamConn) Write(p []byte) (int, error) {
	if err := s.out.s.write(p, true); err != nil {
		return 0, err
	}
	if err := s.out.s.startFlush(); err != nil {
		return 0, err
	}
	if err := s.block(s.out.s.flushed(), true); err != nil {
		return 0, err
	}
	if err := s.out.s.failure(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *streamConn) closeOnce() {
	s.once.Do(func() {
		close(s.done)
		s.in.close()
		s.out.close()
	})
}

func (s *streamConn) Close() error { s.closeOnce(); return nil }

func (s *streamConn) CloseWrite() error {
	s.out.s.finish()
	return nil
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "wasi-stream" }
func (pipeAddr) String() string  { return "wasi-stream" }

func (s *streamConn) LocalAddr() net.Addr {
	if s.local != nil {
		return s.local
	}
	return pipeAddr{}
}

func (s *streamConn) RemoteAddr() net.Addr {
	if s.remote != nil {
		return s.remote
	}
	return pipeAddr{}
}

func (s *streamConn) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL, s.writeDL = t, t
	s.mu.Unlock()
	return nil
}

func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL = t
	s.mu.Unlock()
	return nil
}

func (s *streamConn) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.writeDL = t
	s.mu.Unlock()
	return nil
}
