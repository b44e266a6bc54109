// Package fuzzhost holds the host's reliability and security tests that drive
// it through the public API with generated guests (internal/testkit/rawguest):
//
//   - FuzzHostCalls: random sequences of host calls with random arguments
//     and guest memory (handles of every type, stale handles, pointers at and
//     past the end of memory, huge lengths). Each call returns cleanly or
//     traps ("wasitls: trap ..."); nothing else escapes, nothing hangs, and
//     after the guest closes no handle, goroutine or descriptor is left.
//   - faults: guests that trap or are closed mid-handshake and mid-read,
//     canceled contexts, Providers that panic or never return.
//   - quotas: the per-guest Limits (handles, sockets, handshakes in flight).
//   - policy bypass attempts: no way to skip verification, reach a denied
//     address (directly, through name-lookup answers or IPv4-mapped IPv6),
//     or find the client key in guest memory.
//
// Run the fuzzer with
//
//	go test -run XXX -fuzz '^FuzzHostCalls$' -fuzztime 30s ./internal/testkit/fuzzhost
package fuzzhost
