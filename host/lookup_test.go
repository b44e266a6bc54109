package host

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/internal/cabi"
)

// resolve runs resolve-addresses to the end and returns the answers, or the
// error code.
func (x *tg) resolve(name string) ([]netip.Addr, int) {
	x.t.Helper()
	netw := x.call1(instNetName, "instance-network")
	defer x.drop(networkName, "network", netw)
	x.put(argArea, []byte(name))
	x.clearRet()
	x.call(lookupName, "resolve-addresses", uint64(netw), argArea, uint64(len(name)), retArea)
	if r := x.ret(8); r[0] != 0 {
		return nil, int(r[4])
	}
	st := x.u32(retArea + 4)
	defer x.drop(lookupName, "resolve-address-stream", st)
	p := x.call1(lookupName, "[method]resolve-address-stream.subscribe", uint64(st))
	defer x.drop(ioPollName, "pollable", p)
	a := cabi.NextAddrArea
	var out []netip.Addr
	for {
		x.clearRet()
		x.call(lookupName, "[method]resolve-address-stream.resolve-next-address", uint64(st), retArea)
		r := x.ret(a.Size)
		switch {
		case r[0] == 1 && r[a.Code] == byte(ecWouldBlock):
			x.call(ioPollName, "[method]pollable.block", uint64(p))
		case r[0] == 1:
			return out, int(r[a.Code])
		case r[a.OptTag] == 0:
			return out, -1
		default:
			out = append(out, cabi.GetIPAddress(r, a.AddrTag, a.Addr))
		}
	}
}

func TestNameLookup(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)

	x := newTG(t, ctx, h, "0.2.4", WithPolicy(&Policy{Allow: []string{"localhost:*"}, NameLookup: true}))
	addrs, code := x.resolve("localhost")
	if code != -1 || len(addrs) == 0 {
		t.Fatalf("localhost: %v code %d", addrs, code)
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			t.Errorf("localhost resolved to %s", a)
		}
		// The name pattern now allows a connect to the answer.
		if err := x.g.allowConnect(netip.AddrPortFrom(a, 1)); err != nil {
			t.Errorf("connect to %s after looking up localhost: %v", a, err)
		}
	}
	if _, code := x.resolve("not a name"); code != int(ecInvalidArgument) {
		t.Errorf("bad name: code %d", code)
	}
	if addrs, code := x.resolve("127.0.0.1"); code != int(ecAccessDenied) {
		// A literal is not "localhost": the policy has no IP rule for it.
		t.Errorf("literal 127.0.0.1: %v code %d, want access-denied", addrs, code)
	}

	// Name lookup off: access-denied.
	y := newTG(t, ctx, h, "0.2.4", WithPolicy(&Policy{Allow: []string{"localhost:*"}}))
	if _, code := y.resolve("localhost"); code != int(ecAccessDenied) {
		t.Errorf("lookup disabled: code %d", code)
	}
	// Answers outside the allowed ranges are filtered; none left is access-denied.
	z := newTG(t, ctx, h, "0.2.4", WithPolicy(&Policy{Allow: []string{"10.0.0.0/8:*"}, NameLookup: true}))
	if addrs, code := z.resolve("localhost"); code != int(ecAccessDenied) || len(addrs) != 0 {
		t.Errorf("filtered lookup: %v code %d", addrs, code)
	}
	// IP rules keep the answers inside them.
	w := newTG(t, ctx, h, "0.2.4", WithPolicy(&Policy{Allow: []string{"127.0.0.0/8:*"}, NameLookup: true}))
	addrs, code = w.resolve("localhost")
	if code != -1 || len(addrs) == 0 {
		t.Fatalf("ip-rule lookup: %v code %d", addrs, code)
	}
	for _, a := range addrs {
		if !a.Is4() {
			t.Errorf("answer %s outside 127.0.0.0/8", a)
		}
	}
	if w.g.OpenHandles() != 0 || x.g.OpenHandles() != 0 {
		t.Errorf("handles left: %d %d", w.g.OpenHandles(), x.g.OpenHandles())
	}
}

// TestNameLookupScope checks that a guest cannot use name lookup to send
// queries for names its policy could never reach (DNS exfiltration), and
// cannot tell an unresolvable name from a filtered one (an oracle).
func TestNameLookupScope(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	q := recordLookups(t, lookupFunc)

	// Only name patterns: a name outside them never reaches the resolver.
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"localhost:*"}, NameLookup: true}))
	for _, name := range []string{"secret-data.attacker.invalid", "ip6-localhost", "does-not-exist.invalid"} {
		if _, code := x.resolve(name); code != int(ecAccessDenied) {
			t.Errorf("%s: code %d, want access-denied", name, code)
		}
	}
	if got := q.names(); len(got) != 0 {
		t.Errorf("names outside the policy reached the resolver: %q", got)
	}
	// An allowed name that does not resolve says so.
	y := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"*.invalid:*"}, NameLookup: true}))
	if _, code := y.resolve("does-not-exist.invalid"); code != int(ecNameUnresolvable) {
		t.Errorf("allowed but unresolvable name: code %d, want name-unresolvable", code)
	}
	// With an IP pattern any name may be looked up, but failures and
	// filtered answers look the same.
	z := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"10.0.0.0/8:*"}, NameLookup: true}))
	_, unresolvable := z.resolve("does-not-exist.invalid")
	_, filtered := z.resolve("localhost")
	if unresolvable != int(ecAccessDenied) || filtered != int(ecAccessDenied) {
		t.Errorf("IP-only policy: unresolvable name code %d, filtered name code %d; want both access-denied", unresolvable, filtered)
	}
}

// lookups records the names the resolver is asked for.
type lookups struct {
	mu    sync.Mutex
	asked []string
}

func (l *lookups) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.asked...)
}

// recordLookups makes the host's resolver answer with answer, recording
// each name, until the test ends.
func recordLookups(t *testing.T, answer func(context.Context, string) ([]netip.Addr, error)) *lookups {
	l := &lookups{}
	orig := lookupFunc
	lookupFunc = func(ctx context.Context, name string) ([]netip.Addr, error) {
		l.mu.Lock()
		l.asked = append(l.asked, name)
		l.mu.Unlock()
		return answer(ctx, name)
	}
	t.Cleanup(func() { lookupFunc = orig })
	return l
}
