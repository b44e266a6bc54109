package hostile

import (
	"bytes"
	"crypto/rand"
	"time"

	"github.com/wasitls/wasitls/api"
)

// Phase is where an exchange (handshake, GET, read to the end) ended.
type Phase int

const (
	HandshakeFailed Phase = iota // the handshake returned an error
	ExchangeFailed               // the handshake succeeded, a later read or write failed
	Succeeded                    // the response arrived and the stream ended cleanly
)

func (p Phase) String() string {
	return [...]string{"handshake error", "error after handshake", "success"}[p]
}

// Want is the acceptable outcome of a behaviour.
type Want struct {
	Phases []Phase
	Kinds  []api.Kind // for the failing phases
}

func fails(kinds ...api.Kind) Want { return Want{Phases: []Phase{HandshakeFailed}, Kinds: kinds} }

// Behaviour is one way a server misbehaves.
type Behaviour struct {
	Name  string
	Serve func(c *Conn)
	Want  Want
	TLS12 bool // the server speaks TLS 1.2 only (backends without TLS 1.2 fail the handshake)
	// Backend overrides Want for a backend (by Provider name) that is
	// expected to behave differently, with the reason in Note.
	Backend map[string]Want
	Note    string // what the client is expected to do, for the report
}

// Behaviours returns the hostile-server suite.
func Behaviours() []Behaviour {
	transport := fails(api.KindTransport)
	protocol := fails(api.KindProtocol)
	return []Behaviour{
		{Name: "rst-after-clienthello", Want: transport, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err == nil {
				c.Reset()
			}
		}},
		{Name: "fin-after-clienthello", Want: transport, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err == nil {
				_ = c.CloseWrite()
				c.drain()
			}
		}},
		{Name: "rst-after-serverhello", Want: transport, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "rst"}, func(p *Proxy, r record) bool {
				_ = p.Forward(r)
				return p.I < 0 // stop after the first record
			})
		}},
		{Name: "rst-mid-certificate", Want: transport, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "rst"}, func(p *Proxy, r record) bool {
				if r.typ() == recAppData && p.Enc == 1 {
					_ = p.Write(r[:len(r)/2])
					return false
				}
				return forward(p, r)
			})
		}},
		{Name: "rst-after-server-finished", Note: "TLS 1.3: the client may finish its handshake first",
			Want: Want{Phases: []Phase{HandshakeFailed, ExchangeFailed}, Kinds: []api.Kind{api.KindTransport}},
			Serve: func(c *Conn) {
				RunProxy(c, ProxyOptions{End: "rst"}, func(p *Proxy, r record) bool {
					_ = p.Forward(r)
					return !(r.typ() == recAppData && p.Enc == 3)
				})
			}},
		{Name: "truncated-record-then-fin", Want: transport, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin"}, func(p *Proxy, r record) bool {
				_ = p.Write(r[:len(r)-3])
				return false
			})
		}},
		{Name: "silence", Want: fails(api.KindHandshakeTimeout), Serve: func(c *Conn) { c.drain() }},
		{Name: "one-byte-per-interval", Want: fails(api.KindHandshakeTimeout), Note: "handshake timeout ends it", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin"}, func(p *Proxy, r record) bool {
				for i := range r {
					if p.Write(r[i:i+1]) != nil || !c.sleep(c.Env().Drip) {
						return false
					}
				}
				return true
			})
		}},
		{Name: "endless-handshake-records", Want: protocol, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err != nil {
				return
			}
			go c.drain()
			body := make([]byte, 1<<14)
			for {
				_, _ = rand.Read(body)
				if _, err := c.Write(mkRecord(recHandshake, body)); err != nil {
					return
				}
			}
		}},
		{Name: "huge-handshake-length-16MiB", Want: protocol, Serve: rawReply(mkRecord(recHandshake, []byte{hsServerHello, 0xff, 0xff, 0xff, 3, 3}))},
		{Name: "oversized-record", Want: protocol, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err != nil {
				return
			}
			n := 1<<14 + 256 + 1
			r := make([]byte, 5+n)
			r[0], r[1], r[2], r[3], r[4] = recHandshake, 3, 3, byte(n>>8), byte(n)
			_, _ = c.Write(r)
			c.drain()
		}},
		{Name: "certificate-chain-1MiB", Want: protocol, Note: "over every client's certificate-message limit", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{Cert: &c.Env().Big, End: "fin"}, forward)
		}},
		{Name: "bad-mac-handshake", Want: protocol, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin"}, func(p *Proxy, r record) bool {
				if r.typ() == recAppData && p.Enc == 0 {
					r = r.clone()
					r[len(r)-1] ^= 1
				}
				return forward(p, r)
			})
		}},
		{Name: "bad-mac-application-data", Want: Want{Phases: []Phase{ExchangeFailed}, Kinds: []api.Kind{api.KindProtocol}}, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin"}, func(p *Proxy, r record) bool {
				if r.typ() == recAppData && p.Enc >= 4 {
					r = r.clone()
					r[10] ^= 0x80
				}
				return forward(p, r)
			})
		}},
		{Name: "warning-alert-flood", Want: protocol, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err != nil {
				return
			}
			go c.drain()
			for i := 0; i < 1000; i++ {
				if _, err := c.Write(mkRecord(recAlert, []byte{1, 90})); err != nil {
					return
				}
			}
		}},
		{Name: "fatal-alert", Want: fails(api.KindPeerAlert),
			Note:    "pq reads handshake_failure to its hybrid-only hello as post-quantum-required",
			Backend: map[string]Want{"pq": fails(api.KindPQRequired)}, Serve: rawReply(mkRecord(recAlert, []byte{2, api.AlertHandshakeFailure}))},
		{Name: "zero-length-record-flood", Want: protocol, Serve: func(c *Conn) {
			if _, err := readClientHello(c); err != nil {
				return
			}
			go c.drain()
			for i := 0; i < 10000; i++ {
				if _, err := c.Write(mkRecord(recHandshake, nil)); err != nil {
					return
				}
			}
		}},
		{Name: "tiny-records-tls12", TLS12: true, Want: Want{Phases: []Phase{Succeeded}}, Note: "every plaintext handshake byte in its own record (thousands): valid, accepted",
			Serve: func(c *Conn) {
				RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
					if !r.isHS() || p.afterCCS {
						return forward(p, r)
					}
					var out []byte
					for _, b := range r.body() {
						out = append(out, mkRecord(recHandshake, []byte{b})...)
					}
					return p.Write(out) == nil
				})
			}},
		{Name: "renegotiation-hellorequest-tls12", TLS12: true, Want: Want{Phases: []Phase{ExchangeFailed}, Kinds: []api.Kind{api.KindProtocol}},
			Note: "an encrypted HelloRequest after the handshake: stdtls refuses renegotiation (no_renegotiation); utls, like Chrome, " +
				"renegotiates once and then fails on the transport the server closes",
			Backend: map[string]Want{"utls": {Phases: []Phase{ExchangeFailed}, Kinds: []api.Kind{api.KindTransport}}},
			Serve: func(c *Conn) {
				var sh record
				RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
					if r.isHS() && !p.afterCCS && r.hsType() == hsServerHello {
						sh = r
					}
					if p.afterCCS && r.typ() == recHandshake { // the server's Finished
						if p.Forward(r) != nil {
							return false
						}
						s, err := p.Sealer(sh)
						if err != nil {
							return false
						}
						_ = p.Write(s.seal(recHandshake, mkHandshake(hsHelloRequest, nil)))
						// The client sends its request, then answers the
						// HelloRequest with an alert or a new (encrypted)
						// ClientHello; either way, hang up then.
						request := false
						for r := range p.FromClient {
							if request {
								break
							}
							request = r.typ() == recAppData
						}
						return false
					}
					return forward(p, r)
				})
			}},
		{Name: "ccs-after-handshake-tls12", TLS12: true, Want: Want{Phases: []Phase{ExchangeFailed}, Kinds: []api.Kind{api.KindProtocol}},
			Serve: func(c *Conn) {
				var sh record
				RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
					if r.isHS() && !p.afterCCS && r.hsType() == hsServerHello {
						sh = r
					}
					if p.afterCCS && r.typ() == recHandshake {
						if p.Forward(r) != nil {
							return false
						}
						s, err := p.Sealer(sh)
						if err != nil {
							return false
						}
						_ = p.Write(s.seal(recCCS, []byte{1}))
						c.drain()
						return false
					}
					return forward(p, r)
				})
			}},
		{Name: "early-ccs-tls12", TLS12: true, Want: protocol, Note: "a CCS right after ServerHello", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
				if p.I == 0 {
					if p.Forward(r) != nil {
						return false
					}
					return p.Write(mkRecord(recCCS, []byte{1})) == nil
				}
				return forward(p, r)
			})
		}},
		{Name: "wrong-alpn-tls12", TLS12: true, Want: protocol, Note: "ServerHello selects a protocol the client did not offer", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{TLS12: true, NextProtos: []string{"http/1.1"}, End: "fin"}, func(p *Proxy, r record) bool {
				if p.I == 0 {
					r = record(bytes.Replace(r, []byte("http/1.1"), []byte("evil/1.1"), 1))
				}
				return forward(p, r)
			})
		}},
		{Name: "unoffered-cipher-tls12", TLS12: true, Want: protocol, Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
				if _, suite, ok := serverHelloOffsets(r); ok && p.I == 0 {
					r = r.clone()
					r[suite], r[suite+1] = 0x00, 0x05 // TLS_RSA_WITH_RC4_128_SHA
				}
				return forward(p, r)
			})
		}},
		{Name: "downgrade-sentinel", TLS12: true, Want: protocol, Note: "a TLS 1.2 ServerHello whose random ends in DOWNGRD\\x01", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{TLS12: true, End: "fin"}, func(p *Proxy, r record) bool {
				if rnd, _, ok := serverHelloOffsets(r); ok && p.I == 0 {
					r = r.clone()
					copy(r[rnd+24:], "DOWNGRD\x01")
				}
				return forward(p, r)
			})
		}},
		{Name: "two-hello-retry-requests", Want: protocol, Serve: func(c *Conn) {
			ch, err := readClientHello(c)
			if err != nil {
				return
			}
			hrr := helloRetryRequest(ch, unsharedGroup(ch))
			if _, err := c.Write(hrr); err != nil {
				return
			}
			if _, err := readClientHello(c); err != nil {
				return
			}
			_, _ = c.Write(hrr)
			c.drain()
		}},
		{Name: "hrr-unoffered-group", Want: protocol, Serve: func(c *Conn) {
			ch, err := readClientHello(c)
			if err != nil {
				return
			}
			_, _ = c.Write(helloRetryRequest(ch, 0x0100)) // ffdhe2048: never offered
			c.drain()
		}},
		{Name: "hrr-for-offered-share", Want: protocol, Note: "an HRR asking for the key share the client already sent", Serve: func(c *Conn) {
			ch, err := readClientHello(c)
			if err != nil || len(ch.shares) == 0 {
				return
			}
			_, _ = c.Write(helloRetryRequest(ch, ch.shares[0]))
			c.drain()
		}},
		{Name: "sslv2-server-hello", Want: protocol, Serve: rawReply([]byte{0x80, 0x2e, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x1a, 0x00, 0x03, 0x00, 0x10})},
		{Name: "plaintext-http-reply", Want: protocol, Serve: rawReply([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))},
		{Name: "close-without-close-notify", Want: Want{Phases: []Phase{ExchangeFailed}, Kinds: []api.Kind{api.KindTransport}},
			Note: "the response arrives, then a truncation error", Serve: func(c *Conn) {
				RunProxy(c, ProxyOptions{NoCloseNotify: true, End: "fin"}, forward)
			}},
		{Name: "data-after-close-notify", Want: Want{Phases: []Phase{Succeeded}}, Note: "bytes after close_notify are ignored", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin", AfterEOF: func(p *Proxy) {
				junk := make([]byte, 512)
				_, _ = rand.Read(junk)
				_ = p.Write(mkRecord(recAppData, junk))
			}}, forward)
		}},
		{Name: "hundreds-of-sans", Want: Want{Phases: []Phase{Succeeded}}, Note: "a valid certificate with 500 DNS names: accepted", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{Cert: &c.Env().ManySANs, End: "fin"}, forward)
		}},
		{Name: "control-well-behaved", Want: Want{Phases: []Phase{Succeeded}}, Note: "the proxy unchanged (checks the harness)", Serve: func(c *Conn) {
			RunProxy(c, ProxyOptions{End: "fin"}, forward)
		}},
	}
}

// rawReply answers the ClientHello with fixed bytes, then drains.
func rawReply(b []byte) func(c *Conn) {
	return func(c *Conn) {
		if _, err := readClientHello(c); err != nil {
			return
		}
		_, _ = c.Write(b)
		c.drain()
	}
}

// unsharedGroup is a group the client supports but sent no key share for
// (so an HRR for it is legitimate the first time).
func unsharedGroup(ch *clientHello) uint16 {
	for _, g := range ch.groups {
		shared := false
		for _, s := range ch.shares {
			shared = shared || s == g
		}
		if !shared && g&0x0f0f != 0x0a0a { // skip GREASE
			return g
		}
	}
	return 0x0017
}

// DefaultDrip is the slow behaviour's interval: one byte per second.
const DefaultDrip = time.Second
