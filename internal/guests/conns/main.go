//go:build wasip1

// Command conns is a test guest for the connection quota: it opens TLS
// connections to an echo server one after another, dropping each socket
// handle as soon as its streams are in TLS (the connection lives on in
// them), until it has N or the host refuses a socket. Then it checks that
// every connection it kept still echoes.
//
//	conns HOST PORT SERVERNAME N
//
// It prints "opened K of N (STOP)" and "K still echo", where STOP is
// "new-socket-limit" or "all"; failures print "error: ..." and exit 1.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/internal/guests/internal/gutil"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: conns HOST PORT SERVERNAME N")
		os.Exit(2)
	}
	host, serverName := os.Args[1], os.Args[3]
	port, err1 := strconv.ParseUint(os.Args[2], 10, 16)
	want, err2 := strconv.Atoi(os.Args[4])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "usage: conns HOST PORT SERVERNAME N")
		os.Exit(2)
	}
	n := network.InstanceNetwork()
	type conn struct {
		in  streams.InputStream
		out streams.OutputStream
	}
	var kept []conn
	stop := "all"
	for len(kept) < want {
		sock, in, out, err := gutil.Dial(n, host, uint16(port))
		if errors.Is(err, network.NewSocketLimit) {
			stop = "new-socket-limit"
			break
		}
		if err != nil {
			gutil.Fail(err)
		}
		_, tin, tout, err := gutil.Handshake(serverName, in, out)
		if err != nil {
			gutil.Fail(err)
		}
		sock.Drop() // the streams are TLS's now; the socket handle is not needed
		kept = append(kept, conn{tin, tout})
	}
	fmt.Printf("opened %d of %d (%s)\n", len(kept), want, stop)
	for i, c := range kept {
		msg := []byte("ping " + strconv.Itoa(i))
		if err := gutil.WriteAll(c.out, msg); err != nil {
			gutil.Fail(err)
		}
		var got []byte
		for len(got) < len(msg) {
			b, err := c.in.BlockingRead(uint64(len(msg) - len(got)))
			if err != nil {
				gutil.Fail(err)
			}
			got = append(got, b...)
		}
		if string(got) != string(msg) {
			gutil.Fail(fmt.Errorf("connection %d echoed %q", i, got))
		}
	}
	fmt.Printf("%d still echo\n", len(kept))
}
