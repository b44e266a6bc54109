package host

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// waitFor blocks until w is ready (or fails the test after a generous
// bound: a hang is the bug being tested, not a timing figure).
func waitFor(t *testing.T, w waitable) {
	t.Helper()
	for !w.ready() {
		select {
		case <-w.readyCh():
		case <-time.After(10 * time.Second):
			t.Fatal("waitable never became ready")
		}
	}
}

// drainPump reads n bytes through peek/consume, as the guest's reads do.
func drainPump(t *testing.T, p *pump, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		waitFor(t, p)
		a, b, err := p.peek(uint64(n - len(got)))
		if err != nil {
			t.Fatalf("peek after %d of %d bytes: %v", len(got), n, err)
		}
		got = append(got, a...)
		got = append(got, b...)
		p.consume(uint64(len(a) + len(b)))
	}
	return got
}

func pumpState(p *pump) (ring bool, reading int8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ring != nil, p.reading
}

// An idle input stream holds no read-ahead ring: after a small message it
// parks its read in the small head buffer; during a bulk transfer it reads
// ahead into a ring, and gives the ring back once the guest has drained it
// and the transfer is over.
func TestPumpHoldsNoRingWhileIdle(t *testing.T) {
	g := &Guest{quota: newQuota(DefaultMaxBufferedBytes)}
	local, remote := net.Pipe()
	p := newPump(g, local)
	defer func() {
		p.stop()
		local.Close()
		remote.Close()
		g.wg.Wait()
	}()

	go remote.Write([]byte("hello"))
	if got := drainPump(t, p, 5); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	// A small message never touches a ring (it was read into the head).
	if ring, _ := pumpState(p); ring {
		t.Fatal("a ring is held after a 5-byte message")
	}

	// Bulk: more than the ring holds, in large writes.
	bulk := bytes.Repeat([]byte("0123456789abcdef"), 3*pumpSize/16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = remote.Write(bulk)
		_, _ = remote.Write([]byte("end")) // a short message ends the transfer
	}()
	got := drainPump(t, p, len(bulk)+3)
	wg.Wait()
	if !bytes.Equal(got[:len(bulk)], bulk) || string(got[len(bulk):]) != "end" {
		t.Fatal("bulk data corrupted or reordered")
	}
	// The transfer ended with a short read, so the goroutine reads no
	// further into the ring, and the guest's last consume gave it back.
	if ring, _ := pumpState(p); ring {
		t.Fatal("the ring is still held after the transfer was drained")
	}
}

// gateWriter blocks every Write until released, recording what it got.
type gateWriter struct {
	mu      sync.Mutex
	got     bytes.Buffer
	gate    chan struct{}
	entered chan struct{}
}

func (w *gateWriter) Write(b []byte) (int, error) {
	w.entered <- struct{}{}
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.Write(b)
}

// While a flush is being written, check-write grants the next buffer, and
// what is written meanwhile goes out in one later Write; a blocking flush
// waits for all of it.
func TestSinkWritesWhileFlushing(t *testing.T) {
	g := &Guest{quota: newQuota(DefaultMaxBufferedBytes)}
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	s := newSink(g, w, nil, nil)
	defer g.wg.Wait()

	first := bytes.Repeat([]byte{'a'}, sinkBudget)
	if err := s.write(first, false); err != nil {
		t.Fatal(err)
	}
	if err := s.startFlush(); err != nil {
		t.Fatal(err)
	}
	<-w.entered // the first buffer is being written
	n, err := s.checkWrite()
	if err != nil || n != sinkBudget {
		t.Fatalf("check-write during a flush = %d, %v; want %d", n, err, sinkBudget)
	}
	for i := range 3 {
		chunk := bytes.Repeat([]byte{'b' + byte(i)}, sinkBudget)
		if err := s.write(chunk, false); err != nil {
			t.Fatalf("write %d during a flush: %v", i, err)
		}
		if err := s.startFlush(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.checkWrite(); n != sinkBudget {
		t.Fatalf("check-write with %d bytes collected = %d", 3*sinkBudget, n)
	}
	if s.flushed().ready() {
		t.Fatal("flushed is ready while bytes are in flight")
	}
	w.gate <- struct{}{} // first Write done
	<-w.entered          // the next three buffers, collected as one
	w.gate <- struct{}{}
	waitFor(t, s.flushed())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got.Len() != 4*sinkBudget {
		t.Fatalf("wrote %d bytes, want %d", w.got.Len(), 4*sinkBudget)
	}
	if !s.idle() {
		t.Fatal("sink not idle after the flush")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf != nil || s.flushing {
		t.Fatal("an idle sink holds a buffer or a goroutine")
	}
}

// A blocking write on an idle stream is written by the caller itself.
func TestSinkWriteNow(t *testing.T) {
	g := &Guest{quota: newQuota(DefaultMaxBufferedBytes)}
	var out bytes.Buffer
	flushed := 0
	s := newSink(g, &out, func() error { flushed++; return nil }, nil)
	done, err := s.writeNow([]byte("direct"))
	if !done || err != nil || out.String() != "direct" || flushed != 1 {
		t.Fatalf("writeNow = %v, %v; wrote %q, %d flushes", done, err, out.String(), flushed)
	}
	if err := s.write([]byte("queued"), false); err != nil {
		t.Fatal(err)
	}
	if done, _ := s.writeNow([]byte("x")); done {
		t.Fatal("writeNow overtook buffered bytes")
	}
	if err := s.startFlush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.flushed())
	g.wg.Wait()
	if out.String() != "directqueued" {
		t.Fatalf("wrote %q", out.String())
	}
}

// poll's shared-channel wait wakes for any one of many signals.
func TestSignalWatchers(t *testing.T) {
	sigs := make([]*signal, 100)
	note := make(chan struct{}, 1)
	for i := range sigs {
		sigs[i] = &signal{}
		if sigs[i].watch(note) {
			t.Fatal("an unset signal reported set")
		}
	}
	go sigs[77].update(true)
	<-note
	for _, s := range sigs {
		s.unwatch(note)
	}
	for i, s := range sigs {
		if len(s.watchers) != 0 {
			t.Fatalf("signal %d still has %d watchers", i, len(s.watchers))
		}
	}
	if !sigs[77].watch(note) {
		t.Fatal("a set signal did not report set")
	}
}
