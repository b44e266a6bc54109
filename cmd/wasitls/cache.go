package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"
)

// The compilation cache: wazero compiles a guest to native code before it
// runs (about 10 s of CPU for a 10 MB Go guest) and can keep the result on
// disk, where the next run of the same module finds it (about 40 MB per
// guest and wazero version). run, demo and bench use it; it is trimmed to
// cacheLimit, oldest entries first, each time one of them opens it.

// cacheLimit bounds the cache directory (wasitls cache clean -max trims it
// further).
var cacheLimit int64 = 1 << 30

// cacheOptions are the -cache-dir and -no-cache flags.
type cacheOptions struct {
	dir string
	off bool
}

func (c *cacheOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "cache-dir", "", "keep compiled guests in `DIR` (default: "+displayCacheDir()+")")
	fs.BoolVar(&c.off, "no-cache", false, "compile the guest without reading or writing the compilation cache")
}

// defaultCacheDir is <user cache dir>/wasitls/wazero (~/.cache/wasitls/wazero
// on Linux).
func defaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wasitls", "wazero"), nil
}

func displayCacheDir() string {
	if d, err := defaultCacheDir(); err == nil {
		return d
	}
	return "the user cache directory"
}

// path is the cache directory these options name ("" with -no-cache).
func (c *cacheOptions) path() (string, error) {
	switch {
	case c.off:
		return "", nil
	case c.dir != "":
		return c.dir, nil
	}
	return defaultCacheDir()
}

// runtimeConfig closes modules when their context ends and, unless
// -no-cache, caches compiled guests on disk (trimmed to cacheLimit) so a
// second run of the same module skips the native compilation. A cache that
// cannot be opened is reported on log and skipped: it only costs time.
func runtimeConfig(c cacheOptions, log io.Writer) wazero.RuntimeConfig {
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	dir, err := c.path()
	if err == nil && dir != "" {
		_, err = trimCache(dir, cacheLimit)
	}
	if err == nil && dir != "" {
		var cache wazero.CompilationCache
		if cache, err = wazero.NewCompilationCacheWithDir(dir); err == nil {
			cfg = cfg.WithCompilationCache(cache)
		}
	}
	if err != nil {
		fmt.Fprintf(log, "wasitls: compilation cache not used: %v\n", err)
	}
	return cfg
}

// cacheEntry is one file of the cache directory.
type cacheEntry struct {
	path string
	size int64
	mod  time.Time
}

func cacheEntries(dir string) ([]cacheEntry, error) {
	var es []cacheEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll // no cache yet
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		es = append(es, cacheEntry{p, info.Size(), info.ModTime()})
		return nil
	})
	return es, err
}

// trimCache deletes the oldest entries of dir until it holds at most max
// bytes, and returns how many bytes it freed.
func trimCache(dir string, max int64) (freed int64, err error) {
	es, err := cacheEntries(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range es {
		total += e.size
	}
	slices.SortFunc(es, func(a, b cacheEntry) int { return a.mod.Compare(b.mod) })
	for _, e := range es {
		if total <= max {
			break
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return freed, err
		}
		total, freed = total-e.size, freed+e.size
	}
	return freed, nil
}

const cacheUsage = `wasitls cache size|clean [flags]

  size    print the cache directory, its entries and their size
  clean   delete the compiled guests (all of them, or the oldest down to -max)

run, demo and bench keep each guest they compile in the cache (about 40 MB
per guest and wazero version) and trim it to 1 GiB, oldest first.
flags:`

func cacheCommand(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("cache: want size or clean (wasitls cache -h)")
	}
	sub := args[0]
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	var c cacheOptions
	fs.StringVar(&c.dir, "cache-dir", "", "the cache `DIR` (default: "+displayCacheDir()+")")
	max := ""
	if sub == "clean" {
		fs.StringVar(&max, "max", "", "delete only the oldest entries, down to `SIZE` (e.g. 200MiB)")
	}
	if sub == "-h" || sub == "-help" || sub == "--help" {
		return parseFlags(fs, args, stdout, cacheUsage)
	}
	if err := parseFlags(fs, args[1:], stdout, cacheUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("cache %s: unexpected argument %q", sub, fs.Arg(0))
	}
	dir, err := c.path()
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	switch sub {
	case "size":
		es, err := cacheEntries(dir)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		var total int64
		for _, e := range es {
			total += e.size
		}
		fmt.Fprintf(stdout, "%s: %d compiled guests, %s (trimmed to %s)\n", dir, len(es), mib(total), mib(cacheLimit))
		return nil
	case "clean":
		keep := int64(0)
		if max != "" {
			if keep, err = parseSize(max); err != nil {
				return usagef("-max %s: %v", max, err)
			}
		}
		freed, err := trimCache(dir, keep)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		fmt.Fprintf(stdout, "%s: freed %s\n", dir, mib(freed))
		return nil
	}
	return usagef("cache %q: want size or clean", sub)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// slowStep is how long a step (building, compiling) may take before the
// CLI says what it is doing.
var slowStep = time.Second

// announce runs step. If step takes longer than slowStep, it tells w (nil:
// nobody, for -q) what is happening, and when step ends how long it took:
// silent when fast, never silent for long.
func announce(w io.Writer, what string, step func() error) (time.Duration, error) {
	if w == nil {
		w = io.Discard
	}
	start := time.Now()
	said := make(chan struct{})
	t := time.AfterFunc(slowStep, func() {
		fmt.Fprintf(w, "wasitls: %s ...\n", what)
		close(said)
	})
	err := step()
	d := time.Since(start)
	if !t.Stop() {
		<-said
		result := "done"
		if err != nil {
			result = "failed"
		}
		fmt.Fprintf(w, "wasitls: %s after %v\n", result, d.Round(100*time.Millisecond))
	}
	return d, err
}

// compileGuest compiles wasm with announce.
func compileGuest(ctx context.Context, r wazero.Runtime, wasm []byte, name string, c cacheOptions, progress io.Writer) (wazero.CompiledModule, time.Duration, error) {
	var compiled wazero.CompiledModule
	d, err := announce(progress, compiling(name, wasm, c), func() error {
		var err error
		compiled, err = r.CompileModule(ctx, wasm)
		return err
	})
	return compiled, d, err
}

// compiling says what compiling wasm named name involves.
func compiling(name string, wasm []byte, c cacheOptions) string {
	where := "the compilation cache is off"
	if dir, err := c.path(); err == nil && dir != "" {
		where = "once per guest, cached in " + dir
	}
	return fmt.Sprintf("compiling %s (%.1f MB) to native code (%s)", name, float64(len(wasm))/1e6, where)
}
