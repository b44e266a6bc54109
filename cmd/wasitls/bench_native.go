package main

// The native side: crypto/tls (or the backend's own client) doing what the
// guest does, in this process.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
)

func (b *bench) nativeConfig() *tls.Config {
	return &tls.Config{RootCAs: b.roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
}

func (b *bench) nativeDial() (*tls.Conn, error) {
	return tls.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(b.port), b.nativeConfig())
}

func request(c io.Writer, op byte, n int64) error {
	var h [9]byte
	h[0] = op
	binary.BigEndian.PutUint64(h[1:], uint64(n))
	_, err := c.Write(h[:])
	return err
}

func (b *bench) nativeDownload() (time.Duration, string, error) {
	c, err := b.nativeDial()
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	start := time.Now()
	if err := request(c, 'D', b.o.size); err != nil {
		return 0, "", err
	}
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, make([]byte, 256<<10))
	d := time.Since(start)
	if err != nil || n != b.o.size {
		return 0, "", fmt.Errorf("native download: %d bytes, %v", n, err)
	}
	return d, tls.CipherSuiteName(c.ConnectionState().CipherSuite), nil
}

func (b *bench) nativeUpload() (time.Duration, error) {
	c, err := b.nativeDial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	if err := request(c, 'U', b.o.size); err != nil {
		return 0, err
	}
	for left := b.o.size; left > 0; {
		k, err := c.Write(buf[:min(left, int64(len(buf)))])
		if err != nil {
			return 0, err
		}
		left -= int64(k)
	}
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if got := int64(binary.BigEndian.Uint64(ack[:])); got != b.o.size {
		return 0, fmt.Errorf("native upload: server got %d bytes", got)
	}
	return d, nil
}

// handshaker is a native client handshake over a connected socket.
type handshaker func(raw net.Conn) (net.Conn, error)

// nativeClient is what a guest's handshakes with backend name are compared
// with: crypto/tls itself for stdtls, the strictest baseline; for the
// others, the backend's own Provider called from Go on a net.Conn, since
// their ClientHellos (a browser's for utls, hybrid groups only for pq) cost
// the server and the client more than crypto/tls's.
func (b *bench) nativeClient(name string) (handshaker, string, error) {
	if name == stdtls.Name {
		return func(raw net.Conn) (net.Conn, error) {
			c := tls.Client(raw, b.nativeConfig())
			return c, c.Handshake()
		}, "crypto/tls", nil
	}
	p, err := api.Lookup(name)
	if err != nil {
		return nil, "", err
	}
	cfg := &api.Config{ServerName: "localhost", RootCAs: b.roots, MinVersion: tls.VersionTLS13}
	return func(raw net.Conn) (net.Conn, error) {
		c, err := p.Client(context.Background(), raw, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, name + " from Go", nil
}

func (b *bench) nativeHandshakes(hs handshaker, n int) (time.Duration, error) {
	d, _, _, err := b.nativeHandshakesPhases(hs, n)
	return d, err
}

// nativeHandshakesPhases is nativeHandshakes that also sums the time spent
// connecting and handshaking (tls.Dial's two steps, taken apart).
func (b *bench) nativeHandshakesPhases(hs handshaker, n int) (total, connect, handshake time.Duration, err error) {
	addr := "127.0.0.1:" + strconv.Itoa(b.port)
	start := time.Now()
	for range n {
		t0 := time.Now()
		raw, err := net.Dial("tcp4", addr)
		if err != nil {
			return 0, 0, 0, err
		}
		t1 := time.Now()
		c, err := hs(raw)
		handshake += time.Since(t1)
		connect += t1.Sub(t0)
		if c != nil {
			c.Close()
		}
		raw.Close()
		if err != nil {
			return 0, 0, 0, err
		}
	}
	return time.Since(start), connect, handshake, nil
}

// nativeConcurrent opens n connections at once with dial; latencies per
// connection.
func nativeConcurrent(n int, dial func() (net.Conn, error)) (time.Duration, []time.Duration, []net.Conn, error) {
	lat := make([]time.Duration, n)
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			t0 := time.Now()
			conns[i], errs[i] = dial()
			lat[i] = time.Since(t0)
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		closeAll(conns)
		return 0, nil, nil, err
	}
	return wall, lat, conns, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// nativeHold opens n connections, reads the greeting on each, and parks a
// goroutine in Read on each (4 KiB buffer), as a client waiting for the
// next message does. stop closes them and waits for the goroutines.
func (b *bench) nativeHold(n int) (stop func(), err error) {
	_, _, conns, err := nativeConcurrent(n, func() (net.Conn, error) {
		c, err := b.nativeDial()
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		var g [16]byte
		if err := request(c, 'I', 0); err != nil {
			closeAll(conns)
			return nil, err
		}
		if _, err := io.ReadFull(c, g[:]); err != nil {
			closeAll(conns)
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	return func() { closeAll(conns); wg.Wait() }, nil
}
