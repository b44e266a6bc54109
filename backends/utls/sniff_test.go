package utls

import (
	"bytes"
	"testing"
)

func record(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

func message(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func serverHello(random []byte) []byte {
	return message(msgServerHello, append(append([]byte{3, 3}, random...), 0, 0x13, 0x01, 0, 0, 0))
}

// feed gives the sniffer p in chunks of n bytes, as a slow network would.
func feed(s *sniffConn, p []byte, n int) {
	for len(p) > 0 {
		k := min(n, len(p))
		s.sniff(p[:k])
		p = p[k:]
	}
}

func TestSniffer(t *testing.T) {
	plainRandom := bytes.Repeat([]byte{7}, 32)
	for _, chunk := range []int{1, 3, 7, 1 << 20} {
		// TLS 1.3 with a HelloRetryRequest, its compatibility CCS, then the
		// real ServerHello and encrypted records.
		var s sniffConn
		stream := record(recordHandshake, serverHello(helloRetryRandom))
		stream = append(stream, record(recordChangeCipherSpec, []byte{1})...)
		stream = append(stream, record(recordHandshake, serverHello(plainRandom))...)
		stream = append(stream, record(23, bytes.Repeat([]byte{0xee}, 300))...)
		feed(&s, stream, chunk)
		if hrr, g := s.result(); !hrr || g != 0 {
			t.Errorf("chunk %d: HRR %v group %d, want HRR and no TLS 1.2 group", chunk, hrr, g)
		}

		// TLS 1.2: ServerHello and a Certificate split over two records,
		// then the ServerKeyExchange naming secp384r1 (24).
		s = sniffConn{}
		hs := append(serverHello(plainRandom), message(11, bytes.Repeat([]byte{1}, 5000))...)
		hs = append(hs, message(msgServerKeyExchange, []byte{curveTypeNamed, 0, 24, 65})...)
		stream = append(record(recordHandshake, hs[:3000]), record(recordHandshake, hs[3000:])...)
		feed(&s, stream, chunk)
		if hrr, g := s.result(); hrr || g != 24 {
			t.Errorf("chunk %d: HRR %v group %d, want no HRR, group 24", chunk, hrr, g)
		}

		// No HRR; garbage after the first encrypted record is not parsed.
		s = sniffConn{}
		stream = append(record(recordHandshake, serverHello(plainRandom)), record(23, []byte{1, 2, 3})...)
		stream = append(stream, record(recordHandshake, message(msgServerKeyExchange, []byte{curveTypeNamed, 0, 29}))...)
		feed(&s, stream, chunk)
		if hrr, g := s.result(); hrr || g != 0 {
			t.Errorf("chunk %d: HRR %v group %d after encryption started", chunk, hrr, g)
		}
	}
	// Endless plaintext does not grow the buffer without bound.
	var s sniffConn
	feed(&s, record(recordHandshake, []byte{11, 0xff, 0xff, 0xff}), 4096)
	for i := 0; i < 100 && !s.done; i++ {
		s.sniff(record(recordHandshake, bytes.Repeat([]byte{0}, 16000)))
	}
	if !s.done || s.hs != nil {
		t.Error("the sniffer kept buffering an endless handshake message")
	}
}
