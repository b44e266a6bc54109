// Package api is the contract between the wasitls host and a TLS backend.
//
// The host owns the guest's sockets and streams; a [Provider] owns the TLS
// handshake and record layer. The host calls [Provider.Client] with a
// transport (the guest's TCP connection) and a per-connection [Config], and
// gets back a [Conn] that carries plaintext and reports its [ConnectionState].
//
// A Provider is as small as the simple case needs: wrap crypto/tls in a dozen
// lines, or wrap another Provider to add pinning, logging or policy. Failures
// are returned as [*Error] values with a [Kind], so a host can map them and a
// caller can match them with errors.Is or errors.As:
//
//	conn, err := p.Client(ctx, tcp, &api.Config{ServerName: "db.internal"})
//	if errors.Is(err, api.ErrUnknownAuthority) {
//		// the server's chain does not lead to a configured root
//	}
//
// Backends register themselves by name with [Register]; a host selects one at
// run time with [Lookup] or takes the build's default from [Default].
//
// This is the contract; a backend author's helpers are in api/backendkit
// (with a minimal backend), the table of error kinds in api/kind.
package api
