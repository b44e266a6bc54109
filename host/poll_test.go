package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/witnames"
)

// putList grows the guest's memory (through its cabi_realloc) and writes a
// poll list of n entries there, entry i being hs[i%len(hs)].
func (x *tg) putList(n int, hs ...uint32) uint32 {
	x.t.Helper()
	res, err := x.mod.ExportedFunction("cabi_realloc").Call(x.ctx, 0, 0, 4, uint64(4*n))
	if err != nil {
		x.t.Fatal(err)
	}
	ptr := uint32(res[0])
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], hs[i%len(hs)])
	}
	x.put(ptr, b)
	return ptr
}

// pollResult reads poll's list<u32> of ready indexes.
func (x *tg) pollResult() []uint32 {
	r := x.ret(8)
	ptr, n := binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:])
	b := x.bytes(ptr, 4*n)
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// hostAlloc returns the bytes the host allocated while fn ran.
func hostAlloc(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A poll list is bounded (MaxPollList) and costs the host per distinct
// pollable: 16 MiB of guest memory naming one pollable 4M times is a trap
// at once, not hundreds of MiB and seconds of host work.
func TestPollListIsBounded(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6")
	ready := x.call1(monoName, witnames.SubscribeDuration, 0)

	const huge = 4 << 20 // 16 MiB of guest memory
	list := x.putList(huge, ready)
	start := time.Now()
	alloc := hostAlloc(func() {
		x.wantTrap([]string{fmt.Sprintf("poll of %d pollables; at most %d are accepted", huge, MaxPollList)}, ioPollName, "poll", uint64(list), huge, retArea)
	})
	d := time.Since(start)
	t.Logf("a %d-entry list: trap after %v, %d KiB allocated by the host", huge, d, alloc>>10)
	if alloc > 4<<20 {
		t.Errorf("the host allocated %d MiB for a rejected list", alloc>>20)
	}
	if d > time.Second {
		t.Errorf("the trap took %v", d)
	}
}

// The longest list the host accepts, one pollable repeated, costs the
// host about what the list itself is (its copy, and the answer written
// straight into guest memory), and every entry is answered.
func TestPollRepeatedPollable(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6")
	ready := x.call1(monoName, witnames.SubscribeDuration, 0)
	later := x.call1(monoName, witnames.SubscribeDuration, uint64(20*time.Millisecond))
	never := x.call1(monoName, witnames.SubscribeDuration, uint64(time.Hour))

	list := x.putList(MaxPollList, ready)
	alloc := hostAlloc(func() { x.call(ioPollName, "poll", uint64(list), MaxPollList, retArea) })
	got := x.pollResult()
	t.Logf("a %d-entry list of one pollable: %d KiB allocated by the host", MaxPollList, alloc>>10)
	if len(got) != MaxPollList || got[0] != 0 || got[MaxPollList-1] != MaxPollList-1 {
		t.Fatalf("%d ready indexes, want all %d", len(got), MaxPollList)
	}
	if alloc > 2<<20 {
		t.Errorf("the host allocated %d KiB for a %d-entry list (4 bytes per entry is %d KiB)", alloc>>10, MaxPollList, 4*MaxPollList>>10)
	}

	// Repeated pollables that are not ready wait together; the answer
	// names every entry of the one that became ready, in order.
	list = x.putList(7, never, later, never, later, never, later, never)
	x.call(ioPollName, "poll", uint64(list), 7, retArea)
	if got := fmt.Sprint(x.pollResult()); got != "[1 3 5]" {
		t.Fatalf("ready entries %s, want [1 3 5]", got)
	}

	// A bad handle anywhere in the list traps, repeated or not.
	list = x.putList(5, ready, ready, ready, ready, 9999)
	x.wantTrap([]string{"unknown handle 9999"}, ioPollName, "poll", uint64(list), 5, retArea)
}

// A poll over a pending name lookup and a far timer returns the lookup
// when its answer comes (every waitable's signal is watched by poll).
func TestPollLookupAndTimer(t *testing.T) {
	asked, release := make(chan struct{}), make(chan struct{})
	recordLookups(t, func(ctx context.Context, name string) ([]netip.Addr, error) {
		close(asked)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"www.test:*"}, NameLookup: true}))
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	x.put(argArea, []byte("www.test"))
	x.clearRet()
	x.call(lookupName, witnames.ResolveAddresses, uint64(netw), argArea, 8, retArea)
	if r := x.ret(8); r[0] != 0 {
		t.Fatalf("resolve-addresses: code %d", r[4])
	}
	st := x.u32(retArea + 4)
	pl := x.call1(lookupName, witnames.ResolveAddressStreamSubscribe, uint64(st))
	pt := x.call1(monoName, witnames.SubscribeDuration, uint64(time.Hour))
	go func() { <-asked; close(release) }()
	x.put(argArea, []byte{byte(pt), 0, 0, 0, byte(pl), 0, 0, 0})
	x.clearRet()
	x.call(ioPollName, "poll", argArea, 2, retArea)
	if lp, n := x.u32(retArea), x.u32(retArea+4); n != 1 || x.u32(lp) != 1 {
		t.Fatalf("poll returned %d indexes, first %d; want the lookup's (1)", n, x.u32(lp))
	}
	x.drop(ioPollName, "pollable", pt)
	x.drop(ioPollName, "pollable", pl)
	x.drop(lookupName, "resolve-address-stream", st)
	x.drop(networkName, "network", netw)
}
