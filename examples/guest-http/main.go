//go:build wasip1

// Command guest-http is an example guest: an ordinary net/http client whose
// transport dials through wasi-sockets and runs TLS through wasi-tls, using
// package wasinet. Build it with GOOS=wasip1 GOARCH=wasm and run it in a
// wasitls host whose policy allows the server.
//
//	guest-http get URL              GET, print status and body
//	guest-http suite BASE           GET, 10 MiB POST, keep-alive, two concurrent requests
//	                                (prints latencies in µs: "get ADDR US", "concurrent US US TOTAL")
//	guest-http download URL         read a body to the end, print bytes and time
//	guest-http deadline MODE ADDR MS  read from a silent server with a read deadline
//
// Output is "key value" lines; failures print "error: ..." and exit 1.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/wasinet"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: guest-http get|suite|download URL | deadline tcp|tls|interrupt ADDR MS")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "get":
		err = get(os.Args[2])
	case "suite":
		err = suite(strings.TrimSuffix(os.Args[2], "/"))
	case "download":
		err = download(os.Args[2])
	case "deadline":
		if len(os.Args) != 5 {
			err = errors.New("deadline needs MODE ADDR MS")
			break
		}
		err = readDeadline(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	s := wasinet.ReadStats()
	fmt.Printf("stats polls=%d blocking=%d wakeups=%d timeouts=%d parks=%d\n", s.Polls, s.BlockingPolls, s.Wakeups, s.Timeouts, s.Parks)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		describe(err)
		os.Exit(1)
	}
}

// client is an http.Client whose connections go through the host. The
// server must speak HTTP/1.1: the transport never sees an ALPN result.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         wasinet.DialContext,
		DialTLSContext:      wasinet.DialTLSContext,
		MaxIdleConnsPerHost: 4,
	}}
}

func get(url string) error {
	resp, err := client().Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Printf("status %d\nproto %s\nbody %q\n", resp.StatusCode, resp.Proto, body)
	return nil
}

func suite(base string) error {
	c := client()
	// Keep-alive: two GETs in a row reuse one connection; the server echoes
	// the client address it saw.
	var peers []string
	for i := range 2 {
		t0 := time.Now()
		b, err := fetch(c, base+"/hello")
		if err != nil {
			return fmt.Errorf("GET %d: %w", i, err)
		}
		fmt.Printf("get %s %d\n", b, time.Since(t0).Microseconds())
		peers = append(peers, b)
	}
	if peers[0] != peers[1] {
		return fmt.Errorf("keep-alive: the GETs came from %q and %q", peers[0], peers[1])
	}

	// A 10 MiB POST; the server answers with the SHA-256 of what it read.
	body := make([]byte, 10<<20)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(body)
	sum := sha256.Sum256(body)
	start := time.Now()
	resp, err := c.Post(base+"/upload", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("POST response: %w", err)
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(got)) != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("POST: status %d, server hash %q, want %x", resp.StatusCode, got, sum)
	}
	fmt.Printf("post %x %d %s\n", sum, len(body), time.Since(start).Round(time.Millisecond))

	// Two concurrent requests: the server holds each until both arrived, so
	// this finishes only if both are in flight at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	lat := make([]time.Duration, 2)
	start = time.Now()
	for i := range 2 {
		wg.Go(func() {
			t0 := time.Now()
			_, errs[i] = fetch(c, base+"/barrier")
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("concurrent: %w", err)
	}
	fmt.Printf("concurrent %d %d %d\n", lat[0].Microseconds(), lat[1].Microseconds(), time.Since(start).Microseconds())
	return nil
}

func fetch(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b)), nil
}

func download(url string) error {
	start := time.Now()
	resp, err := client().Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	fmt.Printf("download %d %d\n", n, time.Since(start).Nanoseconds())
	return nil
}

// readDeadline reads from a server that never sends: tcp sets a read
// deadline on a plain connection, tls on a TLS one; interrupt parks a read
// without deadline and has another goroutine set a deadline in the past
// after MS (as database drivers do to cancel).
func readDeadline(mode, addr, ms string) error {
	d, err := time.ParseDuration(ms + "ms")
	if err != nil {
		return err
	}
	ctx := context.Background()
	var c net.Conn
	if mode == "tls" {
		c, err = wasinet.DialTLSContext(ctx, "tcp", addr)
	} else {
		c, err = wasinet.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	if mode == "interrupt" {
		go func() {
			time.Sleep(d)
			c.SetReadDeadline(time.Unix(1, 0))
		}()
	} else {
		c.SetReadDeadline(start.Add(d))
	}
	n, err := c.Read(make([]byte, 1))
	elapsed := time.Since(start)
	var ne net.Error
	fmt.Printf("elapsed_us %d\nread %d\ntimeout %t\ndeadline_exceeded %t\nerr %v\n",
		elapsed.Microseconds(), n, errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded), err)
	return nil
}

// describe prints what errors.Is / errors.As find in err.
func describe(err error) {
	var he *wasinet.HandshakeError
	if errors.As(err, &he) {
		fmt.Printf("handshake_kind %s\nhandshake_debug %s\n", he.Kind, he.Debug)
	}
	for name, target := range map[string]error{
		"unknown_authority": wasinet.ErrUnknownAuthority,
		"name_mismatch":     wasinet.ErrNameMismatch,
		"peer_alert":        wasinet.ErrPeerAlert,
		"policy_denied":     wasinet.ErrPolicyDenied,
	} {
		if errors.Is(err, target) {
			fmt.Printf("is %s\n", name)
		}
	}
}
