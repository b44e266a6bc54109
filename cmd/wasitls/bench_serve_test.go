package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchServe runs the serve section small: every figure of both sides
// is measured, each run is kept, and the text table, -benchfmt and -html
// show the rows.
func TestBenchServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bench")
	}
	// Not a module: the serve section runs its own guest, and -only serve
	// neither builds nor compiles the bench guest.
	wasm := filepath.Join(t.TempDir(), "benchguest.wasm")
	if err := os.WriteFile(wasm, []byte("not a module"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "bench.html")
	var out, errb bytes.Buffer
	code := run([]string{"bench", "-json", "-html", page, "-guest", wasm, "-only", "serve", "-reps", "2",
		"-handshakes", "4", "-size", "4MiB", "-conns", "30", "-guests", "2", "-backends", "stdtls"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	s := rep.Serve
	if s == nil {
		t.Fatalf("no serve report: %s", out.String())
	}
	if s.Concurrent != 30 || s.IdleConns != 30 || s.Clients != serveClients || s.Backend != "stdtls" {
		t.Errorf("the report does not reflect the flags: %+v", s)
	}
	for name, runs := range map[string][]float64{
		"new connection guest": s.NewConnection.GuestRuns, "new connection native": s.NewConnection.NativeRuns,
		"keep-alive guest": s.KeepAlive.GuestRuns, "keep-alive native": s.KeepAlive.NativeRuns,
		"bulk guest": s.Bulk.GuestRuns, "bulk native": s.Bulk.NativeRuns,
		"p99 guest": s.GuestP99s, "p99 native": s.NativeP99s,
	} {
		if len(runs) != 2 {
			t.Errorf("%s: %d runs, want 2 (one per -reps)", name, len(runs))
		}
		for _, v := range runs {
			if v <= 0 {
				t.Errorf("%s: a run measured %v", name, v)
			}
		}
	}
	for name, v := range map[string]float64{
		"new connection ratio": s.NewConnection.Ratio, "keep-alive ratio": s.KeepAlive.Ratio, "bulk ratio": s.Bulk.Ratio,
		"guest p50": s.GuestP50ms, "native p50": s.NativeP50ms,
		"guest idle bytes": s.BytesPerIdleConn, "native idle bytes": s.BytesPerIdleConnNat,
	} {
		if v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if s.GuestP99ms < s.GuestP50ms || s.NativeP99ms < s.NativeP50ms {
		t.Errorf("p99 below p50: %+v", s)
	}
	var text bytes.Buffer
	printServe(&text, &rep)
	for _, row := range []string{"serve new connection, req/s", "serve keep-alive, req/s (8 clients)", "serve bulk, MB/s", "serve p99 ms, 30 clients at once", "serve bytes per idle client conn (30)"} {
		if !strings.Contains(text.String(), row) {
			t.Errorf("text report lacks %q:\n%s", row, text.String())
		}
	}
	var bf bytes.Buffer
	printBenchfmt(&bf, &rep, benchOptions{handshakes: 4})
	for _, name := range []string{"Serve/mode=new-connection/impl=guest", "Serve/mode=keepalive-8clients/impl=native", "Serve/mode=bulk-1MiB/impl=guest",
		"Serve/mode=concurrent-30/impl=native", "Serve/mode=idle/impl=guest"} {
		if n := strings.Count(bf.String(), "Benchmark"+name+"-"); n == 0 {
			t.Errorf("-benchfmt lacks %s:\n%s", name, bf.String())
		}
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "A guest that serves HTTPS") || !strings.Contains(string(html), "keep-alive, 8 clients") {
		t.Errorf("-html lacks the serve charts")
	}
}
