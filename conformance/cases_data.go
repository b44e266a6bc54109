package conformance

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
)

// dataCases cover the record layer after the handshake: bulk data, odd
// framing, and every way a stream can end.
var dataCases = []testCase{
	{name: "BulkTransfer", expect: "HashesMatchBothWays", run: caseBulk},
	{name: "OneByteRecords", expect: "ReassemblesStream", run: caseOneByteRecords},
	{name: "OneByteSegments", expect: "ReassemblesStream", run: caseOneByteSegments},
	{name: "HalfClose", expect: "ReadsResponseAfterCloseWrite", run: caseHalfClose},
	{name: "ServerCloseNotify", expect: "ReadReturnsEOF", run: caseServerCloseNotify},
	{name: "ServerTruncation", expect: "ReadIsErrorNotEOF", run: caseTruncation},
	{name: "PeerReset", expect: "IsTransportError", run: casePeerReset},
}

// stream returns a deterministic pseudo-random byte stream.
func stream(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// bulkServer reads an 8-byte length and that many bytes, answers with their
// SHA-256, then sends as many bytes of its own followed by their SHA-256.
func bulkServer(c *tls.Conn) {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	n := int64(binary.BigEndian.Uint64(hdr[:]))
	up := sha256.New()
	if _, err := io.CopyN(up, c, n); err != nil {
		return
	}
	if _, err := c.Write(up.Sum(nil)); err != nil {
		return
	}
	down := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(c, down), stream(2), n); err != nil {
		return
	}
	c.Write(down.Sum(nil))
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func caseBulk(t *testing.T, e *env) {
	n := int64(e.opts.bulkBytes)
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), bulkServer)
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))

	start := time.Now()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatalf("write length: %v", err)
	}
	up := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(c, up), stream(1), n); err != nil {
		t.Fatalf("upload: %v", err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read upload hash: %v", err)
	}
	upTime := time.Since(start)
	if !bytes.Equal(got, up.Sum(nil)) {
		t.Fatalf("server hashed the upload as %x, client sent %x", got, up.Sum(nil))
	}

	start = time.Now()
	down := sha256.New()
	if _, err := io.CopyN(down, c, n); err != nil {
		t.Fatalf("download: %v", err)
	}
	downTime := time.Since(start)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read download hash: %v", err)
	}
	if !bytes.Equal(got, down.Sum(nil)) {
		t.Fatalf("server sent data hashing to %x, client received %x", got, down.Sum(nil))
	}
	t.Logf("%d MiB each way, SHA-256 verified: upload %.0f MB/s (%v), download %.0f MB/s (%v)",
		n>>20, mbps(n, upTime), upTime.Round(time.Millisecond), mbps(n, downTime), downTime.Round(time.Millisecond))
}

// readAll reads until an error and returns the data and that error (unlike
// io.ReadAll, which hides io.EOF).
func readAll(c io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	b := make([]byte, 4096)
	for {
		n, err := c.Read(b)
		buf.Write(b[:n])
		if err != nil {
			return buf.Bytes(), err
		}
	}
}

// wantStream reads the whole stream and checks it is want, ended by a clean
// io.EOF.
func wantStream(t *testing.T, c io.Reader, want []byte) {
	t.Helper()
	got, err := readAll(c)
	if err != io.EOF {
		t.Fatalf("stream ended with %v after %d bytes, want io.EOF", err, len(got))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
	}
}

func payload(n int) []byte {
	b := make([]byte, n)
	io.ReadFull(stream(3), b)
	return b
}

func caseOneByteRecords(t *testing.T, e *env) {
	data := payload(4096)
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), func(c *tls.Conn) {
		for i := range data {
			if _, err := c.Write(data[i : i+1]); err != nil {
				return
			}
		}
	})
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	wantStream(t, c, data)
}

// dribbleConn writes one byte per TCP write; with Nagle off (Go's default)
// each byte leaves as its own segment.
type dribbleConn struct{ net.Conn }

func (d dribbleConn) Write(b []byte) (int, error) {
	for i := range b {
		if _, err := d.Conn.Write(b[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(b), nil
}

func caseOneByteSegments(t *testing.T, e *env) {
	data := payload(1024)
	sc := serverConfig(e.leaves.ecdsa.TLS)
	srv := startServer(t, "tcp4", func(raw net.Conn) {
		c := tls.Server(dribbleConn{raw}, sc) // the handshake flight dribbles too
		defer c.Close()
		if err := c.Handshake(); err != nil {
			return
		}
		c.Write(data)
	})
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	wantStream(t, c, data)
}

func caseHalfClose(t *testing.T, e *env) {
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), func(c *tls.Conn) {
		req, err := readAll(c)
		if err != io.EOF {
			return // no close_notify: no answer
		}
		fmt.Fprintf(c, "got %d bytes, sha256 %x", len(req), sha256.Sum256(req))
	})
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	req := payload(10000)
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	wantStream(t, c, fmt.Appendf(nil, "got %d bytes, sha256 %x", len(req), sha256.Sum256(req)))
}

func caseServerCloseNotify(t *testing.T, e *env) {
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), func(c *tls.Conn) {
		c.Write([]byte("goodbye"))
	}) // the server then sends close_notify and closes TCP
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	wantStream(t, c, []byte("goodbye"))
}

func caseTruncation(t *testing.T, e *env) {
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), func(c *tls.Conn) {
		c.Write([]byte("partial"))
		c.NetConn().Close() // FIN without close_notify
	})
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	got, err := readAll(c)
	if string(got) != "partial" {
		t.Errorf("received %q before the end, want %q", got, "partial")
	}
	if errors.Is(err, io.EOF) {
		t.Fatalf("a TCP close without close_notify read as a clean EOF (%v): truncation undetected", err)
	}
	if api.KindOf(err) == api.KindUnknown {
		t.Fatalf("truncation error is not classified: %v", err)
	}
	t.Logf("truncation reported as %q: %v", api.KindOf(err), err)
}

func casePeerReset(t *testing.T, e *env) {
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), func(c *tls.Conn) {
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		c.Write([]byte("some data, then a reset"))
		if tcp, ok := c.NetConn().(*net.TCPConn); ok {
			tcp.SetLinger(0) // close sends RST
		}
		c.NetConn().Close()
	})
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := readAll(c)
	t.Logf("read %d bytes before the reset", len(got))
	wantErr(t, err, api.ErrTransport)
}
