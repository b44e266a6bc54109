package host

import (
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testkit/syncbuf"
)

// An idle stream holds none of the quota for the unused rest of its permit
// (a kept-alive connection after a short response), so other streams get
// permits; a write within the old permit is still accepted, and counted.
func TestSinkIdleGivesBackPermit(t *testing.T) {
	g := &Guest{quota: newQuota(MinBufferedBytes)}
	defer g.wg.Wait()
	var outA, outB syncbuf.Buffer
	a, b := newSink(g, &outA, nil, nil), newSink(g, &outB, nil, nil)
	if n := checkWrite(t, a); n != sinkBudget {
		t.Fatalf("first permit %d, want %d", n, sinkBudget)
	}
	if err := a.write([]byte("short response"), false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the write to go out and the stream to idle", func() bool {
		return a.idle() && outA.String() == "short response"
	})
	if used := g.quota.inUse(); used != 0 {
		t.Fatalf("an idle stream holds %d bytes of the quota", used)
	}
	// The quota is all there for the others.
	if n := checkWrite(t, b); n != sinkBudget {
		t.Fatalf("another stream's permit %d, want %d", n, sinkBudget)
	}
	// The idle stream's permit is still good (counted past the quota if
	// need be), and what is beyond it still traps.
	if err := a.write([]byte(" and more"), false); err != nil {
		t.Fatalf("a write within the old permit: %v", err)
	}
	if err := a.write(make([]byte, sinkBudget), false); err != errBudget {
		t.Fatalf("a write past the old permit = %v, want errBudget", err)
	}
	waitUntil(t, "the second write", func() bool { return a.idle() && outA.String() == "short response and more" })
	if err := b.startFlush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the quota to be given back", func() bool { return g.quota.inUse() == 0 })
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
