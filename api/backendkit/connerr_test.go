package backendkit

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"

	"github.com/wasitls/wasitls/api"
)

func TestConnError(t *testing.T) {
	classify := func(err error) error { return Classify(err, "b") }
	if err := ConnError(io.EOF, false, "b", classify); err != io.EOF {
		t.Errorf("close_notify then EOF: %v, want io.EOF", err)
	}
	if err := ConnError(io.EOF, true, "b", classify); !errors.Is(err, api.ErrTransport) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("transport ended without close_notify: %v, want a truncation transport error", err)
	}
	if err := ConnError(os.ErrDeadlineExceeded, false, "b", classify); err != os.ErrDeadlineExceeded {
		t.Errorf("deadline: %v, want it unchanged", err)
	}
	if err := ConnError(net.ErrClosed, false, "b", classify); !errors.Is(err, api.ErrTransport) {
		t.Errorf("closed: %v, want a transport error", err)
	}

	// EOFWatch remembers the end of stream it passed on.
	a, b := net.Pipe()
	w := &EOFWatch{Conn: a}
	b.Close()
	if _, err := w.Read(make([]byte, 1)); err != io.EOF || !w.Ended() {
		t.Errorf("read after peer close: %v, Ended %v", err, w.Ended())
	}
	a.Close()
}
