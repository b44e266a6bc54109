//go:build wasip1

// Command benchguest is the guest of `wasitls bench`: TLS through the raw
// wasitls bindings (no net/http, no wasinet), timed with the host's
// monotonic clock. It speaks the bench server's protocol: after the
// handshake the client sends one byte of operation and an 8-byte big-endian
// count ('D' download, 'U' upload, 'I' idle greeting).
//
//	benchguest download IP PORT NAME BYTES   print "ok BYTES NS" (request to last byte)
//	benchguest upload IP PORT NAME BYTES     print "ok BYTES NS" (first byte to the server's ack)
//	benchguest handshakes IP PORT NAME N     N sequential connect+handshake+close: "ok N NS"
//	benchguest concurrent IP PORT NAME N     print "ready"; then for each line on stdin, a
//	                                         wall-clock time T in Unix ns: wait for T, open N
//	                                         connections at once, print "lat NS..." (each one's
//	                                         connect and handshake) and "ok N NS" (T to the last
//	                                         one done); on the next line close them, print "closed"
//	benchguest hold IP PORT NAME N           open N connections, read a greeting on each, subscribe
//	                                         (a read pending on each), print "held"; on a byte on
//	                                         stdin close them and print "released"; on the next
//	                                         byte open them again; exit at the end of stdin
//	benchguest request IP PORT NAME N        one HTTPS request for N bytes (see request.go)
//
// Failures print "error: ..." to stderr and exit 1.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/guest/clocks/monotonic"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

func main() {
	if len(os.Args) != 6 {
		fail(errors.New("usage: benchguest download|upload|handshakes|concurrent|hold|request IP PORT NAME N"))
	}
	addr, err := netip.ParseAddr(os.Args[2])
	if err != nil {
		fail(err)
	}
	port, err := strconv.ParseUint(os.Args[3], 10, 16)
	if err != nil {
		fail(err)
	}
	n, err := strconv.ParseUint(os.Args[5], 10, 63)
	if err != nil {
		fail(err)
	}
	t := target{net: network.InstanceNetwork(), addr: addr, port: uint16(port), name: os.Args[4]}
	switch os.Args[1] {
	case "download":
		download(t, n)
	case "upload":
		upload(t, n)
	case "handshakes":
		handshakes(t, n)
	case "concurrent":
		concurrent(t, int(n))
	case "hold":
		hold(t, int(n))
	case "request":
		request(t, n)
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	var he *tls.HandshakeError
	var se *streams.StreamError
	switch {
	case errors.As(err, &he):
		err = errors.New(he.Debug)
	case errors.As(err, &se):
		err = errors.New(se.Error())
	}
	fmt.Fprintln(os.Stderr, "error: "+err.Error())
	os.Exit(1)
}

// concurrent runs the concurrent mode's rounds. Every guest of a round
// starts at the same instant T, whenever its line arrived: the bench hands
// out the lines one guest at a time, which would otherwise stagger the
// starts across a CPU that the first guests keep busy.
func concurrent(t target, n int) {
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		at, err := strconv.ParseInt(strings.TrimSpace(in.Text()), 10, 64)
		if err != nil {
			fail(fmt.Errorf("start time %q: %v", in.Text(), err))
		}
		// The line is a wall-clock time; the wait is on the monotonic clock.
		start := monotonic.Now().Add(time.Until(time.Unix(0, at)))
		p := monotonic.SubscribeInstant(start)
		p.Block()
		p.Drop()
		cs := t.open(n)
		end := monotonic.Now()
		lat := make([]string, len(cs))
		for i, c := range cs {
			lat[i] = strconv.FormatInt(int64(c.done.Sub(c.start)), 10)
		}
		fmt.Println("lat " + strings.Join(lat, " "))
		fmt.Printf("ok %d %d\n", n, end.Sub(start))
		// Closed when every guest is done, so that closing costs no other
		// guest's round anything.
		if !in.Scan() {
			return
		}
		for _, c := range cs {
			c.close()
		}
		fmt.Println("closed")
	}
}

// step waits for one byte on stdin; false at its end.
func step() bool {
	var b [1]byte
	n, _ := os.Stdin.Read(b[:])
	return n == 1
}

type target struct {
	net  network.Network
	addr netip.Addr
	port uint16
	name string
}

// conn is one connection through its states: connecting, handshaking, open.
type conn struct {
	sock        tcp.TCPSocket
	p           poll.Pollable // the socket's, then the future's
	fut         tls.FutureClientStreams
	tc          tls.ClientConnection
	in          streams.InputStream
	out         streams.OutputStream
	state       int
	start, done monotonic.Instant
}

var one = []uint32{0}

