package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wasitls/wasitls/api"
)

// backendsCommand lists the compiled-in backends, marks the default, and
// shows each one's fingerprints (the first is the backend's default).
func backendsCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backends", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, "wasitls backends"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("backends: unexpected argument %q", fs.Arg(0))
	}
	def := ""
	if p, err := api.Default(); err == nil {
		def = p.Name()
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tDEFAULT\tCAPABILITIES\tFINGERPRINTS")
	type fpList struct {
		backend string
		names   []string
	}
	var lists []fpList
	for _, name := range api.Names() {
		p, err := api.Lookup(name)
		if err != nil {
			return err
		}
		mark := ""
		if name == def {
			mark = "yes"
		}
		fps := "-"
		if f, ok := p.(api.Fingerprinter); ok {
			names := f.Fingerprints()
			fps = fmt.Sprintf("%d (below)", len(names))
			lists = append(lists, fpList{name, names})
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, mark, capabilities(api.CapabilitiesOf(p)), fps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "default: %s\n", def)
	for _, l := range lists {
		fmt.Fprintf(stdout, "\n%s fingerprints (-backend %s -fingerprint NAME; the first is the default):\n", l.backend, l.backend)
		for _, line := range wrapList(l.names, fingerprintWidth) {
			fmt.Fprintf(stdout, "  %s\n", line)
		}
	}
	return nil
}

// fingerprintWidth keeps the lists within 80 columns.
const fingerprintWidth = 76

// wrapList joins items with ", " into lines of at most width characters
// (an item longer than width gets a line of its own).
func wrapList(items []string, width int) []string {
	var lines []string
	line := ""
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		switch {
		case line == "":
			line = it
		case len(line)+1+len(it) <= width:
			line += " " + it
		default:
			lines = append(lines, line)
			line = it
		}
	}
	return append(lines, line)
}

func capabilities(c api.Capabilities) string {
	var s []string
	for _, f := range []struct {
		ok   bool
		name string
	}{
		{c.TLS12, "tls1.2"}, {c.Resumption, "resume"}, {c.ClientAuth, "client-auth"},
		{c.ALPNOverride, "alpn"}, {c.ReportsGroup, "group"}, {c.RequiresPQ, "pq-only"},
	} {
		if f.ok {
			s = append(s, f.name)
		}
	}
	return strings.Join(s, ",")
}
