package main

import (
	"flag"
	"maps"
	"os"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/policyfile"
)

// policyFileHelp is how -policy combines with the other flags (in -h and
// the README).
const policyFileHelp = "read the policy from the YAML `FILE` (see examples/policy.yaml); " +
	"list flags (-allow, -deny, -ca, -client-*, -alpn, -opt) add to the file's lists, other flags given on the command line (-backend, -dns, -max-*, ...) override the file"

// loadPolicyFile reads -policy, if given, and takes the file's backend,
// fingerprint and memory limit unless the command line gives them, so that
// resolve checks them together.
func (o *runOptions) loadPolicyFile(fs *flag.FlagSet) (*policyfile.File, error) {
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if o.policyFile == "" {
		return nil, nil
	}
	if err := fileExists("-policy", o.policyFile); err != nil {
		return nil, err
	}
	f, err := policyfile.Load(o.policyFile)
	if err != nil {
		return nil, usagef("-policy %v", err)
	}
	if !o.set["backend"] {
		o.backend = f.Backend
	}
	if !o.set["fingerprint"] {
		o.fingerprint = f.Policy.Fingerprint
	}
	if !o.set["max-memory"] && f.MemoryLimit != 0 {
		o.maxMemory.n = f.MemoryLimit
	}
	return f, nil
}

// mergePolicyFile combines the file's policy with the one the flags made:
// lists are the file's followed by the flags', scalars given on the command
// line win, the others are the file's.
func (o *runOptions) mergePolicyFile(f *policyfile.File, flags *host.Policy) (*host.Policy, error) {
	if f == nil {
		return flags, nil
	}
	p := *f.Policy
	p.Allow = append(append([]string(nil), p.Allow...), flags.Allow...)
	p.Deny = append(append([]string(nil), p.Deny...), flags.Deny...)
	p.Identities = append(append([]host.Identity(nil), p.Identities...), flags.Identities...)
	p.ALPN = append(append([]host.ALPNRule(nil), p.ALPN...), flags.ALPN...)
	p.Listen = append(append([]string(nil), p.Listen...), flags.Listen...)
	if flags.Serve != nil {
		p.Serve = flags.Serve // -server-cert groups replace the file's serve
	}
	p.Fingerprint = flags.Fingerprint // o.fingerprint: the flag, else the file's
	if len(flags.Options) > 0 {
		p.Options = maps.Clone(p.Options)
		if p.Options == nil {
			p.Options = map[string]string{}
		}
		maps.Copy(p.Options, flags.Options)
	}
	if len(o.ca) > 0 {
		if p.RootCAs == nil {
			p.RootCAs = flags.RootCAs // the system roots and -ca
		} else {
			p.RootCAs = p.RootCAs.Clone()
			for _, c := range o.ca {
				pem, err := os.ReadFile(c)
				if err != nil {
					return nil, usagef("-ca %s: %v", c, err)
				}
				p.RootCAs.AppendCertsFromPEM(pem)
			}
		}
	}
	for name, set := range map[string]func(){
		"dns":               func() { p.NameLookup = flags.NameLookup },
		"min-tls":           func() { p.MinVersion = flags.MinVersion },
		"max-tls":           func() { p.MaxVersion = flags.MaxVersion },
		"handshake-timeout": func() { p.HandshakeTimeout = flags.HandshakeTimeout },
		"max-handles":       func() { p.Limits.Handles = flags.Limits.Handles },
		"max-sockets":       func() { p.Limits.Connections = flags.Limits.Connections },
		"max-handshakes":    func() { p.Limits.Handshakes = flags.Limits.Handshakes },
	} {
		if o.set[name] {
			set()
		}
	}
	if p.MinVersion != 0 && p.MaxVersion != 0 && p.MinVersion > p.MaxVersion {
		return nil, usagef("-policy %s with the flags: the minimum TLS version is above the maximum", o.policyFile)
	}
	return &p, nil
}
