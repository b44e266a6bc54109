package guestnet

import (
	"crypto/tls"
	"flag"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
)

var downloadMiB = flag.Int("download-mib", 256, "MiB per download in BenchmarkDownload")

// BenchmarkDownload downloads the same body over HTTPS three ways and
// reports MB/s for each and the ratios to native:
//
//   - native: net/http + crypto/tls in the test process;
//   - wasinet: examples/guest-http (net/http in the guest over wasinet);
//   - raw: ./rawget (raw bindings, blocking-read of 256 KiB, no net/http).
//
// Both guests use the stdtls backend. Times are wall-clock around each
// download (guests: as measured inside the guest, handshake included).
//
//	go test ./internal/testkit/guestnet/ -run XXX -bench Download -benchtime 1x
func BenchmarkDownload(b *testing.B) {
	size := *downloadMiB << 20
	p := pki.New(b)
	srv := newServer(b, p.Server().TLS)
	path := "/download?n=" + strconv.Itoa(size)
	url := "https://localhost:" + srv.port + path
	env.Compile(b, guestHTTP)
	env.Compile(b, rawGet)
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	guestTime := func(r run) time.Duration {
		f := strings.Fields(r.one(b, "download"))
		n, _ := strconv.Atoi(f[0])
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		if r.Exit != 0 || n < size {
			b.Fatalf("guest download: exit %d, %d bytes:\n%s", r.Exit, n, r.Stdout)
		}
		return time.Duration(ns)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots}}}
	defer client.CloseIdleConnections()
	var native, wasinet, raw time.Duration
	b.SetBytes(int64(size))
	for b.Loop() {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, make([]byte, 256<<10))
		resp.Body.Close()
		if err != nil || n != int64(size) {
			b.Fatalf("native: %d bytes: %v", n, err)
		}
		native += time.Since(start)
		r := runGuest(b, guestHTTP, stdtls.Provider{}, p, "download", url)
		wasinet += guestTime(r)
		b.Logf("wasinet guest: %s", r.one(b, "stats"))
		raw += guestTime(runGuest(b, rawGet, stdtls.Provider{}, p, "localhost", srv.port, path, "localhost"))
	}
	b.ReportMetric(mbps(native/time.Duration(b.N)), "native-MB/s")
	b.ReportMetric(mbps(wasinet/time.Duration(b.N)), "wasinet-MB/s")
	b.ReportMetric(mbps(raw/time.Duration(b.N)), "raw-MB/s")
	b.ReportMetric(native.Seconds()/wasinet.Seconds(), "wasinet/native")
	b.ReportMetric(native.Seconds()/raw.Seconds(), "raw/native")
	b.ReportMetric(raw.Seconds()/wasinet.Seconds(), "wasinet/raw")
}
