// Package rawguest drives the wasitls host from Go through a generated core
// module (internal/testkit/wasmenc) that imports every host function at one version
// and exports a trampoline for each. Tests use it to make any sequence of host
// calls, with any arguments, through the public host API exactly as a guest
// would: the reliability and security suites (fuzzing, faults, quotas, policy
// bypass attempts, the soak test) are built on it.
//
//	cm, _ := rawguest.Compile(ctx, r, "0.2.6")
//	x, _ := rawguest.New(ctx, h, cm, host.WithPolicy(pol))
//	defer x.Close(ctx)
//	sock, in, out, _ := x.Connect(netip.MustParseAddrPort("127.0.0.1:8443"))
//	conn, tin, tout, err := x.Handshake("localhost", in, out)
package rawguest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/hostimports"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// Scratch areas below wasmenc.HeapStart.
const (
	RetArea = 1024 // return areas (64 bytes, 8-aligned)
	ArgArea = 2048 // argument data, up to ArgMax bytes
	ArgMax  = wasmenc.HeapStart - ArgArea
)

// Interface names (without version).
const (
	Streams    = witnames.IOStreams
	Poll       = witnames.IOPoll
	IOErr      = witnames.IOError
	TCP        = witnames.SocketsTCP
	TCPCreate  = witnames.SocketsTCPCreateSocket
	InstNet    = witnames.SocketsInstanceNetwork
	Network    = witnames.SocketsNetwork
	Lookup     = witnames.SocketsIPNameLookup
	Monotonic  = witnames.ClocksMonotonicClock
	WallClock  = witnames.ClocksWallClock
	TLS        = witnames.TLSTypes
	TLSExt     = witnames.WasitlsTLSConnection
	wouldBlock = 8 // error-code would-block
)

// Func is one host function the generated module imports.
type Func struct {
	Module, Name    string // full module name (with version) and field
	Params, Results []wapi.ValueType
}

// Imports lists every host function at version ver (e.g. "0.2.6"); wasi:tls
// and the extensions wasitls:tls/connection and wasitls:tls/server have
// their one version.
func Imports(ver string) []Func {
	var out []Func
	for _, m := range hostimports.ImportNames() {
		if !strings.HasSuffix(m, "@"+ver) && m != host.TLSModule && m != host.TLSExtModule && m != host.ServerTLSModule {
			continue
		}
		for _, f := range hostimports.Functions(m) {
			ps, rs, _ := hostimports.Signature(m, f)
			out = append(out, Func{Module: m, Name: f, Params: ps, Results: rs})
		}
	}
	return out
}

// Compile compiles the generated module importing every host function at ver.
func Compile(ctx context.Context, r wazero.Runtime, ver string) (wazero.CompiledModule, error) {
	var ims []wasmenc.Import
	for _, f := range Imports(ver) {
		ims = append(ims, wasmenc.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results})
	}
	return r.CompileModule(ctx, wasmenc.Module(ims))
}

// Guest is one instance of the generated module in a host.
type Guest struct {
	G   *host.Guest
	Mod wapi.Module
	Ctx context.Context // the context calls run under
	fns map[string]wapi.Function
}

// New instantiates cm (from Compile) as a guest of h.
func New(ctx context.Context, h *host.Host, cm wazero.CompiledModule, opts ...host.Option) (*Guest, error) {
	return NewWithConfig(ctx, h, cm, host.NewModuleConfig().WithName("").WithRandSource(rand.Reader), opts...)
}

// NewWithConfig is New with the guest's module configuration (args,
// environment, stdio, mounts, random source, clocks), normally from
// host.NewModuleConfig. The generated module imports wasi:random/random,
// so the config needs a random source.
func NewWithConfig(ctx context.Context, h *host.Host, cm wazero.CompiledModule, mc wazero.ModuleConfig, opts ...host.Option) (*Guest, error) {
	g, err := h.Instantiate(ctx, cm, mc, opts...)
	if err != nil {
		if g != nil {
			_ = g.Close(ctx)
		}
		return nil, err
	}
	x := &Guest{G: g, Mod: g.Module(), Ctx: ctx, fns: map[string]wapi.Function{}}
	for _, def := range cm.ImportedFunctions() {
		mod, field, _ := def.Import()
		x.fns[iface(mod)+"#"+field] = x.Mod.ExportedFunction(wasmenc.Export(mod, field))
	}
	return x, nil
}

