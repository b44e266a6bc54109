// Package pqproof is the ML-DSA key proof of the pq backend, both sides: a
// server that holds an ML-DSA-44/65/87 key (cloudflare/circl, FIPS 204) signs
// its connection's TLS exporter value right after the handshake and sends the
// signature with its public key as one frame ([WriteProof], [Prove]); a client
// checks the key against its pins and the signature against the exporter of
// its own connection ([ReadProof]). A server proving its key imports this
// package, not the pq client backend:
//
//	tc := tls.Server(tcp, serverConfig)
//	if err := pqproof.Prove(ctx, tc, key); err != nil { ... }
//
// Pins ([Pin], [PinOf], [ParsePin]) are SHA-256 hashes of the key's
// SubjectPublicKeyInfo (OIDs of RFC 9881), the format OpenSSL 3.5 and Node.js
// export. Why the proof exists and what it guarantees: the pq package
// documentation.
package pqproof
