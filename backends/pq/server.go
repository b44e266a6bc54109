package pq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/internal/gotls"
)

// Server runs a crypto/tls server handshake under the same key-exchange
// policy as Client: in require mode TLS 1.3 with the hybrid ML-KEM groups
// only, so a client that offers none of them (or only TLS 1.2) fails with
// the KindPQRequired error; in prefer mode the hybrid groups come first.
// ML-DSA pins are a client's check and do not apply.
func (p *Provider) Server(ctx context.Context, transport net.Conn, cfg *api.ServerConfig) (api.Conn, error) {
	s, err := p.check(&api.Config{MinVersion: cfg.MinVersion, MaxVersion: cfg.MaxVersion, Options: cfg.Options})
	if err != nil {
		return nil, err
	}
	plain := *cfg
	plain.Options = nil
	tc, err := gotls.ServerConfig(&plain, p.name)
	if err != nil {
		return nil, backendkit.Classify(err, p.name)
	}
	s.applyGroups(tc)
	c, err := gotls.Server(ctx, transport, tc, cfg.Timeout(), p.name)
	if err != nil {
		return nil, p.classifyServer(err, s.mode)
	}
	if cs := c.ConnectionState(); s.mode == Require && !api.IsHybridPQ(cs.CurveID) {
		_ = c.Close()
		return nil, &api.Error{Kind: api.KindPQRequired, Backend: p.name,
			Err: fmt.Errorf("negotiated group %s is not a hybrid ML-KEM group", api.GroupName(cs.CurveID))}
	}
	return &Conn{Conn: c}, nil
}

// classifyServer maps a server handshake error: in require mode a client
// with no hybrid group in common, or without TLS 1.3, is the policy's
// refusal.
func (p *Provider) classifyServer(err error, mode Mode) error {
	cerr := backendkit.Classify(err, p.name)
	if mode != Require {
		return cerr
	}
	var ae *api.Error
	msg := err.Error()
	// crypto/tls's TLS 1.3 server (require mode is TLS 1.3 only) says so.
	noGroup := strings.Contains(msg, "no key exchanges supported by both client and server")
	if !noGroup && !(errors.As(cerr, &ae) && ae.Kind == api.KindProtocolVersion) {
		return cerr
	}
	return &api.Error{Kind: api.KindPQRequired, Backend: p.name,
		Err: fmt.Errorf("client offered no hybrid ML-KEM group with TLS 1.3: %w", cerr)}
}
