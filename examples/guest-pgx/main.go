//go:build wasip1

package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasitls/wasitls/guest/wasinet"
)

// sslRequestCode is PostgreSQL's SSLRequest code (1234 << 16 | 5679).
const sslRequestCode = 80877103

func main() {
	var (
		serverName = flag.String("servername", "", "TLS server name (default: the host in ADDR)")
		user       = flag.String("user", "wasitls_guest", "database role (the client certificate's CN)")
		db         = flag.String("db", "wasitls", "database")
		table      = flag.String("table", "guest_rows", "table to create (dropped first if it exists)")
		rows       = flag.Int("rows", 10000, "rows to insert and read back")
		hold       = flag.Bool("hold", false, "after the check, print \"holding\" and keep the connection open until stdin reaches EOF")
		timeout    = flag.Duration("timeout", 60*time.Second, "overall deadline")
	)
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: guest-pgx [flags] HOST:PORT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *rows < 1 {
		flag.Usage()
		os.Exit(2)
	}
	addr := flag.Arg(0)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fail(fmt.Errorf("address %q: %w", addr, err))
	}
	if *serverName == "" {
		*serverName = host
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, host, port, *serverName, *user, *db, *table, *rows, *hold); err != nil {
		fail(err)
	}
	fmt.Println("ok")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// dialTLS connects to addr through wasi-sockets, asks the server for TLS
// with PostgreSQL's SSLRequest in plaintext, and upgrades the same socket
// with wasi-tls. The host runs the handshake and presents the client
// certificate its policy assigns to serverName; the guest never sees it.
func dialTLS(ctx context.Context, addr, serverName string) (net.Conn, error) {
	raw, err := wasinet.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:], 8)
	binary.BigEndian.PutUint32(req[4:], sslRequestCode)
	if _, err := raw.Write(req[:]); err != nil {
		raw.Close()
		return nil, fmt.Errorf("SSLRequest: %w", err)
	}
	var answer [1]byte
	if _, err := io.ReadFull(raw, answer[:]); err != nil {
		raw.Close()
		return nil, fmt.Errorf("SSLRequest answer: %w", err)
	}
	if answer[0] != 'S' {
		raw.Close()
		return nil, fmt.Errorf("server declined TLS (answered %q to SSLRequest)", answer[0])
	}
	_ = raw.SetDeadline(time.Time{})
	tc, err := wasinet.ClientContext(ctx, raw, serverName)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", serverName, err)
	}
	return tc, nil
}

func run(ctx context.Context, host, port, serverName, user, db, table string, n int, hold bool) error {
	// sslmode=disable: pgx speaks plain protocol over the connection
	// DialFunc returns, which is already TLS (wasi-tls, in the host); pgx
	// never runs crypto/tls in the guest.
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, user, db))
	if err != nil {
		return err
	}
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
		return []string{host}, nil // wasinet.DialContext resolves through wasi:sockets/ip-name-lookup
	}
	cfg.DialFunc = func(ctx context.Context, network, address string) (net.Conn, error) {
		return dialTLS(ctx, address, serverName)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	var (
		me                string
		ssl               bool
		version, clientDN string
		cipher            string
	)
	if err := conn.QueryRow(ctx, `SELECT current_user, ssl, version, cipher, coalesce(client_dn, '')
		FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&me, &ssl, &version, &cipher, &clientDN); err != nil {
		return fmt.Errorf("pg_stat_ssl: %w", err)
	}
	fmt.Printf("user: %s\npg_stat_ssl: ssl=%t version=%s cipher=%s client_dn=%s\n", me, ssl, version, cipher, clientDN)

	t := pgx.Identifier{table}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+t.Sanitize()); err != nil {
		return fmt.Errorf("drop table: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+t.Sanitize()+" (id integer PRIMARY KEY, name text NOT NULL, val bigint NOT NULL)"); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	start := time.Now()
	copied, err := conn.CopyFrom(ctx, t, []string{"id", "name", "val"}, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		id, name, val := row(i + 1)
		return []any{id, name, val}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if copied != int64(n) {
		return fmt.Errorf("copy: inserted %d rows, want %d", copied, n)
	}
	fmt.Printf("inserted: %d rows in %v\n", copied, time.Since(start).Round(time.Millisecond))

	// Read every row back and check it, hashing them as we go.
	want := sha256.New()
	for i := 1; i <= n; i++ {
		id, name, val := row(i)
		fmt.Fprintf(want, "%d|%s|%d\n", id, name, val)
	}
	got := sha256.New()
	start = time.Now()
	rs, err := conn.Query(ctx, "SELECT id, name, val FROM "+t.Sanitize()+" ORDER BY id")
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	count, next := 0, int32(1)
	var sum int64
	for rs.Next() {
		var (
			id   int32
			name string
			val  int64
		)
		if err := rs.Scan(&id, &name, &val); err != nil {
			rs.Close()
			return fmt.Errorf("scan: %w", err)
		}
		wid, wname, wval := row(int(next))
		if id != wid || name != wname || val != wval {
			rs.Close()
			return fmt.Errorf("row %d: got (%d, %q, %d), want (%d, %q, %d)", next, id, name, val, wid, wname, wval)
		}
		fmt.Fprintf(got, "%d|%s|%d\n", id, name, val)
		count++
		sum += val
		next++
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	if count != n {
		return fmt.Errorf("read back %d rows, want %d", count, n)
	}
	gs, ws := hex.EncodeToString(got.Sum(nil)), hex.EncodeToString(want.Sum(nil))
	if gs != ws {
		return fmt.Errorf("checksum %s, want %s", gs, ws)
	}
	// The server's own aggregate must agree too.
	var srvCount, srvSum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(val) FROM "+t.Sanitize()).Scan(&srvCount, &srvSum); err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	if srvCount != int64(n) || srvSum != sum {
		return fmt.Errorf("server aggregate count=%d sum=%d, want count=%d sum=%d", srvCount, srvSum, n, sum)
	}
	fmt.Printf("checked: count=%d sum=%d sha256=%s in %v\n", count, sum, gs, time.Since(start).Round(time.Millisecond))

	if hold {
		fmt.Println("holding")
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		if err := conn.Ping(ctx); err != nil {
			return fmt.Errorf("ping after hold: %w", err)
		}
	}
	if err := conn.Close(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
