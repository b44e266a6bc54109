package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/policyfile"
)

// usageError is a problem with the command line or a file it names: one
// line on stderr and exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// durationFlag is a time.Duration flag whose complaint says what it wants
// (the flag package's own says only "parse error").
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like 5s, 250ms or 1m30s")
	}
	*f.d = d
	return nil
}

// durationVar defines a duration flag, as fs.DurationVar does.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

// kvFlag is a repeatable K=V flag (-env, -opt).
type kvFlag struct {
	keys []string
	vals map[string]string
}

func (f *kvFlag) String() string { return strings.Join(f.keys, ",") }
func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	if f.vals == nil {
		f.vals = map[string]string{}
	}
	if _, dup := f.vals[k]; !dup {
		f.keys = append(f.keys, k)
	}
	f.vals[k] = v
	return nil
}

// identityFlags collects -client-cert FILE -client-key FILE -client-for
// PATTERN groups: each -client-cert starts a group, the key and the
// patterns that follow belong to it. With prefix "server" the flags are
// -server-cert, -server-key and -server-for.
type identityFlags struct {
	prefix string // "client" when empty
	groups []*identityGroup
}

func (f *identityFlags) flag(what string) string {
	if f.prefix == "" {
		return "client-" + what
	}
	return f.prefix + "-" + what
}

type identityGroup struct {
	cert, key string
	dests     []string
}

func (f *identityFlags) current(flagName string) (*identityGroup, error) {
	if len(f.groups) == 0 {
		return nil, fmt.Errorf("-%s must follow -%s", flagName, f.flag("cert"))
	}
	return f.groups[len(f.groups)-1], nil
}

type certFlag struct{ f *identityFlags }

func (c certFlag) String() string { return "" }
func (c certFlag) Set(s string) error {
	c.f.groups = append(c.f.groups, &identityGroup{cert: s})
	return nil
}

type keyFlag struct{ f *identityFlags }

func (k keyFlag) String() string { return "" }
func (k keyFlag) Set(s string) error {
	g, err := k.f.current(k.f.flag("key"))
	if err != nil {
		return err
	}
	if g.key != "" {
		return fmt.Errorf("second -%s for -%s %s", k.f.flag("key"), k.f.flag("cert"), g.cert)
	}
	g.key = s
	return nil
}

type forFlag struct{ f *identityFlags }

func (p forFlag) String() string { return "" }
func (p forFlag) Set(s string) error {
	g, err := p.f.current(p.f.flag("for"))
	if err != nil {
		return err
	}
	g.dests = append(g.dests, s)
	return nil
}

// load reads every group's certificate and key.
func (f *identityFlags) load() ([]host.Identity, error) {
	var ids []host.Identity
	for _, g := range f.groups {
		if g.key == "" {
			return nil, usagef("-client-cert %s: missing -client-key FILE", g.cert)
		}
		if len(g.dests) == 0 {
			return nil, usagef("-client-cert %s: missing -client-for PATTERN (which destinations get this identity)", g.cert)
		}
	}
	pairs, err := f.loadPairs()
	if err != nil {
		return nil, err
	}
	for i, g := range f.groups {
		for _, d := range g.dests {
			ids = append(ids, host.Identity{Dest: d, Certificate: pairs[i]})
		}
	}
	return ids, nil
}

// loadPairs reads every group's certificate and key, in group order.
func (f *identityFlags) loadPairs() ([]*tls.Certificate, error) {
	var out []*tls.Certificate
	certFlag, keyFlag := "-"+f.flag("cert"), "-"+f.flag("key")
	for _, g := range f.groups {
		if g.key == "" {
			return nil, usagef("%s %s: missing %s FILE", certFlag, g.cert, keyFlag)
		}
		if err := fileExists(certFlag, g.cert); err != nil {
			return nil, err
		}
		if err := fileExists(keyFlag, g.key); err != nil {
			return nil, err
		}
		cert, err := tls.LoadX509KeyPair(g.cert, g.key)
		if err != nil {
			return nil, usagef("%s %s %s %s: %v", certFlag, g.cert, keyFlag, g.key, err)
		}
		out = append(out, &cert)
	}
	return out, nil
}

// loadRoots returns the system roots plus every PEM certificate in files,
// or nil (the system roots) without files.
func loadRoots(files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		if err := fileExists("-ca", f); err != nil {
			return nil, err
		}
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, usagef("-ca %s: %v", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("-ca %s: no PEM certificate in the file", f)
		}
	}
	return pool, nil
}

func fileExists(flagName, path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("%s %s: no such file", flagName, path)
	case err != nil:
		return usagef("%s %s: %v", flagName, path, err)
	case st.IsDir():
		return usagef("%s %s: is a directory", flagName, path)
	}
	return nil
}

func parseTLSVersion(flagName, s string) (uint16, error) {
	v, err := policyfile.ParseTLSVersion(s)
	if err != nil {
		return 0, usagef("-%s %v", flagName, err)
	}
	return v, nil
}

// parseFlags parses args with fs, turning the flag package's multi-line
// complaints into one line; -h prints usage and the flags to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: "+usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprint(stdout, exitCodesText)
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}

// sizeFlag is a byte count with an optional binary unit: 512KiB, 64MiB,
// 1GiB (K, M, G mean the same), or plain bytes.
type sizeFlag struct{ n uint64 }

func (f *sizeFlag) String() string {
	switch {
	case f.n == 0:
		return "0"
	case f.n%(1<<30) == 0:
		return strconv.FormatUint(f.n>>30, 10) + "GiB"
	case f.n%(1<<20) == 0:
		return strconv.FormatUint(f.n>>20, 10) + "MiB"
	case f.n%(1<<10) == 0:
		return strconv.FormatUint(f.n>>10, 10) + "KiB"
	}
	return strconv.FormatUint(f.n, 10)
}

func (f *sizeFlag) Set(s string) error {
	n, err := policyfile.ParseSize(s)
	if err != nil {
		return err
	}
	f.n = n
	return nil
}
