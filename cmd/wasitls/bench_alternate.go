package main

import (
	"context"
	"time"
)

// measure is one figure of a section, as the guest and as native Go take
// it, and where each side's values go.
type measure struct {
	guest, native         func() (float64, error)
	guestRuns, nativeRuns *[]float64
	// warmGuest, warmNative (optional) get the untimed first run's value.
	warmGuest, warmNative *float64
}

// alternate takes every measure once on each side untimed, native first,
// then o.reps times on each side, the guest's side first in even
// repetitions, so that a drift of the machine falls on both alike. The
// untimed round is there because the first run in the process pays for
// what later runs reuse (heap, stacks, pages), and it was the guest's.
func (b *bench) alternate(ms ...measure) error {
	for _, m := range ms {
		for _, side := range []struct {
			take func() (float64, error)
			v    *float64
		}{{m.native, m.warmNative}, {m.guest, m.warmGuest}} {
			v, err := side.take()
			if err != nil {
				return err
			}
			if side.v != nil {
				*side.v = v
			}
		}
	}
	for i := range b.o.reps {
		for k := range 2 {
			guestSide := (k == 0) == (i%2 == 0)
			for _, m := range ms {
				take, runs := m.native, m.nativeRuns
				if guestSide {
					take, runs = m.guest, m.guestRuns
				}
				v, err := take()
				if err != nil {
					return err
				}
				*runs = append(*runs, v)
			}
		}
	}
	return nil
}

// transfers are the download and upload measures of o.size bytes, the
// guest's run by m with backend; native's download records its cipher
// suite in *cipher.
func (b *bench) transfers(ctx context.Context, m guestModule, backend string, dl, ul *throughput, cipher *string) []measure {
	mbps := func(d time.Duration) float64 { return float64(b.o.size) / 1e6 / d.Seconds() }
	guest := func(mode string) func() (float64, error) {
		return func() (float64, error) {
			_, d, err := b.okRunModule(ctx, m, backend, mode, b.o.size)
			return mbps(d), err
		}
	}
	return []measure{
		{guest: guest("download"), guestRuns: &dl.GuestRuns, nativeRuns: &dl.NativeRuns, warmGuest: &dl.WarmupGuest, warmNative: &dl.WarmupNative, native: func() (float64, error) {
			d, suite, err := b.nativeDownload()
			*cipher = suite
			return mbps(d), err
		}},
		{guest: guest("upload"), guestRuns: &ul.GuestRuns, nativeRuns: &ul.NativeRuns, warmGuest: &ul.WarmupGuest, warmNative: &ul.WarmupNative, native: func() (float64, error) {
			d, err := b.nativeUpload()
			return mbps(d), err
		}},
	}
}

// summarize sets the medians and their ratio from the runs.
func (t *throughput) summarize() {
	t.GuestMBps, t.NativeMBps = median(t.GuestRuns), median(t.NativeRuns)
	t.Ratio = ratio(t.GuestMBps, t.NativeMBps)
}

// summarize sets the medians and their ratio from the runs.
func (r *rate) summarize() {
	r.Guest, r.Native = median(r.GuestRuns), median(r.NativeRuns)
	r.Ratio = ratio(r.Guest, r.Native)
}
