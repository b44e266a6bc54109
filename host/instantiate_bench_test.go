package host

import (
	"crypto/rand"
	"testing"
)

// BenchmarkInstantiatePaths measures what a guest costs the host to make and
// close, with a generated guest that imports every host function at one
// version (so every host module): through Instantiate, whose guests share
// the compiled host modules, and through Prepare, whose guests get host
// modules compiled for them alone (as every guest did before).
//
//	go test ./host -run XXX -bench InstantiatePaths -benchmem
func BenchmarkInstantiatePaths(b *testing.B) {
	ctx, r := newRuntime(b)
	h := New(r)
	cm := mustCompile(b, r, "0.2.6")
	mc := NewModuleConfig().WithName("").WithRandSource(rand.Reader)
	b.Run("shared", func(b *testing.B) {
		for b.Loop() {
			g, err := h.Instantiate(ctx, cm, mc)
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("per-guest", func(b *testing.B) {
		for b.Loop() {
			g, gctx, inner, err := h.Prepare(ctx, cm, mc)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.InstantiateModule(gctx, cm, inner); err != nil {
				b.Fatal(err)
			}
			if err := g.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
