package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestTable(t *testing.T) {
	tb := newTable(1000)
	want := func(err error, sub string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Fatalf("error %v, want %q", err, sub)
		}
	}
	conn, _ := tb.push(rConnection, "conn", 0)
	in, _ := tb.push(rInput, "in", conn)
	pl, _ := tb.push(rPollable, "pl", in)
	if conn == 0 || in == conn || pl == in {
		t.Fatalf("handles %d %d %d", conn, in, pl)
	}
	if v, err := tb.get(in, rInput); err != nil || v != "in" {
		t.Fatalf("get: %v %v", v, err)
	}
	_, err := tb.get(in, rOutput)
	want(err, "is a input-stream, not a output-stream")
	_, err = tb.get(0, rInput)
	want(err, "handle 0 is never valid")
	_, err = tb.get(99, rInput)
	want(err, "unknown handle 99")
	// Parents with children cannot go.
	_, err = tb.take(conn, rConnection, "dropped")
	want(err, "still has 1 child")
	_, err = tb.take(in, rInput, "dropped")
	want(err, "still has 1 child")
	if n, _ := tb.children(in); n != 1 {
		t.Fatalf("children %d", n)
	}
	// Children first, then the parent.
	if _, err := tb.take(pl, rPollable, "dropped"); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.take(in, rInput, "moved into a client-handshake"); err != nil {
		t.Fatal(err)
	}
	_, err = tb.get(in, rInput)
	want(err, "was already moved into a client-handshake")
	_, err = tb.take(pl, rPollable, "dropped")
	want(err, "was already dropped")
	if _, err := tb.take(conn, rConnection, "dropped"); err != nil {
		t.Fatal(err)
	}
	if tb.count() != 0 {
		t.Fatalf("count %d", tb.count())
	}
	// A child of a closed parent cannot be made.
	_, err = tb.push(rPollable, "x", conn)
	want(err, "already dropped")
}

func TestTableReuseAndLimit(t *testing.T) {
	tb := newTable(reuseAfter * 4)
	seen := map[uint32]bool{}
	// Freed slots are not reused right away, so stale handles keep
	// reporting their fate for a while.
	for i := 0; i < reuseAfter; i++ {
		h, err := tb.push(rPollable, i, 0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[h] {
			t.Fatalf("handle %d reused after only %d frees", h, i)
		}
		seen[h] = true
		if _, err := tb.take(h, rPollable, "dropped"); err != nil {
			t.Fatal(err)
		}
	}
	// Later the table stops growing.
	for i := 0; i < 4*reuseAfter; i++ {
		h, _ := tb.push(rPollable, i, 0)
		_, _ = tb.take(h, rPollable, "dropped")
	}
	if n := len(tb.slots); n > 2*reuseAfter+2 {
		t.Fatalf("table grew to %d slots with one handle open at a time", n)
	}
	// The limit on open handles.
	small := newTable(3)
	for i := 0; i < 3; i++ {
		if _, err := small.push(rPollable, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := small.push(rPollable, 3, 0); err == nil || !strings.Contains(err.Error(), "limit 3") {
		t.Fatalf("over the limit: %v", err)
	}
	if vs := small.drain(); len(vs) != 3 || small.count() != 0 {
		t.Fatalf("drain %v, count %d", vs, small.count())
	}
}

func TestErrorCodeMapping(t *testing.T) {
	op := func(e error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}
	}
	cases := []struct {
		err  error
		want errorCode
	}{
		{op(syscall.ECONNREFUSED), ecConnectionRefused},
		{op(syscall.ECONNRESET), ecConnectionReset},
		{op(syscall.ETIMEDOUT), ecTimeout},
		{op(syscall.EHOSTUNREACH), ecRemoteUnreachable},
		{op(syscall.ENETUNREACH), ecRemoteUnreachable},
		{op(syscall.EACCES), ecAccessDenied},
		{op(syscall.EADDRNOTAVAIL), ecAddressNotBindable},
		{op(syscall.EMFILE), ecNewSocketLimit},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, ecNameUnresolvable},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, ecTemporaryResolverFailure},
		{&net.DNSError{Err: "server misbehaving", Name: "x"}, ecPermanentResolverFailure},
		{fmt.Errorf("wrapped: %w", op(syscall.ECONNABORTED)), ecConnectionAborted},
		{errors.New("something else"), ecUnknown},
	}
	for _, c := range cases {
		if got := codeOf(c.err); got != c.want {
			t.Errorf("%v: code %d, want %d", c.err, got, c.want)
		}
	}
}
