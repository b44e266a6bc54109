package loopback

import (
	"io"
	"net"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A handler blocked on a client that never writes is released by Close.
func TestCloseReleasesBlockedHandlers(t *testing.T) {
	entered := make(chan struct{})
	srv := Serve(t, func(c net.Conn) {
		close(entered)
		io.Copy(io.Discard, c) // blocks until Close closes c
	})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-entered
	srv.Close()
	if _, err := net.Dial("tcp", srv.Addr()); err == nil {
		t.Fatal("still accepting after Close")
	}
}

func TestEcho(t *testing.T) {
	srv := Serve(t, func(c net.Conn) { io.Copy(c, c) })
	c, err := net.Dial("tcp", "127.0.0.1:"+srv.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
	if srv.AddrPort().Port() == 0 {
		t.Fatal("no port")
	}
}
