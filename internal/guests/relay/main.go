//go:build wasip1

// Command relay is a test guest that puts a wasi-tls connection at the
// disposal of a test, so the conformance suite can run through a guest.
//
//	relay target-host target-port relay-host relay-port servername
//
// servername may be given as "hex:" followed by its bytes in hex.
//
// It first connects (plain TCP through wasi-sockets) to relay-host:relay-port,
// where the test listens, then connects to the target and runs the wasi-tls
// handshake. From then on it relays plaintext both ways, single-threaded,
// multiplexing with wasi:io/poll.
//
// Guest to test is framed: one type byte, a 4-byte big-endian length, the
// payload. 'H' handshake done (empty), 'D' plaintext, 'E' clean end of the
// TLS stream, 'X' failure (the io-error debug string, or "tcp: <code>").
// After 'E' or 'X' the guest closes the relay connection and exits.
//
// Test to guest is raw plaintext. When the test half-closes, the guest
// sends close_notify (close-output) and keeps relaying the other way.
package main

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/internal/guests/internal/gutil"
)

const readChunk = 64 << 10

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage: relay target-host target-port relay-host relay-port servername:", msg)
	os.Exit(2)
}

func port(s string) uint16 {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		usage("bad port " + s)
	}
	return uint16(p)
}

func main() {
	if len(os.Args) != 6 {
		usage("want 5 arguments")
	}
	targetHost, targetPort := os.Args[1], port(os.Args[2])
	relayHost, relayPort := os.Args[3], port(os.Args[4])
	// The server name may come hex-encoded ("hex:6c6f..."), so that a test
	// can pass bytes that command-line arguments cannot carry (NUL).
	serverName := os.Args[5]
	if h, ok := strings.CutPrefix(serverName, "hex:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil {
			usage("bad hex server name")
		}
		serverName = string(b)
	}

	n := network.InstanceNetwork()
	rsock, rin, rout, err := gutil.Dial(n, relayHost, relayPort)
	if err != nil {
		gutil.Fail(fmt.Errorf("relay connection: %w", err))
	}
	r := &relay{rsock: rsock, rin: rin, rout: rout}

	// A WIT string must be valid UTF-8 (the host traps otherwise), so a
	// guest refuses such a name itself, before any network I/O.
	if !utf8.ValidString(serverName) {
		r.fail(errors.New("tls: invalid configuration: server name is not valid UTF-8"))
	}

	sock, in, out, err := gutil.Dial(n, targetHost, targetPort)
	if err != nil {
		r.fail(err)
	}
	conn, tin, tout, err := gutil.Handshake(serverName, in, out)
	if err != nil {
		r.fail(err)
	}
	r.frame('H', nil)
	r.run(conn, tin, tout)

	tin.Drop()
	tout.Drop()
	conn.Drop()
	_ = sock.Shutdown(tcp.ShutdownBoth)
	sock.Drop()
	r.close()
	n.Drop()
	gutil.CheckAllocations()
}

type relay struct {
	rsock tcp.TCPSocket
	rin   streams.InputStream
	rout  streams.OutputStream

	toRelay []byte // framed bytes not yet written to the test
}

func (r *relay) frame(typ byte, payload []byte) {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	r.toRelay = append(append(r.toRelay, h[:]...), payload...)
}

// fail reports err to the test as an 'X' frame and exits.
func (r *relay) fail(err error) {
	r.frame('X', []byte(gutil.Message(err)))
	r.close()
	os.Exit(0)
}

// close writes what is pending to the test and waits until it is flushed
// (a shutdown may drop what the host still buffers), then closes the relay
// socket.
func (r *relay) close() {
	err := gutil.WriteAll(r.rout, r.toRelay)
	if err == nil {
		err = r.rout.BlockingFlush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error: relay write: "+gutil.Message(err))
		os.Exit(1)
	}
	r.toRelay = nil
	_ = r.rsock.Shutdown(tcp.ShutdownBoth)
	r.rin.Drop()
	r.rout.Drop()
	r.rsock.Drop()
}

// run relays until the TLS input ends or fails. It never blocks on one
// direction while the other could progress: each round tries every step
// without blocking and polls only when none made progress.
func (r *relay) run(conn tls.ClientConnection, tin streams.InputStream, tout streams.OutputStream) {
	pRin, pRout := r.rin.Subscribe(), r.rout.Subscribe()
	pTin, pTout := tin.Subscribe(), tout.Subscribe()
	defer func() {
		pRin.Drop()
		pRout.Drop()
		pTin.Drop()
		pTout.Drop()
	}()

	var (
		toTLS     []byte // plaintext from the test not yet written to TLS
		relayEOF  bool   // the test half-closed
		closeSent bool   // close-output called
		tlsDone   bool   // 'E' or 'X' queued
	)
	for {
		progress := false

		// Test -> TLS.
		if len(toTLS) == 0 && !relayEOF && !tlsDone {
			data, err := r.rin.Read(readChunk)
			switch {
			case errors.Is(err, streams.ErrClosed):
				relayEOF, progress = true, true
			case err != nil:
				fmt.Fprintln(os.Stderr, "error: relay read: "+gutil.Message(err))
				os.Exit(1)
			case len(data) > 0:
				toTLS, progress = data, true
			}
		}
		if len(toTLS) > 0 && !tlsDone {
			budget, err := tout.CheckWrite()
			if err == nil && budget > 0 {
				chunk := toTLS[:min(uint64(len(toTLS)), budget, streams.MaxBlockingWrite)]
				if err = tout.Write(chunk); err == nil {
					err = tout.Flush()
				}
				toTLS, progress = toTLS[len(chunk):], true
			}
			if err != nil {
				r.frame('X', []byte(gutil.Message(err)))
				tlsDone, progress = true, true
			}
		}
		if relayEOF && len(toTLS) == 0 && !closeSent && !tlsDone {
			conn.CloseOutput()
			closeSent, progress = true, true
		}

		// TLS -> test.
		if len(r.toRelay) == 0 && !tlsDone {
			data, err := tin.Read(readChunk)
			switch {
			case errors.Is(err, streams.ErrClosed):
				r.frame('E', nil)
				tlsDone, progress = true, true
			case err != nil:
				r.frame('X', []byte(gutil.Message(err)))
				tlsDone, progress = true, true
			case len(data) > 0:
				r.frame('D', data)
				progress = true
			}
		}
		if len(r.toRelay) > 0 {
			budget, err := r.rout.CheckWrite()
			if err == nil && budget > 0 {
				chunk := r.toRelay[:min(uint64(len(r.toRelay)), budget, streams.MaxBlockingWrite)]
				if err = r.rout.Write(chunk); err == nil {
					err = r.rout.Flush()
				}
				r.toRelay, progress = r.toRelay[len(chunk):], true
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "error: relay write: "+gutil.Message(err))
				os.Exit(1)
			}
		}

		if tlsDone && len(r.toRelay) == 0 {
			return
		}
		if progress {
			continue
		}

		var wait []poll.Pollable
		if len(toTLS) == 0 && !relayEOF && !tlsDone {
			wait = append(wait, pRin)
		}
		if len(toTLS) > 0 && !tlsDone {
			wait = append(wait, pTout)
		}
		if len(r.toRelay) == 0 && !tlsDone {
			wait = append(wait, pTin)
		}
		if len(r.toRelay) > 0 {
			wait = append(wait, pRout)
		}
		poll.Poll(wait...)
	}
}