// Iface strips the version from a module name.
func Iface(mod string) string { return iface(mod) }

func iface(mod string) string {
	if i := strings.IndexByte(mod, '@'); i >= 0 {
		return mod[:i]
	}
	return mod
}

// Close closes the guest (and everything it owned).
func (x *Guest) Close(ctx context.Context) error { return x.G.Close(ctx) }

// Fn returns the trampoline of ifc#field, or nil.
func (x *Guest) Fn(ifc, field string) wapi.Function { return x.fns[ifc+"#"+field] }

// Call calls ifc#field with args. A trap or a closed module is an error.
func (x *Guest) Call(ifc, field string, args ...uint64) ([]uint64, error) {
	fn := x.Fn(ifc, field)
	if fn == nil {
		return nil, fmt.Errorf("rawguest: no function %s#%s", ifc, field)
	}
	return fn.Call(x.Ctx, args...)
}

// Call1 calls and returns the single i32 result.
func (x *Guest) Call1(ifc, field string, args ...uint64) (uint32, error) {
	res, err := x.Call(ifc, field, args...)
	if err != nil {
		return 0, err
	}
	return wapi.DecodeU32(res[0]), nil
}

// Put writes b to guest memory at ptr.
func (x *Guest) Put(ptr uint32, b []byte) error {
	if !x.Mod.Memory().Write(ptr, b) {
		return fmt.Errorf("rawguest: write [%#x,+%d) out of range", ptr, len(b))
	}
	return nil
}

// Bytes copies n bytes at ptr out of guest memory.
func (x *Guest) Bytes(ptr, n uint32) ([]byte, error) {
	b, ok := x.Mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("rawguest: read [%#x,+%d) out of range", ptr, n)
	}
	return append([]byte(nil), b...), nil
}

func (x *Guest) ret(n uint32) []byte {
	b, _ := x.Bytes(RetArea, n)
	return b
}

func (x *Guest) clearRet() { _ = x.Put(RetArea, make([]byte, 64)) }

// ResetHeap moves the module's allocator back to wasmenc.HeapStart, so a
// long-lived guest does not grow: host-allocated blocks are copied out first.
func (x *Guest) ResetHeap() error {
	fn := x.Mod.ExportedFunction("set_heap")
	_, err := fn.Call(x.Ctx, wasmenc.HeapStart)
	return err
}

// CodeError is a wasi:sockets error-code.
type CodeError int

func (c CodeError) Error() string { return fmt.Sprintf("error-code %d", int(c)) }

// Error codes the suites look for.
const (
	CodeAccessDenied      = CodeError(1)
	CodeInvalidArgument   = CodeError(3)
	CodeWouldBlock        = CodeError(wouldBlock)
	CodeNewSocketLimit    = CodeError(10)
	CodeConnectionRefused = CodeError(14)
)

// IOError is an io-error returned to the guest (a failed handshake or a
// failed stream operation), with its debug string.
type IOError struct{ Debug string }

func (e *IOError) Error() string { return e.Debug }

// ErrClosed is a stream's closed case.
var ErrClosed = errors.New("rawguest: stream closed")

