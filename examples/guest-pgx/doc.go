// Command guest-pgx is a WebAssembly guest (GOOS=wasip1) that talks to
// PostgreSQL over mutual TLS with github.com/jackc/pgx/v5, where TLS is
// wasi-tls: the host runs the handshake and presents the client certificate
// its policy assigns to the destination; the guest never sees the key.
//
//	GOOS=wasip1 GOARCH=wasm go build -o guest-pgx.wasm ./examples/guest-pgx
//	guest-pgx [-servername localhost] [-user wasitls_guest] [-db wasitls] [-rows 10000] 127.0.0.1:5432
//
// It connects through wasi-sockets, sends PostgreSQL's SSLRequest in
// plaintext, upgrades the same socket with wasi-tls once the server answers
// 'S', and hands the TLS connection to pgx with sslmode=disable (pgx runs no
// crypto/tls in the guest). Then it prints the server's pg_stat_ssl row for
// its session, creates a table, inserts the rows with COPY, reads them back
// and checks every row, a SHA-256 over them and the server's count and sum,
// and exits 0 after printing "ok". Failures print "error: ..." to stderr and
// exit 1.
//
// Built for any other GOOS it only says that it is a guest.
package main
