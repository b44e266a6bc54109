//go:build wasip1

// Command connguest exercises wasinet's net.Conn API directly, for the tests:
//
//	connguest starttls ADDR NAME   plaintext "STARTTLS" exchange, then TLS on the same socket; read to EOF
//	connguest echo ADDR NAME MIB   write MIB MiB over TLS while another goroutine reads the echo
//	connguest closewake ADDR NAME  Close wakes a Read parked in another goroutine
//	connguest dialerr ADDR         print what a failed dial matches
//	connguest idle ADDR SLACK      wait 1 s for data that never comes, with wasinet.SetTimerSlack(SLACK)
//	connguest fairness ADDR BUSY   read a byte the server sends after a while; meanwhile one goroutine
//	                               ticks with time.Sleep(1ms) and, if BUSY is "busy", another hashes
//	                               and yields with runtime.Gosched
//	connguest gets ADDR NAME N     N GETs in turn through wasihttp.Transport, printing "get PROTO BODY"
//	connguest pgets ADDR NAME N    N GETs at once through a new wasihttp.Transport, printing "get PROTO BODY"
//	connguest state ADDR NAME P,Q  twice: TLS asking for ALPN P,Q (wasinet.Dialer.NextProtos), a ping,
//	                               then what ConnectionState reports, as "N key value" lines
//
// Output is "key value" lines; unexpected failures print "error: ..." and exit 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/guest/wasinet"
	_ "github.com/wasitls/wasitls/guest/wasinet/tlsext" // Dialer.NextProtos, ConnectionState
	"github.com/wasitls/wasitls/guest/wasinet/wasihttp"
)

func fail(err error) {
	fmt.Println("error:", err)
	os.Exit(1)
}

func main() {
	ctx := context.Background()
	switch os.Args[1] {
	case "starttls":
		c, err := wasinet.DialContext(ctx, "tcp", os.Args[2])
		if err != nil {
			fail(err)
		}
		if _, err := io.WriteString(c, "STARTTLS\n"); err != nil {
			fail(err)
		}
		// Read the answer byte by byte: nothing past it may be consumed.
		line := make([]byte, 0, 8)
		b := make([]byte, 1)
		for len(line) == 0 || line[len(line)-1] != '\n' {
			if _, err := c.Read(b); err != nil {
				fail(err)
			}
			line = append(line, b[0])
		}
		fmt.Printf("plain %q\n", line)
		tc, err := wasinet.ClientContext(ctx, c, os.Args[3])
		if err != nil {
			fail(err)
		}
		if _, err := io.WriteString(tc, "ping\n"); err != nil {
			fail(err)
		}
		rest, err := io.ReadAll(tc) // the server answers, then close_notify
		fmt.Printf("tls %q\neof %t\n", rest, err == nil)
		if err := tc.Close(); err != nil {
			fail(err)
		}
	case "echo":
		c, err := wasinet.DialTLSContext(ctx, "tcp", net.JoinHostPort(os.Args[3], portOf(os.Args[2])))
		if err != nil {
			fail(err)
		}
		mib, _ := strconv.Atoi(os.Args[4])
		data := make([]byte, mib<<20)
		rand.NewChaCha8([32]byte{1}).Read(data)
		// The writer cannot finish unless the reader drains the echo
		// meanwhile: both must make progress at once.
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.(interface{ CloseWrite() error }).CloseWrite()
			}
			werr <- err
		}()
		h := sha256.New()
		n, err := io.Copy(h, bufio.NewReader(c))
		if err != nil {
			fail(err)
		}
		if err := <-werr; err != nil {
			fail(err)
		}
		want := sha256.Sum256(data)
		fmt.Printf("echo %d %t\n", n, bytes.Equal(h.Sum(nil), want[:]))
		c.Close()
	case "closewake":
		c, err := wasinet.DialTLSContext(ctx, "tcp", net.JoinHostPort(os.Args[3], portOf(os.Args[2])))
		if err != nil {
			fail(err)
		}
		res := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			res <- err
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		c.Close()
		err = <-res
		fmt.Printf("closed %t\nwake_us %d\n", errors.Is(err, net.ErrClosed), time.Since(start).Microseconds())
		_, err = c.Write([]byte("x"))
		fmt.Printf("write_after_close %t\n", errors.Is(err, net.ErrClosed))
	case "dialerr":
		_, err := wasinet.DialContext(ctx, "tcp", os.Args[2])
		var oe *net.OpError
		fmt.Printf("err %v\nop_error %t\nrefused %t\naccess %t\n", err, errors.As(err, &oe),
			errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EACCES))
	case "idle":
		slack, err := time.ParseDuration(os.Args[3])
		if err != nil {
			fail(err)
		}
		wasinet.SetTimerSlack(slack)
		c, err := wasinet.DialContext(ctx, "tcp", os.Args[2])
		if err != nil {
			fail(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		st := wasinet.ReadStats()
		fmt.Printf("timeout %t\nstats polls=%d blocking=%d\n", errors.Is(err, os.ErrDeadlineExceeded), st.Polls, st.BlockingPolls)
		c.Close()
	case "fairness":
		fairness(ctx, os.Args[2], os.Args[3] == "busy")
	case "gets":
		n, _ := strconv.Atoi(os.Args[4])
		gets(ctx, os.Args[2], os.Args[3], n)
	case "pgets":
		n, _ := strconv.Atoi(os.Args[4])
		pgets(ctx, os.Args[2], os.Args[3], n)
	case "state":
		for i := range 2 { // the second connection may resume the first's session
			connState(ctx, i, os.Args[2], os.Args[3], strings.Split(os.Args[4], ","))
		}
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func fairness(ctx context.Context, addr string, busy bool) {
	c, err := wasinet.DialContext(ctx, "tcp", addr)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ticks, hashes int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(time.Millisecond)
			ticks++
		}
	})
	if busy {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				sha256.Sum256(buf)
				hashes++
				runtime.Gosched()
			}
		})
	}
	start := time.Now()
	_, err = io.ReadFull(c, make([]byte, 1))
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		fail(err)
	}
	st := wasinet.ReadStats()
	fmt.Printf("latency_us %d\nticks %d\nhashes %d\nstats polls=%d blocking=%d\n", elapsed.Microseconds(), ticks, hashes, st.Polls, st.BlockingPolls)
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		fail(err)
	}
	return port
}

