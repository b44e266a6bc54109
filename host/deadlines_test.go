package host

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A deadline context ends at its deadline, never before, with
// context.DeadlineExceeded, and reports that deadline (so that a provider's
// backendkit.WithTimeout keeps it instead of arming a timer).
func TestDeadlineEndsAtItsDeadline(t *testing.T) {
	var w deadlines
	const timeout = 50 * time.Millisecond
	start := time.Now()
	ctx, cancel := w.withTimeout(context.Background(), timeout)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || d.Before(start.Add(timeout)) || d.After(time.Now().Add(timeout)) {
		t.Fatalf("Deadline() = %v, %v; want about %v from the start", d, ok, timeout)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done 5 s after a 50 ms deadline")
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("done after %v, before its %v deadline", took, timeout)
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want context.DeadlineExceeded", err)
	}
}

// Later deadlines leave the armed timer alone (the point of one timer for
// all); an earlier one re-arms it; each ends at its own deadline, and what
// is cancelled is forgotten.
func TestDeadlinesShareOneTimer(t *testing.T) {
	var w deadlines
	first, cancelFirst := w.withTimeout(context.Background(), time.Second)
	defer cancelFirst()
	armed := w.armedAt()
	later, cancelLater := w.withTimeout(context.Background(), time.Hour)
	if got := w.armedAt(); !got.Equal(armed) {
		t.Fatalf("a later deadline re-armed the timer: %v, was %v", got, armed)
	}
	cancelLater()
	if !errors.Is(later.Err(), context.Canceled) {
		t.Fatalf("cancelled: Err() = %v, want context.Canceled", later.Err())
	}
	if n := w.count(); n != 1 {
		t.Fatalf("%d contexts watched after one of two was cancelled, want 1", n)
	}
	sooner, cancelSooner := w.withTimeout(context.Background(), 30*time.Millisecond)
	defer cancelSooner()
	if got := w.armedAt(); !got.Before(armed) {
		t.Fatalf("an earlier deadline did not re-arm the timer: %v, was %v", got, armed)
	}
	<-sooner.Done()
	if first.Err() != nil {
		t.Fatalf("the later deadline ended with the earlier one: %v", first.Err())
	}
	<-first.Done()
	if !errors.Is(first.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want context.DeadlineExceeded", first.Err())
	}
	if n := w.count(); n != 0 {
		t.Fatalf("%d contexts still watched after both ended", n)
	}
}

// A parent that ends first ends the context with the parent's error, not
// DeadlineExceeded; a parent whose deadline comes first is used as it is.
func TestDeadlineFollowsItsParent(t *testing.T) {
	var w deadlines
	parent, cancelParent := context.WithCancel(context.Background())
	ctx, cancel := w.withTimeout(parent, time.Hour)
	defer cancel()
	cancelParent()
	<-ctx.Done()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() after the parent's cancel = %v, want context.Canceled", err)
	}

	soon, cancelSoon := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSoon()
	ctx2, cancel2 := w.withTimeout(soon, time.Hour)
	defer cancel2()
	pd, _ := soon.Deadline()
	if d, ok := ctx2.Deadline(); !ok || !d.Equal(pd) {
		t.Fatalf("Deadline() = %v, %v; want the parent's %v", d, ok, pd)
	}
}

func (w *deadlines) armedAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.armed
}

func (w *deadlines) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.set)
}

// Once nothing is watched, stop disarms the timer (Host.Close calls it), and
// a later deadline arms it again.
func TestDeadlinesStop(t *testing.T) {
	var w deadlines
	_, cancel := w.withTimeout(context.Background(), time.Hour)
	w.stop()
	if w.armedAt().IsZero() {
		t.Fatal("stop disarmed the timer while a deadline was watched")
	}
	cancel()
	w.stop()
	if !w.armedAt().IsZero() {
		t.Fatalf("armed for %v after stop with nothing watched", w.armedAt())
	}
	ctx, cancel2 := w.withTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline after stop never ended")
	}
}
