package abicheck

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checked: the packages that read or write canonical-ABI memory outside
// internal/cabi, relative to the module root.
var checked = []string{"host", "guest", "internal/guestmem", "internal/testkit/rawguest"}

// TestNoLiteralOffsets: the host, every guest package (all build tags) and
// the harnesses take their offsets from internal/cabi.
func TestNoLiteralOffsets(t *testing.T) {
	root := filepath.Join("..", "..")
	var dirs []string
	for _, c := range checked {
		err := filepath.WalkDir(filepath.Join(root, c), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				dirs = append(dirs, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d directories under %v: wrong root?", len(dirs), checked)
	}
	for _, d := range dirs {
		fs, err := Dir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Error(f)
		}
	}
}

// TestPlantedLiterals: each kind of literal offset is found, and the named
// forms are not.
func TestPlantedLiterals(t *testing.T) {
	bad := []string{
		`c.Area(ret, 8, 4)`,
		`b := c.Area(ret, a.Size, a.Align); cabi.PutU32(b, 4, n)`,
		`b := c.Area(ret, a.Size, a.Align); cabi.PutU32(b, a.OK+4, n)`,
		`b := c.Area(ret, a.Size, a.Align); b[0] = 1`,
		`b := okArea(c, a, ret); b[a.OK+1] = 1`,
		`v := c.Bytes(p, n); x := binary.LittleEndian.Uint32(v[8:])`,
		`v := c.Bytes(p, n); w := v[a.OK:]; w[2] = 0`,
		`_ = ret.U32(4)`,
		`_ = ret.U8(0)`,
		`_ = ret.U16(off + 2*i)`,
		`pairs := cabi.TakeBytes(p, n); b := pairs[8*i:]; _ = b`,
		`cabi.PutSockAddr(b, 4, ap, 0, 0)`,
		`_ = cabi.GetIPAddress(b, a.AddrTag, 2)`,
	}
	for _, s := range bad {
		fs, err := Source("planted.go", []byte("package p\nfunc f() {\n"+s+"\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			t.Errorf("%s: not found", s)
		}
	}
	good := []string{
		`c.Area(ret, a.Size, a.Align)`,
		`b := c.Area(ret, a.Size, a.Align); cabi.PutU32(b, a.OK+cabi.ListPair.Len, n); b[a.Tag] = 1`,
		`_ = ret.U32(cabi.ReadArea.OK)`,
		`x := make([]byte, 8); x[0] = 1`,
		`_ = stack[3]`,
		`p := wapi.DecodeU32(stack[1])`,
	}
	for _, s := range good {
		fs, err := Source("good.go", []byte("package p\nfunc f() {\n"+s+"\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Errorf("%s: reported %s", s, f)
		}
	}
	if _, err := Source("broken.go", []byte("package p\nfunc {")); err == nil || !strings.Contains(err.Error(), "abicheck") {
		t.Errorf("a file that does not parse: %v", err)
	}
}

// TestLayoutsAreALeaf: internal/cabi imports the standard library only, so
// that GOOS=wasip1 guest bindings can read it (no wazero in a guest).
func TestLayoutsAreALeaf(t *testing.T) {
	dir := filepath.Join("..", "cabi")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			n++
			p := strings.Trim(im.Path.Value, `"`)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: internal/cabi must stay a standard-library-only leaf", e.Name(), p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no imports found in internal/cabi: wrong directory?")
	}
}
