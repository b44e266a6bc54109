package main

// The component row (issue 17): the bench guest as a WASI 0.2 component,
// made as component toolchains make one (jco's componentNew with its
// wasi_snapshot_preview1 command adapter), next to native Go, alternating,
// for download, upload and sequential handshakes with the first backend.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/internal/componentnew"
	"github.com/wasitls/wasitls/internal/guestsrc"
)

// componentOptions are the component row's flags and what they resolved to.
type componentOptions struct {
	file      string // -component: a prebuilt component of the bench guest
	jco, node string // -jco, -node
	tools     componentnew.Tools
	wit       string // the checkout's WIT, restated for components
	missing   string // why the row cannot be made ("" if it can)
}

func (o *benchOptions) componentFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.comp.file, "component", "", "component row: use this prebuilt component of the bench guest, `FILE.wasm`, instead of making one with jco")
	fs.StringVar(&o.comp.jco, "jco", "", "component row: jco's package `DIR` (default: $WASITLS_JCO, or .peers/npm/node_modules/@bytecodealliance/jco of the checkout)")
	fs.StringVar(&o.comp.node, "node", "", "component row: the Node.js `FILE` that runs jco (default: $WASITLS_NODE, .peers/node26/bin/node of the checkout, or node on PATH)")
}

// componentDefaults checks the row's flags and finds what makes the
// component. A bad flag is a usage error; missing tools are one too when
// -only asks for the row, and otherwise the reason the row is left out.
func (o *benchOptions) componentDefaults(ctx context.Context) error {
	c := &o.comp
	if c.jco != "" {
		if err := componentnew.CheckJCO(c.jco); err != nil {
			return usagef("-jco %s: %v", c.jco, err)
		}
	}
	if c.node != "" {
		if err := componentnew.CheckNode(c.node); err != nil {
			return usagef("-node %s: %v", c.node, err)
		}
	}
	if c.file != "" {
		if err := fileExists("-component", c.file); err != nil {
			return err
		}
		b, err := os.ReadFile(c.file)
		if err != nil {
			return usagef("-component %s: %v", c.file, err)
		}
		if !component.IsComponent(b) {
			return usagef("-component %s: not a WASI 0.2 component (a core module goes to -guest)", c.file)
		}
		return nil
	}
	if !o.runs("component") {
		return nil
	}
	c.missing = c.find(ctx)
	if c.missing != "" && o.only != nil {
		return usagef("bench: -only component: %s", c.missing)
	}
	return nil
}

// find looks for Node.js, jco and the WIT, and says what is missing.
func (c *componentOptions) find(ctx context.Context) string {
	root := checkoutRoot(ctx)
	var err error
	if c.tools, err = componentnew.Find(root, c.jco, c.node); err != nil {
		return fmt.Sprintf("%v (bash scripts/install-peers.sh, or -jco DIR and -node FILE, or -component FILE)", err)
	}
	if root == "" {
		return "the WIT to make a component with is in a wasitls checkout, and none was found (run from a clone, or -component FILE)"
	}
	if c.wit, err = componentnew.WIT(root); err != nil {
		return fmt.Sprintf("reading the checkout's WIT: %v (or -component FILE)", err)
	}
	return ""
}

// checkoutRoot is the wasitls checkout (or module directory) that holds the
// bench guest's source, "" if there is none.
func checkoutRoot(ctx context.Context) string {
	gt, err := goTool()
	if err != nil {
		return ""
	}
	dir, err := guestsrc.Dir(ctx, gt, "bench")
	if err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(dir))) // internal/guests/bench
}

// componentReport is the component row: the component's figures in the
// guest fields, next to native Go's.
type componentReport struct {
	// MadeWith says how the component was made: jco's version and adapter,
	// or the -component file.
	MadeWith string `json:"made_with,omitempty"`
	// Skipped is why the row was not measured ("" if it was).
	Skipped    string     `json:"skipped,omitempty"`
	Bytes      int        `json:"component_bytes,omitempty"`
	Backend    string     `json:"backend,omitempty"`
	Download   throughput `json:"download"`
	Upload     throughput `json:"upload"`
	Sequential rate       `json:"sequential"`
}

// componentWasm returns the component of the bench guest: the -component
// file, or one made from the core module with jco and kept in the cache
// directory by the digest of what it is made of.
func (b *bench) componentWasm(ctx context.Context) ([]byte, string, error) {
	c := b.o.comp
	if c.file != "" {
		wasm, err := os.ReadFile(c.file)
		return wasm, "-component " + c.file, err
	}
	if component.IsComponent(b.wasm) {
		return nil, "", errors.New("the -guest module is a component already; pass its core module, or -component FILE")
	}
	made := fmt.Sprintf("jco %s componentNew, wasi_snapshot_preview1 command adapter", c.tools.Version())
	digest, err := c.tools.Digest(c.wit, b.wasm)
	if err != nil {
		return nil, "", err
	}
	var cached string
	if dir, err := b.o.cache.path(); err == nil && dir != "" {
		// In the compilation cache's directory, so that trimming and
		// `wasitls cache clean` cover it.
		cached = filepath.Join(dir, "components", "benchguest-"+digest+".component.wasm")
		if wasm, err := os.ReadFile(cached); err == nil {
			return wasm, made, nil
		}
	}
	var wasm []byte
	if _, err := announce(b.o.progressWriter(b.log), "making the bench guest's component with jco componentNew", func() error {
		wasm, err = c.tools.New(ctx, c.wit, componentnew.World, b.wasm)
		return err
	}); err != nil {
		return nil, "", err
	}
	if cached != "" {
		writeCached(cached, wasm, b.log)
	}
	return wasm, made, nil
}

