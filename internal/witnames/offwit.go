package witnames

import "strconv"

// Names that wit/ does not have: wasi:sockets/udp and udp-create-socket,
// which it leaves out (the host answers them only with not-supported; the
// names are upstream's), and jco's [method]network.noop.
const (
	SocketsUDPCreateSocket = "wasi:sockets/udp-create-socket"
	SocketsUDP             = "wasi:sockets/udp"
)

// Functions of wasi:sockets/udp-create-socket.
const CreateUDPSocket = "create-udp-socket"

// Functions of wasi:sockets/udp.
const (
	UDPSocketStartBind              = "[method]udp-socket.start-bind"
	UDPSocketFinishBind             = "[method]udp-socket.finish-bind"
	UDPSocketStream                 = "[method]udp-socket.stream"
	UDPSocketLocalAddress           = "[method]udp-socket.local-address"
	UDPSocketRemoteAddress          = "[method]udp-socket.remote-address"
	UDPSocketAddressFamily          = "[method]udp-socket.address-family"
	UDPSocketUnicastHopLimit        = "[method]udp-socket.unicast-hop-limit"
	UDPSocketSetUnicastHopLimit     = "[method]udp-socket.set-unicast-hop-limit"
	UDPSocketReceiveBufferSize      = "[method]udp-socket.receive-buffer-size"
	UDPSocketSetReceiveBufferSize   = "[method]udp-socket.set-receive-buffer-size"
	UDPSocketSendBufferSize         = "[method]udp-socket.send-buffer-size"
	UDPSocketSetSendBufferSize      = "[method]udp-socket.set-send-buffer-size"
	UDPSocketSubscribe              = "[method]udp-socket.subscribe"
	DropUDPSocket                   = "[resource-drop]udp-socket"
	IncomingDatagramStreamReceive   = "[method]incoming-datagram-stream.receive"
	IncomingDatagramStreamSubscribe = "[method]incoming-datagram-stream.subscribe"
	DropIncomingDatagramStream      = "[resource-drop]incoming-datagram-stream"
	OutgoingDatagramStreamCheckSend = "[method]outgoing-datagram-stream.check-send"
	OutgoingDatagramStreamSend      = "[method]outgoing-datagram-stream.send"
	OutgoingDatagramStreamSubscribe = "[method]outgoing-datagram-stream.subscribe"
	DropOutgoingDatagramStream      = "[resource-drop]outgoing-datagram-stream"
)

// sockAddr names the 12 core values of an ip-socket-address parameter and
// an option of one (13).
func sockAddr(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name + "-" + strconv.Itoa(i)
	}
	return out
}

// NetworkNoop is a function jco's adapter imports that no WIT declares.
const NetworkNoop = "[method]network.noop"

var offWITParams = map[string][]string{
	SocketsNetwork + "#" + NetworkNoop:                 {"self"},
	SocketsUDPCreateSocket + "#" + CreateUDPSocket:     {"address-family", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketStartBind:              append(append([]string{"self", "network"}, sockAddr("local-address", 12)...), "ret-ptr"),
	SocketsUDP + "#" + UDPSocketFinishBind:             {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketStream:                 append(append([]string{"self"}, sockAddr("remote-address", 13)...), "ret-ptr"),
	SocketsUDP + "#" + UDPSocketLocalAddress:           {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketRemoteAddress:          {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketAddressFamily:          {"self"},
	SocketsUDP + "#" + UDPSocketUnicastHopLimit:        {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketSetUnicastHopLimit:     {"self", "value", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketReceiveBufferSize:      {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketSetReceiveBufferSize:   {"self", "value", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketSendBufferSize:         {"self", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketSetSendBufferSize:      {"self", "value", "ret-ptr"},
	SocketsUDP + "#" + UDPSocketSubscribe:              {"self"},
	SocketsUDP + "#" + DropUDPSocket:                   {"self"},
	SocketsUDP + "#" + IncomingDatagramStreamReceive:   {"self", "max-results", "ret-ptr"},
	SocketsUDP + "#" + IncomingDatagramStreamSubscribe: {"self"},
	SocketsUDP + "#" + DropIncomingDatagramStream:      {"self"},
	SocketsUDP + "#" + OutgoingDatagramStreamCheckSend: {"self", "ret-ptr"},
	SocketsUDP + "#" + OutgoingDatagramStreamSend:      {"self", "datagrams-ptr", "datagrams-len", "ret-ptr"},
	SocketsUDP + "#" + OutgoingDatagramStreamSubscribe: {"self"},
	SocketsUDP + "#" + DropOutgoingDatagramStream:      {"self"},
}
