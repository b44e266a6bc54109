package host

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// resolve runs resolve-addresses to the end and returns the answers, or the
// error code.
func (x *tg) resolve(name string) ([]netip.Addr, int) {
	x.t.Helper()
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	defer x.drop(networkName, "network", netw)
	x.put(argArea, []byte(name))
	x.clearRet()
	x.call(lookupName, witnames.ResolveAddresses, uint64(netw), argArea, uint64(len(name)), retArea)
	if r := x.ret(8); r[0] != 0 {
		return nil, int(r[4])
	}
	st := x.u32(retArea + 4)
	defer x.drop(lookupName, "resolve-address-stream", st)
	p := x.call1(lookupName, witnames.ResolveAddressStreamSubscribe, uint64(st))
	defer x.drop(ioPollName, "pollable", p)
	a := cabi.NextAddrArea
	var out []netip.Addr
	for {
		x.clearRet()
		x.call(lookupName, witnames.ResolveAddressStreamResolveNextAddress, uint64(st), retArea)
		r := x.ret(a.Size)
		switch {
		case r[0] == 1 && r[a.Code] == byte(ecWouldBlock):
			x.call(ioPollName, witnames.PollableBlock, uint64(p))
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

// fakeLookup makes lookupFunc answer names from m (and fail for others),
// until the test ends; queried returns the names it was asked.
func fakeLookup(t *testing.T, m map[string]netip.Addr) (queried func() []string) {
	l := recordLookups(t, func(_ context.Context, name string) ([]netip.Addr, error) {
		if a, ok := m[canonName(name)]; ok {
			return []netip.Addr{a}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	})
	return l.names
}

// TestDenyByNameThroughGuest checks name and port-only Deny patterns
// through a guest: the lookup gate (no query leaves the host), the answer
// filter, connects against the names the guest resolved, and the server
// name of a handshake.
func TestDenyByNameThroughGuest(t *testing.T) {
	p := pki.New(t)
	srvA := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp4", "127.0.0.1:0")
	srvB := startEcho(t, nil, "tcp4", "127.0.0.1:0")
	portA := strconv.Itoa(int(srvA.addr.Port()))
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	loop := netip.MustParseAddr("127.0.0.1")
	queried := fakeLookup(t, map[string]netip.Addr{"localhost": loop, "www.test": loop, "secret.test": loop})

	// A name denied on every port is not looked up, whatever Allow says.
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"localhost:" + portA}, Deny: []string{"localhost:*"}, NameLookup: true}))
	for _, name := range []string{"localhost", "LOCALHOST."} {
		if addrs, code := x.resolve(name); code != int(ecAccessDenied) {
			t.Errorf("-allow localhost:%s -deny localhost:*: lookup of %s: %v code %d, want access-denied", portA, name, addrs, code)
		}
	}
	if q := queried(); len(q) != 0 {
		t.Errorf("denied names reached the resolver: %q", q)
	}
	if _, _, _, code := x.connect(srvA.addr); code != int(ecAccessDenied) {
		t.Errorf("connect after a denied lookup: code %d", code)
	}

	// A port-only pattern refuses its port at every address.
	y := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.0/8:*"}, Deny: []string{"*:" + portA}}))
	if _, _, _, code := y.connect(srvA.addr); code != int(ecAccessDenied) {
		t.Errorf("-allow 127.0.0.0/8:* -deny *:%s: connect code %d, want access-denied", portA, code)
	}
	if _, _, _, code := y.connect(srvB.addr); code != -1 {
		t.Errorf("another port: code %d", code)
	}

	// A name denied on one port: looked up (other ports are allowed), and
	// a connect to that port of its address is refused, even with an
	// allowed name for the same address.
	z := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"*.test:*"}, Deny: []string{"secret.test:" + portA}, NameLookup: true, RootCAs: p.Roots}))
	if _, code := z.resolve("www.test"); code != -1 {
		t.Fatalf("lookup of www.test: code %d", code)
	}
	// Before secret.test is looked up, www.test admits the address; a
	// server name that Deny covers is refused at the handshake.
	_, in, out, code := z.connect(srvA.addr)
	if code != -1 {
		t.Fatalf("connect via www.test: code %d", code)
	}
	if _, _, _, errStr := z.handshake("secret.test", in, out); !strings.HasPrefix(errStr, "tls: policy denied") {
		t.Errorf("server name secret.test on port %s: %q, want a policy denial", portA, errStr)
	}
	_, in, out, _ = z.connect(srvA.addr)
	if _, _, _, errStr := z.handshake("www.test", in, out); !strings.HasPrefix(errStr, "tls: name mismatch") {
		t.Errorf("server name www.test: %q, want the handshake to go ahead (and fail on the name)", errStr)
	}
	if _, code := z.resolve("secret.test"); code != -1 {
		t.Fatalf("lookup of secret.test: code %d", code)
	}
	if _, _, _, code := z.connect(srvA.addr); code != int(ecAccessDenied) {
		t.Errorf("connect to %s after secret.test resolved to it: code %d, want access-denied", srvA.addr, code)
	}
	if _, _, _, code := z.connect(srvB.addr); code != -1 {
		t.Errorf("another port of the same address: code %d", code)
	}
}