// Connect creates a socket, connects to dest and returns its streams.
func (x *Guest) Connect(dest netip.AddrPort) (sock, in, out uint32, err error) {
	netw, err := x.Call1(InstNet, witnames.InstanceNetwork)
	if err != nil {
		return 0, 0, 0, err
	}
	defer x.Call(Network, witnames.DropNetwork, uint64(netw))
	fam := uint64(0)
	if dest.Addr().Is6() {
		fam = 1
	}
	x.clearRet()
	if _, err := x.Call(TCPCreate, witnames.CreateTCPSocket, fam, RetArea); err != nil {
		return 0, 0, 0, err
	}
	h := cabi.HandleArea
	r := x.ret(h.Size)
	if r[h.Tag] != 0 {
		return 0, 0, 0, CodeError(r[h.Code])
	}
	sock = cabi.GetU32(r, h.OK)
	flat := cabi.Flatten(dest, 0, 0)
	args := append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)
	args = append(args, RetArea)
	x.clearRet()
	if _, err := x.Call(TCP, witnames.TCPSocketStartConnect, args...); err != nil {
		return sock, 0, 0, err
	}
	if u := cabi.UnitCodeArea; x.ret(u.Size)[u.Tag] != 0 {
		return sock, 0, 0, CodeError(x.ret(u.Size)[u.Code])
	}
	p, err := x.Call1(TCP, witnames.TCPSocketSubscribe, uint64(sock))
	if err != nil {
		return sock, 0, 0, err
	}
	if _, err := x.Call(Poll, witnames.PollableBlock, uint64(p)); err != nil {
		return sock, 0, 0, err
	}
	if _, err := x.Call(Poll, witnames.DropPollable, uint64(p)); err != nil {
		return sock, 0, 0, err
	}
	x.clearRet()
	if _, err := x.Call(TCP, witnames.TCPSocketFinishConnect, uint64(sock), RetArea); err != nil {
		return sock, 0, 0, err
	}
	f := cabi.FinishArea
	r = x.ret(f.Size)
	if r[f.Tag] != 0 {
		return sock, 0, 0, CodeError(r[f.Code])
	}
	return sock, cabi.GetU32(r, cabi.FinishInput), cabi.GetU32(r, cabi.FinishOutput), nil
}

// StartHandshake hands the streams to TLS and starts the handshake; it
// returns the future.
func (x *Guest) StartHandshake(name string, in, out uint32) (fut uint32, err error) {
	if err := x.Put(ArgArea, []byte(name)); err != nil {
		return 0, err
	}
	hs, err := x.Call1(TLS, witnames.NewClientHandshake, ArgArea, uint64(len(name)), uint64(in), uint64(out))
	if err != nil {
		return 0, err
	}
	return x.Call1(TLS, witnames.ClientHandshakeFinish, uint64(hs))
}

// Finish waits for the future and takes its result. A failed handshake is an
// *IOError.
func (x *Guest) Finish(fut uint32) (conn, tin, tout uint32, err error) {
	p, err := x.Call1(TLS, witnames.FutureClientStreamsSubscribe, uint64(fut))
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := x.Call(Poll, witnames.PollableBlock, uint64(p)); err != nil {
		return 0, 0, 0, err
	}
	if _, err := x.Call(Poll, witnames.DropPollable, uint64(p)); err != nil {
		return 0, 0, 0, err
	}
	a := cabi.FutureGet
	x.clearRet()
	if _, err := x.Call(TLS, witnames.FutureClientStreamsGet, uint64(fut), RetArea); err != nil {
		return 0, 0, 0, err
	}
	r := x.ret(a.Size)
	if _, err := x.Call(TLS, witnames.DropFutureClientStreams, uint64(fut)); err != nil {
		return 0, 0, 0, err
	}
	if r[a.OptionTag] != 1 || r[a.OuterTag] != 0 {
		return 0, 0, 0, fmt.Errorf("rawguest: future not ready after block: %v", r)
	}
	if r[a.InnerTag] == 1 {
		return 0, 0, 0, x.ioError(cabi.GetU32(r, a.Error))
	}
	return cabi.GetU32(r, a.Conn), cabi.GetU32(r, a.Input), cabi.GetU32(r, a.Output), nil
}

// Handshake is StartHandshake then Finish.
func (x *Guest) Handshake(name string, in, out uint32) (conn, tin, tout uint32, err error) {
	fut, err := x.StartHandshake(name, in, out)
	if err != nil {
		return 0, 0, 0, err
	}
	return x.Finish(fut)
}

// ioError reads an io-error's debug string and drops it.
func (x *Guest) ioError(e uint32) error {
	x.clearRet()
	if _, err := x.Call(IOErr, witnames.ErrorToDebugString, uint64(e), RetArea); err != nil {
		return err
	}
	l := cabi.ListPair
	r := x.ret(l.Size)
	s, err := x.Bytes(cabi.GetU32(r, l.Ptr), cabi.GetU32(r, l.Len))
	if err != nil {
		return err
	}
	if _, err := x.Call(IOErr, witnames.DropError, uint64(e)); err != nil {
		return err
	}
	return &IOError{Debug: string(s)}
}

