package conformance

import (
	"bytes"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// opensslServer is an `openssl s_server` on a loopback port, killed when the
// test ends.
type opensslServer struct {
	addr string
}

// Addr is the address to dial.
func (s *opensslServer) Addr() string { return s.addr }

// readyWriter collects s_server's output and signals when it prints ACCEPT,
// which it does once it listens.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *readyWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if bytes.Contains(w.buf.Bytes(), []byte("ACCEPT\n")) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(b), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// freePort returns a loopback port that was free a moment ago. s_server
// binds it itself, so StartOpenSSL retries if another process took it.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startOpenSSL is StartOpenSSL for the suite's cases: a missing openssl
// fails the case under RequirePeers(true).
func (e *env) startOpenSSL(t *testing.T, args ...string) *opensslServer {
	t.Helper()
	return &opensslServer{addr: "127.0.0.1:" + startOpenSSL(t, e.opts.requirePeers, args...)}
}

// StartOpenSSL runs `openssl s_server -accept 127.0.0.1:PORT args...`, waits
// until it listens and returns PORT; the server is killed when t ends.
// Without openssl on PATH it skips t: a caller whose CI must have it checks
// for it first.
//
//	port := conformance.StartOpenSSL(t, "-cert", certFile, "-key", keyFile, "-www")
func StartOpenSSL(t *testing.T, args ...string) (port string) {
	t.Helper()
	return startOpenSSL(t, false, args...)
}

func startOpenSSL(t *testing.T, required bool, args ...string) (port string) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	switch {
	case err != nil && required:
		t.Fatalf("openssl is not on PATH, and the suite was run with RequirePeers(true)")
	case err != nil:
		t.Skip("openssl is not on PATH: the cases against OpenSSL s_server are skipped")
	}
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		addr := "127.0.0.1:" + port
		out := &readyWriter{ready: make(chan struct{})}
		cmd := exec.Command(bin, append([]string{"s_server", "-accept", addr}, args...)...)
		cmd.Stdout = out
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start openssl s_server: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-out.ready:
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("openssl s_server output:\n%s", out)
				}
			})
			t.Logf("openssl s_server %s on %s", strings.Join(args, " "), addr)
			return port
		case err := <-exited:
			if attempt < 5 && strings.Contains(out.String(), "in use") {
				continue // lost the port race: pick another
			}
			t.Fatalf("openssl s_server exited before listening (%v):\n%s", err, out)
		case <-ctx(t).Done():
			cmd.Process.Kill()
			<-exited
			t.Fatalf("openssl s_server did not start listening:\n%s", out)
		}
	}
}
