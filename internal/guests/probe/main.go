//go:build wasip1

// Command probe is a test guest with small subcommands that exercise the
// bindings one interface at a time:
//
//	probe lookup NAME...          resolve names, one "NAME ADDR" line per address
//	probe clock MS                resolution, a MS-millisecond timer, poll over two timers
//	probe sockinfo HOST PORT      connect, print addresses and socket options, shut down
//	probe streams HOST PORT       plain TCP: write-zeroes, skip, splice round trips
//	probe reset HOST PORT         plain TCP read until it fails; print the error and its network-error-code
//	probe tlsread HOST PORT NAME  TLS connect, read until close_notify, print "read N"
//	probe imports                 references every binding (for the WIT check; traps if run)
//
// Failures print "error: ..." to stderr and exit 1; bad usage exits 2.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/guest/clocks/monotonic"
	"github.com/wasitls/wasitls/guest/io/ioerror"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/ipnamelookup"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/guest/tls/server"
	"github.com/wasitls/wasitls/internal/guests/internal/gutil"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: probe lookup NAME... | clock MS | sockinfo HOST PORT | streams HOST PORT | reset HOST PORT | tlsread HOST PORT NAME | imports")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "lookup":
		lookup(args)
	case "clock":
		if len(args) != 1 {
			usage()
		}
		ms, err := strconv.Atoi(args[0])
		if err != nil {
			usage()
		}
		clock(time.Duration(ms) * time.Millisecond)
	case "sockinfo":
		if len(args) != 2 {
			usage()
		}
		sockinfo(args[0], portArg(args[1]))
	case "streams":
		if len(args) != 2 {
			usage()
		}
		streamOps(args[0], portArg(args[1]))
	case "reset":
		if len(args) != 2 {
			usage()
		}
		readUntilError(args[0], portArg(args[1]))
	case "tlsread":
		if len(args) != 3 {
			usage()
		}
		tlsRead(args[0], portArg(args[1]), args[2])
	case "imports":
		imports()
	default:
		usage()
	}
	gutil.CheckAllocations()
}

func portArg(s string) uint16 {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		usage()
	}
	return uint16(p)
}

