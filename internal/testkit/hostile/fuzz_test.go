package hostile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

// mutator is a fuzzed server: a proxy in front of a real crypto/tls server
// whose records are rewritten by a small program read from the fuzz input.
// Each 4-byte instruction names a server record (by index), an operation and
// an operand.
func mutator(prog []byte, tls12 bool) Behaviour {
	return Behaviour{Name: "fuzzed", Serve: func(c *Conn) {
		RunProxy(c, ProxyOptions{TLS12: tls12, End: "fin"}, func(p *Proxy, r record) bool {
			out := []record{r}
			for i := 0; i+4 <= len(prog); i += 4 {
				idx, op, arg := int(prog[i]%12), prog[i+1]%8, binary.BigEndian.Uint16(prog[i+2:])
				if idx != p.I {
					continue
				}
				cur := out[len(out)-1].clone()
				if len(cur) == 0 {
					continue // dropped by an earlier instruction
				}
				switch op {
				case 0: // flip a bit
					k := int(arg>>3) % len(cur)
					cur[k] ^= 1 << (arg & 7)
				case 1: // truncate
					cur = cur[:int(arg)%len(cur)]
				case 2: // rewrite the record length field (if a truncate left one)
					if len(cur) >= 5 {
						binary.BigEndian.PutUint16(cur[3:], arg)
					}
				case 3: // drop the record
					cur = nil
				case 4: // send it twice
					out = append(out, cur.clone())
				case 5: // set a byte
					k := int(arg>>8) % len(cur)
					cur[k] = byte(arg)
				case 6: // rewrite the content type
					cur[0] = byte(arg)
				case 7: // a handshake-length field inside the body (offset 6..8)
					if len(cur) > 8 {
						cur[6], cur[7], cur[8] = byte(arg>>8), byte(arg), byte(arg)
					}
				}
				out[len(out)-1] = cur
			}
			for _, o := range out {
				if len(o) > 0 && p.Write(o) != nil {
					return false
				}
			}
			return true
		})
	}}
}

// FuzzServerMutation runs each backend's handshake and one request against
// a server whose records are mutated, directly through the Provider or
// (backend / 3 odd) through a generated guest on the host. Invariant:
// success with the right response, or a classified error (never
// KindUnknown, never a trap), within the handshake timeout; no goroutine or
// descriptor left behind.
func FuzzServerMutation(f *testing.F) {
	f.Add(byte(0), false, []byte{})
	f.Add(byte(0), false, []byte{0, 0, 0, 40})           // ServerHello bit flip
	f.Add(byte(1), false, []byte{2, 1, 0, 30})           // truncate EncryptedExtensions
	f.Add(byte(2), false, []byte{3, 2, 0xff, 0xff})      // Certificate length field
	f.Add(byte(0), true, []byte{1, 3, 0, 0})             // TLS 1.2: drop the Certificate
	f.Add(byte(1), true, []byte{0, 4, 0, 0, 2, 7, 1, 0}) // duplicate ServerHello, bad SKE length
	f.Add(byte(0), false, []byte{5, 0, 0, 99})           // flip a bit in a ticket / data record
	f.Add(byte(2), false, []byte{0, 6, 0, 21})           // ServerHello as an alert
	f.Add(byte(3), false, []byte{4, 0, 0, 77})           // through the host: bad MAC in a ticket
	f.Add(byte(4), true, []byte{2, 1, 0, 10})            // through the host: truncated Certificate (TLS 1.2)
	f.Add(byte(5), false, []byte{6, 4, 0, 0})            // through the host: a duplicated data record
	e, pk := env(f)
	provs := backends(f)
	f.Fuzz(func(t *testing.T, backend byte, tls12 bool, prog []byte) {
		if len(prog) > 64 {
			prog = prog[:64]
		}
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		fds := openFDs()
		start := time.Now()
		prov := provs[int(backend)%len(provs)]
		srv, err := Start(mutator(prog, tls12), e)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &api.Config{ServerName: "localhost", RootCAs: pk.Roots, HandshakeTimeout: 500 * time.Millisecond, NextProtos: []string{"http/1.1"}}
		var o outcome
		if (backend/3)%2 == 1 {
			o = runViaHost(t, prov, srv.Addr().AddrPort(), cfg)
		} else {
			o = runDirect(context.Background(), prov, srv.Addr().String(), cfg)
		}
		srv.Close()
		if d := time.Since(start); d > cfg.HandshakeTimeout+slack {
			t.Errorf("%s: the exchange took %v: %v", prov.Name(), d, o)
		}
		if o.elapsed > cfg.HandshakeTimeout+slack {
			t.Errorf("%s: handshake took %v", prov.Name(), o.elapsed)
		}
		if o.phase != Succeeded && o.kind == api.KindUnknown {
			t.Errorf("%s: unclassified failure: %v", prov.Name(), o)
		}
		if after := openFDs(); after != fds {
			t.Errorf("file descriptors: %d before, %d after", fds, after)
		}
	})
}

var (
	rawOnce sync.Once
	rawCM   wazero.CompiledModule
	rawErr  error
)

// runViaHost is runDirect through a generated guest on the host: connect,
// handshake, request, read to the end, each as host calls.
func runViaHost(t *testing.T, prov api.Provider, addr netip.AddrPort, cfg *api.Config) outcome {
	rawOnce.Do(func() { rawCM, rawErr = rawguest.Compile(context.Background(), rt, "0.2.6") })
	if rawErr != nil {
		t.Fatal(rawErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pol := &host.Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: cfg.RootCAs, HandshakeTimeout: cfg.HandshakeTimeout,
		ALPN: []host.ALPNRule{{Dest: "*:*", Protocols: cfg.NextProtos}}}
	x, err := rawguest.New(ctx, hst, rawCM, host.WithProvider(prov), host.WithPolicy(pol))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(context.Background())
	_, in, out, err := x.Connect(addr)
	if err != nil {
		return outcome{phase: HandshakeFailed, kind: api.KindUnknown, err: "connect: " + err.Error()}
	}
	start := time.Now()
	_, tin, tout, err := x.Handshake("localhost", in, out)
	o := outcome{elapsed: time.Since(start)}
	var ioe *rawguest.IOError
	if err != nil {
		o.phase, o.kind, o.err = HandshakeFailed, api.KindUnknown, err.Error()
		if errors.As(err, &ioe) {
			o.kind = kindOfDebug(ioe.Debug)
		}
		return o
	}
	if err = x.Write(tout, []byte(request)); err == nil {
		var body []byte
		body, err = x.ReadAll(tin)
		if err == nil && !strings.HasSuffix(string(body), "\r\n\r\nok") {
			err = fmt.Errorf("short response %q", body)
		}
	}
	switch {
	case err == nil:
		o.phase = Succeeded
	case errors.As(err, &ioe):
		o.phase, o.kind, o.err = ExchangeFailed, kindOfDebug(ioe.Debug), ioe.Debug
	default: // a trap, the module closed by the deadline, a short response
		o.phase, o.kind, o.err = ExchangeFailed, api.KindUnknown, err.Error()
	}
	return o
}
