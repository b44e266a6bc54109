package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wasitls/wasitls/api"
)

// backendsCommand lists the compiled-in backends, marks the default, and
// shows each one's fingerprints (the first is the backend's default).
func backendsCommand(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("backends: unexpected argument %q", args[0])
	}
	def := ""
	if p, err := api.Default(); err == nil {
		def = p.Name()
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tDEFAULT\tCAPABILITIES\tFINGERPRINTS")
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
			fps = strings.Join(f.Fingerprints(), ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, mark, capabilities(api.CapabilitiesOf(p)), fps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "default: %s\n", def)
	return nil
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
