// Package host runs wasi-tls guests on wazero: it implements
// wasi:tls/types@0.2.0-draft together with the WASI 0.2 interfaces a guest
// needs around it: wasi:io, wasi:sockets (TCP and name lookup; UDP answers
// not-supported), wasi:clocks, and the rest of the wasi:cli/command world
// (wasi:cli, wasi:random, wasi:filesystem). The TLS itself is done by an
// [api.Provider] on the host.
//
// A guest may also serve: bind, listen and accept where [Policy].Listen
// allows, and run TLS server handshakes through this project's extension
// wasitls:tls/server@0.1.0 ([ServerTLSModule]) with the certificates
// of [Policy].Serve, which the guest never sees.
//
// Every guest instance gets its own host-module instances, bound to its own
// handle table, provider and [Policy], so two guests in one wazero.Runtime can
// use different backends at the same time and can never reach each other's
// handles. Guests made by [Host.Instantiate] share the compiled code of those
// modules, and each call is served for the guest whose module made it, so a
// guest costs no host-module compilation. The guest's imports are resolved
// per instance (any 0.2.x version: 0.2.0 through 0.2.12, and later ones,
// which only add items);
// closing the guest module closes every socket, stream, file and TLS
// connection it owned.
//
// The command-world interfaces read the guest's wazero.ModuleConfig, which
// must come from [NewModuleConfig] (mounts from [NewFSConfig]): wazero's own
// configs cannot be read, so these wrap them and keep a copy. Stdin, stdout
// and stderr are wasi:io streams in the same table as the TLS streams (one
// poll waits on both); wasi:filesystem reaches only the mounts, through
// wazero's FS abstraction, resolving every path itself (fspath.go).
//
// The policy denies everything by default: the embedder allows destinations.
//
//	r := wazero.NewRuntime(ctx)
//	wasi_snapshot_preview1.MustInstantiate(ctx, r)
//	h := host.New(r, host.WithProvider(stdtls.Provider{}))
//	compiled, _ := r.CompileModule(ctx, wasm)
//	g, err := h.Instantiate(ctx, compiled, host.NewModuleConfig().WithStdout(os.Stdout),
//		host.WithPolicy(&host.Policy{
//			Allow:      []string{"example.com:443"},
//			NameLookup: true,
//			RootCAs:    roots,
//		}),
//		host.WithLogger(slog.Default())) // every event, its fields as attributes
//	...
//	g.Close(ctx)
//
// Package observe has ready-made observers (metrics, the JA4 report of each
// handshake), and package policyfile reads a Policy from a YAML file.
//
// Bad guest input (out-of-range memory, invalid UTF-8, unknown or wrong-type
// handles, double drops, writes past the check-write budget, dropping a
// resource that still has children) traps the guest with a message naming the
// function and the problem. A denied connection is the wasi:sockets error code
// access-denied, not a trap; a failed handshake is an io-error whose debug
// string starts with the classified cause (see [api.Kind]), e.g.
// "tls: name mismatch ...".
//
// Each guest is bounded by [Limits]: open handles, TCP connections,
// handshakes in flight, and the bytes its stream buffers hold (reaching the
// last one is backpressure, not an error: see Limits.BufferedBytes).
//
// Drop rules. A tcp-socket may be dropped in any state, as wasi-sockets'
// operational semantics say; its streams are not its children, so the
// connection lives on in them (and in a TLS connection built on them, and in
// output still being sent after they were dropped), and stays counted
// against Limits.Connections until the last of these is gone. The plaintext
// streams of a client-connection are its children (a rule of this host;
// wasi-tls does not say): dropping the connection before them traps. A
// pollable is a child of what it subscribes to, as wasi:io says.
//
// A connect or handshake starts when the guest looks for its outcome
// (pending.go): a guest that blocks on that one pollable runs it on its own
// goroutine, as native Go code would, when the provider declares
// [api.Capabilities].HonorsContext; otherwise on a host goroutine. A guest
// that looks away (sleeps, returns to the embedder) has it started within
// 8 ms, or within 64 ms while the host's other guests all block on their own
// work (the sweeper then looks less often: each look wakes an idle CPU).
//
// Likewise a connection's input stream is read on the guest's own call
// while the guest only blocks on it (blocking-read, blocking-skip, or block
// on its pollable): the provider's Read decrypts on the thread that copies
// the bytes into guest memory, and a blocking read returns what one Read
// gave plus the records already queued whole in the socket (so it never
// waits for more once it has bytes). A read that finds nothing, ready, or a
// poll of several pollables starts the stream's goroutine, which reads
// ahead from then on (pump.go). This is on Linux, for connections over the
// host's own sockets; elsewhere streams read on their goroutine only.
//
// A poll list may name at most [MaxPollList] entries (more traps); the host's
// work and memory for a poll are per distinct pollable, plus 4 bytes per
// entry.
//
// Each list the host returns is allocated through the guest's cabi_realloc.
// Called from Go, that is a call into the guest, for which wazero starts a
// goroutine under wazero.RuntimeConfig.WithCloseOnContextDone (about 4 µs,
// and a wake-up of another core). So for the hot ones (read, blocking-read,
// poll) guests of Instantiate and InstantiateComponent import the interface
// from a small generated wasm module, a shim, that calls the allocator wasm
// to wasm between the host's two halves of the function (shim.go,
// listresult.go). Guests made by Prepare, or given a ModuleConfig not made
// by NewModuleConfig (the host must run the start functions itself, after
// binding the shim), call back from Go as before.
//
// The files follow the WIT: tls.go (wasi:tls/types; tlsdriver.go runs the
// provider's handshakes, streamconn.go adapts guest streams to a net.Conn
// for them), tlsext.go and alpn.go (wasitls:tls/connection, the project's
// extension in wit/ext), streams.go, poll.go and ioerror.go (wasi:io),
// network.go, instancenetwork.go, tcpcreate.go, tcp.go, listen.go,
// lookup.go and udp.go (wasi:sockets),
// clocks.go (wasi:clocks), cli.go (wasi:cli), random.go (wasi:random),
// filesystem.go, fspath.go and fserror.go (wasi:filesystem); config.go reads
// the ModuleConfig. Each declares its interface as one table of function
// definitions (defs.go); table.go is the per-guest resource table; pump.go
// and sink.go move bytes between connections and guest memory, within the
// guest's buffered-bytes quota (quota.go); pending.go defers connects and
// handshakes; policy.go, validate.go (settings refused before a guest runs),
// memory.go (the guest memory bound) and observer.go are the embedder's
// controls. Memory layouts come from internal/cabi (memory access through
// internal/guestmem), names from internal/witnames: every function carries
// its WIT parameter names in wazero's definition, and a trap on a bad
// return area names ret-ptr.
package host
