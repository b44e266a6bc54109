package tcp

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:sockets/tcp-create-socket@0.2.6 create-tcp-socket
func createTCPSocket(family uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-bind
func startBind(self, network uint32, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-bind
func finishBind(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-connect
func startConnect(self, network uint32, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-connect
func finishConnect(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.start-listen
func startListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.finish-listen
func finishListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.accept
func accept(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.local-address
func localAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.remote-address
func remoteAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.is-listening
func isListening(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.address-family
func addressFamily(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-listen-backlog-size
func setListenBacklogSize(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-enabled
func keepAliveEnabled(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-enabled
func setKeepAliveEnabled(self uint32, value uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-idle-time
func keepAliveIdleTime(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-idle-time
func setKeepAliveIdleTime(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-interval
func keepAliveInterval(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-interval
func setKeepAliveInterval(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.keep-alive-count
func keepAliveCount(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-keep-alive-count
func setKeepAliveCount(self uint32, value uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.hop-limit
func hopLimit(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-hop-limit
func setHopLimit(self uint32, value uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.receive-buffer-size
func receiveBufferSize(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-receive-buffer-size
func setReceiveBufferSize(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.send-buffer-size
func sendBufferSize(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.set-send-buffer-size
func setSendBufferSize(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.subscribe
func subscribe(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.6 [method]tcp-socket.shutdown
func shutdown(self uint32, how uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.6 [resource-drop]tcp-socket
func drop(self uint32)
