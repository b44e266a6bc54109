package main

import (
	"crypto/x509"
	"flag"
	"os"
	"strings"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// serveOptions are the flags of a guest that serves: where it may listen
// and the TLS identities the host holds for it.
type serveOptions struct {
	listen     listFlag
	certs      identityFlags // prefix "server"
	clientCAs  listFlag
	serverALPN string
}

func (s *serveOptions) flags(fs *flag.FlagSet) {
	s.certs.prefix = "server"
	fs.Var(&s.listen, "listen", "let the guest bind and listen on `ADDR:PORT` (repeatable; an IP address or CIDR, port, range or *; nothing by default)")
	fs.Var(certFlag{&s.certs}, "server-cert", "server certificate chain `FILE` (PEM) for the guest's TLS server handshakes; starts a -server-cert/-server-key/-server-for group")
	fs.Var(keyFlag{&s.certs}, "server-key", "private key `FILE` (PEM) of the preceding -server-cert; the guest never sees it")
	fs.Var(forFlag{&s.certs}, "server-for", "present the preceding -server-cert to clients asking for server `NAME` (SNI; name or *.suffix; repeatable); a group without it is the default")
	fs.Var(&s.clientCAs, "client-ca", "require clients of the guest's TLS server to present a certificate issued by the CAs in `FILE` (PEM; repeatable)")
	fs.StringVar(&s.serverALPN, "server-alpn", "", "ALPN protocols the guest's TLS server accepts, in preference `LIST` (comma-separated, e.g. h2,http/1.1)")
}

// apply adds the serving side to p; every error is a usage error.
func (s *serveOptions) apply(p *host.Policy, provider api.Provider) error {
	for _, l := range s.listen {
		if err := host.CheckListenPattern(l); err != nil {
			return usagef("-listen %s: %v", l, err)
		}
	}
	p.Listen = append(p.Listen, s.listen...)
	if len(s.certs.groups) == 0 {
		switch {
		case len(s.clientCAs) > 0:
			return usagef("-client-ca: needs -server-cert and -server-key (the guest's TLS server)")
		case s.serverALPN != "":
			return usagef("-server-alpn: needs -server-cert and -server-key (the guest's TLS server)")
		}
		return nil
	}
	if _, ok := provider.(api.ServerProvider); !ok {
		return usagef("-server-cert: backend %s has no server side (stdtls has)", provider.Name())
	}
	pairs, err := s.certs.loadPairs()
	if err != nil {
		return err
	}
	sp := &host.ServePolicy{}
	for i, g := range s.certs.groups {
		sp.Certificates = append(sp.Certificates, host.ServerCertificate{ServerNames: g.dests, Certificate: pairs[i]})
	}
	if s.serverALPN != "" {
		if sp.NextProtos, err = parseALPN("-server-alpn", s.serverALPN); err != nil {
			return err
		}
	}
	if len(s.clientCAs) > 0 {
		sp.ClientCAs = x509.NewCertPool()
		for _, f := range s.clientCAs {
			if err := fileExists("-client-ca", f); err != nil {
				return err
			}
			pem, err := os.ReadFile(f)
			if err != nil {
				return usagef("-client-ca %s: %v", f, err)
			}
			if !sp.ClientCAs.AppendCertsFromPEM(pem) {
				return usagef("-client-ca %s: no PEM certificate in the file", f)
			}
		}
	}
	p.Serve = sp
	return nil
}

// parseALPN reads the comma-separated ALPN ids of flag's lists (one per
// use of the flag): spaces around an id are dropped; an empty id or one
// over 255 bytes is a usage error.
func parseALPN(flag string, lists ...string) ([]string, error) {
	var protos []string
	for _, l := range lists {
		for _, id := range strings.Split(l, ",") {
			id = strings.TrimSpace(id)
			if id == "" || len(id) > 255 {
				return nil, usagef("%s %q: want a comma-separated list of protocols (1 to 255 bytes each)", flag, l)
			}
			protos = append(protos, id)
		}
	}
	return protos, nil
}
