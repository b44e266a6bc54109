package utls

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	tls "github.com/refraction-networking/utls"
)

// CustomPrefix starts a Config.Fingerprint that names a ClientHelloSpec JSON
// file, e.g. "custom:/etc/wasitls/capture.json".
const CustomPrefix = "custom:"

// DefaultFingerprint is the fingerprint used when Config.Fingerprint is empty
// and the Provider was built without WithFingerprint: the newest Chrome uTLS
// parrots.
const DefaultFingerprint = "chrome"

// kind says how a fingerprint's ClientHello is made.
type kind int

const (
	kindSpec       kind = iota // a uTLS parrot spec, adjusted and applied with HelloCustom
	kindGolang                 // uTLS's crypto/tls code path (honours the Config directly)
	kindRandomized             // a fresh random hello per connection
	kindJSON                   // a ClientHelloSpec from uTLS's JSON format
)

// fingerprint is one selectable ClientHello shape.
type fingerprint struct {
	name string
	kind kind
	id   tls.ClientHelloID // kindSpec
	json []byte            // kindJSON
}

// builtin maps every built-in name to its uTLS ClientHelloID. The unversioned
// names follow uTLS's *_Auto aliases.
var builtin = map[string]tls.ClientHelloID{
	"chrome":            tls.HelloChrome_Auto,
	"chrome-133":        tls.HelloChrome_133,
	"chrome-131":        tls.HelloChrome_131,
	"chrome-120":        tls.HelloChrome_120,
	"chrome-120-pq":     tls.HelloChrome_120_PQ,
	"chrome-115-pq":     tls.HelloChrome_115_PQ,
	"chrome-115-pq-psk": tls.HelloChrome_115_PQ_PSK,
	"chrome-114-psk":    tls.HelloChrome_114_Padding_PSK_Shuf,
	"chrome-112-psk":    tls.HelloChrome_112_PSK_Shuf,
	"chrome-106":        tls.HelloChrome_106_Shuffle,
	"chrome-102":        tls.HelloChrome_102,
	"chrome-100":        tls.HelloChrome_100,
	"chrome-100-psk":    tls.HelloChrome_100_PSK,
	"chrome-96":         tls.HelloChrome_96,
	"chrome-87":         tls.HelloChrome_87,
	"chrome-83":         tls.HelloChrome_83,
	"chrome-72":         tls.HelloChrome_72,
	"chrome-70":         tls.HelloChrome_70,
	"chrome-62":         tls.HelloChrome_62,
	"chrome-58":         tls.HelloChrome_58,
	"firefox":           tls.HelloFirefox_Auto,
	"firefox-120":       tls.HelloFirefox_120,
	"firefox-105":       tls.HelloFirefox_105,
	"firefox-102":       tls.HelloFirefox_102,
	"firefox-99":        tls.HelloFirefox_99,
	"firefox-65":        tls.HelloFirefox_65,
	"firefox-63":        tls.HelloFirefox_63,
	"firefox-56":        tls.HelloFirefox_56,
	"firefox-55":        tls.HelloFirefox_55,
	"safari":            tls.HelloSafari_Auto,
	"safari-16.0":       tls.HelloSafari_16_0,
	"ios":               tls.HelloIOS_Auto,
	"ios-14":            tls.HelloIOS_14,
	"ios-13":            tls.HelloIOS_13,
	"ios-12.1":          tls.HelloIOS_12_1,
	"ios-11.1":          tls.HelloIOS_11_1,
	"edge":              tls.HelloEdge_Auto,
	"edge-85":           tls.HelloEdge_85,
	"edge-106":          tls.HelloEdge_106,
	"android-okhttp":    tls.HelloAndroid_11_OkHttp,
	"android-11-okhttp": tls.HelloAndroid_11_OkHttp,
}

// Special built-in names that are not parrots.
const (
	Golang     = "golang"
	Randomized = "randomized"
)

// BuiltinFingerprints returns every built-in fingerprint name, sorted.
func BuiltinFingerprints() []string {
	names := make([]string, 0, len(builtin)+2)
	for n := range builtin {
		names = append(names, n)
	}
	names = append(names, Golang, Randomized)
	slices.Sort(names)
	return names
}

// lookup resolves a built-in or registered name, or a custom:<path> file.
func (p *Provider) lookup(name string) (*fingerprint, error) {
	if name == "" {
		name = p.defaultFP
	}
	switch name {
	case Golang:
		return &fingerprint{name: name, kind: kindGolang}, nil
	case Randomized:
		return &fingerprint{name: name, kind: kindRandomized}, nil
	}
	if id, ok := builtin[name]; ok {
		return &fingerprint{name: name, kind: kindSpec, id: id}, nil
	}
	if js, ok := p.specs[name]; ok {
		return &fingerprint{name: name, kind: kindJSON, json: js}, nil
	}
	if path, ok := strings.CutPrefix(name, CustomPrefix); ok {
		if path == "" {
			return nil, invalid("fingerprint %q names no file", name)
		}
		js, err := os.ReadFile(path)
		if err != nil {
			return nil, invalid("fingerprint %q: %w", name, err)
		}
		if _, err := parseSpec(js); err != nil {
			return nil, invalid("fingerprint %q: %w", name, err)
		}
		return &fingerprint{name: name, kind: kindJSON, json: js}, nil
	}
	return nil, invalid("unknown fingerprint %q (valid: %s, or %s<path to a uTLS ClientHelloSpec JSON file>)",
		name, strings.Join(p.Fingerprints(), ", "), CustomPrefix)
}

