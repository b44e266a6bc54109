//go:build !wasip1

package tcp

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func createTCPSocket(family uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp-create-socket@0.2.6 create-tcp-socket"))
}
func startBind(self, network uint32, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-bind"))
}
func finishBind(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-bind"))
}
func startConnect(self, network uint32, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-connect"))
}
func finishConnect(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-connect"))
}
func startListen(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-listen"))
}
func finishListen(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-listen"))
}
func accept(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.accept"))
}
func localAddress(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.local-address"))
}
func remoteAddress(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.remote-address"))
}
func isListening(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.is-listening"))
}
func addressFamily(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.address-family"))
}
func setListenBacklogSize(self uint32, value uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-listen-backlog-size"))
}
func keepAliveEnabled(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-enabled"))
}
func setKeepAliveEnabled(self uint32, value uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-enabled"))
}
func keepAliveIdleTime(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-idle-time"))
}
func setKeepAliveIdleTime(self uint32, value uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-idle-time"))
}
func keepAliveInterval(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-interval"))
}
func setKeepAliveInterval(self uint32, value uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-interval"))
}
func keepAliveCount(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-count"))
}
func setKeepAliveCount(self uint32, value uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-count"))
}
func hopLimit(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.hop-limit"))
}
func setHopLimit(self uint32, value uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-hop-limit"))
}
func receiveBufferSize(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.receive-buffer-size"))
}
func setReceiveBufferSize(self uint32, value uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-receive-buffer-size"))
}
func sendBufferSize(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.send-buffer-size"))
}
func setSendBufferSize(self uint32, value uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-send-buffer-size"))
}
func subscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.subscribe"))
}
func shutdown(self uint32, how uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [method]tcp-socket.shutdown"))
}
func drop(self uint32) { panic(cabi.Unsupported("wasi:sockets/tcp@0.2.6 [resource-drop]tcp-socket")) }
