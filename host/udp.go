package host

import (
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// UDP is not supported: create-udp-socket answers not-supported, so no
// udp-socket (nor datagram stream) handle can exist, and every method traps
// on its handle. The interfaces are here so that modules whose toolchain
// links them can still be instantiated.

var sockUDPCreate = register(&iface{name: "wasi:sockets/udp-create-socket", fns: []fnDef{
	def("create-udp-socket", func(c *call, stack []uint64) {
		fam, ret := wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1])
		c.Area(ret, cabi.HandleArea.Size, cabi.HandleArea.Align)
		if fam > 1 {
			c.trap("ip-address-family %d is not 0 (ipv4) or 1 (ipv6)", fam)
		}
		putCode(c, cabi.HandleArea, ret, ecNotSupported)
	}, p(i32, i32)),
}})

// noUDP checks the handle (which always traps: none can exist).
func noUDP(k rkind) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		c.get(wapi.DecodeU32(stack[0]), k)
		c.trap("%s is not supported", k) // unreachable: no such handle exists
	}
}

var sockUDP = register(&iface{name: "wasi:sockets/udp", fns: []fnDef{
	def("[method]udp-socket.start-bind", noUDP(rUDPSocket), p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def("[method]udp-socket.finish-bind", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.stream", noUDP(rUDPSocket), p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def("[method]udp-socket.local-address", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.remote-address", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.address-family", noUDP(rUDPSocket), p(i32), i32),
	def("[method]udp-socket.unicast-hop-limit", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.set-unicast-hop-limit", noUDP(rUDPSocket), p(i32, i32, i32)),
	def("[method]udp-socket.receive-buffer-size", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.set-receive-buffer-size", noUDP(rUDPSocket), p(i32, i64, i32)),
	def("[method]udp-socket.send-buffer-size", noUDP(rUDPSocket), p(i32, i32)),
	def("[method]udp-socket.set-send-buffer-size", noUDP(rUDPSocket), p(i32, i64, i32)),
	def("[method]udp-socket.subscribe", noUDP(rUDPSocket), p(i32), i32),
	def("[resource-drop]udp-socket", noUDP(rUDPSocket), p(i32)),
	def("[method]incoming-datagram-stream.receive", noUDP(rIncomingDatagrams), p(i32, i64, i32)),
	def("[method]incoming-datagram-stream.subscribe", noUDP(rIncomingDatagrams), p(i32), i32),
	def("[resource-drop]incoming-datagram-stream", noUDP(rIncomingDatagrams), p(i32)),
	def("[method]outgoing-datagram-stream.check-send", noUDP(rOutgoingDatagrams), p(i32, i32)),
	def("[method]outgoing-datagram-stream.send", noUDP(rOutgoingDatagrams), p(i32, i32, i32, i32)),
	def("[method]outgoing-datagram-stream.subscribe", noUDP(rOutgoingDatagrams), p(i32), i32),
	def("[resource-drop]outgoing-datagram-stream", noUDP(rOutgoingDatagrams), p(i32)),
}})
