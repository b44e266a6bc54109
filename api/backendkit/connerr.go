package backendkit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"

	"github.com/wasitls/wasitls/api"
)

// EOFWatch wraps a backend's transport and records whether it reached end
// of stream. TLS libraries report a peer's close_notify and a connection cut
// without one alike, as io.EOF; only the transport knows which it was, and a
// guest must not take a truncated response for a complete one.
//
//	w := &backendkit.EOFWatch{Conn: transport}
//	tc := tls.Client(w, cfg)
//	...
//	n, err := tc.Read(b)
//	err = backendkit.ConnError(err, w.Ended(), "mybackend", classify)
type EOFWatch struct {
	net.Conn
	ended atomic.Bool
}

// Read reads from the transport, remembering an end of stream.
func (w *EOFWatch) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if errors.Is(err, io.EOF) {
		w.ended.Store(true)
	}
	return n, err
}

// Ended reports whether the transport has reached end of stream.
func (w *EOFWatch) Ended() bool { return w.ended.Load() }

// ConnError classifies an error from an established connection's Read,
// Write or CloseWrite, as Conn promises: io.EOF stays io.EOF when the peer
// sent close_notify, and becomes a api.KindTransport truncation error when the
// transport ended first; deadline errors stay as net.Conn callers expect
// them; anything else goes through classify.
func ConnError(err error, transportEnded bool, backend string, classify func(error) error) error {
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		if transportEnded {
			return &api.Error{Kind: api.KindTransport, Backend: backend,
				Err: fmt.Errorf("connection closed without close_notify (truncated): %w", io.ErrUnexpectedEOF)}
		}
		return io.EOF
	case errors.Is(err, os.ErrDeadlineExceeded):
		return err
	}
	return classify(err)
}
