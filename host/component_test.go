package host

import "testing"

// TestNetworkNoop: jco's extra [method]network.noop does nothing with a
// network handle and traps on anything else.
func TestNetworkNoop(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.12")
	n := x.call1("wasi:sockets/instance-network", "instance-network")
	x.call("wasi:sockets/network", "[method]network.noop", uint64(n))
	x.wantTrap([]string{"[method]network.noop"}, "wasi:sockets/network", "[method]network.noop", uint64(n+1000))
	x.call("wasi:sockets/network", "[resource-drop]network", uint64(n))
	x.wantTrap([]string{"[method]network.noop"}, "wasi:sockets/network", "[method]network.noop", uint64(n))
	for _, f := range Functions("wasi:sockets/network@0.2.12") {
		if f == "[method]network.noop" {
			t.Fatal("Functions lists the noop, which the WIT does not have")
		}
	}
}
