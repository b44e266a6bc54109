package host

import (
	"testing"

	_ "github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/witnames"
)

func TestSmokeClock(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	x := newTG(t, ctx, h, "0.2.6")
	a := x.call(monoName, "now")[0]
	b := x.call(monoName, "now")[0]
	if b < a {
		t.Fatalf("monotonic clock went back: %d then %d", a, b)
	}
	p := x.call1(monoName, witnames.SubscribeDuration, 1000)
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	if x.call1(ioPollName, witnames.PollableReady, uint64(p)) != 1 {
		t.Fatal("pollable not ready after block")
	}
	x.call(ioPollName, witnames.DropPollable, uint64(p))
	x.wantTrap([]string{"already dropped"}, ioPollName, witnames.DropPollable, uint64(p))
}
