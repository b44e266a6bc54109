package guestnet

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

const connGuest = "./internal/guests/connguest"

// serve accepts connections on loopback and runs handle on each.
var serve = guestrun.Serve

// TestStartTLS: plaintext first, then TLS over the same socket, as
// PostgreSQL's SSLRequest does; the server's close_notify is io.EOF.
func TestStartTLS(t *testing.T) {
	p := pki.New(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	for name, prov := range providers(t) {
		t.Run(name, func(t *testing.T) {
			port := serve(t, func(c net.Conn) {
				line, err := bufio.NewReader(io.LimitReader(c, 9)).ReadString('\n')
				if err != nil || line != "STARTTLS\n" {
					t.Errorf("server read %q, %v", line, err)
					return
				}
				io.WriteString(c, "OK\n")
				tc := tls.Server(c, cfg)
				ping, err := bufio.NewReader(tc).ReadString('\n')
				if err != nil {
					t.Errorf("server: %v", err)
					return
				}
				io.WriteString(tc, "pong to "+ping)
				tc.Close() // close_notify
			})
			r := runGuest(t, connGuest, prov, p, "starttls", "127.0.0.1:"+port, "localhost")
			if r.Exit != 0 || r.one(t, "plain") != `"OK\n"` || r.one(t, "tls") != `"pong to ping\n"` || r.one(t, "eof") != "true" {
				t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
			}
		})
	}
}

// TestEcho writes 4 MiB while another guest goroutine reads the echo: the
// writer blocks on a full pipe unless the reader runs meanwhile.
func TestEcho(t *testing.T) {
	p := pki.New(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	port := serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		io.Copy(tc, tc) // until the guest's close_notify
		tc.Close()
	})
	r := runGuest(t, connGuest, stdtls.Provider{}, p, "echo", "127.0.0.1:"+port, "localhost", "4")
	if r.Exit != 0 || r.one(t, "echo") != "4194304 true" {
		t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
	}
}

func TestCloseWakesRead(t *testing.T) {
	p := pki.New(t)
	cert := p.Server().TLS
	addr := silentServer(t, &cert)
	r := runGuest(t, connGuest, stdtls.Provider{}, p, "closewake", addr, "localhost")
	if r.Exit != 0 || r.one(t, "closed") != "true" || r.one(t, "write_after_close") != "true" {
		t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
	}
	t.Logf("Close woke the parked Read after %sµs", r.one(t, "wake_us"))
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	ln.Close()
	p := pki.New(t)
	for _, tc := range []struct{ addr, want string }{
		{closedPort, "refused"},
		{"127.0.0.2:80", "access"}, // outside the policy
	} {
		r := runGuest(t, connGuest, stdtls.Provider{}, p, "dialerr", tc.addr)
		if r.Exit != 0 || r.one(t, "op_error") != "true" || r.one(t, tc.want) != "true" {
			t.Errorf("%s: exit %d:\n%s", tc.addr, r.Exit, r.Stdout)
		}
		if !strings.HasPrefix(r.one(t, "err"), "dial tcp") {
			t.Errorf("error %q", r.one(t, "err"))
		}
	}
}

// TestFairness: while one goroutine waits for a byte the server sends after
// 300 ms, a goroutine sleeping 1 ms at a time keeps ticking (its timers fire
// at most the timer slack late), and with a busy goroutine that yields the
// read still completes on time.
func TestFairness(t *testing.T) {
	const delay = 300 * time.Millisecond
	port := serve(t, func(c net.Conn) {
		time.Sleep(delay)
		c.Write([]byte{'x'})
		io.Copy(io.Discard, c)
	})
	p := pki.New(t)
	for _, mode := range []string{"idle", "busy"} {
		t.Run(mode, func(t *testing.T) {
			r := runGuest(t, connGuest, stdtls.Provider{}, p, "fairness", "127.0.0.1:"+port, mode)
			if r.Exit != 0 {
				t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
			}
			us, _ := strconv.Atoi(r.one(t, "latency_us"))
			ticks, _ := strconv.Atoi(r.one(t, "ticks"))
			hashes, _ := strconv.Atoi(r.one(t, "hashes"))
			t.Logf("%s: read after %v, %d ticks of 1 ms, %d hashes of 64 KiB; %s", mode, time.Duration(us)*time.Microsecond, ticks, hashes, r.one(t, "stats"))
			// A poller that slept in the host until the data came would
			// allow no tick at all; 20 ms slack allows about 15 in 300 ms.
			if ticks < 5 {
				t.Errorf("the sleeping goroutine ticked %d times in %v", ticks, delay)
			}
			if mode == "busy" && hashes == 0 {
				t.Error("the busy goroutine never ran")
			}
		})
	}
}
