package host

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/witnames"
)

// Guests made by Instantiate share compiled host modules, and each call is
// served for the guest whose module made it: a second guest compiles
// nothing, and a module that is not a guest cannot act through a guest's
// host-module instances even when it is linked to them (with the per-guest
// functions of old, it acted as that guest: here it dropped the guest's
// pollable). Closed guests leave nothing behind in the lookup.
func TestSharedHostModulesServeTheirCaller(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	a := newTG(t, ctx, h, "0.2.6")
	compiled := len(h.shared.compiled)
	if compiled != len(interfaces) {
		t.Fatalf("%d shared compiled modules after one guest importing all %d interfaces", compiled, len(interfaces))
	}
	b := newTG(t, ctx, h, "0.2.6")
	if len(h.shared.compiled) != compiled {
		t.Errorf("the second guest compiled host modules again: %d, want %d", len(h.shared.compiled), compiled)
	}
	for f, m := range a.g.mods {
		if b.g.mods[f] == m {
			t.Errorf("%s: one instance for two guests", f.name)
		}
	}
	p := a.call1(monoName, witnames.SubscribeDuration, 1)
	if a.g.OpenHandles() != 1 || b.g.OpenHandles() != 0 {
		t.Fatalf("handles: a %d, b %d; want 1 and 0", a.g.OpenHandles(), b.g.OpenHandles())
	}
	// b's handle 1 is not a's pollable: dropping it is b's bad handle.
	b.wantTrap([]string{"handle"}, ioPollName, witnames.DropPollable, uint64(p))
	if a.g.OpenHandles() != 1 {
		t.Fatal("b dropped a's pollable")
	}

	// A module linked to a's host-module instances, not made by the host.
	rctx := experimental.WithImportResolver(ctx, func(name string) wapi.Module {
		f, ok := parseImport(name)
		if !ok {
			return nil
		}
		a.g.mu.Lock()
		defer a.g.mu.Unlock()
		return a.g.mods[f]
	})
	cm := mustCompile(t, r, "0.2.6")
	intruder, err := r.InstantiateModule(rctx, cm, wazero.NewModuleConfig().WithName("intruder"))
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close(ctx)
	x := &tg{t: t, ctx: ctx, mod: intruder, ver: "0.2.6"}
	x.wantTrap([]string{"not a guest of this host"}, ioPollName, witnames.DropPollable, uint64(p))
	x.wantTrap([]string{"not a guest of this host"}, monoName, witnames.SubscribeDuration, 1)
	if a.g.OpenHandles() != 1 {
		t.Fatal("a module that is not a guest dropped a guest's pollable")
	}

	for _, x := range []*tg{a, b} {
		if err := x.g.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h.shared.guests.Range(func(k, v any) bool {
		t.Errorf("closed guest %s still looked up by its module", v.(*Guest).Name())
		return true
	})
	// The shared modules outlive the guests: a new guest works.
	c := newTG(t, ctx, h, "0.2.6")
	c.call1(monoName, witnames.SubscribeDuration, 1)
	if len(h.shared.compiled) != compiled {
		t.Errorf("%d shared compiled modules, want %d", len(h.shared.compiled), compiled)
	}
}

// Guests instantiated and used at once, on a fresh Host (so the shared
// modules are compiled while others wait for them), each see only their
// own handles.
// subscribeThrice makes three clock pollables in g, checking its handle
// count after each.
func subscribeThrice(t *testing.T, ctx context.Context, g *Guest) error {
	x := &tg{t: t, ctx: ctx, g: g, mod: g.Module(), ver: "0.2.6"}
	for i := range 3 {
		if _, err := x.callErr(monoName, witnames.SubscribeDuration, 1); err != nil {
			return err
		}
		if got := g.OpenHandles(); got != i+1 {
			return fmt.Errorf("guest %s: %d handles after %d subscriptions", g.Name(), got, i+1)
		}
	}
	return nil
}

func TestSharedHostModulesConcurrentGuests(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	cm := mustCompile(t, r, "0.2.6")
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader))
			if err != nil {
				errs <- err
				return
			}
			// Closed before reporting: the checks below run once every
			// guest has reported, and must find every guest closed.
			err = subscribeThrice(t, ctx, g)
			g.Close(ctx)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if len(h.shared.compiled) != len(interfaces) {
		t.Errorf("%d shared compiled modules, want one per interface (%d)", len(h.shared.compiled), len(interfaces))
	}
	h.shared.guests.Range(func(k, v any) bool {
		t.Errorf("closed guest %s still looked up by its module", v.(*Guest).Name())
		return true
	})
}
