package main

// The bench's report: the -json schema and the table printed for people.

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// benchReport is the -json output.
type benchReport struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	Quick     bool   `json:"quick"`
	Reps      int    `json:"reps"`
	SizeBytes int64  `json:"size_bytes"`
	Cipher    string `json:"cipher_suite"`

	Download throughput `json:"download"`
	Upload   throughput `json:"upload"`

	ThroughputRatioDownload float64 `json:"throughput_ratio_download"`
	ThroughputRatioUpload   float64 `json:"throughput_ratio_upload"`
	// HandshakeRatio is guest/native sequential handshakes per second with
	// the first backend (stdtls unless -backends says otherwise).
	HandshakeRatio float64 `json:"handshake_ratio"`

	IdleConns              int     `json:"idle_conns"`
	BytesPerIdleConnHost   float64 `json:"bytes_per_idle_conn_host"`
	BytesPerIdleConnNative float64 `json:"bytes_per_idle_conn_native"`
	RSSPerIdleConnHost     float64 `json:"rss_per_idle_conn_host"`
	RSSPerIdleConnNative   float64 `json:"rss_per_idle_conn_native"`
	IdleMemoryRatio        float64 `json:"idle_memory_ratio"`
	// GuestMemGrowth is how much the guest's linear memory grew while it
	// opened the idle connections (not counted as host memory).
	GuestMemGrowth uint64 `json:"guest_memory_growth_bytes"`

	Backends []backendReport `json:"backends"`

	// Startup is where a run's time goes, with the first backend.
	Startup *startupReport `json:"startup,omitempty"`
	// StartupFetch is the same for the 10 MB fetch guest (internal/guests/demo).
	StartupFetch *startupReport `json:"startup_fetch,omitempty"`

	// Component is the bench guest as a WASI 0.2 component next to native.
	Component *componentReport `json:"component,omitempty"`

	// Serve is a guest HTTPS server next to a native one (bench_serve.go).
	Serve *serveReport `json:"serve,omitempty"`
}

type throughput struct {
	GuestMBps  float64   `json:"guest_mbps"`
	NativeMBps float64   `json:"native_mbps"`
	Ratio      float64   `json:"ratio"`
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
	// The untimed run of each side before the measured ones.
	WarmupGuest  float64 `json:"warmup_guest_mbps,omitempty"`
	WarmupNative float64 `json:"warmup_native_mbps,omitempty"`
}

type rate struct {
	Guest  float64 `json:"guest_per_s"`
	Native float64 `json:"native_per_s"`
	Ratio  float64 `json:"ratio"`
	// Each repetition's rate, in the order run.
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
	// Where a sequential handshake's time goes, in µs per connection
	// (means over every run): the host's TCP connect and provider
	// handshake as its observer saw them, and native's two steps.
	GuestConnectUs    float64 `json:"guest_connect_us,omitempty"`
	GuestHandshakeUs  float64 `json:"guest_handshake_us,omitempty"`
	NativeConnectUs   float64 `json:"native_connect_us,omitempty"`
	NativeHandshakeUs float64 `json:"native_handshake_us,omitempty"`
	// WarmupHandshakes: the untimed run of each side before the measured
	// ones (sequential).
	WarmupHandshakes int `json:"warmup_handshakes,omitempty"`
}

// percentiles are one latency's p50 and p99 in ms, guest and native
// (embedded: the JSON keys stay at the level of what holds them).
type percentiles struct {
	GuestP50ms  float64 `json:"guest_p50_ms"`
	GuestP99ms  float64 `json:"guest_p99_ms"`
	NativeP50ms float64 `json:"native_p50_ms"`
	NativeP99ms float64 `json:"native_p99_ms"`
}

type concurrency struct {
	Conns  int     `json:"conns"`
	Guests int     `json:"guests"`
	Guest  float64 `json:"guest_per_s"`
	Native float64 `json:"native_per_s"`
	Ratio  float64 `json:"ratio"`
	percentiles
	GuestWallMs  float64 `json:"guest_wall_ms"`
	NativeWallMs float64 `json:"native_wall_ms"`
	// The untimed first round of each side (see bench.concurrent), in no
	// figure above.
	WarmupGuestMs  float64 `json:"warmup_guest_wall_ms"`
	WarmupNativeMs float64 `json:"warmup_native_wall_ms"`
	// Each round's rate (connections per second), in the order run.
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
}

