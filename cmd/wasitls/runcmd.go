package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/observe"
)

// runOptions is the parsed command line of `wasitls run`.
type runOptions struct {
	backend, fingerprint, pqMode   string
	allow, deny, ca, alpn, mounts  listFlag
	dns, verbose                   bool
	logFormat                      string
	policyFile                     string
	set                            map[string]bool // the flags given on the command line
	idents                         identityFlags
	minTLS, maxTLS                 string
	handshakeTimeout, timeout      time.Duration
	env, opts                      kvFlag
	guest                          string
	guestArgs                      []string
	sockets, handshakes, handleMax int
	maxMemory                      sizeFlag
	cache                          cacheOptions
	quiet                          bool
	serve                          serveOptions
}

func runFlags(o *runOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.backend, "backend", "", "TLS backend `NAME` (see wasitls backends; default: the build's default)")
	fs.StringVar(&o.fingerprint, "fingerprint", "", "ClientHello fingerprint `NAME` for backends that have them (utls: chrome, firefox, ...)")
	fs.Var(&o.allow, "allow", "let the guest connect to `HOST:PORT` (repeatable; *, *.example.com, CIDR, port ranges)")
	fs.Var(&o.deny, "deny", "refuse `HOST:PORT` even when -allow matches: an address or CIDR, a name (matched against the names the guest looked up for the address), or * for a port everywhere (*:22) (repeatable)")
	fs.BoolVar(&o.dns, "dns", true, "let the guest look names up (answers are limited to allowed destinations)")
	fs.Var(&o.ca, "ca", "trust the PEM certificates in `FILE` as well as the system roots (repeatable)")
	fs.Var(certFlag{&o.idents}, "client-cert", "client certificate chain `FILE` (PEM); starts a -client-cert/-client-key/-client-for group")
	fs.Var(keyFlag{&o.idents}, "client-key", "private key `FILE` (PEM) of the preceding -client-cert")
	fs.Var(forFlag{&o.idents}, "client-for", "present the preceding -client-cert to `PATTERN` (HOST:PORT; repeatable): an address or CIDR matches the address connected to; a name matches the server name, which must be a name the guest looked up and got that address for")
	fs.Var(&o.alpn, "alpn", "offer ALPN protocols `LIST` (comma-separated, e.g. h2,http/1.1) to every destination")
	fs.StringVar(&o.minTLS, "min-tls", "", "minimum TLS `VERSION`: 1.2 or 1.3 (default 1.2)")
	fs.StringVar(&o.maxTLS, "max-tls", "", "maximum TLS `VERSION`: 1.2 or 1.3 (default 1.3)")
	durationVar(fs, &o.handshakeTimeout, "handshake-timeout", 0, "bound each TLS handshake (`DURATION`, default 30s)")
	durationVar(fs, &o.timeout, "timeout", 0, "stop the guest after `DURATION` (exit code 124; default: no limit)")
	fs.Var(&o.env, "env", "set the guest environment variable `K=V` (repeatable)")
	fs.Var(&o.mounts, "mount", "mount the host directory at a guest path: `HOST:GUEST[:ro]` (repeatable)")
	fs.Var(&o.opts, "opt", "backend option `K=V` handed to the provider in api.Config.Options (repeatable)")
	fs.StringVar(&o.pqMode, "pq-mode", "", "pq backend `MODE`: require (hybrid ML-KEM or fail) or prefer")
	fs.IntVar(&o.sockets, "max-sockets", 0, "TCP connections the guest may have open, each counted from create-tcp-socket until its socket, streams, TLS connection and unsent output are all gone (default 64)")
	fs.IntVar(&o.handshakes, "max-handshakes", 0, "TLS handshakes the guest may have in flight (default 16)")
	fs.IntVar(&o.handleMax, "max-handles", 0, "resources the guest may hold (default 4096)")
	o.maxMemory = sizeFlag{host.DefaultMaxMemory}
	fs.Var(&o.maxMemory, "max-memory", "bound the guest's linear memory to `SIZE` (64KiB to 4GiB, e.g. 256MiB)")
	o.cache.flags(fs)
	o.serve.flags(fs)
	fs.BoolVar(&o.quiet, "q", false, "say nothing on stderr about slow steps (compiling a guest the first time)")
	fs.BoolVar(&o.verbose, "v", false, "log every connection (destination, backend, version, cipher, group, ALPN, JA4, handshake time) to stderr")
	fs.StringVar(&o.policyFile, "policy", "", policyFileHelp)
	fs.StringVar(&o.logFormat, "log-format", "text", "`FORMAT` of the -v log: text (key=value) or json (one object a line)")
	return fs
}

