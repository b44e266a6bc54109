package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
)

// printBenchfmt writes the report in the Go benchmark format
// (golang.org/x/perf/benchfmt), one line per repetition, so that benchstat
// can summarise it and compare runs. The guest and native sides of each
// measurement are the same benchmark with the key impl=guest or
// impl=native:
//
//	wasitls bench -benchfmt > new.txt
//	benchstat -col /impl new.txt        # guest next to native
//	benchstat old.txt new.txt           # before and after a change
func printBenchfmt(w io.Writer, r *benchReport, o benchOptions) {
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: %s/cmd/wasitls\n", r.OS, r.Arch, modulePath)
	fmt.Fprintf(w, "go: %s\ncipher: %s\n", r.GoVersion, orNA(r.Cipher))
	procs := fmt.Sprintf("-%d", runtime.GOMAXPROCS(0))
	line := func(name string, n int64, pairs ...any) {
		fmt.Fprintf(w, "Benchmark%s%s %d", name, procs, n)
		for i := 0; i+1 < len(pairs); i += 2 {
			fmt.Fprintf(w, " %s %s", benchValue(pairs[i].(float64)), pairs[i+1])
		}
		fmt.Fprintln(w)
	}
	throughputLines(line, "Download", r.SizeBytes, r.Download, "guest")
	throughputLines(line, "Upload", r.SizeBytes, r.Upload, "guest")
	for _, b := range r.Backends {
		rateLines(line, "Handshake/backend="+b.Name+"/mode=sequential", int64(o.handshakes), "conns/s", "guest", b.Sequential.GuestRuns, b.Sequential.NativeRuns)
		rateLines(line, fmt.Sprintf("Handshake/backend=%s/mode=sequential-%dopen", b.Name, r.IdleConns), int64(o.handshakes), "conns/s", "guest", b.SequentialOpen.GuestRuns, b.SequentialOpen.NativeRuns)
		rateLines(line, fmt.Sprintf("Handshake/backend=%s/mode=concurrent-%dguests", b.Name, b.Concurrent.Guests), int64(b.Concurrent.Conns), "conns/s", "guest", b.Concurrent.GuestRuns, b.Concurrent.NativeRuns)
	}
	benchfmtPerGuest(r, line)
	benchfmtComponent(r, line, o.handshakes)
	benchfmtServe(r, line)
	if r.BytesPerIdleConnHost > 0 || r.BytesPerIdleConnNative > 0 {
		line("IdleConn/impl=guest", int64(r.IdleConns), r.BytesPerIdleConnHost, "heap-B/conn", r.RSSPerIdleConnHost, "rss-B/conn")
		line("IdleConn/impl=native", int64(r.IdleConns), r.BytesPerIdleConnNative, "heap-B/conn", r.RSSPerIdleConnNative, "rss-B/conn")
	}
}

// throughputLines writes tp's repetitions as NAME/size=NMiB/impl=..., the
// guest's side as guestImpl.
func throughputLines(line func(string, int64, ...any), name string, size int64, tp throughput, guestImpl string) {
	for _, sd := range sides(tp.GuestRuns, tp.NativeRuns) {
		for _, mbps := range sd.runs {
			line(fmt.Sprintf("%s/size=%dMiB/impl=%s", name, size>>20, sd.name(guestImpl)), 1, float64(size)/mbps*1e3, "ns/op", mbps, "MB/s")
		}
	}
}

// rateLines writes the repetitions of a rate per second as NAME/impl=...,
// n operations each, in unit ("conns/s", "req/s"), the guest's side as
// guestImpl.
func rateLines(line func(string, int64, ...any), name string, n int64, unit, guestImpl string, guest, native []float64) {
	for _, sd := range sides(guest, native) {
		for _, perS := range sd.runs {
			line(name+"/impl="+sd.name(guestImpl), n, 1e9/perS, "ns/op", perS, unit)
		}
	}
}

type side struct {
	impl string
	runs []float64 // measured values, all positive
}

// name is the side's impl key, the guest's called guestImpl.
func (sd side) name(guestImpl string) string {
	if sd.impl == "guest" {
		return guestImpl
	}
	return sd.impl
}

// sides pairs the guest's and native's runs, leaving out unmeasured ones.
func sides(guest, native []float64) []side {
	pos := func(v []float64) []float64 {
		return slices.DeleteFunc(slices.Clone(v), func(x float64) bool { return x <= 0 })
	}
	return []side{{"guest", pos(guest)}, {"native", pos(native)}}
}

// benchValue formats v without an exponent, as the testing package does.
func benchValue(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
