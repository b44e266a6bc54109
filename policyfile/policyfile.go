// Package policyfile reads a guest's policy from a YAML file written by
// hand: everything the CLI's flags can say (destinations, name lookups,
// trust roots, client identities per destination (and over streams), ALPN, TLS versions,
// handshake timeout, backend, fingerprint, backend options, limits), as a
// host.Policy and a backend name. examples/policy.yaml has every field.
//
//	f, err := policyfile.Load("policy.yaml")
//	opts, err := f.Options() // host.WithPolicy and host.WithProvider
//	g, err := h.Instantiate(ctx, compiled, mc, opts...)
//
// Unknown fields, a value of the wrong type, a bad destination pattern, a
// missing or unreadable certificate file are errors that name the file, the
// line and the field: "policy.yaml:12: deny[1]: bad destination pattern ...".
// Relative file names in the file are relative to the file's directory.
// JSON is YAML, so a policy written as JSON loads too.
// A missing field takes the default the CLI gives it (dns: true; the rest:
// host.Policy's zero value).
package policyfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// schema is the file's layout. Keys are the CLI's flag names where there is
// one.
type schema struct {
	Backend          string            `yaml:"backend"`
	Fingerprint      string            `yaml:"fingerprint"`
	Options          map[string]string `yaml:"options"`
	Allow            []string          `yaml:"allow"`
	Deny             []string          `yaml:"deny"`
	DNS              *bool             `yaml:"dns"`
	CA               []string          `yaml:"ca"`
	SystemRoots      *bool             `yaml:"system-roots"`
	Identities       []identity        `yaml:"identities"`
	StreamIdentities bool              `yaml:"stream-identities"`
	ALPN             []alpnRule        `yaml:"alpn"`
	MinTLS           string            `yaml:"min-tls"`
	MaxTLS           string            `yaml:"max-tls"`
	HandshakeTimeout string            `yaml:"handshake-timeout"`
	Limits           limits            `yaml:"limits"`
	Listen           []string          `yaml:"listen"`
	Serve            *serve            `yaml:"serve"`
}

// serve is the guest's TLS server side (host.ServePolicy).
type serve struct {
	Backend      string       `yaml:"backend"`
	Certificates []serverCert `yaml:"certificates"`
	ClientCA     []string     `yaml:"client-ca"`
	ALPN         []string     `yaml:"alpn"`
}

type serverCert struct {
	Cert string   `yaml:"cert"`
	Key  string   `yaml:"key"`
	For  []string `yaml:"for"`
}

type identity struct {
	Cert string   `yaml:"cert"`
	Key  string   `yaml:"key"`
	For  []string `yaml:"for"`
}

type alpnRule struct {
	For       []string `yaml:"for"`
	Protocols []string `yaml:"protocols"`
}

type limits struct {
	Handles       int    `yaml:"handles"`
	Connections   int    `yaml:"connections"`
	Handshakes    int    `yaml:"handshakes"`
	BufferedBytes int    `yaml:"buffered-bytes"`
	Memory        string `yaml:"memory"`
}

// File is a loaded policy file.
type File struct {
	Name    string       // the file name, as given
	Policy  *host.Policy // validated: host accepts it
	Backend string       // the backend named by the file; "" for the default

	// MemoryLimit bounds guest linear memory (limits.memory; 0: not set).
	// It is the runtime's setting, not the policy's: apply it with
	// host.MemoryLimit to the wazero.RuntimeConfig.
	MemoryLimit uint64
}

// Error is a problem in a policy file.
type Error struct {
	File  string
	Line  int    // 0 when unknown
	Field string // e.g. "deny[1]", "limits.sockets"; "" for the whole file
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and checks the policy file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(data, path)
}

