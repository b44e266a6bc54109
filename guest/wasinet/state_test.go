package wasinet

import (
	"errors"
	"testing"
)

// TestALPNNeedsTLSExt: without package tlsext (not imported here), asking
// for ALPN is ErrNoExtension, never a handshake that silently offers
// nothing; not asking needs no extension.
func TestALPNNeedsTLSExt(t *testing.T) {
	if _, err := askALPN(0, []string{"h2"}); !errors.Is(err, ErrNoExtension) {
		t.Errorf("ALPN without tlsext: %v, want ErrNoExtension", err)
	}
	if st, err := askALPN(0, nil); err != nil || st.offered != nil {
		t.Errorf("no ALPN: %+v, %v", st, err)
	}
}
