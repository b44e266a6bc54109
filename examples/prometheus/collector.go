package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasitls/wasitls/observe"
)

// Collector exports an observe.Metrics: counters as they stand, per-guest
// gauges summed over guests of the same name (guest names repeat; their ids
// would make a label without bound).
type Collector struct {
	m *observe.Metrics
}

// NewCollector returns a Collector for m.
func NewCollector(m *observe.Metrics) *Collector { return &Collector{m} }

var (
	handshakes = prometheus.NewDesc("wasitls_handshakes_total",
		"TLS handshakes by backend and result (ok, or the failure's kind).", []string{"backend", "result"}, nil)
	connects = prometheus.NewDesc("wasitls_tcp_connects_total",
		"TCP connects by result (ok or failed).", []string{"result"}, nil)
	denials = prometheus.NewDesc("wasitls_policy_denials_total",
		"Connects and name lookups the policy refused.", []string{"what"}, nil)
	bytesIn = prometheus.NewDesc("wasitls_tls_received_bytes_total",
		"Plaintext received over closed TLS connections.", []string{"backend"}, nil)
	bytesOut = prometheus.NewDesc("wasitls_tls_sent_bytes_total",
		"Plaintext sent over closed TLS connections.", []string{"backend"}, nil)
	openConns = prometheus.NewDesc("wasitls_guest_open_tls_connections",
		"Open TLS connections per guest.", []string{"guest"}, nil)
	handles = prometheus.NewDesc("wasitls_guest_handles",
		"Open resources per guest.", []string{"guest"}, nil)
	connections = prometheus.NewDesc("wasitls_guest_connections",
		"TCP sockets and the connections still open after them, per guest (host.Limits.Connections).", []string{"guest"}, nil)
	buffered = prometheus.NewDesc("wasitls_guest_buffered_bytes",
		"Bytes the host holds in the guest's stream buffers.", []string{"guest"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{handshakes, connects, denials, bytesIn, bytesOut, openConns, handles, connections, buffered} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Snapshot()
	for _, h := range s.Handshakes {
		ch <- prometheus.MustNewConstMetric(handshakes, prometheus.CounterValue, float64(h.N), h.Backend, h.Result)
	}
	for _, n := range s.Connects {
		ch <- prometheus.MustNewConstMetric(connects, prometheus.CounterValue, float64(n.N), n.Key)
	}
	for _, n := range s.Denials {
		ch <- prometheus.MustNewConstMetric(denials, prometheus.CounterValue, float64(n.N), n.Key)
	}
	for _, b := range s.Bytes {
		ch <- prometheus.MustNewConstMetric(bytesIn, prometheus.CounterValue, float64(b.In), b.Backend)
		ch <- prometheus.MustNewConstMetric(bytesOut, prometheus.CounterValue, float64(b.Out), b.Backend)
	}
	type gauges struct{ conns, handles, connections, buffered int }
	byName := map[string]*gauges{}
	for _, g := range s.Guests {
		x := byName[g.Name]
		if x == nil {
			x = &gauges{}
			byName[g.Name] = x
		}
		x.conns += g.OpenConns
		x.handles += g.Handles
		x.connections += g.Connections
		x.buffered += g.BufferedBytes
	}
	for name, x := range byName {
		ch <- prometheus.MustNewConstMetric(openConns, prometheus.GaugeValue, float64(x.conns), name)
		ch <- prometheus.MustNewConstMetric(handles, prometheus.GaugeValue, float64(x.handles), name)
		ch <- prometheus.MustNewConstMetric(connections, prometheus.GaugeValue, float64(x.connections), name)
		ch <- prometheus.MustNewConstMetric(buffered, prometheus.GaugeValue, float64(x.buffered), name)
	}
}
