package pqproof

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/wasitls/wasitls/api"
)

// The proof protocol. Right after the TLS handshake the server sends one frame
//
//	"WPQ1" | uint16 len | SubjectPublicKeyInfo (DER) | uint16 len | signature
//
// (lengths big-endian) where signature is a pure ML-DSA signature (FIPS 204,
// context string ProofContext) over the 32-byte TLS exporter value of the
// connection for label ProofLabel and no context. Nothing else changes: the
// application protocol starts after the frame.
const (
	ProofLabel   = "EXPORTER-wasitls-pq-mldsa-proof"
	ProofContext = "wasitls pq proof v1"
	proofMagic   = "WPQ1"
	exporterLen  = 32
	maxSPKILen   = 4096 // ML-DSA-87: 2592-byte key plus 22 bytes of DER
	maxSigLen    = 8192 // ML-DSA-87: 4627 bytes
)

// Errors wrapped (inside an *api.Error of KindBadCertificate) when a pinned
// server fails to prove its ML-DSA key. Match them with errors.Is.
var (
	ErrNoProof     = errors.New("server sent no ML-DSA proof")
	ErrPinMismatch = errors.New("server's ML-DSA key matches no pin")
	ErrBadProof    = errors.New("ML-DSA proof does not verify")
)

// ML-DSA algorithm identifiers (RFC 9881; NIST CSOR sigAlgs arc).
var (
	OIDMLDSA44 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	OIDMLDSA65 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	OIDMLDSA87 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
)

type mldsaScheme struct {
	oid    asn1.ObjectIdentifier
	scheme sign.Scheme
}

var mldsaSchemes = []mldsaScheme{
	{OIDMLDSA44, mldsa44.Scheme()},
	{OIDMLDSA65, mldsa65.Scheme()},
	{OIDMLDSA87, mldsa87.Scheme()},
}

func schemeByOID(oid asn1.ObjectIdentifier) (sign.Scheme, bool) {
	for _, s := range mldsaSchemes {
		if s.oid.Equal(oid) {
			return s.scheme, true
		}
	}
	return nil, false
}

func oidOfScheme(sch sign.Scheme) (asn1.ObjectIdentifier, bool) {
	for _, s := range mldsaSchemes {
		if s.scheme.Name() == sch.Name() {
			return s.oid, true
		}
	}
	return nil, false
}

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// MarshalPublicKey encodes an ML-DSA-44/65/87 public key as a DER
// SubjectPublicKeyInfo (RFC 9881: no algorithm parameters, the raw key in
// the BIT STRING).
func MarshalPublicKey(pub sign.PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, errors.New("pq: nil public key")
	}
	oid, ok := oidOfScheme(pub.Scheme())
	if !ok {
		return nil, fmt.Errorf("pq: %s is not ML-DSA-44, -65 or -87", pub.Scheme().Name())
	}
	raw, err := pub.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("pq: marshal public key: %w", err)
	}
	return asn1.Marshal(spki{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid},
		PublicKey: asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)},
	})
}

// ParsePublicKey decodes a DER SubjectPublicKeyInfo holding an ML-DSA-44,
// -65 or -87 key.
func ParsePublicKey(der []byte) (sign.PublicKey, error) {
	var k spki
	rest, err := asn1.Unmarshal(der, &k)
	switch {
	case err != nil:
		return nil, fmt.Errorf("pq: parse SubjectPublicKeyInfo: %w", err)
	case len(rest) != 0:
		return nil, errors.New("pq: trailing data after SubjectPublicKeyInfo")
	case len(k.Algorithm.Parameters.FullBytes) != 0:
		return nil, errors.New("pq: ML-DSA algorithm identifier must have no parameters")
	case k.PublicKey.BitLength%8 != 0:
		return nil, errors.New("pq: public key is not a whole number of bytes")
	}
	sch, ok := schemeByOID(k.Algorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("pq: algorithm %v is not ML-DSA-44, -65 or -87", k.Algorithm.Algorithm)
	}
	if len(k.PublicKey.Bytes) != sch.PublicKeySize() {
		return nil, fmt.Errorf("pq: %s public key is %d bytes, want %d", sch.Name(), len(k.PublicKey.Bytes), sch.PublicKeySize())
	}
	pub, err := sch.UnmarshalBinaryPublicKey(k.PublicKey.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pq: %s public key: %w", sch.Name(), err)
	}
	return pub, nil
}

// ParsePublicKeyPEM decodes a "PUBLIC KEY" PEM block holding an ML-DSA key,
// as written by OpenSSL 3.5 or Node.js (KeyObject.export({type: "spki"})).
func ParsePublicKeyPEM(data []byte) (sign.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New(`pq: no "PUBLIC KEY" PEM block`)
	}
	return ParsePublicKey(b.Bytes)
}

// Pin names an ML-DSA public key: "sha256/" and the standard base64 of the
// SHA-256 of its DER SubjectPublicKeyInfo (the HPKP pin format).
type Pin string

const pinPrefix = "sha256/"

// PinOf returns the pin of an ML-DSA public key.
func PinOf(pub sign.PublicKey) (Pin, error) {
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return "", err
	}
	return pinOfSPKI(der), nil
}