// Parse checks a policy file's contents; name is used in errors and its
// directory resolves relative file names.
func Parse(data []byte, name string) (*File, error) {
	p := &parser{name: name, dir: filepath.Dir(name)}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, p.yamlError(nil, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Line: extra.Line, Err: errors.New("more than one YAML document")}
	}
	p.root = &root
	var s schema
	if len(root.Content) > 0 {
		if root.Content[0].Kind != yaml.MappingNode {
			return nil, &Error{File: name, Line: root.Content[0].Line, Err: errors.New("want a mapping of policy fields (allow:, deny:, ...)")}
		}
		strict := yaml.NewDecoder(bytes.NewReader(data))
		strict.KnownFields(true)
		if err := strict.Decode(&s); err != nil {
			return nil, p.yamlError(&root, err)
		}
	}
	return p.build(&s)
}

type parser struct {
	name, dir string
	root      *yaml.Node
}

// fail returns an error for the field at path (keys and indices).
func (p *parser) fail(err error, path ...any) error {
	return &Error{File: p.name, Line: lineOf(p.root, path), Field: fieldName(path), Err: err}
}

func (p *parser) build(s *schema) (*File, error) {
	pol := &host.Policy{Fingerprint: s.Fingerprint, NameLookup: true, StreamIdentities: s.StreamIdentities}
	f := &File{Name: p.name, Backend: s.Backend, Policy: pol}

	var prov api.Provider
	var err error
	if s.Backend != "" {
		if prov, err = api.Lookup(s.Backend); err != nil {
			return nil, p.fail(fmt.Errorf("%q is not in this build (compiled in: %s)", s.Backend, strings.Join(api.Names(), ", ")), "backend")
		}
	} else {
		prov, _ = api.Default()
	}
	if s.Fingerprint != "" && prov != nil {
		fp, ok := prov.(api.Fingerprinter)
		switch {
		case !ok:
			return nil, p.fail(fmt.Errorf("backend %s has no fingerprints", prov.Name()), "fingerprint")
		case !slices.Contains(fp.Fingerprints(), s.Fingerprint):
			return nil, p.fail(fmt.Errorf("%q: backend %s knows %s", s.Fingerprint, prov.Name(), strings.Join(fp.Fingerprints(), ", ")), "fingerprint")
		}
	}
	if len(s.Options) > 0 {
		pol.Options = s.Options
	}

	for _, l := range []struct {
		key string
		in  []string
		out *[]string
	}{{"allow", s.Allow, &pol.Allow}, {"deny", s.Deny, &pol.Deny}} {
		for i, d := range l.in {
			if err := checkPattern(d); err != nil {
				return nil, p.fail(err, l.key, i)
			}
		}
		*l.out = l.in
	}
	if s.DNS != nil {
		pol.NameLookup = *s.DNS
	}

	system := s.SystemRoots == nil || *s.SystemRoots
	if len(s.CA) > 0 || !system {
		if pol.RootCAs, err = p.roots(s.CA, system); err != nil {
			return nil, err
		}
	}

	for i, id := range s.Identities {
		if id.Cert == "" || id.Key == "" {
			return nil, p.fail(errors.New("want cert: FILE and key: FILE"), "identities", i)
		}
		if len(id.For) == 0 {
			return nil, p.fail(errors.New("want for: [HOST:PORT, ...] (which destinations get this identity)"), "identities", i)
		}
		cert, err := tls.LoadX509KeyPair(p.path(id.Cert), p.path(id.Key))
		if err != nil {
			return nil, p.fail(err, "identities", i, "cert")
		}
		for j, d := range id.For {
			if err := checkPattern(d); err != nil {
				return nil, p.fail(err, "identities", i, "for", j)
			}
			pol.Identities = append(pol.Identities, host.Identity{Dest: d, Certificate: &cert})
		}
	}

	for i, r := range s.ALPN {
		if len(r.Protocols) == 0 {
			return nil, p.fail(errors.New("want protocols: [h2, http/1.1, ...]"), "alpn", i)
		}
		dests := r.For
		if len(dests) == 0 {
			dests = []string{"*:*"}
		}
		for j, d := range dests {
			if err := checkPattern(d); err != nil {
				return nil, p.fail(err, "alpn", i, "for", j)
			}
			pol.ALPN = append(pol.ALPN, host.ALPNRule{Dest: d, Protocols: r.Protocols})
		}
	}

	if pol.MinVersion, err = ParseTLSVersion(s.MinTLS); err != nil {
		return nil, p.fail(err, "min-tls")
	}
	if pol.MaxVersion, err = ParseTLSVersion(s.MaxTLS); err != nil {
		return nil, p.fail(err, "max-tls")
	}
	if pol.MinVersion != 0 && pol.MaxVersion != 0 && pol.MinVersion > pol.MaxVersion {
		return nil, p.fail(fmt.Errorf("%s is above max-tls %s", s.MinTLS, s.MaxTLS), "min-tls")
	}
	if s.HandshakeTimeout != "" {
		d, err := time.ParseDuration(s.HandshakeTimeout)
		if err != nil || d <= 0 {
			return nil, p.fail(fmt.Errorf("%q: want a positive duration like 10s", s.HandshakeTimeout), "handshake-timeout")
		}
		pol.HandshakeTimeout = d
	}

	for _, l := range []struct {
		key string
		n   int
	}{{"handles", s.Limits.Handles}, {"connections", s.Limits.Connections}, {"handshakes", s.Limits.Handshakes}, {"buffered-bytes", s.Limits.BufferedBytes}} {
		if l.n < 0 {
			return nil, p.fail(fmt.Errorf("%d: must not be negative (0 or absent: the default)", l.n), "limits", l.key)
		}
	}
	pol.Limits = host.Limits{Handles: s.Limits.Handles, Connections: s.Limits.Connections, Handshakes: s.Limits.Handshakes, BufferedBytes: s.Limits.BufferedBytes}
	if s.Limits.Memory != "" {
		n, err := ParseSize(s.Limits.Memory)
		if err != nil || n < 64<<10 || n > 1<<32 {
			return nil, p.fail(fmt.Errorf("%q: want 64KiB to 4GiB, e.g. 256MiB", s.Limits.Memory), "limits", "memory")
		}
		f.MemoryLimit = n
	}

	for i, l := range s.Listen {
		if err := host.CheckListenPattern(l); err != nil {
			return nil, p.fail(err, "listen", i)
		}
	}
	pol.Listen = s.Listen
	if s.Serve != nil {
		if pol.Serve, err = p.serve(s.Serve, prov); err != nil {
			return nil, err
		}
	}

	// What the backend itself refuses (api.Validator), as the host will
	// check it: each option alone, then the whole configuration.
	if prov != nil {
		for k, v := range s.Options {
			if err := api.ValidateConfig(prov, &api.Config{Options: map[string]string{k: v}}); err != nil {
				return nil, p.fail(err, "options", k)
			}
		}
		cfg := &api.Config{Options: pol.Options, Fingerprint: pol.Fingerprint, MinVersion: pol.MinVersion, MaxVersion: pol.MaxVersion, HandshakeTimeout: pol.HandshakeTimeout}
		if err := api.ValidateConfig(prov, cfg); err != nil {
			field := "backend"
			for _, k := range []string{"max-tls", "min-tls", "fingerprint"} {
				if slices.Contains(topKeys(p.root), k) {
					field = k
				}
			}
			return nil, p.fail(err, field)
		}
	}
	return f, nil
}

