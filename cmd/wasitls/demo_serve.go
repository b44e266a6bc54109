package main

// `wasitls demo -serve`: the other direction. The example HTTPS server
// (internal/guests/serve) runs as a guest on loopback with a host-held
// certificate and mTLS, and a native Go client fetches from it over HTTP/2;
// the page is what the guest saw of the connection.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// demoClientName is the subject of the demo's client certificate, which
// the guest reports back.
const demoClientName = "wasitls demo client"

// demoServe serves HTTPS from the serve guest and fetches a page from it.
// It returns the page's first line and the client's view of the connection.
func (d *demo) serve(ctx context.Context, progress io.Writer) (page string, state tls.ConnectionState, err error) {
	var wasm []byte
	if _, err := announce(progress, "building internal/guests/serve with GOOS=wasip1 go build", func() error {
		var err error
		wasm, err = buildGuest(ctx, "serve")
		return err
	}); err != nil {
		return "", state, err
	}
	gm, _, err := compileAny(ctx, d.h, d.rt, wasm, "serveguest.wasm", d.cache, progress)
	if err != nil {
		return "", state, fmt.Errorf("compiling the serve guest: %w", err)
	}
	cert, roots, err := demoCertificate()
	if err != nil {
		return "", state, err
	}
	client, clientCAs, err := demoClientCertificate()
	if err != nil {
		return "", state, err
	}
	p, err := api.Lookup("stdtls")
	if err != nil {
		return "", state, err
	}
	pol := &host.Policy{
		Listen: []string{"127.0.0.1:*"},
		Serve: &host.ServePolicy{
			Certificates: []host.ServerCertificate{{Certificate: &cert}},
			ClientCAs:    clientCAs,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	addr, stop, err := startServeGuest(ctx, d.h, gm, p, pol)
	if err != nil {
		return "", state, err
	}
	defer stop()
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client}}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://localhost:" + portOf(addr) + "/")
	if err != nil {
		return "", state, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", state, err
	}
	if resp.TLS != nil {
		state = *resp.TLS
	}
	line, _, _ := strings.Cut(string(body), "\n")
	return line, state, nil
}

// demoClientCertificate makes a CA and a client certificate it signs.
func demoClientCertificate() (tls.Certificate, *x509.CertPool, error) {
	return demoIssue("wasitls demo client CA", &x509.Certificate{
		Subject:     pkix.Name{CommonName: demoClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// printDemoServe prints the serve step.
func printDemoServe(w io.Writer, page string, s tls.ConnectionState) {
	fmt.Fprintln(w, "\nserving: the example HTTPS server as a guest on loopback (certificate and key held by the host,")
	fmt.Fprintln(w, "mTLS with a client CA), fetched by Go's client with a client certificate over HTTP/2. The guest saw:")
	fmt.Fprintf(w, "  %s\n", page)
	fmt.Fprintf(w, "and the client: %s, %s, ALPN %s\n", tls.VersionName(s.Version), tls.CipherSuiteName(s.CipherSuite), orNA(s.NegotiatedProtocol))
}
