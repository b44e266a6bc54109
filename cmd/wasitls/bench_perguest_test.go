package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestBenchPerRequestAndStartup runs a miniature bench of the per-request
// and start-up sections with -json and -html, and checks that every figure
// was measured, that the figures are consistent, and that the page is
// self-contained HTML whose charts carry the report's numbers.
func TestBenchPerRequestAndStartup(t *testing.T) {
	wasm := benchGuestFile(t)
	page := filepath.Join(t.TempDir(), "bench.html")
	rep, _ := benchJSON(t, "-html", page, "-guest", wasm, "-only", "perrequest,startup", "-reps", "2",
		"-requests", "6", "-at-once", "3", "-backends", "stdtls")
	if len(rep.Backends) != 1 {
		t.Fatalf("backends %+v", rep.Backends)
	}
	q := rep.Backends[0].PerRequest
	if q.Requests != 6 || q.AtOnce != 3 || len(q.GuestRuns) != 2 || len(q.NativeRuns) != 2 {
		t.Errorf("per-request report does not reflect the flags: %+v", q)
	}
	for name, v := range map[string]float64{
		"guest req/s": q.Guest, "native req/s": q.Native, "ratio": q.Ratio,
		"guest p50": q.GuestP50ms, "guest p99": q.GuestP99ms, "native p50": q.NativeP50ms, "native p99": q.NativeP99ms,
		"heap per live guest": q.BytesPerLiveGuest, "linear memory per guest": q.LinearMemoryPerGuest,
		"heap per live native": q.BytesPerLiveNative,
	} {
		if v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if q.GuestP99ms < q.GuestP50ms || q.NativeP99ms < q.NativeP50ms {
		t.Errorf("p99 below p50: %+v", q)
	}
	// A live guest holds its linear memory (a Go guest's is megabytes) on
	// the host's heap: the heap per guest cannot be less.
	if q.BytesPerLiveGuest < q.LinearMemoryPerGuest || q.LinearMemoryPerGuest < 1<<20 {
		t.Errorf("heap per live guest %.0f, linear memory %.0f: want the heap to hold the (MiB-sized) linear memory", q.BytesPerLiveGuest, q.LinearMemoryPerGuest)
	}
	s := rep.Startup
	if s == nil || len(s.Steps) != len(startupSteps) || s.WasmBytes != fileSize(t, wasm) || !s.Cached {
		t.Fatalf("start-up report %+v", s)
	}
	var sum float64
	for i, st := range s.Steps {
		if st.Name != startupSteps[i] || st.Ms <= 0 || len(st.Runs) != 2 {
			t.Errorf("start-up step %d: %+v", i, st)
		}
		sum += st.Ms
	}
	if math.Abs(sum-s.TotalMs) > 1e-6*sum {
		t.Errorf("total %v, steps sum to %v", s.TotalMs, sum)
	}
	if s.HostConnectMs <= 0 || s.HostHandshakeMs <= 0 || s.HostConnectMs+s.HostHandshakeMs > s.Steps[5].Ms {
		t.Errorf("host connect %v ms and handshake %v ms, want positive parts of connect + handshake (%v ms)", s.HostConnectMs, s.HostHandshakeMs, s.Steps[5].Ms)
	}
	for _, st := range s.Steps {
		if (st.Name == "connect + handshake" || st.Name == "request") != (st.NativeMs > 0) {
			t.Errorf("step %q: native %v; want a native figure for the network steps only", st.Name, st.NativeMs)
		}
	}

	// The fetch guest's start-up: every step measured, the run split
	// where its connection started and its handshake ended.
	f := rep.StartupFetch
	if f == nil || f.Skipped != "" || len(f.Steps) != len(fetchStartupSteps) || f.WasmBytes < 5<<20 || !strings.Contains(f.Guest, "internal/guests/demo") {
		t.Fatalf("fetch guest start-up report %+v", f)
	}
	sum = 0
	for i, st := range f.Steps {
		if st.Name != fetchStartupSteps[i] || st.Ms <= 0 || len(st.Runs) != 2 {
			t.Errorf("fetch guest start-up step %d: %+v", i, st)
		}
		sum += st.Ms
	}
	if math.Abs(sum-f.TotalMs) > 1e-6*sum || f.HostConnectMs <= 0 || f.HostHandshakeMs <= 0 || f.HostConnectMs+f.HostHandshakeMs > f.Steps[5].Ms*1.01 {
		t.Errorf("fetch guest: total %v, steps sum to %v; host connect %v and handshake %v of %v", f.TotalMs, sum, f.HostConnectMs, f.HostHandshakeMs, f.Steps[5].Ms)
	}

	checkBenchPage(t, page, map[string][2]float64{
		"stdtls per request, 3 at once": {q.Guest, q.Native},
		"stdtls per request p99":        {q.GuestP99ms, q.NativeP99ms},
		"stdtls per live request":       {q.BytesPerLiveGuest, q.BytesPerLiveNative},
	}, len(startupSteps)+len(fetchStartupSteps)) // both guests' start-up
}

func fileSize(t *testing.T, name string) int {
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

// checkBenchPage parses the -html page and checks it: one chart row per
// want entry (and no other), with the report's guest and native figures,
// the start-up steps, and nothing loaded from elsewhere.
func checkBenchPage(t *testing.T, file string, want map[string][2]float64, steps int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("-html page does not parse: %v", err)
	}
	rows := map[string][2]float64{}
	var nsteps, svgs int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if at.Key == "src" || at.Key == "href" || strings.Contains(at.Val, "url(") {
					t.Errorf("<%s %s=%q>: the page must not load anything", n.Data, at.Key, at.Val)
				}
			}
			switch {
			case n.Data == "svg":
				svgs++
			case n.Data == "link" || n.Data == "img" || n.Data == "iframe":
				t.Errorf("<%s>: the page must not load anything", n.Data)
			case n.Data == "script" && a["type"] != "application/json":
				t.Errorf("<script type=%q>: no code in the page", a["type"])
			case a["data-row"] != "":
				g, gerr := strconv.ParseFloat(a["data-guest"], 64)
				nv, nerr := strconv.ParseFloat(a["data-native"], 64)
				if gerr != nil || nerr != nil {
					t.Errorf("row %q: data-guest %q, data-native %q", a["data-row"], a["data-guest"], a["data-native"])
				}
				rows[a["data-row"]] = [2]float64{g, nv}
			case a["data-step"] != "":
				nsteps++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if strings.Contains(string(data), "@import") || strings.Contains(string(data), "://") {
		t.Errorf("the page refers to something outside it")
	}
	for name, w := range want {
		got, ok := rows[name]
		if !ok {
			t.Errorf("no chart row %q; rows: %v", name, rows)
			continue
		}
		for i := range 2 {
			if math.Abs(got[i]-w[i]) > 1e-9*math.Abs(w[i]) {
				t.Errorf("row %q: %v, want the report's %v", name, got, w)
			}
		}
	}
	if len(rows) != len(want) {
		t.Errorf("chart rows %v, want exactly %d", rows, len(want))
	}
	if nsteps != steps || svgs == 0 {
		t.Errorf("%d start-up segments (want %d), %d charts", nsteps, steps, svgs)
	}
}
