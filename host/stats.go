package host

import (
	"cmp"
	"slices"
)

// GuestStats is what one guest holds at the moment it is read.
type GuestStats struct {
	ID            uint64 // ConnEvent.GuestID
	Name          string // ConnEvent.Guest
	Handles       int    // open resources of every kind (Limits.Handles)
	Connections   int    // TCP sockets and the connections still open after them (Limits.Connections)
	Handshakes    int    // TLS handshakes in flight (Limits.Handshakes)
	BufferedBytes int    // bytes held in stream buffers (Limits.BufferedBytes)
}

// Stats returns the gauges of every open guest, for metrics read at
// collection time (see package observe). It takes no guest's lock for long
// and never blocks on a guest's I/O.
func (h *Host) Stats() []GuestStats {
	h.mu.Lock()
	gs := make([]*Guest, 0, len(h.guests))
	for g := range h.guests {
		gs = append(gs, g)
	}
	h.mu.Unlock()
	out := make([]GuestStats, 0, len(gs))
	for _, g := range gs {
		out = append(out, GuestStats{
			ID: g.id, Name: g.Name(), Handles: g.OpenHandles(), Connections: int(g.conns.Load()),
			Handshakes: int(g.handshakes.Load()), BufferedBytes: g.BufferedBytes(),
		})
	}
	slices.SortFunc(out, func(a, b GuestStats) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