// streamResult decodes a result<_, stream-error> area.
func (x *Guest) streamResult(r []byte, a cabi.StreamArea) error {
	if r[a.Tag] == 0 {
		return nil
	}
	if r[a.ErrTag] == 1 {
		return ErrClosed
	}
	return x.ioError(cabi.GetU32(r, a.ErrHandle))
}

// Write writes data with blocking-write-and-flush (at most ArgMax bytes at once).
func (x *Guest) Write(out uint32, data []byte) error {
	for len(data) > 0 {
		chunk := data[:min(len(data), ArgMax)]
		if err := x.Put(ArgArea, chunk); err != nil {
			return err
		}
		x.clearRet()
		if _, err := x.Call(Streams, witnames.OutputStreamBlockingWriteAndFlush, uint64(out), ArgArea, uint64(len(chunk)), RetArea); err != nil {
			return err
		}
		if err := x.streamResult(x.ret(cabi.UnitArea.Size), cabi.UnitArea); err != nil {
			return err
		}
		data = data[len(chunk):]
	}
	return nil
}

// Read does one blocking-read of up to n bytes; the end of the stream is
// ErrClosed, a failure an *IOError.
func (x *Guest) Read(in uint32, n uint64) ([]byte, error) {
	x.clearRet()
	if _, err := x.Call(Streams, witnames.InputStreamBlockingRead, uint64(in), n, RetArea); err != nil {
		return nil, err
	}
	a := cabi.ReadArea
	r := x.ret(a.Size)
	if err := x.streamResult(r, a); err != nil {
		return nil, err
	}
	b, err := x.Bytes(cabi.GetU32(r, a.OK+cabi.ListPair.Ptr), cabi.GetU32(r, a.OK+cabi.ListPair.Len))
	if err != nil {
		return nil, err
	}
	return b, x.ResetHeap()
}

// ReadAll reads until the stream ends (nil error) or fails.
func (x *Guest) ReadAll(in uint32) ([]byte, error) {
	var out []byte
	for {
		b, err := x.Read(in, 64<<10)
		out = append(out, b...)
		if errors.Is(err, ErrClosed) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// Drop drops a resource of ifc, e.g. Drop(Streams, "input-stream", h).
func (x *Guest) Drop(ifc, resource string, h uint32) error {
	_, err := x.Call(ifc, "[resource-drop]"+resource, uint64(h))
	return err
}

// Resolve runs resolve-addresses to the end: the answers, or the error code.
func (x *Guest) Resolve(name string) ([]netip.Addr, error) {
	netw, err := x.Call1(InstNet, witnames.InstanceNetwork)
	if err != nil {
		return nil, err
	}
	defer x.Drop(Network, "network", netw)
	if err := x.Put(ArgArea, []byte(name)); err != nil {
		return nil, err
	}
	x.clearRet()
	if _, err := x.Call(Lookup, witnames.ResolveAddresses, uint64(netw), ArgArea, uint64(len(name)), RetArea); err != nil {
		return nil, err
	}
	h := cabi.HandleArea
	if r := x.ret(h.Size); r[h.Tag] != 0 {
		return nil, CodeError(r[h.Code])
	}
	st := cabi.GetU32(x.ret(h.Size), h.OK)
	defer x.Drop(Lookup, "resolve-address-stream", st)
	p, err := x.Call1(Lookup, witnames.ResolveAddressStreamSubscribe, uint64(st))
	if err != nil {
		return nil, err
	}
	defer x.Drop(Poll, "pollable", p)
	a := cabi.NextAddrArea
	var out []netip.Addr
	for {
		x.clearRet()
		if _, err := x.Call(Lookup, witnames.ResolveAddressStreamResolveNextAddress, uint64(st), RetArea); err != nil {
			return out, err
		}
		r := x.ret(a.Size)
		switch {
		case r[a.Tag] == 1 && r[a.Code] == wouldBlock:
			if _, err := x.Call(Poll, witnames.PollableBlock, uint64(p)); err != nil {
				return out, err
			}
		case r[a.Tag] == 1:
			return out, CodeError(r[a.Code])
		case r[a.OptTag] == 0:
			return out, nil
		default:
			out = append(out, cabi.GetIPAddress(r, a.AddrTag, a.Addr))
		}
	}
}

// IsTrap reports whether err is a host trap ("wasitls: trap in ...").
func IsTrap(err error) bool { return err != nil && strings.Contains(err.Error(), "wasitls: trap") }
