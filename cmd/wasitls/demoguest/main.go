//go:build wasip1

// Command demoguest is the guest `wasitls demo` runs: an HTTPS GET through
// wasi-sockets and wasi-tls, written with the raw bindings under guest/.
// It is also a small curl for trying `wasitls run`:
//
//	GOOS=wasip1 GOARCH=wasm go build -o fetch.wasm ./cmd/wasitls/demoguest
//	wasitls run -allow 'example.com:443' fetch.wasm https://example.com/
//
// Usage: demoguest [-i] https://HOST[:PORT]/PATH
//
// It resolves HOST, connects to the first address the policy lets it reach,
// hands the TCP streams to wasi-tls with HOST as the server name, sends
// "GET PATH HTTP/1.1" with Connection: close, and prints the response body
// (with -i, the status line and headers too). It exits 0 for a 2xx status,
// 1 for any failure (printing "error: <reason>" to stderr: the io-error debug
// string, or "tcp: <error-code>" such as access-denied), and 2 for bad usage.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/ipnamelookup"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

func main() {
	args := os.Args[1:]
	headers := false
	if len(args) > 0 && args[0] == "-i" {
		headers, args = true, args[1:]
	}
	if len(args) != 1 {
		usage("want one URL")
	}
	u, err := url.Parse(args[0])
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		usage(fmt.Sprintf("%q is not an https:// URL", args[0]))
	}
	port := uint64(443)
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseUint(p, 10, 16); err != nil {
			usage("bad port " + p)
		}
	}
	path := u.RequestURI()

	n := network.InstanceNetwork()
	sock, in, out, err := dial(n, u.Hostname(), uint16(port))
	if err != nil {
		fail(err)
	}
	conn, tin, tout, err := handshake(u.Hostname(), in, out)
	if err != nil {
		fail(err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: wasitls-demoguest\r\nConnection: close\r\n\r\n"
	if err := tout.BlockingWriteAndFlush([]byte(req)); err != nil {
		fail(err)
	}
	resp, err := readAll(tin)
	if err != nil {
		fail(err)
	}

	// Close in the order the host expects: close_notify, wait until it is
	// out, shut the socket down, then drop children before parents.
	conn.CloseOutput()
	waitWritable(tout)
	_ = sock.Shutdown(tcp.ShutdownBoth) // the server may have closed first
	tin.Drop()
	tout.Drop()
	conn.Drop()
	sock.Drop()
	n.Drop()

	status, err := printResponse(resp, headers)
	if err != nil {
		fail(err)
	}
	if status < 200 || status > 299 {
		fmt.Fprintf(os.Stderr, "error: HTTP status %d\n", status)
		os.Exit(1)
	}
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage: demoguest [-i] https://HOST[:PORT]/PATH:", msg)
	os.Exit(2)
}

// fail prints the reason the way the test guests do and exits 1.
func fail(err error) {
	var code network.ErrorCode
	var se *streams.StreamError
	var he *tls.HandshakeError
	msg := err.Error()
	switch {
	case errors.As(err, &he):
		msg = he.Debug
	case errors.As(err, &se):
		msg = se.Debug
		if se.Closed {
			msg = "stream closed"
		}
	case errors.As(err, &code):
		msg = "tcp: " + code.String()
	}
	fmt.Fprintln(os.Stderr, "error: "+msg)
	os.Exit(1)
}

func resolve(n network.Network, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	rs, err := ipnamelookup.ResolveAddresses(n, name)
	if err != nil {
		return nil, err
	}
	defer rs.Drop()
	p := rs.Subscribe()
	defer p.Drop()
	var addrs []netip.Addr
	for {
		a, ok, err := rs.ResolveNextAddress()
		switch {
		case errors.Is(err, network.WouldBlock):
			p.Block()
		case err != nil:
			return addrs, err
		case !ok:
			return addrs, nil
		default:
			addrs = append(addrs, a)
		}
	}
}

// dial connects to the first address of host that accepts the connection.
func dial(n network.Network, host string, port uint16) (tcp.TCPSocket, streams.InputStream, streams.OutputStream, error) {
	addrs, err := resolve(n, strings.Trim(host, "[]"))
	if err != nil {
		return 0, 0, 0, err
	}
	if len(addrs) == 0 {
		return 0, 0, 0, network.NameUnresolvable
	}
	var last error
	for _, a := range addrs {
		sock, in, out, err := connect(n, a, port)
		if err == nil {
			return sock, in, out, nil
		}
		last = err
	}
	return 0, 0, 0, last
}

func connect(n network.Network, addr netip.Addr, port uint16) (tcp.TCPSocket, streams.InputStream, streams.OutputStream, error) {
	sock, err := tcp.CreateTCPSocket(network.FamilyOf(addr))
	if err != nil {
		return 0, 0, 0, err
	}
	if err := sock.StartConnect(n, network.IPSocketAddress{Addr: addr.Unmap(), Port: port}); err != nil {
		sock.Drop()
		return 0, 0, 0, err
	}
	p := sock.Subscribe() // a child of the socket: dropped before it
	for {
		in, out, err := sock.FinishConnect()
		if errors.Is(err, network.WouldBlock) {
			p.Block()
			continue
		}
		p.Drop()
		if err != nil {
			sock.Drop()
			return 0, 0, 0, err
		}
		return sock, in, out, nil
	}
}

func handshake(serverName string, in streams.InputStream, out streams.OutputStream) (tls.ClientConnection, streams.InputStream, streams.OutputStream, error) {
	fut := tls.Finish(tls.NewClientHandshake(serverName, in, out))
	defer fut.Drop()
	p := fut.Subscribe()
	defer p.Drop()
	for {
		conn, tin, tout, err := fut.Get()
		if errors.Is(err, tls.ErrPending) {
			p.Block()
			continue
		}
		return conn, tin, tout, err
	}
}

func readAll(in streams.InputStream) ([]byte, error) {
	var buf bytes.Buffer
	for {
		data, err := in.BlockingRead(64 << 10)
		if errors.Is(err, streams.ErrClosed) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		buf.Write(data)
		if buf.Len() > 16<<20 {
			return nil, errors.New("response larger than 16 MiB")
		}
	}
}

func waitWritable(out streams.OutputStream) {
	p := out.Subscribe()
	defer p.Drop()
	for {
		n, err := out.CheckWrite()
		if err != nil || n > 0 {
			return
		}
		p.Block()
	}
}

// printResponse writes the body (and with headers, the head) to stdout and
// returns the status code. It understands Content-Length, chunked bodies
// and bodies that end with the connection.
func printResponse(resp []byte, headers bool) (int, error) {
	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok {
		return 0, fmt.Errorf("malformed HTTP response (%d bytes)", len(resp))
	}
	lines := strings.Split(string(head), "\r\n")
	f := strings.Fields(lines[0])
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return 0, fmt.Errorf("malformed status line %q", lines[0])
	}
	status, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", lines[0])
	}
	chunked := false
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "content-length":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= len(body) {
				body = body[:n]
			}
		}
	}
	if chunked {
		if body, err = unchunk(body); err != nil {
			return 0, err
		}
	}
	if headers {
		fmt.Fprintf(os.Stdout, "%s\r\n\r\n", head)
	}
	_, err = os.Stdout.Write(body)
	return status, err
}

func unchunk(b []byte) ([]byte, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	var out []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, errors.New("truncated chunked body")
		}
		size, err := strconv.ParseUint(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 31)
		if err != nil {
			return nil, fmt.Errorf("bad chunk size %q", strings.TrimSpace(line))
		}
		if size == 0 {
			return out, nil
		}
		chunk := make([]byte, size+2) // data and CRLF
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, errors.New("truncated chunked body")
		}
		out = append(out, chunk[:size]...)
	}
}
