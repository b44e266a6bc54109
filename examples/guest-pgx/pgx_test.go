//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/postgres"
)

func TestMain(m *testing.M) { guestrun.Main(m, guestrun.Build(guestPkg)) }

const guestPkg = "./examples/guest-pgx"

// env is one PostgreSQL server and the guest's runtime, shared by the subtests.
type env struct {
	srv  *postgres.Server
	g    *guestrun.Env
	port string
}

// runOpts configure one guest run.
type runOpts struct {
	provider api.Provider
	identity *tls.Certificate // nil: no client identity in the policy
	options  map[string]string
	maxTLS   uint16 // policy MaxVersion (0: TLS 1.3)
	args     []string
	// name is the guest's module name ("" for an anonymous module).
	name string
	// whileHeld runs while the guest holds its connection open (-hold);
	// nil runs the guest without -hold.
	whileHeld func(t *testing.T)
}

func (e *env) run(t *testing.T, o runOpts) guestrun.Result {
	t.Helper()
	pol := &host.Policy{
		Allow:            []string{"127.0.0.1:" + e.port},
		NameLookup:       true,
		RootCAs:          e.srv.PKI.Roots,
		Options:          o.options,
		MaxVersion:       o.maxTLS,
		HandshakeTimeout: 20 * time.Second,
		Limits:           host.Limits{Connections: 4},
	}
	if o.identity != nil {
		// Bound to the destination the guest connects to (it dials the
		// address, with the server name localhost).
		pol.Identities = []host.Identity{{Dest: "127.0.0.1:" + e.port, Certificate: o.identity}}
	}
	stdout := newWatch("holding\n")
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	args := []string{"-servername", "localhost", "-user", e.srv.Role, "-db", postgres.Database}
	args = append(args, o.args...)
	if o.whileHeld != nil {
		args = append(args, "-hold")
	}
	args = append(args, "127.0.0.1:"+e.port)
	type done struct {
		res guestrun.Result
		err error
	}
	ch := make(chan done, 1)
	go func() {
		// Exec, not Run: this goroutine may outlive a test that whileHeld failed.
		res, err := e.g.Exec(guestPkg, args, guestrun.Argv0("guest-pgx"), guestrun.Name(o.name),
			guestrun.Stdin(stdinR), guestrun.Stdout(stdout),
			guestrun.Provider(o.provider), guestrun.Policy(pol))
		if err == nil {
			err = res.Err
		}
		ch <- done{res, err}
	}()
	var d done
	if o.whileHeld != nil {
		select {
		case <-stdout.seen:
			o.whileHeld(t)
			stdinW.Close()
			d = <-ch
		case d = <-ch:
		}
	} else {
		d = <-ch
	}
	res := d.res
	if d.err != nil {
		t.Fatalf("guest did not run to an exit: %v\nstdout:\n%s\nstderr:\n%s", d.err, res.Stdout, res.Stderr)
	}
	t.Logf("guest exit %d in %v\nstdout:\n%sstderr:\n%s", res.Exit, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
	return res
}

// TestGuestPgx runs the pgx guest against a real PostgreSQL 15 with
// client-certificate authentication, through each backend.
func TestGuestPgx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := postgres.Start(t)
	g := guestrun.NewT(t)
	start := time.Now()
	g.Compile(t, guestPkg)
	t.Logf("guest built and compiled in %v", time.Since(start).Round(time.Millisecond))
	e := &env{srv: srv, g: g, port: strconv.Itoa(srv.Port)}
	dn, err := postgres.OnelineDN(srv.Client.Cert)
	if err != nil {
		t.Fatal(err)
	}

	utlsProvider, err := utls.New()
	if err != nil {
		t.Fatal(err)
	}
	pqProvider, err := pq.New()
	if err != nil {
		t.Fatal(err)
	}

	// accepted runs the whole guest and checks what the server saw.
	accepted := func(t *testing.T, p api.Provider, options map[string]string, maxTLS uint16) {
		ver, pgVer := uint16(tls.VersionTLS13), "TLSv1.3"
		if maxTLS == tls.VersionTLS12 {
			ver, pgVer = tls.VersionTLS12, "TLSv1.2"
		}
		table := fmt.Sprintf("rows_%s_%x", p.Name(), ver)
		name := "guest-pgx-" + table
		var held string
		res := e.run(t, runOpts{
			provider: p,
			identity: &srv.Client.TLS,
			options:  options,
			maxTLS:   maxTLS,
			name:     name,
			args:     []string{"-table", table},
			whileHeld: func(t *testing.T) {
				// The server's view of the guest's session, from outside it.
				held = srv.Query(t, "SELECT a.usename, s.ssl, s.version, s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = '"+srv.Role+"' AND a.datname = '"+postgres.Database+"'")
				// The guest authenticated with the key; it must not hold it.
				checkNoKey(t, e.g.Runtime, name, srv.Client, table)
			},
		})
		if res.Exit != 0 || !strings.HasSuffix(res.Stdout, "ok\n") {
			t.Fatalf("guest failed (exit %d): %s\nserver log:\n%s", res.Exit, res.Stderr, srv.Log())
		}
		if want := srv.Role + "|t|" + pgVer + "|" + dn; held != want {
			t.Errorf("pg_stat_ssl seen by the server while the guest held its connection = %q, want %q", held, want)
		}
		if want := "client_dn=" + dn + "\n"; !strings.Contains(res.Stdout, "version="+pgVer) || !strings.Contains(res.Stdout, want) {
			t.Errorf("guest's pg_stat_ssl line lacks %s or %q", pgVer, want)
		}
		// The rows are really in the server, checked independently.
		got, err := srv.QueryDB(postgres.Database, "SELECT count(*), sum(val), count(DISTINCT name) FROM "+postgres.QuoteIdent(table))
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for i := 1; i <= 10000; i++ {
			_, _, v := row(i)
			sum += v
		}
		if want := fmt.Sprintf("10000|%d|10000", sum); got != want {
			t.Errorf("server has %q in %s, want %q", got, table, want)
		}
		var hs *host.ConnEvent
		for i := range res.Events {
			if res.Events[i].Phase == host.PhaseHandshake {
				hs = &res.Events[i]
			}
		}
		if hs == nil || hs.Err != nil || hs.Backend != p.Name() || hs.ServerName != "localhost" || hs.State.Version != ver {
			t.Fatalf("handshake event = %+v, want a successful %s %s handshake for localhost", hs, tls.VersionName(ver), p.Name())
		}
		t.Logf("host's view: %s, %s, group %v, HRR %t, handshake %v", tls.VersionName(hs.State.Version), tls.CipherSuiteName(hs.State.CipherSuite), hs.State.Group, hs.State.HelloRetryRequest, hs.Duration.Round(time.Millisecond))
		if isHybrid(hs.State.Group) {
			t.Errorf("negotiated %v with PostgreSQL 15 (OpenSSL 3.0 has no ML-KEM)", hs.State.Group)
		}
	}

	t.Run("stdtls", func(t *testing.T) { accepted(t, stdtls.Provider{}, nil, 0) })
	t.Run("stdtls/tls1.2", func(t *testing.T) { accepted(t, stdtls.Provider{}, nil, tls.VersionTLS12) })
	t.Run("utls", func(t *testing.T) { accepted(t, utlsProvider, nil, 0) })
	t.Run("pq/prefer", func(t *testing.T) { accepted(t, pqProvider, map[string]string{pq.OptionMode: "prefer"}, 0) })

	t.Run("pq/require", func(t *testing.T) {
		res := e.run(t, runOpts{provider: pqProvider, identity: &srv.Client.TLS})
		wantFailure(t, res, "post-quantum key exchange required")
	})

	t.Run("no identity", func(t *testing.T) {
		res := e.run(t, runOpts{provider: stdtls.Provider{}})
		wantFailure(t, res, "connection requires a valid client certificate")
	})

	t.Run("untrusted identity", func(t *testing.T) {
		foreign := pki.New(t).Client(srv.Role)
		// TLS 1.3: the guest's handshake is over before the server checks
		// the certificate; the guest's first read gets the unknown_ca alert
		// (or a reset, when its write arrived after the server hung up).
		res := e.run(t, runOpts{provider: stdtls.Provider{}, identity: &foreign.TLS})
		wantFailure(t, res, "")
		if !postgres.IsRejection(res.Stderr) {
			t.Errorf("stderr %q shows neither the unknown_ca alert nor a reset", res.Stderr)
		}
		// TLS 1.2: the server refuses inside the handshake, so the guest
		// gets a handshake error naming the alert.
		res = e.run(t, runOpts{provider: stdtls.Provider{}, identity: &foreign.TLS, maxTLS: tls.VersionTLS12})
		wantFailure(t, res, "failed: tls: peer alert unknown_ca (48)")
		if _, err := srv.WaitLog(ctx, "certificate verify failed"); err != nil {
			t.Error(err)
		}
	})
}

