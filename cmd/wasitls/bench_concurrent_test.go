package main

import "testing"

// TestBenchConcurrentWarmsUpBothSides: -only concurrent runs one untimed
// round of each side before the measured ones, and reports it apart. The
// first round of a process pays for what later rounds reuse; it used to be
// the guest's first measured round (a fifth slower than its second), so
// the concurrent row compared a cold guest with a warm native client.
func TestBenchConcurrentWarmsUpBothSides(t *testing.T) {
	rep, _ := benchJSON(t, "-only", "concurrent", "-guest", benchGuestFile(t), "-reps", "1", "-conns", "20",
		"-guests", "2", "-backends", "stdtls")
	if len(rep.Backends) != 1 {
		t.Fatalf("backends %+v, want stdtls only", rep.Backends)
	}
	c := rep.Backends[0].Concurrent
	if c.WarmupGuestMs <= 0 || c.WarmupNativeMs <= 0 {
		t.Errorf("warm-up rounds: guest %v ms, native %v ms; want both run and timed", c.WarmupGuestMs, c.WarmupNativeMs)
	}
	// The warm-up is in no figure: one measured round each for -reps 1.
	if len(c.GuestRuns) != 1 || len(c.NativeRuns) != 1 || c.Guest <= 0 || c.Native <= 0 {
		t.Errorf("measured rounds: guest %v, native %v; want one each", c.GuestRuns, c.NativeRuns)
	}
}

// TestBenchSequentialWarmsUpBothSides: the sequential section likewise runs
// untimed handshakes on each side first, and its figures (rates and the
// host's connect and handshake times) count only the measured runs.
func TestBenchSequentialWarmsUpBothSides(t *testing.T) {
	rep, _ := benchJSON(t, "-only", "sequential", "-guest", benchGuestFile(t), "-reps", "1", "-handshakes", "5",
		"-backends", "stdtls")
	if len(rep.Backends) != 1 {
		t.Fatalf("backends %+v, want stdtls only", rep.Backends)
	}
	s := rep.Backends[0].Sequential
	if s.WarmupHandshakes != 5 {
		t.Errorf("warm-up: %d handshakes, want 5 (min of -handshakes and %d)", s.WarmupHandshakes, sequentialWarmup)
	}
	if len(s.GuestRuns) != 1 || len(s.NativeRuns) != 1 || s.GuestHandshakeUs <= 0 || s.NativeHandshakeUs <= 0 {
		t.Errorf("measured runs: guest %v, native %v (handshake µs %v, %v); want one each", s.GuestRuns, s.NativeRuns, s.GuestHandshakeUs, s.NativeHandshakeUs)
	}
}

// TestBenchThroughputWarmsUpBothSides: the download and upload likewise
// run once on each side untimed first, and report it apart.
func TestBenchThroughputWarmsUpBothSides(t *testing.T) {
	rep, _ := benchJSON(t, "-only", "throughput", "-guest", benchGuestFile(t), "-reps", "1", "-size", "1MiB")
	for name, tp := range map[string]throughput{"download": rep.Download, "upload": rep.Upload} {
		if tp.WarmupGuest <= 0 || tp.WarmupNative <= 0 {
			t.Errorf("%s warm-up: guest %v MB/s, native %v; want both run", name, tp.WarmupGuest, tp.WarmupNative)
		}
		if len(tp.GuestRuns) != 1 || len(tp.NativeRuns) != 1 {
			t.Errorf("%s measured runs: guest %v, native %v; want one each", name, tp.GuestRuns, tp.NativeRuns)
		}
	}
}