func pinOfSPKI(der []byte) Pin {
	sum := sha256.Sum256(der)
	return Pin(pinPrefix + base64.StdEncoding.EncodeToString(sum[:]))
}

// ParsePin checks the form of a pin.
func ParsePin(s string) (Pin, error) {
	s = strings.TrimSpace(s)
	b64, ok := strings.CutPrefix(s, pinPrefix)
	if !ok {
		return "", fmt.Errorf("pin %q does not start with %q", s, pinPrefix)
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return "", fmt.Errorf("pin %q is not the base64 of a SHA-256 hash", s)
	}
	return Pin(s), nil
}

// ParsePins parses a comma-separated list of pins.
func ParsePins(list string) ([]Pin, error) {
	var pins []Pin
	for _, f := range strings.Split(list, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := ParsePin(f)
		if err != nil {
			return nil, err
		}
		pins = append(pins, p)
	}
	if len(pins) == 0 {
		return nil, errors.New("no pins given")
	}
	return pins, nil
}

// WriteProof sends the ML-DSA proof for the connection whose state is cs: the
// server side of the pinning protocol, to be called right after the server's
// handshake and before any application data.
func WriteProof(w io.Writer, cs tls.ConnectionState, key sign.PrivateKey) error {
	if key == nil {
		return errors.New("pq: nil ML-DSA key")
	}
	pub, ok := key.Public().(sign.PublicKey)
	if !ok {
		return errors.New("pq: key has no circl public key")
	}
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	ekm, err := cs.ExportKeyingMaterial(ProofLabel, nil, exporterLen)
	if err != nil {
		return fmt.Errorf("pq: export keying material: %w", err)
	}
	sig := key.Scheme().Sign(key, ekm, &sign.SignatureOpts{Context: ProofContext})
	frame := make([]byte, 0, 8+len(der)+len(sig))
	frame = append(frame, proofMagic...)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(der)))
	frame = append(frame, der...)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(sig)))
	frame = append(frame, sig...)
	_, err = w.Write(frame)
	return err
}

// Prove completes the server handshake on conn and sends the proof.
func Prove(ctx context.Context, conn *tls.Conn, key sign.PrivateKey) error {
	if err := conn.HandshakeContext(ctx); err != nil {
		return err
	}
	return WriteProof(conn, conn.ConnectionState(), key)
}

// ReadProof reads the server's proof frame from c and checks it against
// pins: the client side of the protocol, right after the handshake, bounded
// by ctx (or api.DefaultHandshakeTimeout when ctx has no deadline).
// It reads exactly the frame, so application data behind it stays buffered
// in c for the guest.
func ReadProof(ctx context.Context, c *tls.Conn, pins []Pin) (Pin, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(api.DefaultHandshakeTimeout)
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoProof, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	pin, err := readAndVerify(c, pins)
	if !stop() {
		// The context ended while we read: whatever we got, give up, since
		// the deadline may now be in the past.
		return "", fmt.Errorf("%w: %w", ErrNoProof, context.Cause(ctx))
	}
	if err != nil {
		return "", err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoProof, err)
	}
	return pin, nil
}

func readAndVerify(c *tls.Conn, pins []Pin) (Pin, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoProof, err)
	}
	if !bytes.Equal(hdr[:4], []byte(proofMagic)) {
		return "", fmt.Errorf("%w: the server's first bytes are %q, not a proof frame", ErrNoProof, hdr[:])
	}
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	if n == 0 || n > maxSPKILen {
		return "", fmt.Errorf("%w: public key length %d out of range", ErrBadProof, n)
	}
	der := make([]byte, n+2)
	if _, err := io.ReadFull(c, der); err != nil {
		return "", fmt.Errorf("%w: truncated frame: %w", ErrBadProof, err)
	}
	m := int(binary.BigEndian.Uint16(der[n:]))
	der = der[:n]
	if m == 0 || m > maxSigLen {
		return "", fmt.Errorf("%w: signature length %d out of range", ErrBadProof, m)
	}
	sig := make([]byte, m)
	if _, err := io.ReadFull(c, sig); err != nil {
		return "", fmt.Errorf("%w: truncated frame: %w", ErrBadProof, err)
	}

	got := pinOfSPKI(der)
	matched := false
	for _, p := range pins {
		matched = matched || subtle.ConstantTimeCompare([]byte(p), []byte(got)) == 1
	}
	if !matched {
		return "", fmt.Errorf("%w: server proved key %s", ErrPinMismatch, got)
	}
	pub, err := ParsePublicKey(der)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	sch := pub.Scheme()
	if len(sig) != sch.SignatureSize() {
		return "", fmt.Errorf("%w: %s signature is %d bytes, want %d", ErrBadProof, sch.Name(), len(sig), sch.SignatureSize())
	}
	cs := c.ConnectionState()
	ekm, err := cs.ExportKeyingMaterial(ProofLabel, nil, exporterLen)
	if err != nil {
		return "", fmt.Errorf("%w: export keying material: %w", ErrBadProof, err)
	}
	if !sch.Verify(pub, ekm, sig, &sign.SignatureOpts{Context: ProofContext}) {
		return "", fmt.Errorf("%w: %s signature by %s over this connection's exporter is invalid", ErrBadProof, sch.Name(), got)
	}
	return got, nil
}