// connState dials with protos, exchanges a line so that a session ticket
// has arrived, and prints the connection's state, each line prefixed "i".
func connState(ctx context.Context, i int, addr, name string, protos []string) {
	d := wasinet.Dialer{NextProtos: protos}
	c, err := d.DialTLSContext(ctx, "tcp", net.JoinHostPort(name, portOf(addr)))
	if err != nil {
		fail(err)
	}
	tc := c.(*wasinet.TLSConn)
	if _, err := io.WriteString(tc, "ping\n"); err != nil {
		fail(err)
	}
	if _, err := bufio.NewReader(tc).ReadString('\n'); err != nil {
		fail(err)
	}
	st := tc.ConnectionState()
	var chain []string
	for _, cert := range st.PeerCertificates {
		sum := sha256.Sum256(cert.Raw)
		chain = append(chain, fmt.Sprintf("%x", sum[:8]))
	}
	fmt.Printf("%d offered %s\n%d version %#04x\n%d cipher %#04x\n%d group %#04x\n%d alpn %s\n%d resumed %t\n%d complete %t\n%d server %s\n%d chain %s\n",
		i, strings.Join(tc.OfferedProtocols(), ","), i, st.Version, i, st.CipherSuite, i, uint16(st.CurveID), i, st.NegotiatedProtocol,
		i, st.DidResume, i, st.HandshakeComplete, i, st.ServerName, i, strings.Join(chain, ","))
	tc.Close()
}

// pgets makes n GETs to https://NAME:PORT/ at once, the Transport's first.
func pgets(ctx context.Context, addr, name string, n int) {
	tr := wasihttp.NewTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	lines := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { lines[i] = get(ctx, client, addr, name) })
	}
	wg.Wait()
	fmt.Println(strings.Join(lines, "\n"))
}

// gets makes n GETs to https://NAME:PORT/ through one wasihttp.Transport.
func gets(ctx context.Context, addr, name string, n int) {
	tr := wasihttp.NewTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range n {
		fmt.Println(get(ctx, client, addr, name))
	}
	p, _ := tr.Protocol(net.JoinHostPort(name, portOf(addr)))
	fmt.Printf("protocol %s\n", p)
}

// get GETs https://NAME:PORT/ and says "get PROTO BODY".
func get(ctx context.Context, client *http.Client, addr, name string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(name, portOf(addr))+"/", nil)
	if err != nil {
		fail(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail(err)
	}
	return fmt.Sprintf("get %s %s", resp.Proto, strings.TrimSpace(string(body)))
}
