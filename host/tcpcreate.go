package host

import (
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

var sockTCPCreate = register(&iface{name: witnames.SocketsTCPCreateSocket, fns: []fnDef{
	def(witnames.CreateTCPSocket, createTCPSocket, p(i32, i32)),
}})

// createTCPSocket: (family 0=ipv4 1=ipv6, retptr) -> result<own<tcp-socket>, error-code>: +0 tag, +4 handle or code.
func createTCPSocket(c *call, stack []uint64) {
	fam, ret := wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1])
	a := cabi.HandleArea
	c.Area(ret, a.Size, a.Align)
	if fam > 1 {
		c.trap("ip-address-family %d is not 0 (ipv4) or 1 (ipv6)", fam)
	}
	if int(c.g.conns.Add(1)) > c.g.pol.limits.Connections {
		c.g.conns.Add(-1)
		putCode(c, a, ret, ecNewSocketLimit)
		return
	}
	s := &tcpSocket{g: c.g, family: uint8(fam), counted: true, bindFD: -1, opts: tcpOptions{keepAlive: true, keepIdle: 15 * time.Second, keepIntvl: 15 * time.Second, keepCount: 9, hopLimit: 64, recvBuf: 128 << 10, sendBuf: 128 << 10}}
	s.done.update(true)
	h := c.push(rTCPSocket, s, 0)
	b := okArea(c, a, ret)
	cabi.PutU32(b, a.OK, h)
}
