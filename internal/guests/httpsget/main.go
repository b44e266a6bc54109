//go:build wasip1

// Command httpsget is a test guest: an HTTPS GET through wasi-sockets and
// wasi-tls with the raw bindings.
//
//	httpsget host port path servername [-check-write] [-poll-read]
//
// It resolves host, connects, hands the TCP streams to wasi-tls, sends
// "GET path HTTP/1.1" with Connection: close, copies the whole response to
// stdout, sends close_notify, shuts the socket down and exits 0. Failures
// print "error: <io-error debug string or tcp: error-code>" to stderr and
// exit 1; bad usage exits 2.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/internal/guests/internal/gutil"
)

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage: httpsget host port path servername [-check-write] [-poll-read]:", msg)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 5 {
		usage("missing arguments")
	}
	host, path, serverName := os.Args[1], os.Args[3], os.Args[4]
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		usage("bad port")
	}
	var checkWrite, pollRead bool
	for _, f := range os.Args[5:] {
		switch f {
		case "-check-write":
			checkWrite = true
		case "-poll-read":
			pollRead = true
		default:
			usage("unknown flag " + f)
		}
	}

	n := network.InstanceNetwork()
	sock, in, out, err := gutil.Dial(n, host, uint16(port))
	if err != nil {
		gutil.Fail(err)
	}
	conn, tin, tout, err := gutil.Handshake(serverName, in, out)
	if err != nil {
		gutil.Fail(err)
	}

	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + serverName + "\r\nConnection: close\r\n\r\n")
	if checkWrite {
		err = gutil.WriteAll(tout, req)
	} else {
		err = blockingWrite(tout, req)
	}
	if err != nil {
		gutil.Fail(err)
	}

	if err := copyOut(tin, pollRead); err != nil {
		gutil.Fail(err)
	}

	gutil.CloseOutput(conn, tout)
	if err := sock.Shutdown(tcp.ShutdownBoth); err != nil {
		// The server closed first (Connection: close), so the socket may
		// already be gone; that is not a failure of the exchange.
		fmt.Fprintln(os.Stderr, "warning: shutdown: "+gutil.Message(err))
	}
	tin.Drop()
	tout.Drop()
	conn.Drop()
	sock.Drop()
	n.Drop()
	gutil.CheckAllocations()
}

// blockingWrite uses blocking-write-and-flush in 4096-byte chunks.
func blockingWrite(out streams.OutputStream, b []byte) error {
	for len(b) > 0 {
		chunk := b[:min(len(b), streams.MaxBlockingWrite)]
		if err := out.BlockingWriteAndFlush(chunk); err != nil {
			return err
		}
		b = b[len(chunk):]
	}
	return nil
}

// copyOut copies the TLS input to stdout until the stream is closed.
func copyOut(in streams.InputStream, pollRead bool) error {
	p := in.Subscribe()
	defer p.Drop()
	for {
		var data []byte
		var err error
		if pollRead {
			data, err = in.Read(64 << 10)
			if err == nil && len(data) == 0 {
				p.Block()
				continue
			}
		} else {
			data, err = in.BlockingRead(64 << 10)
		}
		if errors.Is(err, streams.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := os.Stdout.Write(data); err != nil {
			return err
		}
	}
}