// open connects n sockets and handshakes on each, all at once, waiting on
// every pending pollable with one poll.
func (t target) open(n int) []*conn {
	cs := make([]*conn, n)
	for i := range cs {
		c := &conn{start: monotonic.Now()}
		s, err := tcp.CreateTCPSocket(network.FamilyOf(t.addr))
		if err != nil {
			fail(err)
		}
		if err := s.StartConnect(t.net, network.IPSocketAddress{Addr: t.addr, Port: t.port}); err != nil {
			fail(err)
		}
		c.sock, c.p = s, s.Subscribe()
		cs[i] = c
	}
	ps := make([]poll.Pollable, 0, n)
	idx := make([]int, 0, n)
	for pending := n; pending > 0; {
		ps, idx = ps[:0], idx[:0]
		for i, c := range cs {
			if c.state < 2 {
				ps = append(ps, c.p)
				idx = append(idx, i)
			}
		}
		ready := one
		if len(ps) == 1 {
			ps[0].Block() // no result list to allocate, unlike poll
		} else {
			ready = poll.Poll(ps...)
		}
		for _, r := range ready {
			c := cs[idx[r]]
			switch c.state {
			case 0:
				in, out, err := c.sock.FinishConnect()
				if errors.Is(err, network.WouldBlock) {
					continue
				}
				if err != nil {
					fail(err)
				}
				c.p.Drop()
				c.fut = tls.Finish(tls.NewClientHandshake(t.name, in, out))
				c.p = c.fut.Subscribe()
				c.state = 1
			case 1:
				tc, in, out, err := c.fut.Get()
				if errors.Is(err, tls.ErrPending) {
					continue
				}
				if err != nil {
					fail(err)
				}
				c.done = monotonic.Now()
				c.p.Drop()
				c.fut.Drop()
				c.p = 0
				c.tc, c.in, c.out, c.state = tc, in, out, 2
				pending--
			}
		}
	}
	return cs
}

func (c *conn) close() {
	if c.p != 0 {
		c.p.Drop()
		c.p = 0
	}
	c.in.Drop()
	c.out.Drop()
	c.tc.Drop()
	c.sock.Drop()
}

// request sends the operation header.
func (c *conn) request(op byte, n uint64) {
	var h [9]byte
	h[0] = op
	binary.BigEndian.PutUint64(h[1:], n)
	if err := c.out.BlockingWriteAndFlush(h[:]); err != nil {
		fail(err)
	}
}

// readToEnd reads into buf until the stream closes, handing each read to
// each.
func (c *conn) readToEnd(buf []byte, each func([]byte)) {
	for {
		k, err := c.in.BlockingReadInto(buf)
		if errors.Is(err, streams.ErrClosed) {
			return
		}
		if err != nil {
			fail(err)
		}
		each(buf[:k])
	}
}

// readFull reads exactly len(b) bytes.
func (c *conn) readFull(b []byte) {
	for got := 0; got < len(b); {
		k, err := c.in.BlockingReadInto(b[got:])
		if err != nil {
			fail(err)
		}
		got += k
	}
}

func download(t target, n uint64) {
	c := t.open(1)[0]
	buf := make([]byte, 256<<10) // reused: the host writes into it
	start := monotonic.Now()
	c.request('D', n)
	var total uint64
	c.readToEnd(buf, func(b []byte) { total += uint64(len(b)) })
	end := monotonic.Now()
	if total != n {
		fail(fmt.Errorf("downloaded %d bytes, want %d", total, n))
	}
	fmt.Printf("ok %d %d\n", total, end.Sub(start))
	c.close()
}

func upload(t target, n uint64) {
	c := t.open(1)[0]
	buf := make([]byte, 256<<10)
	start := monotonic.Now()
	c.request('U', n)
	// blocking-write-and-flush, 256 KiB at a time, as the native client
	// writes: the host encrypts straight from guest memory (no copy, no
	// hand-off), where check-write and write would copy each chunk into a
	// host buffer first.
	for left := n; left > 0; {
		k := min(left, uint64(len(buf)))
		if err := c.out.BlockingWriteAndFlush(buf[:k]); err != nil {
			fail(err)
		}
		left -= k
	}
	var ack [8]byte
	c.readFull(ack[:])
	end := monotonic.Now()
	if got := binary.BigEndian.Uint64(ack[:]); got != n {
		fail(fmt.Errorf("server received %d bytes, want %d", got, n))
	}
	fmt.Printf("ok %d %d\n", n, end.Sub(start))
	c.close()
}

func hold(t target, n int) {
	var greeting [16]byte
	for {
		cs := t.open(n)
		for _, c := range cs {
			c.request('I', 0)
			c.readFull(greeting[:])
			// A read pending, as a client waiting for the next message has.
			c.p = c.in.Subscribe()
			c.p.Ready()
		}
		fmt.Println("held")
		if !step() {
			return
		}
		for _, c := range cs {
			c.close()
		}
		// Collect now, so that opening them again reuses this memory
		// instead of growing it: the host measures its own memory.
		cs = nil
		debug.FreeOSMemory()
		fmt.Println("released")
		if !step() {
			return
		}
	}
}
