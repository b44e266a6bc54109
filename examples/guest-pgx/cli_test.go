//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/testkit/postgres"
)

// TestCLI runs the README's command: the wasitls CLI runs the same guest
// with the client certificate given by flags, against a real PostgreSQL.
func TestCLI(t *testing.T) {
	t.Parallel()
	srv := postgres.Start(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	cli := filepath.Join(dir, "wasitls")
	build := exec.CommandContext(ctx, "go", "build", "-o", cli, "./cmd/wasitls")
	build.Dir = peers.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wasitls: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "guest-pgx.wasm"), guestbuild.Build(t, guestPkg), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.PKI.WriteRoot(t, dir, "root.pem")
	srv.Client.WriteFiles(t, dir, "client") // client.pem, client-key.pem
	t.Logf("CLI and guest built in %v", time.Since(start).Round(time.Millisecond))

	port := strconv.Itoa(srv.Port)
	run := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Dir = dir
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		start := time.Now()
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatal(err)
		}
		t.Logf("wasitls %s\nexit %d in %v\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), o.String(), e.String())
		return o.String(), e.String(), code
	}
	ident := []string{"-client-cert", "client.pem", "-client-key", "client-key.pem", "-client-for", "127.0.0.1:" + port}
	guest := []string{"guest-pgx.wasm", "-servername", "localhost", "127.0.0.1:" + port}
	args := func(parts ...[]string) []string {
		out := []string{"run", "-allow", "127.0.0.1:" + port, "-ca", "root.pem"}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	t.Run("client certificate", func(t *testing.T) {
		stdout, stderr, code := run(t, args(ident, guest)...)
		if code != 0 || !strings.HasSuffix(stdout, "ok\n") || !strings.Contains(stdout, "client_dn=/O=wasitls tests/CN="+srv.Role) {
			t.Fatalf("exit %d, want 0 with ok and the client's DN\n%s", code, stderr)
		}
	})
	t.Run("pq prefer", func(t *testing.T) {
		stdout, stderr, code := run(t, args([]string{"-backend", "pq", "-pq-mode", "prefer"}, ident, guest)...)
		if code != 0 || !strings.HasSuffix(stdout, "ok\n") {
			t.Fatalf("exit %d, want 0 with ok\n%s", code, stderr)
		}
	})
	t.Run("pq require", func(t *testing.T) {
		_, stderr, code := run(t, args([]string{"-backend", "pq"}, ident, guest)...)
		if code != 1 || !strings.Contains(stderr, "post-quantum key exchange required") {
			t.Fatalf("exit %d, want 1 with the PQ-required error", code)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		_, stderr, code := run(t, args(guest)...)
		if code != 1 || !strings.Contains(stderr, "connection requires a valid client certificate") {
			t.Fatalf("exit %d, want 1 with PostgreSQL's refusal", code)
		}
	})
	t.Run("client certificate for another destination", func(t *testing.T) {
		// The identity is chosen by destination: bound to another one, or to
		// the server name the guest sends (it never looked localhost up),
		// it is not presented.
		for _, dest := range []string{"db.example.test:" + port, "127.0.0.2:" + port, "localhost:" + port} {
			other := []string{"-client-cert", "client.pem", "-client-key", "client-key.pem", "-client-for", dest}
			_, stderr, code := run(t, args(other, guest)...)
			if code != 1 || !strings.Contains(stderr, "connection requires a valid client certificate") {
				t.Fatalf("-client-for %s: exit %d, want 1 with PostgreSQL's refusal", dest, code)
			}
		}
	})
}
