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
	"github.com/wasitls/wasitls/host"
)

// runOptions is the parsed command line of `wasitls run`.
type runOptions struct {
	backend, fingerprint, pqMode   string
	allow, deny, ca, alpn, mounts  listFlag
	dns, verbose                   bool
	idents                         identityFlags
	minTLS, maxTLS                 string
	handshakeTimeout, timeout      time.Duration
	env, opts                      kvFlag
	guest                          string
	guestArgs                      []string
	sockets, handshakes, handleMax int
	cache                          cacheOptions
	quiet                          bool
}

func runFlags(o *runOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.backend, "backend", "", "TLS backend `NAME` (see wasitls backends; default: the build's default)")
	fs.StringVar(&o.fingerprint, "fingerprint", "", "ClientHello fingerprint `NAME` for backends that have them (utls: chrome, firefox, ...)")
	fs.Var(&o.allow, "allow", "let the guest connect to `HOST:PORT` (repeatable; *, *.example.com, CIDR, port ranges)")
	fs.Var(&o.deny, "deny", "refuse `HOST:PORT` even when -allow matches (repeatable)")
	fs.BoolVar(&o.dns, "dns", true, "let the guest look names up (answers are limited to allowed destinations)")
	fs.Var(&o.ca, "ca", "trust the PEM certificates in `FILE` as well as the system roots (repeatable)")
	fs.Var(certFlag{&o.idents}, "client-cert", "client certificate chain `FILE` (PEM); starts a -client-cert/-client-key/-client-for group")
	fs.Var(keyFlag{&o.idents}, "client-key", "private key `FILE` (PEM) of the preceding -client-cert")
	fs.Var(forFlag{&o.idents}, "client-for", "present the preceding -client-cert to `PATTERN` (HOST:PORT; repeatable)")
	fs.Var(&o.alpn, "alpn", "offer ALPN protocols `LIST` (comma-separated, e.g. h2,http/1.1) to every destination")
	fs.StringVar(&o.minTLS, "min-tls", "", "minimum TLS `VERSION`: 1.2 or 1.3 (default 1.2)")
	fs.StringVar(&o.maxTLS, "max-tls", "", "maximum TLS `VERSION`: 1.2 or 1.3 (default 1.3)")
	durationVar(fs, &o.handshakeTimeout, "handshake-timeout", 0, "bound each TLS handshake (`DURATION`, default 30s)")
	durationVar(fs, &o.timeout, "timeout", 0, "stop the guest after `DURATION` (exit code 124; default: no limit)")
	fs.Var(&o.env, "env", "set the guest environment variable `K=V` (repeatable)")
	fs.Var(&o.mounts, "mount", "mount the host directory at a guest path: `HOST:GUEST[:ro]` (repeatable)")
	fs.Var(&o.opts, "opt", "backend option `K=V` handed to the provider in api.Config.Options (repeatable)")
	fs.StringVar(&o.pqMode, "pq-mode", "", "pq backend `MODE`: require (hybrid ML-KEM or fail) or prefer")
	fs.IntVar(&o.sockets, "max-sockets", 0, "open TCP sockets the guest may hold (default 64)")
	fs.IntVar(&o.handshakes, "max-handshakes", 0, "TLS handshakes the guest may have in flight (default 16)")
	fs.IntVar(&o.handleMax, "max-handles", 0, "resources the guest may hold (default 4096)")
	o.cache.flags(fs)
	fs.BoolVar(&o.quiet, "q", false, "say nothing on stderr about slow steps (compiling a guest the first time)")
	fs.BoolVar(&o.verbose, "v", false, "log every connection (destination, backend, version, cipher, group, ALPN, JA4, handshake time) to stderr")
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

	provider, policy, err := o.resolve()
	if err != nil {
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
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(o.cache, progress))
	defer r.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, _, err := compileGuest(ctx, r, wasm, filepath.Base(o.guest), o.cache, progress)
	if err != nil {
		return exitUsage, usagef("run %s: not a valid module: %v", o.guest, err)
	}

	var log *slog.Logger
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
		provider = inspector{Provider: provider, fn: func(r handshakeRecord) { logHandshake(log, r) }}
	}
	opts := []host.Option{host.WithProvider(provider), host.WithPolicy(policy)}
	if log != nil {
		opts = append(opts, host.WithObserver(func(e host.ConnEvent) { logEvent(log, e) }))
	}
	h := host.New(r)
	defer h.Close(context.Background())
	g, gctx, err := h.Prepare(ctx, opts...)
	if err != nil {
		// Prepare only fails on a policy the flags described badly.
		return exitUsage, usagef("run: %v", err)
	}
	defer g.Close(context.Background())
	_, err = r.InstantiateModule(gctx, compiled, mc)
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
		Limits:           host.Limits{Handles: o.handleMax, Sockets: o.sockets, Handshakes: o.handshakes},
	}
	if o.handshakeTimeout < 0 {
		return nil, nil, usagef("-handshake-timeout %v: must be positive", o.handshakeTimeout)
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
	if p.Identities, err = o.idents.load(); err != nil {
		return nil, nil, err
	}
	var protos []string
	for _, l := range o.alpn {
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				protos = append(protos, s)
			}
		}
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
	return provider, p, nil
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
	mc := wazero.NewModuleConfig().
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
		fsc := wazero.NewFSConfig()
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

func logHandshake(log *slog.Logger, r handshakeRecord) {
	attrs := []any{
		slog.String("dest", addrString(r.Remote)), slog.String("server", r.ServerName),
		slog.String("backend", r.Backend), slog.Duration("handshake", r.Duration.Round(10*time.Microsecond)),
	}
	ja4 := r.JA4
	if ja4 == "" {
		ja4 = "n/a"
	}
	if r.Err != nil {
		log.Warn("tls handshake failed", append(attrs, slog.String("ja4", ja4), slog.String("err", r.Err.Error()))...)
		return
	}
	s := r.State
	log.Info("tls handshake", append(attrs,
		slog.String("version", s.VersionName()), slog.String("cipher", s.CipherSuiteName()),
		slog.String("group", orNA(s.GroupName())), slog.String("alpn", orNA(s.NegotiatedProtocol)),
		slog.String("ja4", ja4), slog.Bool("resumed", s.DidResume))...)
}

func logEvent(log *slog.Logger, e host.ConnEvent) {
	switch e.Phase {
	case host.PhaseDenied:
		log.Warn("denied by policy", slog.String("dest", destString(e)), slog.Any("err", e.Err))
	case host.PhaseConnect:
		if e.Err != nil {
			log.Warn("tcp connect failed", slog.String("dest", e.Addr.String()), slog.Any("err", e.Err))
			return
		}
		log.Info("tcp connect", slog.String("dest", e.Addr.String()), slog.Duration("time", e.Duration.Round(10*time.Microsecond)))
	case host.PhaseClose:
		log.Info("tls closed", slog.String("dest", e.Addr.String()), slog.String("server", e.ServerName), slog.Duration("lifetime", e.Duration.Round(time.Microsecond)))
	}
	// PhaseHandshake is logged by the inspector, which also knows the JA4.
}

func destString(e host.ConnEvent) string {
	if e.Addr.IsValid() {
		return e.Addr.String()
	}
	return e.ServerName
}

func addrString(a fmt.Stringer) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
