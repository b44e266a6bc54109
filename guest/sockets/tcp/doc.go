// Package tcp binds wasi:sockets/tcp@0.2.6 and
// wasi:sockets/tcp-create-socket@0.2.6.
//
// Slow steps are split in two: start-x begins, finish-x returns
// network.WouldBlock until the socket's pollable is ready.
//
//	s, _ := tcp.CreateTCPSocket(network.IPv4)
//	_ = s.StartConnect(net, network.IPSocketAddress{Addr: addr, Port: 443})
//	p := s.Subscribe()
//	in, out, err := s.FinishConnect()
//	for errors.Is(err, network.WouldBlock) {
//		p.Block()
//		in, out, err = s.FinishConnect()
//	}
//	p.Drop()
package tcp
