package host

import (
	"fmt"

	"github.com/tetratelabs/wazero"
)

// DefaultMaxMemory is the bound on a guest's linear memory that the
// wasitls CLI sets unless told otherwise (-max-memory). wazero's own
// default is 4 GiB per memory.
const DefaultMaxMemory = 1 << 30

// pageSize is a wasm page.
const pageSize = 64 << 10

// MemoryLimit returns cfg with the linear memory of every module of the
// runtime bounded to limit bytes, rounded down to whole 64 KiB pages
// (wazero.RuntimeConfig.WithMemoryLimitPages). The runtime is the
// embedder's, so the bound is set there, for every guest of that runtime:
// a guest's memory.grow fails past it, and a host call that would need
// more guest memory traps. limit must be at least one page and at most
// 4 GiB.
//
//	cfg, err := host.MemoryLimit(wazero.NewRuntimeConfig(), 256<<20)
//	r := wazero.NewRuntimeWithConfig(ctx, cfg)
func MemoryLimit(cfg wazero.RuntimeConfig, limit uint64) (wazero.RuntimeConfig, error) {
	if limit < pageSize || limit > 1<<32 {
		return nil, fmt.Errorf("host: memory limit %d bytes: want 64 KiB to 4 GiB", limit)
	}
	return cfg.WithMemoryLimitPages(uint32(limit / pageSize)), nil
}
