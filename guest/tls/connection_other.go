//go:build !wasip1

package tls

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Stand-ins for the extension's imports outside a wasip1 guest (see
// imports_other.go).

const extModule = "wasitls:tls/connection@0.1.0 "

func setALPNIDs(handshake uint32, ids unsafe.Pointer, n uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported(extModule + "set-alpn-ids"))
}
func negotiatedProtocol(conn uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported(extModule + "negotiated-protocol"))
}
func protocolVersion(conn uint32) uint32 { panic(cabi.Unsupported(extModule + "protocol-version")) }
func cipherSuite(conn uint32) uint32     { panic(cabi.Unsupported(extModule + "cipher-suite")) }
func keyExchangeGroup(conn uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported(extModule + "key-exchange-group"))
}
func resumed(conn uint32) uint32 { panic(cabi.Unsupported(extModule + "resumed")) }
func peerCertificates(conn uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported(extModule + "peer-certificates"))
}
