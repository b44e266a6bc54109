//go:build !wasip1

package wasinet

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/wasitls/wasitls/guest/io/poll"
)

// TestUnsupportedPlatform checks that outside a wasip1 guest every way to
// get a connection says why it cannot, instead of reaching for a host that
// is not there, and that the raw bindings underneath panic with the same
// error.
func TestUnsupportedPlatform(t *testing.T) {
	ctx := context.Background()
	for name, dial := range map[string]func() (net.Conn, error){
		"DialContext":           func() (net.Conn, error) { return DialContext(ctx, "tcp", "example.com:443") },
		"DialTLSContext":        func() (net.Conn, error) { return DialTLSContext(ctx, "tcp", "example.com:443") },
		"DialTCP":               func() (net.Conn, error) { return DialTCP(ctx, "tcp", "127.0.0.1:443") },
		"Dialer.DialContext":    func() (net.Conn, error) { return (&Dialer{}).DialContext(ctx, "tcp", "example.com:443") },
		"Dialer.DialTLSContext": func() (net.Conn, error) { return (&Dialer{}).DialTLSContext(ctx, "tcp", "example.com:443") },
		"Client": func() (net.Conn, error) {
			a, b := net.Pipe()
			defer b.Close()
			return Client(a, "example.com")
		},
	} {
		if _, err := dial(); !errors.Is(err, ErrUnsupportedPlatform) {
			t.Errorf("%s: %v; want ErrUnsupportedPlatform", name, err)
		}
	}
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, ErrUnsupportedPlatform) {
			t.Errorf("poll.Pollable.Ready panicked with %v, want ErrUnsupportedPlatform", err)
		}
	}()
	poll.Pollable(1).Ready()
	t.Error("poll.Pollable.Ready returned")
}

// TestListenUnsupportedPlatform: Listen and ListenTLS say why they cannot
// outside a wasip1 guest.
func TestListenUnsupportedPlatform(t *testing.T) {
	for name, listen := range map[string]func(string, string) (net.Listener, error){"Listen": Listen, "ListenTLS": ListenTLS} {
		if _, err := listen("tcp", "127.0.0.1:8443"); !errors.Is(err, ErrUnsupportedPlatform) {
			t.Errorf("%s: %v; want ErrUnsupportedPlatform", name, err)
		}
	}
}
