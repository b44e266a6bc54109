package host_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

// readmeMarker precedes the embedding snippet in README.md.
const readmeMarker = "<!-- runGuest in host/example_embed_test.go, compiled and run by TestEmbeddingSnippet -->"

// TestEmbeddingSnippet checks that README.md's embedding snippet is,
// character for character, runGuest of example_embed_test.go, and runs it:
// the demo guest fetches a page from a loopback HTTPS server with its own
// PKI; a refused destination is the guest's exit code 1; a policy the host
// rejects fails Instantiate, and the snippet's deferred Close of the nil
// guest does not panic.
func TestEmbeddingSnippet(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), readmeMarker+"\n\n```go\n")
	block, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no go block after %q", readmeMarker)
	}
	if src := funcSource(t, "example_embed_test.go", "runGuest"); block != src {
		t.Errorf("README.md's snippet differs from runGuest in example_embed_test.go (copy it over):\n--- README\n%s--- example_embed_test.go\n%s", block, src)
	}

	p := pki.New(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hello from loopback over " + r.Proto + "\n"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	defer func() { _ = srv.Close(); <-done }()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	wasm := guestbuild.Build(t, "./internal/guests/demo")
	ctx := context.Background()

	var stdout, stderr bytes.Buffer
	err = runGuest(ctx, wasm, "127.0.0.1:"+port, p.Roots, &stdout, &stderr, "fetch", "https://localhost:"+port+"/")
	// The demo guest asks for h2 (wasihttp), and Go's server speaks it.
	if err != nil || stdout.String() != "hello from loopback over HTTP/2.0\n" {
		t.Errorf("fetch: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	err = runGuest(ctx, wasm, "127.0.0.1:1", p.Roots, &stdout, &stderr, "fetch", "https://localhost:"+port+"/")
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "access-denied") {
		t.Errorf("refused destination: %v, stderr %q; want exit code 1 and access-denied on stderr", err, stderr.String())
	}

	err = runGuest(ctx, wasm, "exa mple.com", p.Roots, &stdout, &stderr, "fetch", "https://localhost:"+port+"/")
	if err == nil || errors.As(err, &exit) {
		t.Errorf("bad policy: %v, want Instantiate's error", err)
	}
}

// funcSource returns the source of the function name in file, from its doc
// comment to its closing brace, with a final newline.
func funcSource(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
			start := fd.Pos()
			if fd.Doc != nil {
				start = fd.Doc.Pos()
			}
			return string(src[fset.Position(start).Offset:fset.Position(fd.End()).Offset]) + "\n"
		}
	}
	t.Fatalf("%s has no func %s", file, name)
	return ""
}

// TestCloseNilGuest: Close on the nil *Guest a failed Instantiate returns
// is a no-op, so `defer g.Close(ctx)` may come before the error check.
func TestCloseNilGuest(t *testing.T) {
	var g *host.Guest
	if err := g.Close(context.Background()); err != nil {
		t.Errorf("Close on nil: %v", err)
	}
}
