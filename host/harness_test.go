package host

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Scratch areas below wasmenc.HeapStart used by the tests.
const (
	retArea = 1024 // return areas (64 bytes, 8-aligned)
	argArea = 2048 // argument data
)

// tg is a generated test guest: it imports every host function at one
// version and exports a trampoline for each.
type tg struct {
	t   testing.TB
	ctx context.Context
	g   *Guest
	mod wapi.Module
	ver string
}

// moduleName returns the import module name of an interface at version ver.
func moduleName(f *iface, ver string) string {
	if f.exact != "" {
		return f.exact
	}
	return f.name + "@" + ver
}

// allImports lists every host function at version ver.
func allImports(ver string) []wasmenc.Import {
	var out []wasmenc.Import
	for _, f := range interfaces {
		for _, d := range f.fns {
			out = append(out, wasmenc.Import{Module: moduleName(f, ver), Name: d.name, Params: d.params, Results: d.results})
		}
	}
	return out
}

func newRuntime(t testing.TB) (context.Context, wazero.Runtime) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	t.Cleanup(func() { _ = r.Close(ctx) })
	return ctx, r
}

// newTG instantiates a generated guest in h.
func newTG(t testing.TB, ctx context.Context, h *Host, ver string, opts ...Option) *tg {
	t.Helper()
	return newTGConfig(t, ctx, h, ver, NewModuleConfig().WithName("").WithRandSource(rand.Reader), opts...)
}

// newTGConfig is newTG with the guest's ModuleConfig.
func newTGConfig(t testing.TB, ctx context.Context, h *Host, ver string, mc wazero.ModuleConfig, opts ...Option) *tg {
	t.Helper()
	cm, err := h.r.CompileModule(ctx, wasmenc.Module(allImports(ver)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := h.Instantiate(ctx, cm, mc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(ctx); _ = cm.Close(ctx) })
	return &tg{t: t, ctx: ctx, g: g, mod: g.Module(), ver: ver}
}

func (x *tg) fn(ifaceName, field string) wapi.Function {
	x.t.Helper()
	for _, f := range interfaces {
		if f.name == ifaceName {
			fn := x.mod.ExportedFunction(wasmenc.Export(moduleName(f, x.ver), field))
			if fn == nil {
				x.t.Fatalf("no trampoline for %s#%s", ifaceName, field)
			}
			return fn
		}
	}
	x.t.Fatalf("no interface %s", ifaceName)
	return nil
}

// callErr calls a host function through its trampoline.
func (x *tg) callErr(ifaceName, field string, args ...uint64) ([]uint64, error) {
	x.t.Helper()
	return x.fn(ifaceName, field).Call(x.ctx, args...)
}

// call calls a host function and fails the test on a trap.
func (x *tg) call(ifaceName, field string, args ...uint64) []uint64 {
	x.t.Helper()
	res, err := x.callErr(ifaceName, field, args...)
	if err != nil {
		x.t.Fatalf("%s#%s: %v", ifaceName, field, err)
	}
	return res
}

// call1 returns the single result as u32.
func (x *tg) call1(ifaceName, field string, args ...uint64) uint32 {
	x.t.Helper()
	return wapi.DecodeU32(x.call(ifaceName, field, args...)[0])
}

// wantTrap calls and requires a trap whose message contains each of want.
func (x *tg) wantTrap(want []string, ifaceName, field string, args ...uint64) {
	x.t.Helper()
	_, err := x.callErr(ifaceName, field, args...)
	if err == nil {
		x.t.Fatalf("%s#%s(%v): no trap, want %q", ifaceName, field, args, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			x.t.Fatalf("%s#%s(%v): trap %q does not contain %q", ifaceName, field, args, err, w)
		}
	}
}

func (x *tg) bytes(ptr, n uint32) []byte {
	x.t.Helper()
	b, ok := x.mod.Memory().Read(ptr, n)
	if !ok {
		x.t.Fatalf("read [%#x,+%d) out of range", ptr, n)
	}
	return append([]byte(nil), b...)
}

func (x *tg) ret(n uint32) []byte { return x.bytes(retArea, n) }

func (x *tg) put(ptr uint32, b []byte) {
	x.t.Helper()
	if !x.mod.Memory().Write(ptr, b) {
		x.t.Fatalf("write [%#x,+%d) out of range", ptr, len(b))
	}
}

func (x *tg) u32(ptr uint32) uint32 { return cabi.GetU32(x.bytes(ptr, 4), 0) }

// clearRet zeroes the return area.
func (x *tg) clearRet() { x.put(retArea, make([]byte, 64)) }

const (
	ioStreamsName = witnames.IOStreams
	ioPollName    = witnames.IOPoll
	ioErrorName   = witnames.IOError
	tcpName       = witnames.SocketsTCP
	tcpCreateName = witnames.SocketsTCPCreateSocket
	instNetName   = witnames.SocketsInstanceNetwork
	networkName   = witnames.SocketsNetwork
	lookupName    = witnames.SocketsIPNameLookup
	monoName      = witnames.ClocksMonotonicClock
	wallName      = witnames.ClocksWallClock
	tlsName       = witnames.TLSTypes
	preopensName  = witnames.FilesystemPreopens
	fsTypesName   = witnames.FilesystemTypes
)

// countFDs returns the number of open file descriptors of this process.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}
