package tls

import "unsafe"

// The functions of wasitls:tls/connection@0.1.0 (wit/ext).

//go:wasmimport wasitls:tls/connection@0.1.0 set-alpn-ids
func setALPNIDs(handshake uint32, ids unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/connection@0.1.0 negotiated-protocol
func negotiatedProtocol(conn uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/connection@0.1.0 protocol-version
func protocolVersion(conn uint32) uint32

//go:wasmimport wasitls:tls/connection@0.1.0 cipher-suite
func cipherSuite(conn uint32) uint32

//go:wasmimport wasitls:tls/connection@0.1.0 key-exchange-group
func keyExchangeGroup(conn uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/connection@0.1.0 resumed
func resumed(conn uint32) uint32

//go:wasmimport wasitls:tls/connection@0.1.0 peer-certificates
func peerCertificates(conn uint32, ret unsafe.Pointer)
