package utls

import (
	"bytes"
	"sync"

	"github.com/wasitls/wasitls/api/backendkit"
)

// helloRetryRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446, section 4.1.3).
var helloRetryRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// TLS record and handshake message types the sniffer looks at.
const (
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
	msgServerHello         = 2
	msgServerKeyExchange   = 12
	msgServerHelloDone     = 14
	curveTypeNamed         = 3
	maxSniff               = 256 << 10 // a long certificate chain fits
)

// sniffConn wraps the connection uTLS reads from. It records whether the
// peer ended the stream (to tell truncation from close_notify), and reads
// the server's plaintext handshake messages, which uTLS does not expose:
// whether the server sent a HelloRetryRequest, and the TLS 1.2
// ServerKeyExchange's named group. It stops looking at the first encrypted
// record, so the cost after the handshake is one flag check per Read.
type sniffConn struct {
	backendkit.EOFWatch

	mu      sync.Mutex
	done    bool
	raw     []byte // unparsed record bytes
	hs      []byte // unparsed handshake message bytes
	final   bool   // a ServerHello that is not a HelloRetryRequest was seen
	hrr     bool
	group12 uint16 // from a TLS 1.2 ServerKeyExchange
}

func (t *sniffConn) Read(b []byte) (int, error) {
	n, err := t.EOFWatch.Read(b)
	if n > 0 {
		t.mu.Lock()
		if !t.done {
			t.sniff(b[:n])
		}
		t.mu.Unlock()
	}
	return n, err
}

// sniff consumes server bytes until it has seen what it needs.
func (t *sniffConn) sniff(p []byte) {
	t.raw = append(t.raw, p...)
	for !t.done && len(t.raw) >= 5 {
		typ, n := t.raw[0], int(t.raw[3])<<8|int(t.raw[4])
		if len(t.raw) < 5+n {
			break
		}
		body := t.raw[5 : 5+n]
		switch {
		case typ == recordHandshake:
			t.hs = append(t.hs, body...)
			t.messages()
		case typ == recordChangeCipherSpec && !t.final:
			// The compatibility CCS after a HelloRetryRequest: go on.
		default:
			// Encryption starts (CCS after the ServerHello, application
			// data) or an alert: nothing more in the clear.
			t.done = true
		}
		t.raw = t.raw[5+n:]
	}
	if len(t.raw)+len(t.hs) > maxSniff {
		t.done = true
	}
	if t.done {
		t.raw, t.hs = nil, nil
	}
}

// messages parses complete handshake messages from t.hs.
func (t *sniffConn) messages() {
	for !t.done && len(t.hs) >= 4 {
		typ, n := t.hs[0], int(t.hs[1])<<16|int(t.hs[2])<<8|int(t.hs[3])
		if len(t.hs) < 4+n {
			return
		}
		body := t.hs[4 : 4+n]
		switch typ {
		case msgServerHello:
			// legacy_version(2) random(32)
			if len(body) >= 34 && bytes.Equal(body[2:34], helloRetryRandom) {
				t.hrr = true
			} else {
				t.final = true
			}
		case msgServerKeyExchange:
			// ECParameters: curve_type(1) named_curve(2)
			if len(body) >= 3 && body[0] == curveTypeNamed {
				t.group12 = uint16(body[1])<<8 | uint16(body[2])
			}
			t.done = true
		case msgServerHelloDone:
			t.done = true
		}
		t.hs = t.hs[4+n:]
	}
}

// result returns what the sniffer learned; call it after the handshake.
func (t *sniffConn) result() (hrr bool, group12 uint16) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done, t.raw, t.hs = true, nil, nil
	return t.hrr, t.group12
}
