package guestnet

import (
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/witcheck"
)

// TestExtensionOptional: the project's extension is optional for wasinet
// guests. examples/guest-http (net/http over wasinet's TLS, no ALPN)
// imports wasi:tls and nothing of wasitls:*, so it instantiates on any
// wasi-tls host; connguest, which imports package tlsext for ALPN and
// ConnectionState, imports wasitls:tls/connection.
func TestExtensionOptional(t *testing.T) {
	for _, c := range []struct {
		pkg      string
		wantExt  bool
		wantFunc string // an import it must have
	}{
		{guestHTTP, false, "wasi:tls/types@0.2.0-draft [constructor]client-handshake"},
		{connGuest, true, "wasitls:tls/connection@0.1.0 set-alpn-ids"},
	} {
		t.Run(c.pkg, func(t *testing.T) {
			imports, err := witcheck.FuncImports(guestbuild.Build(t, c.pkg))
			if err != nil {
				t.Fatal(err)
			}
			var ext []string
			found := false
			for _, im := range imports {
				if strings.HasPrefix(im.Module, "wasitls:") {
					ext = append(ext, im.Module+" "+im.Name)
				}
				found = found || im.Module+" "+im.Name == c.wantFunc
			}
			if !found {
				t.Errorf("no import %q", c.wantFunc)
			}
			if c.wantExt != (len(ext) > 0) {
				t.Errorf("imports of the extension: %q, want some: %t", ext, c.wantExt)
			}
		})
	}
}