type backendReport struct {
	Name string `json:"name"`
	// NativeClient is what the guest's handshakes are compared with (see
	// nativeClient).
	NativeClient   string      `json:"native_client"`
	Sequential     rate        `json:"sequential"`
	SequentialOpen rate        `json:"sequential_with_open_conns"`
	Concurrent     concurrency `json:"concurrent"`
	PerRequest     perRequest  `json:"per_request"`
}

func printBench(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "wasitls bench: %s %s/%s, %d CPUs, %s, medians of %d runs\n\n", r.GoVersion, r.OS, r.Arch, r.CPUs, orNA(r.Cipher), r.Reps)
	if r.Download.GuestMBps > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "THROUGHPUT (%d MiB)\tGUEST MB/s\tNATIVE MB/s\tGUEST/NATIVE\t\n", r.SizeBytes>>20)
		fmt.Fprintf(tw, "download\t%.0f\t%.0f\t%.2f\t\n", r.Download.GuestMBps, r.Download.NativeMBps, r.Download.Ratio)
		fmt.Fprintf(tw, "upload\t%.0f\t%.0f\t%.2f\t\n", r.Upload.GuestMBps, r.Upload.NativeMBps, r.Upload.Ratio)
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	var hasSeq, hasConc bool
	for _, b := range r.Backends {
		hasSeq = hasSeq || b.Sequential.Guest > 0 || b.SequentialOpen.Guest > 0
		hasConc = hasConc || b.Concurrent.Guest > 0
	}
	if !hasSeq && !hasConc {
		printMemory(w, r)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "HANDSHAKES/s\tGUEST\tNATIVE\tRATIO\t\n")
	for _, b := range r.Backends {
		row := func(what string, g, n, ratio float64) {
			if g > 0 && n > 0 { // sections left out by -only are not shown
				fmt.Fprintf(tw, "%s %s\t%.0f\t%.0f\t%.2f\t\n", b.Name, what, g, n, ratio)
			}
		}
		row("sequential", b.Sequential.Guest, b.Sequential.Native, b.Sequential.Ratio)
		row(fmt.Sprintf("sequential, %d open", r.IdleConns), b.SequentialOpen.Guest, b.SequentialOpen.Native, b.SequentialOpen.Ratio)
		row(fmt.Sprintf("%d concurrent / %d guests", b.Concurrent.Conns, b.Concurrent.Guests), b.Concurrent.Guest, b.Concurrent.Native, b.Concurrent.Ratio)
	}
	_ = tw.Flush()
	var natives []string
	for _, b := range r.Backends {
		natives = append(natives, b.Name+": "+b.NativeClient)
	}
	fmt.Fprintf(w, "  (native: %s)\n\n", strings.Join(natives, ", "))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if hasSeq {
		fmt.Fprintf(tw, "SEQUENTIAL, µs PER CONNECTION\tGUEST\tHOST CONNECT\tHOST HANDSHAKE\tNATIVE\tCONNECT\tHANDSHAKE\t\n")
		for _, b := range r.Backends {
			if q := b.Sequential; q.Guest > 0 && q.Native > 0 {
				fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", b.Name, 1e6/q.Guest, q.GuestConnectUs, q.GuestHandshakeUs, 1e6/q.Native, q.NativeConnectUs, q.NativeHandshakeUs)
			}
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	if hasConc {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "HANDSHAKE LATENCY (concurrent)\tGUEST p50 ms\tGUEST p99 ms\tNATIVE p50 ms\tNATIVE p99 ms\t\n")
		for _, b := range r.Backends {
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t\n", b.Name, b.Concurrent.GuestP50ms, b.Concurrent.GuestP99ms, b.Concurrent.NativeP50ms, b.Concurrent.NativeP99ms)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	printMemory(w, r)
}

func printMemory(w io.Writer, r *benchReport) {
	if r.BytesPerIdleConnHost == 0 && r.BytesPerIdleConnNative == 0 {
		return // -only without idle
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "MEMORY PER IDLE CONNECTION (%d)\tHOST\tNATIVE\tHOST/NATIVE\t\n", r.IdleConns)
	fmt.Fprintf(tw, "Go heap+stacks, bytes\t%.0f\t%.0f\t%.2f\t\n", r.BytesPerIdleConnHost, r.BytesPerIdleConnNative, r.IdleMemoryRatio)
	fmt.Fprintf(tw, "RSS, bytes\t%.0f\t%.0f\t%.2f\t\n", r.RSSPerIdleConnHost, r.RSSPerIdleConnNative, ratio(r.RSSPerIdleConnHost, r.RSSPerIdleConnNative))
	_ = tw.Flush()
}