// ParseSize parses a byte count with an optional binary unit: 512KiB,
// 64MiB, 1GiB (K, M, G mean the same), or plain bytes.
func ParseSize(s string) (uint64, error) {
	num, unit := s, uint64(1)
	for _, u := range []struct {
		suffixes []string
		mult     uint64
	}{{[]string{"KiB", "K"}, 1 << 10}, {[]string{"MiB", "M"}, 1 << 20}, {[]string{"GiB", "G"}, 1 << 30}} {
		for _, suf := range u.suffixes {
			if rest, ok := strings.CutSuffix(s, suf); ok && rest != "" {
				num, unit = rest, u.mult
				break
			}
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > 1<<40 {
		return 0, errors.New("want a size such as 512MiB, 1GiB or a number of bytes")
	}
	return n * unit, nil
}

// Provider returns the file's backend, or the build's default.
func (f *File) Provider() (api.Provider, error) {
	if f.Backend == "" {
		return api.Default()
	}
	return api.Lookup(f.Backend)
}

// Options returns host.WithPolicy and host.WithProvider for the file.
func (f *File) Options() ([]host.Option, error) {
	prov, err := f.Provider()
	if err != nil {
		return nil, &Error{File: f.Name, Field: "backend", Err: err}
	}
	return []host.Option{host.WithPolicy(f.Policy), host.WithProvider(prov)}, nil
}

func (p *parser) path(s string) string {
	if filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.dir, s)
}

// roots returns the system roots (if system) plus the certificates in files.
// serve builds the server side; prov is the guest's backend.
func (p *parser) serve(s *serve, prov api.Provider) (*host.ServePolicy, error) {
	sp := &host.ServePolicy{NextProtos: s.ALPN}
	if s.Backend != "" {
		b, err := api.Lookup(s.Backend)
		if err != nil {
			return nil, p.fail(fmt.Errorf("%q is not in this build (compiled in: %s)", s.Backend, strings.Join(api.Names(), ", ")), "serve", "backend")
		}
		if sp.Provider, _ = b.(api.ServerProvider); sp.Provider == nil {
			return nil, p.fail(fmt.Errorf("backend %s has no server side", s.Backend), "serve", "backend")
		}
	} else if _, ok := prov.(api.ServerProvider); prov != nil && !ok {
		return nil, p.fail(fmt.Errorf("backend %s has no server side: name one that has (serve: backend: stdtls)", prov.Name()), "serve")
	}
	if len(s.Certificates) == 0 {
		return nil, p.fail(errors.New("want certificates: [{cert: FILE, key: FILE, for: [NAME, ...]}, ...]"), "serve")
	}
	for i, c := range s.Certificates {
		if c.Cert == "" || c.Key == "" {
			return nil, p.fail(errors.New("want cert: FILE and key: FILE"), "serve", "certificates", i)
		}
		cert, err := tls.LoadX509KeyPair(p.path(c.Cert), p.path(c.Key))
		if err != nil {
			return nil, p.fail(err, "serve", "certificates", i, "cert")
		}
		sp.Certificates = append(sp.Certificates, host.ServerCertificate{ServerNames: c.For, Certificate: &cert})
	}
	if len(s.ClientCA) > 0 {
		sp.ClientCAs = x509.NewCertPool()
		for i, f := range s.ClientCA {
			pem, err := os.ReadFile(p.path(f))
			if err != nil {
				return nil, p.fail(err, "serve", "client-ca", i)
			}
			if !sp.ClientCAs.AppendCertsFromPEM(pem) {
				return nil, p.fail(fmt.Errorf("%s: no PEM certificate in the file", f), "serve", "client-ca", i)
			}
		}
	}
	if err := host.CheckServe(sp); err != nil {
		return nil, p.fail(err, "serve")
	}
	return sp, nil
}

func (p *parser) roots(files []string, system bool) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if system {
		if sp, err := x509.SystemCertPool(); err == nil && sp != nil {
			pool = sp
		}
	}
	for i, c := range files {
		pem, err := os.ReadFile(p.path(c))
		if err != nil {
			return nil, p.fail(err, "ca", i)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, p.fail(fmt.Errorf("%s: no PEM certificate in the file", c), "ca", i)
		}
	}
	return pool, nil
}

// ParseTLSVersion parses "1.2" or "1.3" ("" is 0: the default), as the
// file's min-tls and max-tls and the CLI's flags say them.
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.2 or 1.3", s)
}

// checkPattern checks a destination pattern as the host will.
func checkPattern(d string) error {
	if err := host.CheckPattern(d); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "host: "))
	}
	return nil
}
