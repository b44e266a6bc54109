// Package guest is the root of wasitls's hand-written Go bindings for guest
// programs built with the standard Go compiler (GOOS=wasip1 GOARCH=wasm).
// Each subpackage binds one WASI interface with explicit 32-bit canonical-ABI
// layouts:
//
//	guest/cabi                  cabi_realloc and return-area decoding
//	guest/io/ioerror            wasi:io/error@0.2.6
//	guest/io/poll               wasi:io/poll@0.2.6
//	guest/io/streams            wasi:io/streams@0.2.6
//	guest/clocks/monotonic      wasi:clocks/monotonic-clock@0.2.6
//	guest/sockets/network       wasi:sockets/network and instance-network@0.2.6
//	guest/sockets/tcp           wasi:sockets/tcp and tcp-create-socket@0.2.6
//	guest/sockets/ipnamelookup  wasi:sockets/ip-name-lookup@0.2.6
//	guest/tls                   wasi:tls/types@0.2.0-draft
//
// A guest that connects and upgrades to TLS:
//
//	n := network.InstanceNetwork()
//	sock, _ := tcp.CreateTCPSocket(network.IPv4)
//	_ = sock.StartConnect(n, network.IPSocketAddress{Addr: addr, Port: 443})
//	// ... wait on sock.Subscribe(), then:
//	in, out, _ := sock.FinishConnect()
//	fut := tls.Finish(tls.NewClientHandshake("example.com", in, out))
//	// ... wait on fut.Subscribe(), then:
//	conn, tin, tout, err := fut.Get()
//
// The packages build on every platform, so that go doc and pkg.go.dev show
// their API, but the host functions exist only in a GOOS=wasip1 guest run
// by a wasitls host: elsewhere they panic with cabi.ErrUnsupportedPlatform
// (guest/wasinet returns it as an error instead).
package guest
