package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

// The run command's -env, -mount (read-only too), args and stdio reach a
// guest's WASI 0.2 imports, not only its wasip1 ones: one configuration.
func TestRunConfigReachesWASI02(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("hello from the mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	var o runOptions
	if err := runFlags(&o).Parse([]string{"-env", "K=V", "-mount", dir + ":/data:ro"}); err != nil {
		t.Fatal(err)
	}
	o.guest, o.guestArgs = "dir/guest.wasm", []string{"one"}
	var stdout, stderr bytes.Buffer
	mc, err := o.moduleConfig(strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	h := host.New(r)
	cm, err := rawguest.Compile(ctx, r, "0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	x, err := rawguest.NewWithConfig(ctx, h, cm, mc.WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(ctx)
	call := func(ifc, fn string, args ...uint64) []byte {
		t.Helper()
		_ = x.Put(rawguest.RetArea, make([]byte, 64))
		if _, err := x.Call(ifc, fn, append(args, rawguest.RetArea)...); err != nil {
			t.Fatalf("%s#%s: %v", ifc, fn, err)
		}
		b, _ := x.Bytes(rawguest.RetArea, 64)
		return b
	}
	str := func(ptr, n uint32) string {
		b, err := x.Bytes(ptr, n)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Environment and arguments.
	r0 := call("wasi:cli/environment", "get-environment")
	ev := cabi.EnvVar
	if n := cabi.GetU32(r0, 4); n != 1 {
		t.Fatalf("%d environment variables", n)
	}
	e, _ := x.Bytes(cabi.GetU32(r0, 0), ev.Size())
	if k, v := str(cabi.GetU32(e, ev.FieldOffset(0)), cabi.GetU32(e, ev.FieldOffset(0)+4)), str(cabi.GetU32(e, ev.FieldOffset(1)), cabi.GetU32(e, ev.FieldOffset(1)+4)); k != "K" || v != "V" {
		t.Fatalf("environment %s=%s", k, v)
	}
	r0 = call("wasi:cli/environment", "get-arguments")
	if n := cabi.GetU32(r0, 4); n != 2 {
		t.Fatalf("%d arguments", n)
	}
	// The mount, read-only, and its file.
	r0 = call("wasi:filesystem/preopens", "get-directories")
	pre := cabi.Preopen
	if n := cabi.GetU32(r0, 4); n != 1 {
		t.Fatalf("%d preopens", n)
	}
	p, _ := x.Bytes(cabi.GetU32(r0, 0), pre.Size())
	if name := str(cabi.GetU32(p, pre.FieldOffset(1)), cabi.GetU32(p, pre.FieldOffset(1)+4)); name != "/data" {
		t.Fatalf("preopen %q", name)
	}
	root := uint64(cabi.GetU32(p, pre.FieldOffset(0)))
	_ = x.Put(rawguest.ArgArea, []byte("greeting.txt"))
	const read, write = 1, 2
	r0 = call("wasi:filesystem/types", "[method]descriptor.open-at", root, 0, rawguest.ArgArea, 12, 0, write)
	if a := cabi.FSHandle; r0[0] != 1 || r0[a.Code] != 33 { // read-only
		t.Fatalf("open-at for writing on a -mount ...:ro: %v", r0[:8])
	}
	r0 = call("wasi:filesystem/types", "[method]descriptor.open-at", root, 0, rawguest.ArgArea, 12, 0, read)
	if r0[0] != 0 {
		t.Fatalf("open-at: error-code %d", r0[cabi.FSHandle.Code])
	}
	f := uint64(cabi.GetU32(r0, cabi.FSHandle.OK))
	r0 = call("wasi:filesystem/types", "[method]descriptor.read", f, 100, 0)
	tup := cabi.FSRead.Type.Case(0)
	if got := str(cabi.GetU32(r0, cabi.FSRead.OK+tup.FieldOffset(0)), cabi.GetU32(r0, cabi.FSRead.OK+tup.FieldOffset(0)+4)); got != "hello from the mount" {
		t.Fatalf("read %q", got)
	}
	// Stdout.
	out, err := x.Call1("wasi:cli/stdout", "get-stdout")
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Write(out, []byte("printed\n")); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "printed\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
}
