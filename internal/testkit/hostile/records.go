package hostile

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// TLS record content types and handshake message types used here.
const (
	recCCS       = 20
	recAlert     = 21
	recHandshake = 22
	recAppData   = 23

	hsHelloRequest = 0
	hsServerHello  = 2
	hsFinished     = 20
)

// maxRecord is the largest record body the proxy reads (2^14 + 2048 covers
// every legal ciphertext; the hostile writers go beyond it on purpose).
const maxRecord = 1 << 16

// record is one TLS record, header included.
type record []byte

func (r record) typ() byte     { return r[0] }
func (r record) body() []byte  { return r[5:] }
func (r record) hsType() byte  { return r[5] } // first handshake message's type (plaintext records)
func (r record) isHS() bool    { return r[0] == recHandshake && len(r) > 5 }
func (r record) clone() record { return append(record(nil), r...) }

// readRecord reads one record.
func readRecord(rd io.Reader) (record, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[3:]))
	if n > maxRecord {
		return nil, fmt.Errorf("hostile: record of %d bytes", n)
	}
	r := make(record, 5+n)
	copy(r, hdr[:])
	if _, err := io.ReadFull(rd, r[5:]); err != nil {
		return nil, err
	}
	return r, nil
}

// mkRecord frames body as a record of type typ with legacy version 0x0303.
func mkRecord(typ byte, body []byte) record {
	r := make(record, 5, 5+len(body))
	r[0], r[1], r[2] = typ, 3, 3
	binary.BigEndian.PutUint16(r[3:], uint16(len(body)))
	return append(r, body...)
}

// mkHandshake frames a handshake message.
func mkHandshake(typ byte, body []byte) []byte {
	m := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(m, body...)
}

// clientHello is what the hostile servers need from a ClientHello.
type clientHello struct {
	sessionID []byte
	suites    []uint16
	groups    []uint16 // supported_groups
	shares    []uint16 // key_share groups
}

// readClientHello reads records until a whole ClientHello arrived (it may
// span records) and parses it.
func readClientHello(rd io.Reader) (*clientHello, error) {
	var msg []byte
	for {
		r, err := readRecord(rd)
		if err != nil {
			return nil, err
		}
		if r.typ() != recHandshake {
			continue // a CCS in compatibility mode
		}
		msg = append(msg, r.body()...)
		if len(msg) >= 4 {
			n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if len(msg) >= 4+n {
				return parseClientHello(msg[4 : 4+n])
			}
		}
	}
}

func parseClientHello(b []byte) (*clientHello, error) {
	bad := errors.New("hostile: malformed ClientHello")
	take := func(n int) ([]byte, bool) {
		if len(b) < n {
			return nil, false
		}
		v := b[:n]
		b = b[n:]
		return v, true
	}
	u8 := func() (int, bool) { v, ok := take(1); return int(v[0]), ok && v != nil }
	u16 := func() (int, bool) {
		v, ok := take(2)
		if !ok {
			return 0, false
		}
		return int(binary.BigEndian.Uint16(v)), true
	}
	ch := &clientHello{}
	if _, ok := take(2 + 32); !ok {
		return nil, bad
	}
	n, ok := u8()
	if !ok {
		return nil, bad
	}
	if ch.sessionID, ok = take(n); !ok {
		return nil, bad
	}
	if n, ok = u16(); !ok {
		return nil, bad
	}
	cs, ok := take(n)
	if !ok {
		return nil, bad
	}
	for i := 0; i+1 < len(cs); i += 2 {
		ch.suites = append(ch.suites, binary.BigEndian.Uint16(cs[i:]))
	}
	if n, ok = u8(); !ok {
		return nil, bad
	}
	if _, ok = take(n); !ok {
		return nil, bad
	}
	if n, ok = u16(); !ok {
		return ch, nil // no extensions
	}
	exts, ok := take(n)
	if !ok {
		return nil, bad
	}
	for len(exts) >= 4 {
		typ, l := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
		if len(exts) < 4+l {
			return nil, bad
		}
		data := exts[4 : 4+l]
		exts = exts[4+l:]
		switch typ {
		case 10: // supported_groups
			if len(data) >= 2 {
				for i := 2; i+1 < len(data); i += 2 {
					ch.groups = append(ch.groups, binary.BigEndian.Uint16(data[i:]))
				}
			}
		case 51: // key_share
			if len(data) >= 2 {
				d := data[2:]
				for len(d) >= 4 {
					g, kl := binary.BigEndian.Uint16(d), int(binary.BigEndian.Uint16(d[2:]))
					ch.shares = append(ch.shares, g)
					if len(d) < 4+kl {
						break
					}
					d = d[4+kl:]
				}
			}
		}
	}
	return ch, nil
}