func lookup(names []string) {
	n := network.InstanceNetwork()
	defer n.Drop()
	failed := false
	for _, name := range names {
		addrs, err := gutil.Resolve(n, name)
		if err != nil {
			fmt.Printf("%s error: %s\n", name, gutil.Message(err))
			failed = true
			continue
		}
		for _, a := range addrs {
			fmt.Printf("%s %s\n", name, a)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func clock(d time.Duration) {
	fmt.Printf("resolution %d\n", monotonic.Resolution())

	start := monotonic.Now()
	t := monotonic.SubscribeDuration(d)
	t.Block()
	fmt.Printf("duration %d ready %v\n", monotonic.Now().Sub(start), t.Ready())
	t.Drop()

	start = monotonic.Now()
	t = monotonic.SubscribeInstant(start.Add(d))
	t.Block()
	fmt.Printf("instant %d\n", monotonic.Now().Sub(start))
	t.Drop()

	// A long and a short timer: poll must wake for the short one only.
	long := monotonic.SubscribeDuration(time.Hour)
	short := monotonic.SubscribeDuration(d)
	start = monotonic.Now()
	ready := poll.Poll(long, short)
	fmt.Printf("poll %v %d long-ready %v\n", ready, monotonic.Now().Sub(start), long.Ready())
	long.Drop()
	short.Drop()
}

func sockinfo(host string, port uint16) {
	n := network.InstanceNetwork()
	sock, in, out, err := gutil.Dial(n, host, port)
	if err != nil {
		gutil.Fail(err)
	}
	show := func(what string, v any, err error) {
		if err != nil {
			fmt.Printf("%s error %s\n", what, gutil.Message(err))
			return
		}
		fmt.Printf("%s %v\n", what, v)
	}
	la, err := sock.LocalAddress()
	show("local", fmt.Sprintf("%s:%d", la.Addr, la.Port), err)
	ra, err := sock.RemoteAddress()
	show("remote", fmt.Sprintf("%s:%d", ra.Addr, ra.Port), err)
	fmt.Printf("family %s\n", sock.AddressFamily())
	fmt.Printf("listening %v\n", sock.IsListening())
	// Set, then read back: the getters must return what the setters sent
	// (u64 durations, a u32 count, a u8 hop limit).
	show("set-keep-alive", true, sock.SetKeepAliveEnabled(true))
	show("set-keep-alive-idle", nil, sock.SetKeepAliveIdleTime(20*time.Second))
	show("set-keep-alive-interval", nil, sock.SetKeepAliveInterval(7*time.Second))
	show("set-keep-alive-count", nil, sock.SetKeepAliveCount(4))
	show("set-hop-limit", nil, sock.SetHopLimit(33))
	show("set-receive-buffer", nil, sock.SetReceiveBufferSize(64<<10))
	show("set-send-buffer", nil, sock.SetSendBufferSize(64<<10))
	ka, err := sock.KeepAliveEnabled()
	show("keep-alive", ka, err)
	idle, err := sock.KeepAliveIdleTime()
	show("keep-alive-idle", idle, err)
	ival, err := sock.KeepAliveInterval()
	show("keep-alive-interval", ival, err)
	cnt, err := sock.KeepAliveCount()
	show("keep-alive-count", cnt, err)
	hop, err := sock.HopLimit()
	show("hop-limit", hop, err)
	rbs, err := sock.ReceiveBufferSize()
	show("receive-buffer", rbs > 0, err)
	sbs, err := sock.SendBufferSize()
	show("send-buffer", sbs > 0, err)
	show("listen-on-connected", nil, sock.StartListen())
	in.Drop()
	out.Drop()
	show("shutdown", nil, sock.Shutdown(tcp.ShutdownBoth))
	sock.Drop()
	n.Drop()
}

// streamOps talks to a plain TCP echo server: it writes zeroes and bytes,
// skips some of the echo and reads the rest.
func streamOps(host string, port uint16) {
	n := network.InstanceNetwork()
	sock, in, out, err := gutil.Dial(n, host, port)
	if err != nil {
		gutil.Fail(err)
	}
	check := func(what string, err error) {
		if err != nil {
			gutil.Fail(fmt.Errorf("%s: %w", what, err))
		}
	}
	check("blocking-write-zeroes-and-flush", out.BlockingWriteZeroesAndFlush(10))
	check("blocking-write-and-flush", out.BlockingWriteAndFlush([]byte("hello")))
	skipped, err := in.BlockingSkip(10)
	check("blocking-skip", err)
	got := []byte{}
	for len(got) < 15-int(skipped) {
		b, err := in.BlockingRead(64)
		check("blocking-read", err)
		got = append(got, b...)
	}
	fmt.Printf("skipped %d read %q\n", skipped, got)

	// Splice: send a message, then bounce the echo back twice with
	// splice and blocking-splice before reading it.
	msg := []byte("splice-me")
	check("blocking-write-and-flush", out.BlockingWriteAndFlush(msg))
	p := in.Subscribe()
	var spliced uint64
	for spliced < uint64(len(msg)) {
		k, err := out.Splice(in, uint64(len(msg))-spliced)
		check("splice", err)
		if k == 0 {
			p.Block()
		}
		spliced += k
	}
	p.Drop()
	check("blocking-flush", out.BlockingFlush())
	var bspliced uint64
	for bspliced < uint64(len(msg)) {
		k, err := out.BlockingSplice(in, uint64(len(msg))-bspliced)
		check("blocking-splice", err)
		bspliced += k
	}
	check("flush", out.Flush())
	got = got[:0]
	for len(got) < len(msg) {
		b, err := in.BlockingRead(uint64(len(msg) - len(got)))
		check("blocking-read", err)
		got = append(got, b...)
	}
	fmt.Printf("spliced %d %d read %q\n", spliced, bspliced, got)
	check("shutdown", sock.Shutdown(tcp.ShutdownSend))
	for {
		_, err := in.BlockingRead(64)
		if errors.Is(err, streams.ErrClosed) {
			fmt.Println("eof")
			break
		}
		check("read to eof", err)
	}
	in.Drop()
	out.Drop()
	sock.Drop()
	n.Drop()
}

// readUntilError reads a plain TCP stream until it fails (the test resets
// the connection) and reports the stream error and its socket error code.
func readUntilError(host string, port uint16) {
	n := network.InstanceNetwork()
	sock, in, out, err := gutil.Dial(n, host, port)
	if err != nil {
		gutil.Fail(err)
	}
	// One byte tells the test the connection is up on this side.
	if err := out.BlockingWriteAndFlush([]byte("x")); err != nil {
		gutil.Fail(err)
	}
	for {
		_, err := in.BlockingRead(64 << 10)
		if err == nil {
			continue
		}
		var se *streams.StreamError
		if !errors.As(err, &se) || se.Closed {
			fmt.Printf("read ended without a failure: %v\n", err)
			break
		}
		code, ok := network.NetworkErrorCode(se.Err)
		fmt.Printf("stream error %q network-error-code %s %v\n", se.Debug, code.String(), ok)
		se.Release()
		break
	}
	in.Drop()
	out.Drop()
	sock.Drop()
	n.Drop()
}

// tlsRead counts the bytes of a TLS stream, for throughput measurements:
// blocking reads of up to 256 KiB, nothing else per byte.
func tlsRead(host string, port uint16, serverName string) {
	n := network.InstanceNetwork()
	sock, in, out, err := gutil.Dial(n, host, port)
	if err != nil {
		gutil.Fail(err)
	}
	conn, tin, tout, err := gutil.Handshake(serverName, in, out)
	if err != nil {
		gutil.Fail(err)
	}
	// One buffer for the whole download: the host writes into it.
	buf := make([]byte, 256<<10)
	var total int
	for {
		n, err := tin.BlockingReadInto(buf)
		if errors.Is(err, streams.ErrClosed) {
			break
		}
		if err != nil {
			gutil.Fail(err)
		}
		total += n
	}
	fmt.Printf("read %d\n", total)
	gutil.CloseOutput(conn, tout)
	tin.Drop()
	tout.Drop()
	conn.Drop()
	sock.Drop()
	n.Drop()
}

// imports calls every binding once so that the linker keeps every import
// and the WIT check sees all of them. It is never run: the handles are not
// valid and the host would trap.
func imports() {
	var (
		n   network.Network
		s   tcp.TCPSocket
		in  streams.InputStream
		out streams.OutputStream
		p   poll.Pollable
		e   ioerror.Error
		rs  ipnamelookup.ResolveAddressStream
		hs  tls.ClientHandshake
		c   tls.ClientConnection
		f   tls.FutureClientStreams
		a   network.IPSocketAddress
	)
	n = network.InstanceNetwork()
	_, _ = network.NetworkErrorCode(e)
	_ = e.DebugString()
	e.Drop()
	_ = p.Ready()
	p.Block()
	_ = poll.Poll(p)
	p.Drop()
	_, _ = in.Read(1)
	_, _ = in.BlockingRead(1)
	_, _ = in.Skip(1)
	_, _ = in.BlockingSkip(1)
	_ = in.Subscribe()
	_, _ = out.CheckWrite()
	_ = out.Write(nil)
	_ = out.BlockingWriteAndFlush(nil)
	_ = out.Flush()
	_ = out.BlockingFlush()
	_ = out.Subscribe()
	_ = out.WriteZeroes(1)
	_ = out.BlockingWriteZeroesAndFlush(1)
	_, _ = out.Splice(in, 1)
	_, _ = out.BlockingSplice(in, 1)
	in.Drop()
	out.Drop()
	_ = monotonic.Now()
	_ = monotonic.Resolution()
	_ = monotonic.SubscribeInstant(0)
	_ = monotonic.SubscribeDuration(0)
	rs, _ = ipnamelookup.ResolveAddresses(n, "x")
	_, _, _ = rs.ResolveNextAddress()
	_ = rs.Subscribe()
	rs.Drop()
	s, _ = tcp.CreateTCPSocket(network.IPv4)
	_ = s.StartBind(n, a)
	_ = s.FinishBind()
	_ = s.StartConnect(n, a)
	_, _, _ = s.FinishConnect()
	_ = s.StartListen()
	_ = s.FinishListen()
	_, _, _, _ = s.Accept()
	_, _ = s.LocalAddress()
	_, _ = s.RemoteAddress()
	_ = s.IsListening()
	_ = s.AddressFamily()
	_ = s.SetListenBacklogSize(1)
	_, _ = s.KeepAliveEnabled()
	_ = s.SetKeepAliveEnabled(true)
	_, _ = s.KeepAliveIdleTime()
	_ = s.SetKeepAliveIdleTime(1)
	_, _ = s.KeepAliveInterval()
	_ = s.SetKeepAliveInterval(1)
	_, _ = s.KeepAliveCount()
	_ = s.SetKeepAliveCount(1)
	_, _ = s.HopLimit()
	_ = s.SetHopLimit(1)
	_, _ = s.ReceiveBufferSize()
	_ = s.SetReceiveBufferSize(1)
	_, _ = s.SendBufferSize()
	_ = s.SetSendBufferSize(1)
	_ = s.Subscribe()
	_ = s.Shutdown(tcp.ShutdownBoth)
	s.Drop()
	hs = tls.NewClientHandshake("x", in, out)
	_, _ = hs.SetALPNIDs([]string{"h2"})
	f = tls.Finish(hs)
	hs.Drop()
	_ = f.Subscribe()
	_, _, _, _ = f.Get()
	f.Drop()
	c.CloseOutput()
	_, _ = c.NegotiatedProtocol()
	_ = c.ProtocolVersion()
	_ = c.CipherSuite()
	_, _ = c.KeyExchangeGroup()
	_ = c.Resumed()
	_ = c.PeerCertificates()
	c.Drop()
	shs := server.NewHandshake(in, out)
	sf := server.Finish(shs)
	shs.Drop()
	_ = sf.Subscribe()
	sc, _, _, _ := sf.Get()
	sf.Drop()
	_ = sc.ServerName()
	_ = sc.ALPN()
	_ = sc.ClientCertificates()
	sc.CloseOutput()
	sc.Drop()
	n.Drop()
}
