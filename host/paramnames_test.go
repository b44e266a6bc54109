package host

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/witnames"
)

// Every host function carries its WIT parameter names (one per core
// parameter), wazero's definitions show them, and a return pointer is named
// ret-ptr exactly where the badinput tests' own list says a function has
// one.
func TestHostFunctionsHaveParamNames(t *testing.T) {
	n := 0
	for _, f := range interfaces {
		for i := range f.fns {
			d := &f.fns[i]
			if len(d.paramNames) != len(d.params) {
				t.Errorf("%s: %d parameter names %q for %d parameters", d.full, len(d.paramNames), d.paramNames, len(d.params))
				continue
			}
			if hasRetptr(d) != (d.retName == retPtr) {
				t.Errorf("%s: names %q, but hasRetptr says %v", d.full, d.paramNames, hasRetptr(d))
			}
			if strings.HasPrefix(d.name, "[method]") && d.paramNames[0] != "self" {
				t.Errorf("%s: a method's first parameter is %q, not self", d.full, d.paramNames[0])
			}
			n++
		}
	}
	if n < 150 {
		t.Fatalf("only %d functions checked", n)
	}

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	b := r.NewHostModuleBuilder(ioStreams.name)
	for i := range ioStreams.fns {
		d := &ioStreams.fns[i]
		d.build(b, d.bind(nil))
	}
	cm, err := b.Compile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	def := cm.ExportedFunctions()["[method]output-stream.write"]
	if got := strings.Join(def.ParamNames(), ","); got != "self,contents-ptr,contents-len,ret-ptr" {
		t.Fatalf("wazero's definition of output-stream.write has parameters %q", got)
	}
}

// A trap names the parameter at fault, in the message and in the log.
func TestTrapNamesTheParameter(t *testing.T) {
	var log bytes.Buffer
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r, WithLogger(slog.New(slog.NewTextHandler(&log, nil)))), "0.2.6")
	x.wantTrap([]string{"ret-ptr 0x401 is not 4-byte aligned"}, tcpCreateName, witnames.CreateTCPSocket, 0, retArea+1)
	x.wantTrap([]string{"ret-ptr 0xfffffff8: return area of 8 bytes is out of bounds"}, tcpCreateName, witnames.CreateTCPSocket, 0, 0xfffffff8)
	if s := log.String(); !strings.Contains(s, `params="[address-family ret-ptr]"`) || !strings.Contains(s, "ret-ptr 0x401") {
		t.Fatalf("the trap log does not name the parameters: %s", s)
	}
}
