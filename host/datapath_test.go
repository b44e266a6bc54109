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

// checkWrite calls check-write and fails the test on an error.
func checkWrite(t *testing.T, s *sink) uint64 {
	t.Helper()
	n, err := s.checkWrite()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Bytes written go out without a flush (streams.wit: write starts the
// write); while one batch is being written, check-write grants room in the
// next, and what is written meanwhile goes out in one later Write. After
// flush, check-write grants nothing until the flush has completed, and
// the pollable is ready again when it has.
func TestSinkSendsWithoutFlush(t *testing.T) {
	g := &Guest{quota: newQuota(DefaultMaxBufferedBytes)}
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	s := newSink(g, w, nil, nil)
	defer g.wg.Wait()

	if n := checkWrite(t, s); n != sinkBudget {
		t.Fatalf("check-write = %d, want %d", n, sinkBudget)
	}
	if err := s.write(bytes.Repeat([]byte{'a'}, sinkBudget), false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.entered: // being written, with no flush asked for
	case <-time.After(10 * time.Second):
		t.Fatal("written bytes were not sent without a flush")
	}
	for i := range 3 {
		if n := checkWrite(t, s); n != sinkBudget {
			t.Fatalf("check-write %d while a batch is being written = %d, want %d", i, n, sinkBudget)
		}
		if err := s.write(bytes.Repeat([]byte{'b' + byte(i)}, sinkBudget), false); err != nil {
			t.Fatalf("write %d while a batch is being written: %v", i, err)
		}
	}
	if err := s.startFlush(); err != nil {
		t.Fatal(err)
	}
	if n := checkWrite(t, s); n != 0 {
		t.Fatalf("check-write with a flush pending = %d, want 0", n)
	}
	if s.ready() || s.flushed().ready() {
		t.Fatal("the stream is ready while a flush is pending")
	}
	w.gate <- struct{}{} // first Write done
	<-w.entered          // the next three batches, collected as one
	if n := checkWrite(t, s); n != 0 {
		t.Fatalf("check-write with a flush pending = %d, want 0", n)
	}
	w.gate <- struct{}{}
	waitFor(t, s.flushed())
	waitFor(t, s)
	if n := checkWrite(t, s); n != sinkBudget {
		t.Fatalf("check-write after the flush = %d, want %d", n, sinkBudget)
	}
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
	if s.buf != nil || s.sending {
		t.Fatal("an idle sink holds a buffer or a goroutine")
	}
}

// A write past the permit check-write gave is refused (the caller traps);
// writes within one permit may be several.
func TestSinkWriteNeedsPermit(t *testing.T) {
	g := &Guest{quota: newQuota(DefaultMaxBufferedBytes)}
	var out bytes.Buffer
	s := newSink(g, &out, nil, nil)
	defer g.wg.Wait()
	if err := s.write([]byte("x"), false); err != errBudget {
		t.Fatalf("write without a permit = %v, want errBudget", err)
	}
	checkWrite(t, s)
	if err := s.write(make([]byte, sinkBudget-1), false); err != nil {
		t.Fatal(err)
	}
	if err := s.write([]byte("y"), false); err != nil {
		t.Fatalf("the permit's last byte: %v", err)
	}
	if err := s.write([]byte("z"), false); err != errBudget {
		t.Fatalf("write past the permit = %v, want errBudget", err)
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
	checkWrite(t, s)
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
