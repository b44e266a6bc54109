package observe

import (
	"cmp"
	"slices"
	"sync"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// Metrics counts what hosts report to their observer: handshakes and their
// failures by backend and kind, TCP connects, policy denials, plaintext
// bytes, and open TLS connections per guest. It needs no dependency; read
// it with Snapshot and export it with whatever the program already uses
// (examples/prometheus). Observe is the host.WithObserver function:
//
//	m := observe.NewMetrics()
//	h := host.New(r, host.WithObserver(m.Observe), host.WithLogger(logger))
//	m.Watch(h) // per-guest handles, connections, handshakes, buffered bytes
//
// A Metrics is safe for concurrent use and may observe several hosts.
type Metrics struct {
	mu         sync.Mutex
	handshakes map[[2]string]uint64 // backend, result
	connects   map[string]uint64    // result
	denials    map[string]uint64    // what
	bytes      map[string][2]uint64 // backend: in, out
	conns      map[uint64]*guestConns
	hosts      []*host.Host
}

type guestConns struct {
	name string
	open int
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	return &Metrics{
		handshakes: map[[2]string]uint64{}, connects: map[string]uint64{}, denials: map[string]uint64{},
		bytes: map[string][2]uint64{}, conns: map[uint64]*guestConns{},
	}
}

// ResultOK is the result of a handshake or connect that succeeded; a
// failed handshake's result is its api.Kind's name ("unknown authority",
// "handshake timeout", ...), a failed connect's is "failed".
const ResultOK = "ok"

// Observe counts one event. Pass it to host.WithObserver.
func (m *Metrics) Observe(e host.ConnEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch e.Phase {
	case host.PhaseConnect:
		r := ResultOK
		if e.Err != nil {
			r = "failed"
		}
		m.connects[r]++
	case host.PhaseDenied:
		what := "lookup"
		switch {
		case e.Addr.IsValid() && e.ServerName != "":
			what = "handshake" // a server name Deny covers
		case e.Addr.IsValid():
			what = "connect"
		}
		m.denials[what]++
	case host.PhaseHandshake:
		r := ResultOK
		if e.Err != nil {
			r = api.KindOf(e.Err).String()
		}
		m.handshakes[[2]string{e.Backend, r}]++
		if e.Err == nil {
			gc := m.conns[e.GuestID]
			if gc == nil {
				gc = &guestConns{name: e.Guest}
				m.conns[e.GuestID] = gc
			}
			gc.open++
		}
	case host.PhaseClose:
		b := m.bytes[e.Backend]
		m.bytes[e.Backend] = [2]uint64{b[0] + e.BytesIn, b[1] + e.BytesOut}
		if gc := m.conns[e.GuestID]; gc != nil {
			if gc.open--; gc.open <= 0 {
				delete(m.conns, e.GuestID)
			}
		}
	}
}

// Watch adds h's guests to Snapshot's per-guest gauges (host.Host.Stats),
// read when the snapshot is taken.
func (m *Metrics) Watch(h *host.Host) {
	m.mu.Lock()
	m.hosts = append(m.hosts, h)
	m.mu.Unlock()
}

// Snapshot is the counters at one moment. Every list is sorted.
type Snapshot struct {
	Handshakes []HandshakeCount
	Connects   []Count // Key: ResultOK or "failed"
	Denials    []Count // Key: "connect", "lookup" or "handshake"
	Bytes      []BytesCount
	Guests     []GuestGauges
}

// HandshakeCount is the number of handshakes of one backend with one
// result (ResultOK or the failure's api.Kind).
type HandshakeCount struct {
	Backend, Result string
	N               uint64
}

// Count is a counter with one label.
type Count struct {
	Key string
	N   uint64
}

// BytesCount is the plaintext received and sent over one backend's TLS
// connections, counted when they close.
type BytesCount struct {
	Backend string
	In, Out uint64
}

// GuestGauges is what one open guest holds: its open TLS connections (from
// events) and, for guests of a watched host, host.GuestStats.
type GuestGauges struct {
	host.GuestStats
	OpenConns int
}

// Snapshot returns the counters and the gauges of every open guest.
func (m *Metrics) Snapshot() Snapshot {
	m.mu.Lock()
	hosts := slices.Clone(m.hosts)
	var s Snapshot
	for k, n := range m.handshakes {
		s.Handshakes = append(s.Handshakes, HandshakeCount{Backend: k[0], Result: k[1], N: n})
	}
	s.Connects = counts(m.connects)
	s.Denials = counts(m.denials)
	for b, n := range m.bytes {
		s.Bytes = append(s.Bytes, BytesCount{Backend: b, In: n[0], Out: n[1]})
	}
	conns := map[uint64]GuestGauges{}
	for id, gc := range m.conns {
		conns[id] = GuestGauges{GuestStats: host.GuestStats{ID: id, Name: gc.name}, OpenConns: gc.open}
	}
	m.mu.Unlock()

	for _, h := range hosts {
		for _, st := range h.Stats() {
			g := conns[st.ID]
			g.GuestStats = st
			conns[st.ID] = g
		}
	}
	for _, g := range conns {
		s.Guests = append(s.Guests, g)
	}
	slices.SortFunc(s.Handshakes, func(a, b HandshakeCount) int {
		return cmp.Or(cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Result, b.Result))
	})
	slices.SortFunc(s.Bytes, func(a, b BytesCount) int { return cmp.Compare(a.Backend, b.Backend) })
	slices.SortFunc(s.Guests, func(a, b GuestGauges) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

func counts(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Key, b.Key) })
	return out
}