func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var o runOptions
	fs := runFlags(&o)
	if err := parseFlags(fs, args, stdout, runUsage); err != nil {
		return exitUsage, err
	}
	if fs.NArg() == 0 {
		return exitUsage, usagef("run: missing GUEST.wasm")
	}
	o.guest, o.guestArgs = fs.Arg(0), fs.Args()[1:]

	file, err := o.loadPolicyFile(fs)
	if err != nil {
		return exitUsage, err
	}
	provider, policy, err := o.resolve()
	if err != nil {
		return exitUsage, err
	}
	if policy, err = o.mergePolicyFile(file, policy); err != nil {
		return exitUsage, err
	}
	if err := fileExists("run", o.guest); err != nil {
		return exitUsage, err
	}
	wasm, err := os.ReadFile(o.guest)
	if err != nil {
		return exitUsage, usagef("run %s: %v", o.guest, err)
	}
	mc, err := o.moduleConfig(stdin, stdout, stderr)
	if err != nil {
		return exitUsage, err
	}

	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var progress io.Writer
	if !o.quiet {
		progress = stderr
	}
	rc, err := host.MemoryLimit(runtimeConfig(o.cache, progress), o.maxMemory.n)
	if err != nil {
		return exitUsage, usagef("-max-memory %s: want 64KiB to 4GiB", &o.maxMemory)
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	defer r.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := host.New(r)
	defer h.Close(context.Background())
	m, _, err := compileAny(ctx, h, r, wasm, filepath.Base(o.guest), o.cache, progress)
	switch {
	case err != nil && m.comp == nil && component.IsComponent(wasm):
		return exitUsage, usagef("run %s: %v", o.guest, err) // "component: ..."
	case err != nil:
		return exitUsage, usagef("run %s: not a valid module: %v", o.guest, err)
	}

	var log *slog.Logger
	if o.verbose {
		log = newLogger(stderr, o.logFormat)
		provider = observe.Inspect(provider, observe.LogHandshakes(log))
	}
	opts := []host.Option{host.WithProvider(provider), host.WithPolicy(policy)}
	if log != nil {
		opts = append(opts, host.WithObserver(func(e host.ConnEvent) { logEvent(log, e) }))
	}
	// Through Instantiate (or InstantiateComponent), not Prepare: the host
	// then runs the start functions itself and gives the guest its list
	// shims (see host/shim.go).
	g, err := m.instantiate(ctx, h, mc, opts...)
	if g == nil && err != nil {
		// Refused before the guest ran: a policy the flags described
		// badly, a guest the flags cannot serve, its links.
		if m.comp != nil {
			return exitUsage, usagef("run %s: %v", o.guest, err)
		}
		return exitUsage, usagef("run: %v", err)
	}
	defer g.Close(context.Background())
	return guestExit(ctx, o.guest, err)
}

// guestExit turns the guest's outcome into the CLI's exit code.
func guestExit(ctx context.Context, guest string, err error) (int, error) {
	var exit *sys.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		return exitTimeout, fmt.Errorf("%s: timed out", guest)
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		return signalExit(ctx), fmt.Errorf("%s: %w", guest, context.Cause(ctx))
	case errors.As(err, &exit):
		return int(exit.ExitCode() & 0xff), nil // the guest printed its own reason
	case ctx.Err() != nil:
		return exitTimeout, fmt.Errorf("%s: %v", guest, ctx.Err())
	}
	return exitTrap, fmt.Errorf("%s: trap: %v", guest, err)
}

