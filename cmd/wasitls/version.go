package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/wasitls/wasitls/api"
)

const wazeroPath = "github.com/tetratelabs/wazero"

// versionInfo is what `wasitls version` reports, from the build info the
// go command recorded in the binary.
type versionInfo struct {
	Module   string // this module's version: a tag for go install ...@v1.2.3, (devel) in a clone
	Revision string // the VCS revision of a clone's build, "+dirty" when modified
	Go       string
	Wazero   string
	Tags     string   // build tags (-tags), which pick the backends
	Backends []string // compiled in, the default first
	Default  string
}

func readVersion() versionInfo {
	v := versionInfo{Module: "(unknown)", Go: runtime.Version(), Wazero: "(unknown)", Backends: demoOrder()}
	if p, err := api.Default(); err == nil {
		v.Default = p.Name()
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Module = bi.Main.Version
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		case "-tags":
			v.Tags = s.Value
		}
	}
	if rev != "" {
		v.Revision = rev[:min(len(rev), 12)]
		if dirty {
			v.Revision += "+dirty"
		}
	}
	for _, d := range bi.Deps {
		if d.Path == wazeroPath {
			v.Wazero = d.Version
			if d.Replace != nil {
				v.Wazero += " => " + d.Replace.Path + " " + d.Replace.Version
			}
		}
	}
	return v
}

func versionCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, "wasitls version"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version: unexpected argument %q", fs.Arg(0))
	}
	v := readVersion()
	mod := v.Module
	if v.Revision != "" {
		mod += " (" + v.Revision + ")"
	}
	fmt.Fprintf(stdout, "wasitls  %s %s\n", modulePath, mod)
	fmt.Fprintf(stdout, "go       %s %s/%s\n", v.Go, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "wazero   %s\n", v.Wazero)
	fmt.Fprintf(stdout, "backends %s (default %s)\n", strings.Join(v.Backends, ", "), v.Default)
	if v.Tags != "" {
		fmt.Fprintf(stdout, "tags     %s\n", v.Tags)
	}
	return nil
}
