package main

// The TLS server every guest and native client of the bench talks to: this
// executable again, in a child process, so that its CPU and memory count
// against neither side.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// benchServerEnv makes this executable the bench server (set by the parent).
const benchServerEnv = "WASITLS_BENCH_SERVER"

func init() {
	// The bench's child process: serve, then exit; never reaches main (or,
	// in the test binary, the tests).
	if os.Getenv(benchServerEnv) == "1" {
		if err := benchServerMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "wasitls bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// startServer runs this executable as the server, handing it the
// certificate and key on stdin; it answers with its port.
func (b *bench) startServer(cert tls.Certificate) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench server: %w", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = b.log
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench server: %w", err)
	}
	b.srv, b.srvIn = cmd, in
	var msg bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&msg, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	_ = pem.Encode(&msg, &pem.Block{Type: "PRIVATE KEY", Bytes: key})
	msg.WriteString(".\n")
	if _, err := in.Write(msg.Bytes()); err != nil {
		b.close()
		return fmt.Errorf("bench server: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "port "))
	if err != nil || perr != nil {
		b.close()
		return fmt.Errorf("bench server did not start (%q, %v)", line, err)
	}
	b.port = port
	return nil
}

// benchServerMain is the server process: TLS 1.3 only, no session tickets
// (every handshake is a full one), one goroutine per connection.
func benchServerMain(stdin io.Reader, stdout io.Writer) error {
	r := bufio.NewReader(stdin)
	var pemData bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the certificate: %w", err)
		}
		if line == ".\n" {
			break
		}
		pemData.WriteString(line)
	}
	cert, err := tls.X509KeyPair(pemData.Bytes(), pemData.Bytes())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true}
	go func() {
		_, _ = io.Copy(io.Discard, r) // the parent closes stdin (or dies): stop
		os.Exit(0)
	}()
	fmt.Fprintf(stdout, "port %d\n", ln.Addr().(*net.TCPAddr).Port)
	payload := make([]byte, 256<<10)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serveBench(tls.Server(c, cfg), payload)
	}
}

func serveBench(c *tls.Conn, payload []byte) {
	defer c.Close()
	var h [9]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return // a handshake-only client
	}
	n := int64(binary.BigEndian.Uint64(h[1:]))
	switch h[0] {
	case 'D':
		for n > 0 {
			k, err := c.Write(payload[:min(n, int64(len(payload)))])
			if err != nil {
				return
			}
			n -= int64(k)
		}
		return
	case 'U':
		got, _ := io.CopyBuffer(io.Discard, io.LimitReader(c, n), make([]byte, 256<<10))
		var ack [8]byte
		binary.BigEndian.PutUint64(ack[:], uint64(got))
		if _, err := c.Write(ack[:]); err != nil {
			return
		}
	case 'I':
		if _, err := c.Write([]byte("idle-greeting-16")); err != nil {
			return
		}
	case 'G': // GET /bytes/N: the per-request section's HTTPS request
		serveHTTP(c, h[:], payload)
		return
	}
	_, _ = io.Copy(io.Discard, c)
}
