package host

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	wapi "github.com/tetratelabs/wazero/api"
	"golang.org/x/net/idna"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// resolveStream is the resolve-address-stream resource: a lookup running in
// the background and the answers not yet read.
type resolveStream struct {
	cancel context.CancelFunc
	done   signal

	mu    sync.Mutex
	addrs []netip.Addr
	code  errorCode // 0: no error
	fin   bool

	// hideFailure reports every failure as access-denied: the name was
	// resolvable only because an answer might fall into an IP pattern.
	hideFailure bool
}

func (r *resolveStream) ready() bool              { return r.done.isSet() }
func (r *resolveStream) readyCh() <-chan struct{} { return r.done.readyCh() }
func (r *resolveStream) watchSignal() *signal     { return &r.done }
func (r *resolveStream) close()                   { r.cancel() }

var sockLookup = register(&iface{name: witnames.SocketsIPNameLookup, fns: []fnDef{
	def(witnames.ResolveAddresses, resolveAddresses, p(i32, i32, i32, i32)),
	def(witnames.ResolveAddressStreamResolveNextAddress, resolveNext, p(i32, i32)),
	def(witnames.ResolveAddressStreamSubscribe, func(c *call, s []uint64) {
		h := wapi.DecodeU32(s[0])
		r := c.get(h, rResolveStream).(*resolveStream)
		s[0] = uint64(c.subscribe(r, h))
	}, p(i32), i32),
	def(witnames.DropResolveAddressStream, dropOf(rResolveStream), p(i32)),
}})

// lookupFunc resolves names with the system resolver (/etc/hosts, DNS).
var lookupFunc = func(ctx context.Context, name string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
}

// resolveAddresses: (borrow<network>, name_ptr, name_len, retptr) ->
// result<own<resolve-address-stream>, error-code>: +0 tag, +4 handle or code.
// Answers come in the background; those the policy would not let the guest
// connect to are dropped.
func resolveAddresses(c *call, stack []uint64) {
	c.get(wapi.DecodeU32(stack[0]), rNetwork)
	name := c.String(wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2]))
	ret := wapi.DecodeU32(stack[3])
	a := cabi.HandleArea
	c.Area(ret, a.Size, a.Align)
	g := c.g
	if !g.pol.NameLookup {
		g.observe(ConnEvent{Phase: PhaseDenied, ServerName: name, Err: &api.Error{Kind: api.KindPolicyDenied, Err: fmt.Errorf("name lookup is disabled")}})
		putCode(c, a, ret, ecAccessDenied)
		return
	}
	host := strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if api.ValidateServerName(host) != nil {
		putCode(c, a, ret, ecInvalidArgument)
		return
	}
	ip, literalErr := netip.ParseAddr(host)
	if literalErr != nil {
		// ip-name-lookup.wit: Unicode names are converted with IDNA, and
		// a name that is not a domain name (host:443) is invalid-argument.
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil || ascii == "" {
			putCode(c, a, ret, ecInvalidArgument)
			return
		}
		host = ascii
	}
	ok, byName := g.pol.lookupScope(host)
	if literalErr != nil && !ok {
		// No answer could be allowed: do not let the query leave the host.
		g.observe(ConnEvent{Phase: PhaseDenied, ServerName: name, Err: &api.Error{Kind: api.KindPolicyDenied, Err: fmt.Errorf("no Allow pattern lets %q be looked up", host)}})
		putCode(c, a, ret, ecAccessDenied)
		return
	}
	ctx, cancel := context.WithCancel(g.ctx)
	r := &resolveStream{cancel: cancel, hideFailure: !byName}
	h := c.push(rResolveStream, r, 0)
	if literalErr == nil {
		// A literal: no lookup, but the policy still filters it.
		g.finishLookup(r, host, []netip.Addr{ip}, nil)
	} else {
		g.goroutine(func() {
			addrs, err := lookupFunc(ctx, host)
			g.finishLookup(r, host, addrs, err)
		})
	}
	b := okArea(c, a, ret)
	cabi.PutU32(b, a.OK, h)
}

// finishLookup filters the answers by policy and remembers which names led
// to which addresses (name patterns in Allow match through them).
func (g *Guest) finishLookup(r *resolveStream, name string, addrs []netip.Addr, err error) {
	var kept []netip.Addr
	code := errorCode(0)
	if err != nil {
		code = codeOf(err)
		if code == ecUnknown {
			code = ecNameUnresolvable
		}
	} else {
		literal := isLiteral(name)
		canon := canonName(name)
		g.mu.Lock()
		for _, a := range addrs {
			a = a.Unmap()
			if !g.pol.allowAnswer(name, a) {
				continue
			}
			// Policy decisions match names through this record (Allow
			// and Deny name patterns, identities), so an answer whose
			// name cannot be recorded is not returned.
			if !literal && !g.recordName(a, canon) {
				continue
			}
			kept = append(kept, a)
		}
		g.mu.Unlock()
		if len(kept) == 0 && len(addrs) > 0 {
			code = ecAccessDenied
			g.observe(ConnEvent{Phase: PhaseDenied, ServerName: name, Err: &api.Error{Kind: api.KindPolicyDenied, Err: fmt.Errorf("no answer for %q is allowed", name)}})
		} else if len(addrs) == 0 {
			code = ecNameUnresolvable
		}
	}
	if code != 0 && r.hideFailure {
		code = ecAccessDenied
	}
	r.mu.Lock()
	r.addrs, r.code, r.fin = kept, code, true
	r.mu.Unlock()
	r.done.update(true)
}

// Bounds on the names a guest's lookups record: per address, and in all.
const (
	maxNamesPerAddr = 32
	maxNames        = 4096
)

// recordName remembers that this guest looked up the canonical name and
// got a, and reports whether it is recorded (it was already, or there is
// room). An address literal is never recorded: it is not a name. g.mu is
// held.
func (g *Guest) recordName(a netip.Addr, name string) bool {
	names := g.resolved[a]
	if slices.Contains(names, name) {
		return true
	}
	if len(names) >= maxNamesPerAddr || g.nresolved >= maxNames {
		return false
	}
	g.resolved[a] = append(names, name)
	g.nresolved++
	return true
}

// resolvedNames returns the names this guest looked up and got a for.
func (g *Guest) resolvedNames(a netip.Addr) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resolved[a.Unmap()]
}

// resolveNext: (self, retptr) -> result<option<ip-address>, error-code>:
// +0 tag | +2 code (err) | +2 option tag, +4 ip-address tag, +6 address (ok).
// would-block while the lookup runs; the error once, then none.
func resolveNext(c *call, stack []uint64) {
	r := c.get(wapi.DecodeU32(stack[0]), rResolveStream).(*resolveStream)
	ret := wapi.DecodeU32(stack[1])
	a := cabi.NextAddrArea
	b := c.Area(ret, a.Size, a.Align)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !r.fin:
		b[a.Tag], b[a.Code] = 1, byte(ecWouldBlock)
	case r.code != 0:
		b[a.Tag], b[a.Code] = 1, byte(r.code)
		r.code = 0
	case len(r.addrs) == 0:
		b[a.Tag], b[a.OptTag] = 0, 0
	default:
		b[a.Tag], b[a.OptTag] = 0, 1
		cabi.PutIPAddress(b, a.AddrTag, a.Addr, r.addrs[0])
		r.addrs = r.addrs[1:]
	}
}