// parseSpec decodes uTLS's ClientHelloSpec JSON format. A fresh spec is made
// for every connection because uTLS shares extension state between
// connections that use the same spec value.
func parseSpec(js []byte) (*tls.ClientHelloSpec, error) {
	u := tls.ClientHelloSpecJSONUnmarshaler{
		// A real pre_shared_key extension, so that a captured Chrome hello
		// with a PSK can resume.
		Extensions: &tls.TLSExtensionsJSONUnmarshaler{UseRealPSK: true},
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	if err := dec.Decode(&u); err != nil {
		return nil, fmt.Errorf("ClientHelloSpec JSON: %w", err)
	}
	// uTLS dereferences these without checking.
	if u.CipherSuites == nil || len(u.CipherSuites.CipherSuites()) == 0 {
		return nil, errors.New("ClientHelloSpec JSON: no cipher_suites")
	}
	if u.CompressionMethods == nil {
		return nil, errors.New("ClientHelloSpec JSON: no compression_methods")
	}
	if len(u.Extensions.Extensions()) == 0 {
		return nil, errors.New("ClientHelloSpec JSON: no extensions")
	}
	spec := u.ClientHelloSpec()
	return &spec, nil
}

// spec returns a fresh ClientHelloSpec for a kindSpec or kindJSON fingerprint.
func (f *fingerprint) spec() (*tls.ClientHelloSpec, error) {
	if f.kind == kindJSON {
		return parseSpec(f.json)
	}
	s, err := tls.UTLSIdToSpec(f.id)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// hasPSK reports whether the fingerprint can resume a TLS 1.3 session: its
// hello carries a real pre_shared_key extension (or it is the Go hello).
func (f *fingerprint) hasPSK() bool {
	switch f.kind {
	case kindGolang:
		return true
	case kindRandomized:
		return false
	}
	s, err := f.spec()
	if err != nil {
		return false
	}
	for _, e := range s.Extensions {
		if _, ok := e.(*tls.UtlsPreSharedKeyExtension); ok {
			return true
		}
	}
	return false
}

// clampVersions limits the spec's offered versions to [minV, maxV]. The
// parrot's list is kept otherwise (GREASE included), so a bound that the
// parrot already meets does not change the fingerprint.
func clampVersions(s *tls.ClientHelloSpec, minV, maxV uint16) error {
	found := false
	for _, e := range s.Extensions {
		sv, ok := e.(*tls.SupportedVersionsExtension)
		if !ok {
			continue
		}
		found = true
		var kept []uint16
		real := 0
		for _, v := range sv.Versions {
			if isGREASE(v) {
				kept = append(kept, v)
			} else if v >= minV && v <= maxV {
				kept = append(kept, v)
				real++
			}
		}
		if real == 0 {
			return fmt.Errorf("the fingerprint offers no TLS version between %s and %s", versionName(minV), versionName(maxV))
		}
		sv.Versions = kept
	}
	if !found && s.TLSVersMax == 0 && minV > tls.VersionTLS12 {
		return fmt.Errorf("the fingerprint offers only TLS 1.2 and older, and MinVersion is %s", versionName(minV))
	}
	if s.TLSVersMin != 0 || s.TLSVersMax != 0 {
		lo, hi := max(s.TLSVersMin, minV), min(s.TLSVersMax, maxV)
		if s.TLSVersMax == 0 {
			hi = maxV
		}
		if lo > hi {
			return fmt.Errorf("the fingerprint offers no TLS version between %s and %s", versionName(minV), versionName(maxV))
		}
		s.TLSVersMin, s.TLSVersMax = lo, hi
	}
	return nil
}

// overrideALPN puts protos into the spec's ALPN extension, in place so that
// the extension order (and the rest of the fingerprint) stays. With no
// protos, ALPN and ALPS (which depends on ALPN) are removed.
func overrideALPN(s *tls.ClientHelloSpec, protos []string) {
	if len(protos) == 0 {
		s.Extensions = slices.DeleteFunc(s.Extensions, func(e tls.TLSExtension) bool {
			switch e.(type) {
			case *tls.ALPNExtension, *tls.ApplicationSettingsExtension, *tls.ApplicationSettingsExtensionNew:
				return true
			}
			return false
		})
		return
	}
	for _, e := range s.Extensions {
		if a, ok := e.(*tls.ALPNExtension); ok {
			a.AlpnProtocols = slices.Clone(protos)
			return
		}
	}
	// No ALPN in the parrot: add one before the extensions that must stay
	// last (padding, pre_shared_key).
	at := len(s.Extensions)
	for i, e := range s.Extensions {
		switch e.(type) {
		case *tls.UtlsPaddingExtension, tls.PreSharedKeyExtension:
			at = min(at, i)
		}
	}
	s.Extensions = slices.Insert(s.Extensions, at, tls.TLSExtension(&tls.ALPNExtension{AlpnProtocols: slices.Clone(protos)}))
}

func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS 1.0"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
