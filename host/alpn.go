package host

import (
	"net"
	"slices"
)

// ALPN limits of set-alpn-ids (wit/ext): RFC 7301 ids are 1 to 255 bytes;
// 32 ids is far more than any client offers.
const (
	maxALPNIDs   = 32
	maxALPNIDLen = 255
)

// alpnRule returns the protocols of the first ALPN rule matching
// serverName at port, and whether a rule matched.
func (p *policy) alpnRule(serverName string, port uint16) ([]string, bool) {
	for i := range p.alpn {
		if p.alpn[i].portOK(port) && p.alpn[i].matchName(serverName) {
			return p.ALPN[i].Protocols, true
		}
	}
	return nil, false
}

// guestALPN is what the host offers for a guest that asked for asked
// (set-alpn-ids): the ids the policy's rule for the destination allows, in
// the guest's order, or all of them where no rule matches.
func (p *policy) guestALPN(serverName string, port uint16, asked []string) []string {
	allowed, ok := p.alpnRule(serverName, port)
	if !ok {
		return slices.Clone(asked)
	}
	out := []string{}
	for _, a := range asked {
		if slices.Contains(allowed, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// port is the remote port of the TCP connection under the handshake's
// input stream (0 if none), the port policy.config matches ALPN rules with.
func (h *handshake) port() uint16 {
	if h.in.tcp == nil {
		return 0
	}
	if ta, ok := h.in.tcp.conn.RemoteAddr().(*net.TCPAddr); ok {
		return uint16(ta.Port)
	}
	return 0
}
