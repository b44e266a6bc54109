package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
)

// `wasitls bench -html FILE` writes the report as one self-contained page:
// inline CSS and SVG, no script, no external asset, so it opens from disk
// in any browser and can be attached to an issue. Every row of the text
// report that has a guest and a native figure is a pair of bars; the
// start-up steps of each guest measured (the bench guest, the fetch guest)
// are a stacked bar. The JSON report is embedded too
// (a <script type="application/json">, which browsers do not run).

// chartRow is one guest-vs-native comparison.
type chartRow struct {
	Name          string
	Unit          string
	Guest, Native float64
	LowerIsBetter bool
}

// Rel is how the guest does relative to native, >1 better: guest/native
// for rates, native/guest for times and bytes.
func (c chartRow) Rel() float64 {
	if c.LowerIsBetter {
		return ratio(c.Native, c.Guest)
	}
	return ratio(c.Guest, c.Native)
}

type chartGroup struct {
	Title string
	Rows  []chartRow
}

// benchCharts turns the report into the page's groups, leaving out rows
// that were not measured (-only).
func benchCharts(r *benchReport) []chartGroup {
	var gs []chartGroup
	add := func(g *chartGroup, c chartRow) {
		if c.Guest > 0 && c.Native > 0 {
			g.Rows = append(g.Rows, c)
		}
	}
	tp := chartGroup{Title: fmt.Sprintf("Throughput, %d MiB", r.SizeBytes>>20)}
	add(&tp, chartRow{Name: "download", Unit: "MB/s", Guest: r.Download.GuestMBps, Native: r.Download.NativeMBps})
	add(&tp, chartRow{Name: "upload", Unit: "MB/s", Guest: r.Upload.GuestMBps, Native: r.Upload.NativeMBps})
	hs := chartGroup{Title: "Handshakes"}
	lat := chartGroup{Title: "Handshake latency, concurrent"}
	pr := chartGroup{Title: "A guest per request"}
	mem := chartGroup{Title: "Memory (a guest's with its linear memory)"}
	for _, b := range r.Backends {
		add(&hs, chartRow{Name: b.Name + " sequential", Unit: "conns/s", Guest: b.Sequential.Guest, Native: b.Sequential.Native})
		add(&hs, chartRow{Name: fmt.Sprintf("%s sequential, %d open", b.Name, r.IdleConns), Unit: "conns/s", Guest: b.SequentialOpen.Guest, Native: b.SequentialOpen.Native})
		c := b.Concurrent
		add(&hs, chartRow{Name: fmt.Sprintf("%s %d concurrent / %d guests", b.Name, c.Conns, c.Guests), Unit: "conns/s", Guest: c.Guest, Native: c.Native})
		add(&lat, chartRow{Name: b.Name + " p50", Unit: "ms", Guest: c.GuestP50ms, Native: c.NativeP50ms, LowerIsBetter: true})
		add(&lat, chartRow{Name: b.Name + " p99", Unit: "ms", Guest: c.GuestP99ms, Native: c.NativeP99ms, LowerIsBetter: true})
		q := b.PerRequest
		add(&pr, chartRow{Name: fmt.Sprintf("%s per request, %d at once", b.Name, q.AtOnce), Unit: "req/s", Guest: q.Guest, Native: q.Native})
		add(&pr, chartRow{Name: b.Name + " per request p99", Unit: "ms", Guest: q.GuestP99ms, Native: q.NativeP99ms, LowerIsBetter: true})
		add(&mem, chartRow{Name: b.Name + " per live request", Unit: "bytes", Guest: q.BytesPerLiveGuest, Native: q.BytesPerLiveNative, LowerIsBetter: true})
	}
	add(&mem, chartRow{Name: fmt.Sprintf("per idle connection (%d)", r.IdleConns), Unit: "bytes", Guest: r.BytesPerIdleConnHost, Native: r.BytesPerIdleConnNative, LowerIsBetter: true})
	sv := serveCharts(r)
	for _, g := range []chartGroup{tp, componentChart(r), hs, lat, pr, mem, sv} {
		if len(g.Rows) > 0 {
			gs = append(gs, g)
		}
	}
	return gs
}

// The chart's geometry, in SVG user units.
const (
	chartLabelW = 330
	chartBarW   = 420
	chartRowH   = 46
)

// startupChart is one guest's start-up: a stacked bar of its steps.
type startupChart struct {
	*startupReport
	Title    string
	MB       float64
	Segments []startupSegment
}

// startupCharts are the measured start-ups: the bench guest's and the
// fetch guest's.
func startupCharts(r *benchReport, width float64) []startupChart {
	colors := []string{"#8e6bbf", "#c06bb0", "#d4a03b", "#3b6fd4", "#5fa8d3", "#1a7f37", "#7fb069", "#9aa3ad"}
	var out []startupChart
	for _, s := range []*startupReport{r.Startup, r.StartupFetch} {
		if s == nil || s.TotalMs <= 0 {
			continue
		}
		c := startupChart{startupReport: s, Title: cmp.Or(s.Guest, "bench guest"), MB: float64(s.WasmBytes) / 1e6}
		x := 0.0
		for i, st := range s.Steps {
			w := width * st.Ms / s.TotalMs
			c.Segments = append(c.Segments, startupSegment{Name: st.Name, Ms: st.Ms, X: x, W: w, Color: colors[i%len(colors)], NativeMs: st.NativeMs})
			x += w
		}
		out = append(out, c)
	}
	return out
}