func isHybrid(g tls.CurveID) bool {
	return g == tls.X25519MLKEM768 || g == tls.SecP256r1MLKEM768 || g == tls.SecP384r1MLKEM1024
}

// checkNoKey scans the whole linear memory of the running guest for the
// client key (the private scalar, its PKCS #8 DER and PEM). A string the
// guest certainly holds (its table name) must be found, so the scan is
// known to see the guest's real memory.
func checkNoKey(t *testing.T, r wazero.Runtime, name string, c *pki.Cert, table string) {
	t.Helper()
	mod := r.Module(name)
	if mod == nil {
		t.Fatalf("no running module %q", name)
	}
	mem, ok := mod.Memory().Read(0, mod.Memory().Size())
	if !ok {
		t.Fatal("cannot read the guest's memory")
	}
	if !bytes.Contains(mem, []byte(table)) {
		t.Fatalf("guest memory (%d bytes) does not even hold %q", len(mem), table)
	}
	k, ok := c.Key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("client key is %T, want ECDSA", c.Key)
	}
	scalar, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	der, _ := pem.Decode(c.KeyPEM)
	for what, secret := range map[string][]byte{"private scalar": scalar, "PKCS #8 DER": der.Bytes, "PEM": c.KeyPEM} {
		if bytes.Contains(mem, secret) {
			t.Errorf("the guest's memory holds the client key (%s)", what)
		}
	}
}

func wantFailure(t *testing.T, res guestrun.Result, want string) {
	t.Helper()
	if res.Exit != 1 || !strings.HasPrefix(res.Stderr, "error: ") || !strings.Contains(res.Stderr, want) {
		t.Fatalf("guest exit %d, stderr %q; want exit 1 and \"error: ...%s...\"", res.Exit, res.Stderr, want)
	}
	if strings.Contains(res.Stdout, "inserted:") {
		t.Fatalf("guest got as far as inserting rows:\n%s", res.Stdout)
	}
}

// watch is a stdout buffer that signals once it contains a marker line.
type watch struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	closed bool
}

func newWatch(marker string) *watch { return &watch{marker: marker, seen: make(chan struct{})} }

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && strings.Contains(w.buf.String(), w.marker) {
		close(w.seen)
		w.closed = true
	}
	return len(p), nil
}

func (w *watch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