// TestResolvedNamesBounded checks that what a guest's lookups record for
// the policy is canonical and bounded: address literals (16,384 spellings
// of ::1) are not names, spellings of one name are one name, and the names
// per address and in all have a cap; an answer whose name cannot be
// recorded is not returned.
func TestResolvedNamesBounded(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	loop := netip.MustParseAddr("127.0.0.1")
	m := map[string]netip.Addr{"www.test": loop}
	for i := range maxNamesPerAddr + 10 {
		m["n"+strconv.Itoa(i)+".test"] = loop
	}
	fakeLookup(t, m)
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"[::1]:*", "*.test:*"}, NameLookup: true}))
	spellings := 0
	for zeros := range 7 {
		base, padded := "::1", "0::1"
		if zeros > 0 {
			base, padded = strings.Repeat("0:", zeros)+":1", strings.Repeat("000:", zeros)+":1"
		}
		for _, name := range []string{base, padded, strings.TrimSuffix(base, "1") + "0001", "[" + base + "]"} {
			addrs, code := x.resolve(name)
			if code != -1 || len(addrs) != 1 || addrs[0] != netip.IPv6Loopback() {
				t.Fatalf("lookup of the literal %s: %v code %d", name, addrs, code)
			}
			spellings++
		}
	}
	for _, name := range []string{"www.test", "WWW.test", "www.TEST.", "wWw.test"} {
		if _, code := x.resolve(name); code != -1 {
			t.Fatalf("lookup of %s: code %d", name, code)
		}
	}
	x.g.mu.Lock()
	got := append([]string(nil), x.g.resolved[netip.IPv6Loopback()]...)
	www := append([]string(nil), x.g.resolved[loop]...)
	x.g.mu.Unlock()
	if len(got) != 0 {
		t.Errorf("%d spellings of ::1 recorded %d names: %q", spellings, len(got), got)
	}
	if len(www) != 1 || www[0] != "www.test" {
		t.Errorf("spellings of www.test recorded %q", www)
	}
	// Past the cap for one address: the names are not recorded and their
	// answers are not returned (a policy decision could not see them).
	refused := 0
	for i := range maxNamesPerAddr + 10 {
		if _, code := x.resolve("n" + strconv.Itoa(i) + ".test"); code == int(ecAccessDenied) {
			refused++
		} else if code != -1 {
			t.Fatalf("n%d.test: code %d", i, code)
		}
	}
	x.g.mu.Lock()
	n := len(x.g.resolved[loop])
	x.g.mu.Unlock()
	if n != maxNamesPerAddr || refused != 11 {
		t.Errorf("%d names recorded for one address (cap %d), %d lookups refused (want 11)", n, maxNamesPerAddr, refused)
	}
	// The recorded names still work.
	if err := x.g.allowConnect(netip.AddrPortFrom(loop, 1)); err != nil {
		t.Errorf("connect via www.test: %v", err)
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