// resolve picks the provider and builds the policy; every error is a
// usage error.
func (o *runOptions) resolve() (api.Provider, *host.Policy, error) {
	provider, err := pickProvider(o.backend)
	if err != nil {
		return nil, nil, err
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, nil, usagef("-log-format %q: want text or json", o.logFormat)
	}
	if o.fingerprint != "" {
		fp, ok := provider.(api.Fingerprinter)
		if !ok {
			return nil, nil, usagef("-fingerprint %s: backend %s has no fingerprints (try -backend utls)", o.fingerprint, provider.Name())
		}
		if !slices.Contains(fp.Fingerprints(), o.fingerprint) {
			return nil, nil, usagef("-fingerprint %s: backend %s knows %s", o.fingerprint, provider.Name(), strings.Join(fp.Fingerprints(), ", "))
		}
	}
	p := &host.Policy{
		Allow: o.allow, Deny: o.deny, NameLookup: o.dns, Fingerprint: o.fingerprint,
		HandshakeTimeout: o.handshakeTimeout,
		Limits:           host.Limits{Handles: o.handleMax, Connections: o.sockets, Handshakes: o.handshakes},
	}
	if o.handshakeTimeout < 0 {
		return nil, nil, usagef("-handshake-timeout %v: must be positive", o.handshakeTimeout)
	}
	if o.maxMemory.n < 64<<10 || o.maxMemory.n > 1<<32 {
		return nil, nil, usagef("-max-memory %s: want 64KiB to 4GiB", &o.maxMemory)
	}
	if o.timeout < 0 {
		return nil, nil, usagef("-timeout %v: must be positive (or 0 for no limit)", o.timeout)
	}
	for _, l := range []struct {
		flag string
		v    int
	}{{"max-sockets", o.sockets}, {"max-handshakes", o.handshakes}, {"max-handles", o.handleMax}} {
		if l.v < 0 {
			return nil, nil, usagef("-%s %d: must not be negative (0 takes the default)", l.flag, l.v)
		}
	}
	if p.MinVersion, err = parseTLSVersion("min-tls", o.minTLS); err != nil {
		return nil, nil, err
	}
	if p.MaxVersion, err = parseTLSVersion("max-tls", o.maxTLS); err != nil {
		return nil, nil, err
	}
	if p.MinVersion != 0 && p.MaxVersion != 0 && p.MinVersion > p.MaxVersion {
		return nil, nil, usagef("-min-tls %s is above -max-tls %s", o.minTLS, o.maxTLS)
	}
	if p.RootCAs, err = loadRoots(o.ca); err != nil {
		return nil, nil, err
	}
	if err := o.serve.apply(p, provider); err != nil {
		return nil, nil, err
	}
	if p.Identities, err = o.idents.load(); err != nil {
		return nil, nil, err
	}
	protos, err := parseALPN("-alpn", o.alpn...)
	if err != nil {
		return nil, nil, err
	}
	if len(protos) > 0 {
		p.ALPN = []host.ALPNRule{{Dest: "*:*", Protocols: protos}}
	}
	if len(o.opts.keys) > 0 || o.pqMode != "" {
		p.Options = map[string]string{}
		for _, k := range o.opts.keys {
			p.Options[k] = o.opts.vals[k]
		}
	}
	if o.pqMode != "" {
		if provider.Name() != "pq" {
			return nil, nil, usagef("-pq-mode %s: needs -backend pq (the backend is %s)", o.pqMode, provider.Name())
		}
		if o.pqMode != "require" && o.pqMode != "prefer" {
			return nil, nil, usagef("-pq-mode %q: want require or prefer", o.pqMode)
		}
		p.Options["mode"] = o.pqMode
	}
	if err := o.checkBackend(provider, p); err != nil {
		return nil, nil, err
	}
	return provider, p, nil
}

