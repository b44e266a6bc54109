package host

import (
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// UDP is not supported: create-udp-socket answers not-supported, so no
// udp-socket (nor datagram stream) handle can exist, and every method traps
// on its handle. The interfaces are here so that modules whose toolchain
// links them can still be instantiated.

var sockUDPCreate = register(&iface{name: witnames.SocketsUDPCreateSocket, fns: []fnDef{
	def(witnames.CreateUDPSocket, func(c *call, stack []uint64) {
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

var sockUDP = register(&iface{name: witnames.SocketsUDP, fns: []fnDef{
	def(witnames.UDPSocketStartBind, noUDP(rUDPSocket), p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.UDPSocketFinishBind, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketStream, noUDP(rUDPSocket), p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.UDPSocketLocalAddress, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketRemoteAddress, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketAddressFamily, noUDP(rUDPSocket), p(i32), i32),
	def(witnames.UDPSocketUnicastHopLimit, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketSetUnicastHopLimit, noUDP(rUDPSocket), p(i32, i32, i32)),
	def(witnames.UDPSocketReceiveBufferSize, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketSetReceiveBufferSize, noUDP(rUDPSocket), p(i32, i64, i32)),
	def(witnames.UDPSocketSendBufferSize, noUDP(rUDPSocket), p(i32, i32)),
	def(witnames.UDPSocketSetSendBufferSize, noUDP(rUDPSocket), p(i32, i64, i32)),
	def(witnames.UDPSocketSubscribe, noUDP(rUDPSocket), p(i32), i32),
	def(witnames.DropUDPSocket, noUDP(rUDPSocket), p(i32)),
	def(witnames.IncomingDatagramStreamReceive, noUDP(rIncomingDatagrams), p(i32, i64, i32)),
	def(witnames.IncomingDatagramStreamSubscribe, noUDP(rIncomingDatagrams), p(i32), i32),
	def(witnames.DropIncomingDatagramStream, noUDP(rIncomingDatagrams), p(i32)),
	def(witnames.OutgoingDatagramStreamCheckSend, noUDP(rOutgoingDatagrams), p(i32, i32)),
	def(witnames.OutgoingDatagramStreamSend, noUDP(rOutgoingDatagrams), p(i32, i32, i32, i32)),
	def(witnames.OutgoingDatagramStreamSubscribe, noUDP(rOutgoingDatagrams), p(i32), i32),
	def(witnames.DropOutgoingDatagramStream, noUDP(rOutgoingDatagrams), p(i32)),
}})