// hrrRandom is the ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
var hrrRandom, _ = hex.DecodeString("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

// helloRetryRequest builds an HRR record selecting group.
func helloRetryRequest(ch *clientHello, group uint16) record {
	suite := uint16(0x1301)
	for _, s := range ch.suites {
		if s>>8 == 0x13 {
			suite = s
			break
		}
	}
	var b []byte
	b = append(b, 3, 3)
	b = append(b, hrrRandom...)
	b = append(b, byte(len(ch.sessionID)))
	b = append(b, ch.sessionID...)
	b = binary.BigEndian.AppendUint16(b, suite)
	b = append(b, 0)
	exts := []byte{0, 43, 0, 2, 3, 4, 0, 51, 0, 2, byte(group >> 8), byte(group)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(exts)))
	b = append(b, exts...)
	return mkRecord(recHandshake, mkHandshake(hsServerHello, b))
}

// serverHelloOffsets returns the offsets (within the record) of the random
// and the cipher suite of a plaintext ServerHello record.
func serverHelloOffsets(r record) (random, suite int, ok bool) {
	if !r.isHS() || r.hsType() != hsServerHello || len(r) < 5+4+2+32+1 {
		return 0, 0, false
	}
	random = 5 + 4 + 2
	sid := int(r[random+32])
	suite = random + 32 + 1 + sid
	if len(r) < suite+2 {
		return 0, 0, false
	}
	return random, suite, true
}

// keyLog captures the TLS 1.2 master secrets a crypto/tls server logs.
type keyLog struct {
	mu      sync.Mutex
	secrets map[string][]byte // client random (hex) -> master secret
}

func (k *keyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, line := range strings.Split(string(p), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "CLIENT_RANDOM" {
			if k.secrets == nil {
				k.secrets = map[string][]byte{}
			}
			k.secrets[f[1]], _ = hex.DecodeString(f[2])
		}
	}
	return len(p), nil
}

func (k *keyLog) get(clientRandom []byte) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.secrets[hex.EncodeToString(clientRandom)]
}

// prf12 is the TLS 1.2 PRF with SHA-256 (RFC 5246 section 5).
func prf12(secret []byte, label string, seed []byte, n int) []byte {
	seed = append([]byte(label), seed...)
	mac := func(data ...[]byte) []byte {
		h := hmac.New(sha256.New, secret)
		for _, d := range data {
			h.Write(d)
		}
		return h.Sum(nil)
	}
	var out []byte
	a := mac(seed)
	for len(out) < n {
		out = append(out, mac(a, seed)...)
		a = mac(a)
	}
	return out[:n]
}

// serverSealer encrypts records as a TLS 1.2 server with
// TLS_ECDHE_*_WITH_AES_128_GCM_SHA256, so the proxy can inject records the
// client will decrypt (a HelloRequest, a CCS) after the handshake.
type serverSealer struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
}

func newServerSealer(master, clientRandom, serverRandom []byte) (*serverSealer, error) {
	kb := prf12(master, "key expansion", append(append([]byte(nil), serverRandom...), clientRandom...), 40)
	block, err := aes.NewCipher(kb[16:32]) // client key, then server key
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &serverSealer{aead: aead, iv: kb[36:40]}, nil
}

func (s *serverSealer) seal(typ byte, plaintext []byte) record {
	var explicit [8]byte
	binary.BigEndian.PutUint64(explicit[:], s.seq)
	nonce := append(append([]byte(nil), s.iv...), explicit[:]...)
	var aad [13]byte
	binary.BigEndian.PutUint64(aad[:], s.seq)
	aad[8], aad[9], aad[10] = typ, 3, 3
	binary.BigEndian.PutUint16(aad[11:], uint16(len(plaintext)))
	s.seq++
	body := append(explicit[:], s.aead.Seal(nil, nonce, plaintext, aad[:])...)
	return mkRecord(typ, body)
}

// clientRandomOf returns the random of a ClientHello record.
func clientRandomOf(r record) []byte {
	if !r.isHS() || r.hsType() != 1 || len(r) < 5+4+2+32 {
		return nil
	}
	return bytes.Clone(r[5+4+2 : 5+4+2+32])
}