// checkBackend asks the backend whether it can honour what the flags ask
// (api.ValidateConfig, as the host does when the guest is prepared), one
// flag at a time so that the error names the flag: each -opt alone, then
// the options with the version bounds.
func (o *runOptions) checkBackend(provider api.Provider, p *host.Policy) error {
	for _, k := range o.opts.keys {
		cfg := &api.Config{Options: map[string]string{k: o.opts.vals[k]}}
		if err := api.ValidateConfig(provider, cfg); err != nil {
			return usagef("-opt %s=%s: %v", k, o.opts.vals[k], err)
		}
	}
	cfg := &api.Config{Options: p.Options, MinVersion: p.MinVersion, MaxVersion: p.MaxVersion, Fingerprint: p.Fingerprint}
	if err := api.ValidateConfig(provider, cfg); err != nil {
		var flags []string
		for _, f := range []struct{ name, v string }{{"backend", o.backend}, {"pq-mode", o.pqMode}, {"min-tls", o.minTLS}, {"max-tls", o.maxTLS}} {
			if f.v != "" {
				flags = append(flags, "-"+f.name+" "+f.v)
			}
		}
		if len(o.opts.keys) > 0 {
			flags = append(flags, "-opt")
		}
		return usagef("%s: %v", strings.Join(flags, " "), err)
	}
	// -alpn is never ignored: a backend that would (utls with the
	// fingerprint's ALPN list pinned) refuses it here.
	for _, r := range p.ALPN {
		cfg := &api.Config{Options: p.Options, MinVersion: p.MinVersion, MaxVersion: p.MaxVersion, Fingerprint: p.Fingerprint, NextProtos: r.Protocols}
		if err := api.ValidateConfig(provider, cfg); err != nil {
			return usagef("-alpn %s: %v", strings.Join(r.Protocols, ","), err)
		}
	}
	return nil
}

// pickProvider returns the named backend, or the build's default.
func pickProvider(name string) (api.Provider, error) {
	if name == "" {
		p, err := api.Default()
		if err != nil {
			return nil, usagef("no default backend: %v", err)
		}
		return p, nil
	}
	p, err := api.Lookup(name)
	if err != nil {
		return nil, usagef("-backend %s: not in this build (compiled in: %s)", name, strings.Join(api.Names(), ", "))
	}
	return p, nil
}

func (o *runOptions) moduleConfig(stdin io.Reader, stdout, stderr io.Writer) (wazero.ModuleConfig, error) {
	mc := host.NewModuleConfig().
		WithName(strings.TrimSuffix(filepath.Base(o.guest), ".wasm")).
		WithArgs(append([]string{filepath.Base(o.guest)}, o.guestArgs...)...).
		WithStdout(stdout).WithStderr(stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	if stdin != nil {
		mc = mc.WithStdin(stdin)
	}
	for _, k := range o.env.keys {
		mc = mc.WithEnv(k, o.env.vals[k])
	}
	if len(o.mounts) > 0 {
		fsc := host.NewFSConfig()
		for _, m := range o.mounts {
			hostDir, guestDir, ro, err := parseMount(m)
			if err != nil {
				return nil, err
			}
			if ro {
				fsc = fsc.WithReadOnlyDirMount(hostDir, guestDir)
			} else {
				fsc = fsc.WithDirMount(hostDir, guestDir)
			}
		}
		mc = mc.WithFSConfig(fsc)
	}
	return mc, nil
}

// parseMount parses HOST[:GUEST][:ro]; GUEST defaults to HOST.
func parseMount(m string) (hostDir, guestDir string, ro bool, err error) {
	s := m
	if rest, ok := strings.CutSuffix(s, ":ro"); ok {
		s, ro = rest, true
	}
	hostDir, guestDir, ok := strings.Cut(s, ":")
	if !ok {
		guestDir = hostDir
	}
	if hostDir == "" || guestDir == "" {
		return "", "", false, usagef("-mount %q: want HOST:GUEST[:ro]", m)
	}
	st, serr := os.Stat(hostDir)
	switch {
	case serr != nil && errors.Is(serr, os.ErrNotExist):
		return "", "", false, usagef("-mount %s: no such directory", hostDir)
	case serr != nil:
		return "", "", false, usagef("-mount %s: %v", hostDir, serr)
	case !st.IsDir():
		return "", "", false, usagef("-mount %s: not a directory", hostDir)
	}
	return hostDir, guestDir, ro, nil
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