// startupSegment is one step of the stacked start-up bar.
type startupSegment struct {
	Name     string
	Ms       float64
	X, W     float64
	Color    string
	NativeMs float64
}

var benchPage = template.Must(template.New("page").Funcs(template.FuncMap{
	"bar": func(v, a, b float64) float64 { return chartBarW * v / max(a, b) },
	"y":   func(i int) int { return i * chartRowH },
	"h":   func(n int) int { return n*chartRowH + 8 },
	"f": func(v float64) string {
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0f", v)
		case v >= 10:
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.2f", v)
	},
	"good": func(rel float64) bool { return rel >= 0.95 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wasitls bench</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.8em; }
.key span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 .3em 0 1em; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
.guest { fill: #3b6fd4; } .native { fill: #9aa3ad; }
.good { fill: #1a7f37; } .bad { fill: #c0392b; }
table { border-collapse: collapse; } td, th { padding: .2em .8em; text-align: right; } td:first-child, th:first-child { text-align: left; }
</style>
</head>
<body>
<h1>wasitls bench</h1>
<p>{{.R.GoVersion}} {{.R.OS}}/{{.R.Arch}}, {{.R.CPUs}} CPUs{{with .R.Cipher}}, {{.}}{{end}}; medians of {{.R.Reps}} alternating runs.
The number right of each pair is the guest relative to native (rates: guest/native; times and bytes: native/guest), green from 0.95.</p>
<p class="key"><span class="guest"></span>guest (wasm through wasitls) <span class="native"></span>native Go</p>
{{range .Groups}}
<h2>{{.Title}}</h2>
<svg width="{{$.W}}" height="{{h (len .Rows)}}" viewBox="0 0 {{$.W}} {{h (len .Rows)}}" role="img" aria-label="{{.Title}}">
{{range $i, $r := .Rows}}<g class="row" data-row="{{$r.Name}}" data-unit="{{$r.Unit}}" data-guest="{{$r.Guest}}" data-native="{{$r.Native}}" transform="translate(0 {{y $i}})">
<text x="0" y="20">{{$r.Name}}</text>
<rect class="guest" x="{{$.LabelW}}" y="6" height="16" width="{{bar $r.Guest $r.Guest $r.Native}}"><title>guest {{f $r.Guest}} {{$r.Unit}}</title></rect>
<text x="{{$.ValueX}}" y="19">{{f $r.Guest}} {{$r.Unit}}</text>
<rect class="native" x="{{$.LabelW}}" y="24" height="16" width="{{bar $r.Native $r.Guest $r.Native}}"><title>native {{f $r.Native}} {{$r.Unit}}</title></rect>
<text x="{{$.ValueX}}" y="37">{{f $r.Native}} {{$r.Unit}}</text>
<text x="{{$.RelX}}" y="29" class="{{if good $r.Rel}}good{{else}}bad{{end}}">{{printf "%.2f" $r.Rel}}</text>
</g>
{{end}}</svg>
{{end}}
{{range .Startups}}
<h2>Start-up, {{printf "%.1f" .MB}} MB {{.Title}} ({{if .Cached}}warm cache{{else}}no cache{{end}}, {{.Backend}}): {{printf "%.2f" .TotalMs}} ms</h2>
<svg width="{{$.W}}" height="40" viewBox="0 0 {{$.W}} 40" role="img" aria-label="start-up steps of the {{.Title}}">
{{range .Segments}}<rect x="{{.X}}" y="4" height="24" width="{{.W}}" fill="{{.Color}}" data-step="{{.Name}}" data-ms="{{.Ms}}"><title>{{.Name}}: {{printf "%.2f" .Ms}} ms</title></rect>
{{end}}</svg>
<table>
<tr><th>step</th><th></th><th>guest ms</th><th>native ms</th></tr>
{{range .Segments}}<tr><td>{{.Name}}</td><td><svg width="12" height="12"><rect width="12" height="12" fill="{{.Color}}"/></svg></td><td>{{printf "%.2f" .Ms}}</td><td>{{if .NativeMs}}{{printf "%.2f" .NativeMs}}{{else}}-{{end}}</td></tr>
{{end}}</table>
{{end}}
<script type="application/json" id="report">{{.JSON}}</script>
</body>
</html>
`))

// writeBenchHTML writes the page for r to file.
func writeBenchHTML(file string, r *benchReport) error {
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	data := struct {
		R                 *benchReport
		Groups            []chartGroup
		Startups          []startupChart
		W, LabelW, ValueX int
		RelX              int
		JSON              template.JS
	}{R: r, Groups: benchCharts(r), W: chartLabelW + chartBarW + 190,
		LabelW: chartLabelW, ValueX: chartLabelW + chartBarW + 8, RelX: chartLabelW + chartBarW + 130, JSON: template.JS(js)}
	data.Startups = startupCharts(r, float64(data.W))
	var buf bytes.Buffer
	if err := benchPage.Execute(&buf, data); err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	return nil
}
