// Package ipnamelookup binds wasi:sockets/ip-name-lookup@0.2.6:
// asynchronous resolution of host names to IP addresses.
//
//	rs, err := ipnamelookup.ResolveAddresses(n, "localhost")
//	p := rs.Subscribe()
//	for {
//		addr, ok, err := rs.ResolveNextAddress()
//		if errors.Is(err, network.WouldBlock) {
//			p.Block()
//			continue
//		}
//		if err != nil || !ok {
//			break
//		}
//		use(addr)
//	}
//	p.Drop()
//	rs.Drop()
package ipnamelookup
