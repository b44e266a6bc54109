package host

import (
	"github.com/wasitls/wasitls/internal/witnames"
)

var sockInstanceNetwork = register(&iface{name: witnames.SocketsInstanceNetwork, fns: []fnDef{
	def(witnames.InstanceNetwork, func(c *call, stack []uint64) {
		stack[0] = uint64(c.push(rNetwork, &network{}, 0))
	}, nil, i32),
}})