// writeCached writes a cache file whole or not at all (a rename); a
// failure only costs the next run time, and is said on log.
func writeCached(path string, b []byte, log io.Writer) {
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	var f *os.File
	if err == nil {
		f, err = os.CreateTemp(filepath.Dir(path), ".tmp-*")
	}
	if err == nil {
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}
	if err != nil && log != nil {
		fmt.Fprintf(log, "wasitls bench: component not cached: %v\n", err)
	}
}

// runComponent measures the component row.
func (b *bench) runComponent(ctx context.Context, rep *benchReport) error {
	o := b.o
	cr := &componentReport{}
	rep.Component = cr
	if o.comp.missing != "" {
		cr.Skipped = o.comp.missing
		b.progress("component row left out: %s", cr.Skipped)
		return nil
	}
	wasm, made, err := b.componentWasm(ctx)
	if err != nil {
		return fmt.Errorf("the bench guest's component: %w", err)
	}
	cr.MadeWith, cr.Bytes, cr.Backend = made, len(wasm), o.backends[0]
	m, _, err := compileAny(ctx, b.h, b.rt, wasm, "benchguest.component.wasm", o.cache, o.progressWriter(b.log))
	if err != nil {
		return fmt.Errorf("compiling the bench guest's component: %w", err)
	}
	hs, _, err := b.nativeClient(cr.Backend)
	if err != nil {
		return err
	}
	b.progress("component: download and upload, %d MiB, %d sequential %s handshakes, %d runs each", o.size>>20, o.handshakes, cr.Backend, o.reps)
	ms := b.transfers(ctx, m, cr.Backend, &cr.Download, &cr.Upload, &rep.Cipher)
	ms = append(ms, measure{guestRuns: &cr.Sequential.GuestRuns, nativeRuns: &cr.Sequential.NativeRuns,
		guest: func() (float64, error) {
			_, d, err := b.okRunModule(ctx, m, cr.Backend, "handshakes", int64(o.handshakes))
			return float64(o.handshakes) / d.Seconds(), err
		},
		native: func() (float64, error) {
			d, err := b.nativeHandshakes(hs, o.handshakes)
			return float64(o.handshakes) / d.Seconds(), err
		}})
	if err := b.alternate(ms...); err != nil {
		return fmt.Errorf("component: %w", err)
	}
	cr.Download.summarize()
	cr.Upload.summarize()
	cr.Sequential.summarize()
	return nil
}

// printBenchComponent prints the component row's table, or why it is
// missing, if the section ran.
func printBenchComponent(w io.Writer, r *benchReport) {
	c := r.Component
	switch {
	case c == nil:
		return
	case c.Skipped != "":
		fmt.Fprintf(w, "COMPONENT: not measured: %s\n\n", c.Skipped)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "WASI 0.2 COMPONENT\tCOMPONENT\tNATIVE\tRATIO\t\n")
	fmt.Fprintf(tw, "component download MB/s\t%.0f\t%.0f\t%.2f\t\n", c.Download.GuestMBps, c.Download.NativeMBps, c.Download.Ratio)
	fmt.Fprintf(tw, "component upload MB/s\t%.0f\t%.0f\t%.2f\t\n", c.Upload.GuestMBps, c.Upload.NativeMBps, c.Upload.Ratio)
	fmt.Fprintf(tw, "component %s sequential/s\t%.0f\t%.0f\t%.2f\t\n", c.Backend, c.Sequential.Guest, c.Sequential.Native, c.Sequential.Ratio)
	_ = tw.Flush()
	fmt.Fprintf(w, "  (the bench guest as a component, %d bytes: %s)\n\n", c.Bytes, c.MadeWith)
}

// benchfmtComponent writes the row's repetitions, the component's side as
// impl=component.
func benchfmtComponent(r *benchReport, line func(string, int64, ...any), handshakes int) {
	c := r.Component
	if c == nil || c.Skipped != "" {
		return
	}
	throughputLines(line, "Component/download", r.SizeBytes, c.Download, "component")
	throughputLines(line, "Component/upload", r.SizeBytes, c.Upload, "component")
	rateLines(line, "Component/handshake/backend="+c.Backend+"/mode=sequential", int64(handshakes), "conns/s", "component", c.Sequential.GuestRuns, c.Sequential.NativeRuns)
}

// componentChart is the row's group on the -html page.
func componentChart(r *benchReport) chartGroup {
	g := chartGroup{Title: "The bench guest as a WASI 0.2 component (guest: the component)"}
	c := r.Component
	if c == nil || c.Skipped != "" {
		return g
	}
	for _, row := range []chartRow{
		{Name: "component download", Unit: "MB/s", Guest: c.Download.GuestMBps, Native: c.Download.NativeMBps},
		{Name: "component upload", Unit: "MB/s", Guest: c.Upload.GuestMBps, Native: c.Upload.NativeMBps},
		{Name: "component " + c.Backend + " sequential", Unit: "conns/s", Guest: c.Sequential.Guest, Native: c.Sequential.Native},
	} {
		if row.Guest > 0 && row.Native > 0 {
			g.Rows = append(g.Rows, row)
		}
	}
	return g
}
