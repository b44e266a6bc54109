package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

const (
	descPrefix = "[method]descriptor."
	noCode     = -1
)

// fsGuest is a generated guest with mounts.
type fsGuest struct {
	*tg
}

// preopens returns the guest's preopened directories by guest path.
func (x fsGuest) preopens() map[string]uint32 {
	x.t.Helper()
	x.clearRet()
	x.call(preopensName, "get-directories", retArea)
	r := x.ret(8)
	out := map[string]uint32{}
	el := cabi.Preopen
	for i := uint32(0); i < cabi.GetU32(r, 4); i++ {
		e := x.bytes(cabi.GetU32(r, 0)+i*el.Size(), el.Size())
		name := string(x.bytes(cabi.GetU32(e, el.FieldOffset(1)), cabi.GetU32(e, el.FieldOffset(1)+4)))
		out[name] = cabi.GetU32(e, el.FieldOffset(0))
	}
	return out
}

// result decodes result<T, error-code> at retArea: the code, or noCode.
func (x fsGuest) result(a cabi.FSArea) int {
	r := x.ret(a.Size)
	if r[0] == 0 {
		return noCode
	}
	return int(r[a.Code])
}

// code calls a descriptor method whose last parameter is the return area and
// returns its error code (or noCode).
func (x fsGuest) code(a cabi.FSArea, method string, args ...uint64) int {
	x.t.Helper()
	x.clearRet()
	x.call(fsTypesName, descPrefix+method, append(args, retArea)...)
	return x.result(a)
}

// str puts s in guest memory at argArea+off and returns (ptr, len).
func (x fsGuest) str(off uint32, s string) (uint64, uint64) {
	x.put(argArea+off, []byte(s))
	return uint64(argArea + off), uint64(len(s))
}

// openAt opens path under dir; it returns the handle, or the error code.
func (x fsGuest) openAt(dir uint32, pf uint32, path string, of, df uint32) (uint32, int) {
	x.t.Helper()
	p, n := x.str(0, path)
	if c := x.code(cabi.FSHandle, "open-at", uint64(dir), uint64(pf), p, n, uint64(of), uint64(df)); c != noCode {
		return 0, c
	}
	return x.u32(retArea + cabi.FSHandle.OK), noCode
}

func (x fsGuest) mustOpen(dir uint32, path string, of, df uint32) uint32 {
	x.t.Helper()
	h, c := x.openAt(dir, 0, path, of, df)
	if c != noCode {
		x.t.Fatalf("open-at %q: error-code %s", path, fsCodeNames[c])
	}
	return h
}

// pathCode runs a path method (create-directory-at, unlink-file-at, ...).
func (x fsGuest) pathCode(method string, dir uint32, path string) int {
	x.t.Helper()
	p, n := x.str(0, path)
	return x.code(cabi.FSUnit, method, uint64(dir), p, n)
}

func (x fsGuest) want(what string, got, want int) {
	x.t.Helper()
	name := func(c int) string {
		if c == noCode {
			return "ok"
		}
		return fsCodeNames[c]
	}
	if got != want {
		x.t.Fatalf("%s: %s, want %s", what, name(got), name(want))
	}
}

func code(c fsCode) int { return int(c.wire()) }

// readFile reads a file descriptor with descriptor.read.
func (x fsGuest) readAt(d uint32, n, off uint64) ([]byte, bool) {
	x.t.Helper()
	a := cabi.FSRead
	if c := x.code(a, "read", uint64(d), n, off); c != noCode {
		x.t.Fatalf("read: %s", fsCodeNames[c])
	}
	tup := a.Type.Case(0)
	r := x.ret(a.Size)
	ptr, ln := cabi.GetU32(r, a.OK+tup.FieldOffset(0)), cabi.GetU32(r, a.OK+tup.FieldOffset(0)+4)
	return x.bytes(ptr, ln), r[a.OK+tup.FieldOffset(1)] == 1
}

// stat returns type and size from descriptor-stat at the return area.
func (x fsGuest) statResult() (typ uint8, size uint64, mtime uint64) {
	a, t := cabi.FSStat, cabi.DescriptorStat
	r := x.ret(a.Size)
	m := a.OK + t.FieldOffset(4)
	if r[m] != 1 {
		x.t.Fatal("no modification time")
	}
	return r[a.OK+t.FieldOffset(0)], cabi.GetU64(r, a.OK+t.FieldOffset(2)), cabi.GetU64(r, m+cabi.OptionDatetime.PayloadOffset())
}

func (x fsGuest) dirEntries(d uint32) map[string]uint8 {
	x.t.Helper()
	if c := x.code(cabi.FSHandle, "read-directory", uint64(d)); c != noCode {
		x.t.Fatalf("read-directory: %s", fsCodeNames[c])
	}
	s := x.u32(retArea + cabi.FSHandle.OK)
	out := map[string]uint8{}
	a := cabi.FSDirEntry
	opt := a.Type.Case(0)
	ent := opt.Case(1)
	for {
		x.clearRet()
		x.call(fsTypesName, witnames.DirectoryEntryStreamReadDirectoryEntry, uint64(s), retArea)
		r := x.ret(a.Size)
		if r[0] != 0 {
			x.t.Fatalf("read-directory-entry: %s", fsCodeNames[r[a.Code]])
		}
		if r[a.OK] == 0 {
			break
		}
		p := a.OK + opt.PayloadOffset()
		name := string(x.bytes(cabi.GetU32(r, p+ent.FieldOffset(1)), cabi.GetU32(r, p+ent.FieldOffset(1)+4)))
		out[name] = r[p+ent.FieldOffset(0)]
	}
	x.drop(fsTypesName, "directory-entry-stream", s)
	return out
}

func mountGuest(t *testing.T, fsc wazero.FSConfig) fsGuest {
	ctx, r := newRuntime(t)
	h := New(r)
	return fsGuest{newTGConfig(t, ctx, h, "0.2.6", cfg().WithFSConfig(fsc))}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// types.wit, within one writable mount: what each descriptor method says it
// does reaches the host directory, and only it.
func TestFSReadWrite(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello, mount\n")
	x := mountGuest(t, NewFSConfig().WithDirMount(dir, "/data"))
	pre := x.preopens()
	root, ok := pre["/data"]
	if !ok || len(pre) != 1 {
		t.Fatalf("preopens %v", pre)
	}
	x.clearRet()
	x.call(fsTypesName, descPrefix+"get-flags", uint64(root), retArea)
	if f := x.ret(2)[cabi.FSFlags.OK]; f != dfRead|dfMutateDirectory {
		t.Fatalf("preopen flags %#x", f)
	}

	// read: the bytes and the end of the file.
	f := x.mustOpen(root, "hello.txt", 0, dfRead)
	if b, eof := x.readAt(f, 100, 0); string(b) != "hello, mount\n" || !eof {
		t.Fatalf("read = %q, eof %v", b, eof)
	}
	if b, eof := x.readAt(f, 5, 7); string(b) != "mount" || eof {
		t.Fatalf("read at 7 = %q, eof %v", b, eof)
	}
	x.clearRet()
	x.call(fsTypesName, descPrefix+"get-type", uint64(f), retArea)
	if typ := x.ret(2)[cabi.FSType.OK]; typ != dtRegularFile {
		t.Fatalf("get-type %d", typ)
	}
	x.want("write on a read-only descriptor", x.code(cabi.FSFilesize, "write", uint64(f), argArea, 1, 0), code(feBadDescriptor))
	// read-via-stream from an offset.
	x.clearRet()
	x.call(fsTypesName, descPrefix+"read-via-stream", uint64(f), 7, retArea)
	in := x.u32(retArea + cabi.FSHandle.OK)
	var got []byte
	for {
		b, closed := x.readSome(in, 64)
		if closed {
			break
		}
		got = append(got, b...)
	}
	if string(got) != "mount\n" {
		t.Fatalf("read-via-stream %q", got)
	}
	// The stream outlives its descriptor.
	x.clearRet()
	x.call(fsTypesName, descPrefix+"read-via-stream", uint64(f), 0, retArea)
	in2 := x.u32(retArea + cabi.FSHandle.OK)
	x.drop(fsTypesName, "descriptor", f)
	if b := x.readN(in2, 5); string(b) != "hello" {
		t.Fatalf("stream after its descriptor was dropped: %q", b)
	}

	// Create, write, write-via-stream, append-via-stream, set-size.
	w := x.mustOpen(root, "new.txt", ofCreate|ofExclusive, dfRead|dfWrite)
	_, c := x.openAt(root, 0, "new.txt", ofCreate|ofExclusive, dfWrite)
	x.want("exclusive create of an existing file", c, code(feExist))
	p, n := x.str(0, "0123456789")
	x.want("write", x.code(cabi.FSFilesize, "write", uint64(w), p, n, 0), noCode)
	if k := cabi.GetU64(x.ret(16), cabi.FSFilesize.OK); k != 10 {
		t.Fatalf("wrote %d", k)
	}
	x.want("write-via-stream", x.code(cabi.FSHandle, "write-via-stream", uint64(w), 4), noCode)
	ws := x.u32(retArea + cabi.FSHandle.OK)
	x.writeAll(ws, []byte("abc"))
	x.want("append-via-stream", x.code(cabi.FSHandle, "append-via-stream", uint64(w)), noCode)
	as := x.u32(retArea + cabi.FSHandle.OK)
	x.writeAll(as, []byte("XYZ"))
	x.drop(ioStreamsName, "output-stream", ws)
	x.drop(ioStreamsName, "output-stream", as)
	if b, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(b) != "0123abc789XYZ" {
		t.Fatalf("new.txt = %q", b)
	}
	_, c = x.openAt(root, 0, "new.txt", ofDirectory, dfRead)
	x.want("open-at with directory of a file", c, code(feNotDirectory))
	tr := x.mustOpen(root, "hello.txt", ofTruncate, dfWrite)
	x.want("stat after truncate", x.code(cabi.FSStat, "stat", uint64(tr)), noCode)
	if _, size, _ := x.statResult(); size != 0 {
		t.Fatalf("size %d after open-at with truncate", size)
	}
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello, mount\n")
	x.want("set-size", x.code(cabi.FSUnit, "set-size", uint64(w), 4), noCode)
	x.want("sync", x.code(cabi.FSUnit, "sync", uint64(w)), noCode)
	x.want("sync-data", x.code(cabi.FSUnit, "sync-data", uint64(w)), noCode)
	x.want("advise", x.code(cabi.FSUnit, "advise", uint64(w), 0, 4, 1), noCode)
	x.want("stat", x.code(cabi.FSStat, "stat", uint64(w)), noCode)
	if typ, size, mtime := x.statResult(); typ != dtRegularFile || size != 4 || mtime == 0 {
		t.Fatalf("stat: type %d size %d mtime %d", typ, size, mtime)
	}
	// A directory, stat-at, read-directory, rename-at, unlink, rmdir.
	x.want("create-directory-at", x.pathCode("create-directory-at", root, "sub"), noCode)
	x.want("create-directory-at again", x.pathCode("create-directory-at", root, "sub"), code(feExist))
	if st, err := os.Stat(filepath.Join(dir, "sub")); err != nil || !st.IsDir() {
		t.Fatalf("sub: %v", err)
	}
	p, n = x.str(0, "sub")
	x.want("stat-at", x.code(cabi.FSStat, "stat-at", uint64(root), 0, p, n), noCode)
	if typ, _, _ := x.statResult(); typ != dtDirectory {
		t.Fatalf("stat-at sub: type %d", typ)
	}
	// Each read-directory is a new stream from the start.
	x.want("read-directory", x.code(cabi.FSHandle, "read-directory", uint64(root)), noCode)
	first := x.u32(retArea + cabi.FSHandle.OK)
	x.clearRet()
	x.call(fsTypesName, witnames.DirectoryEntryStreamReadDirectoryEntry, uint64(first), retArea)
	if r := x.ret(cabi.FSDirEntry.Size); r[0] != 0 || r[cabi.FSDirEntry.OK] != 1 {
		t.Fatalf("first entry: %v", r)
	}
	if n := len(x.dirEntries(root)); n != 3 {
		t.Fatalf("a second stream saw %d entries", n)
	}
	rest := 0
	for {
		x.clearRet()
		x.call(fsTypesName, witnames.DirectoryEntryStreamReadDirectoryEntry, uint64(first), retArea)
		if r := x.ret(cabi.FSDirEntry.Size); r[cabi.FSDirEntry.OK] == 0 {
			break
		}
		rest++
	}
	if rest != 2 {
		t.Fatalf("the first stream went on with %d entries, want 2", rest)
	}
	ents := x.dirEntries(root)
	if len(ents) != 3 || ents["hello.txt"] != dtRegularFile || ents["new.txt"] != dtRegularFile || ents["sub"] != dtDirectory {
		t.Fatalf("entries %v", ents)
	}
	sub := x.mustOpen(root, "sub", ofDirectory, dfRead|dfMutateDirectory)
	x.want("read on a directory", x.code(cabi.FSRead, "read", uint64(sub), 1, 0), code(feIsDirectory))
	po, pn := x.str(0, "new.txt")
	qo, qn := x.str(100, "moved.txt")
	x.want("rename-at", x.code(cabi.FSUnit, "rename-at", uint64(root), po, pn, uint64(sub), qo, qn), noCode)
	if _, err := os.Stat(filepath.Join(dir, "sub", "moved.txt")); err != nil {
		t.Fatal(err)
	}
	// The same file through two descriptors: the same object and hash.
	m1 := x.mustOpen(sub, "moved.txt", 0, dfRead)
	m2 := x.mustOpen(root, "sub/../sub/moved.txt", 0, dfRead)
	if x.call1(fsTypesName, descPrefix+"is-same-object", uint64(m1), uint64(m2)) != 1 ||
		x.call1(fsTypesName, descPrefix+"is-same-object", uint64(m1), uint64(root)) != 0 {
		t.Fatal("is-same-object")
	}
	hash := func(d uint32) [16]byte {
		x.want("metadata-hash", x.code(cabi.FSHash, "metadata-hash", uint64(d)), noCode)
		return [16]byte(x.ret(cabi.FSHash.Size)[cabi.FSHash.OK:])
	}
	h1, h2 := hash(m1), hash(m2)
	p, n = x.str(0, "sub/moved.txt")
	x.want("metadata-hash-at", x.code(cabi.FSHash, "metadata-hash-at", uint64(root), 0, p, n), noCode)
	h3 := [16]byte(x.ret(cabi.FSHash.Size)[cabi.FSHash.OK:])
	if h1 != h2 || h1 != h3 || h1 == hash(root) {
		t.Fatalf("metadata hashes %x %x %x, root %x", h1, h2, h3, hash(root))
	}
	// Modified: another hash.
	m3 := x.mustOpen(sub, "moved.txt", 0, dfWrite)
	p, n = x.str(0, "more")
	x.want("write", x.code(cabi.FSFilesize, "write", uint64(m3), p, n, 4), noCode)
	if hash(m1) == h1 {
		t.Fatal("metadata-hash unchanged after a write")
	}
	x.want("remove-directory-at of a non-empty one", x.pathCode("remove-directory-at", root, "sub"), code(feNotEmpty))
	x.want("unlink-file-at of a directory", x.pathCode("unlink-file-at", root, "sub"), code(feIsDirectory))
	x.want("unlink-file-at", x.pathCode("unlink-file-at", sub, "moved.txt"), noCode)
	x.want("remove-directory-at", x.pathCode("remove-directory-at", root, "sub"), noCode)
	x.want("unlink-file-at of nothing", x.pathCode("unlink-file-at", root, "nothing"), code(feNoEntry))
	if _, err := os.Stat(filepath.Join(dir, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sub still there: %v", err)
	}
	// What the host cannot do is unsupported, not a trap.
	p, n = x.str(0, "hello.txt")
	q, qn2 := x.str(100, "link")
	x.want("symlink-at", x.code(cabi.FSUnit, "symlink-at", uint64(root), p, n, q, qn2), code(feUnsupported))
	x.want("link-at", x.code(cabi.FSUnit, "link-at", uint64(root), 0, p, n, uint64(root), q, qn2), code(feUnsupported))
	x.want("readlink-at", x.code(cabi.FSString, "readlink-at", uint64(root), p, n), code(feUnsupported))
	x.want("set-times", x.code(cabi.FSUnit, "set-times", uint64(root), 0, 0, 0, 1, 0, 0), code(feUnsupported))
	x.want("set-times-at", x.code(cabi.FSUnit, "set-times-at", uint64(root), 0, p, n, 0, 0, 0, 1, 0, 0), code(feUnsupported))
	x.wantTrap([]string{"new-timestamp discriminant 3"}, fsTypesName, descPrefix+"set-times", uint64(root), 3, 0, 0, 1, 0, 0, retArea)
}

// A read-only mount refuses every change with read-only, and its files
// stay as they were; reading works.
func TestFSReadOnlyMount(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keep.txt"), "original")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	x := mountGuest(t, NewFSConfig().WithReadOnlyDirMount(dir, "/ro").
		WithFSMount(fstest.MapFS{"m.txt": {Data: []byte("from a map")}}, "/map"))
	pre := x.preopens()
	for _, name := range []string{"/ro", "/map"} {
		root := pre[name]
		x.clearRet()
		x.call(fsTypesName, descPrefix+"get-flags", uint64(root), retArea)
		if f := x.ret(2)[cabi.FSFlags.OK]; f != dfRead {
			t.Fatalf("%s flags %#x", name, f)
		}
		for _, c := range []struct {
			path   string
			of, df uint32
		}{{"keep.txt", 0, dfWrite}, {"keep.txt", 0, dfRead | dfWrite}, {"keep.txt", ofTruncate, dfRead},
			{"new.txt", ofCreate, dfRead}, {"d", ofDirectory, dfRead | dfMutateDirectory}} {
			_, got := x.openAt(root, 0, c.path, c.of, c.df)
			x.want(name+" open-at "+c.path, got, code(feReadOnly))
		}
		x.want(name+" create-directory-at", x.pathCode("create-directory-at", root, "x"), code(feReadOnly))
		x.want(name+" unlink-file-at", x.pathCode("unlink-file-at", root, "keep.txt"), code(feReadOnly))
		x.want(name+" remove-directory-at", x.pathCode("remove-directory-at", root, "d"), code(feReadOnly))
		p, n := x.str(0, "keep.txt")
		q, qn := x.str(100, "moved.txt")
		x.want(name+" rename-at", x.code(cabi.FSUnit, "rename-at", uint64(root), p, n, uint64(root), q, qn), code(feReadOnly))
	}
	f := x.mustOpen(pre["/ro"], "keep.txt", 0, dfRead)
	if b, _ := x.readAt(f, 100, 0); string(b) != "original" {
		t.Fatalf("read %q", b)
	}
	x.want("write-via-stream on a read-only descriptor", x.code(cabi.FSHandle, "write-via-stream", uint64(f), 0), code(feBadDescriptor))
	x.want("set-size on a read-only descriptor", x.code(cabi.FSUnit, "set-size", uint64(f), 0), code(feBadDescriptor))
	m := x.mustOpen(pre["/map"], "m.txt", 0, dfRead)
	if b, _ := x.readAt(m, 100, 0); string(b) != "from a map" {
		t.Fatalf("read from the map %q", b)
	}
	// A map file has no times: none, not a date before 1970.
	x.want("stat", x.code(cabi.FSStat, "stat", uint64(m)), noCode)
	if r := x.ret(cabi.FSStat.Size); r[cabi.FSStat.OK+cabi.DescriptorStat.FieldOffset(4)] != 0 {
		t.Fatal("a time-less file has a modification time")
	}
	ents, err := os.ReadDir(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "original" || err != nil || len(ents) != 2 {
		t.Fatalf("the read-only mount changed: %q, %d entries", b, len(ents))
	}
}

// An attacker's paths: absolute paths, ".." above the mount and symbolic
// links that lead out (absolute, relative, through directories, in a loop)
// are refused, for reads and for changes; links that stay inside work.
func TestFSEscapes(t *testing.T) {
	top := t.TempDir()
	outside := filepath.Join(top, "outside")
	mnt := filepath.Join(top, "mnt")
	for _, d := range []string{outside, mnt, filepath.Join(mnt, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(outside, "secret"), "do not read")
	writeFile(t, filepath.Join(mnt, "inside.txt"), "fine")
	for link, target := range map[string]string{
		"abs":       outside,               // absolute, out
		"rel":       "../outside",          // relative, out
		"deep":      "sub/../../outside",   // out through a directory
		"sub/up":    "..",                  // stays inside
		"sub/upup":  "../..",               // out
		"loop":      "loop",                // itself
		"ping":      "pong",                // a cycle
		"pong":      "ping",                //
		"chain":     "sub/up/sub/upup/mnt", // out after a detour
		"good":      "sub/up/inside.txt",   // inside, through a link
		"dangling":  "nothing-here",        // inside, missing
		"secretlnk": "../outside/secret",   // a file outside
		"rootfile":  "/etc/passwd",         // absolute file
	} {
		if err := os.Symlink(target, filepath.Join(mnt, link)); err != nil {
			t.Fatal(err)
		}
	}
	// The same directory mounted writable and read-only: the same answers.
	x := mountGuest(t, NewFSConfig().WithDirMount(mnt, "/m").WithReadOnlyDirMount(mnt, "/mr"))
	pre := x.preopens()
	perm := code(feNotPermitted)
	for _, mp := range []string{"/mr", "/m"} {
		root := pre[mp]
		sub := x.mustOpen(root, "sub", ofDirectory, dfRead)
		for _, c := range []struct {
			dir  uint32
			pf   uint32
			path string
			want int
		}{
			{root, 0, "/etc/passwd", perm},
			{root, 0, "../outside/secret", perm},
			{root, 0, "..", perm},
			{sub, 0, "../../outside/secret", perm},
			{root, 0, "sub/../../outside/secret", perm},
			{root, pfSymlinkFollow, "abs/secret", perm},
			{root, 0, "abs/secret", perm}, // intermediate links are always followed
			{root, pfSymlinkFollow, "rel/secret", perm},
			{root, pfSymlinkFollow, "deep/secret", perm},
			{root, pfSymlinkFollow, "sub/upup/outside/secret", perm},
			{root, pfSymlinkFollow, "chain/inside.txt", perm},
			{root, pfSymlinkFollow, "secretlnk", perm},
			{root, pfSymlinkFollow, "rootfile", perm},
			{sub, pfSymlinkFollow, "upup/outside/secret", perm},
			{root, 0, "secretlnk", code(feLoop)}, // the link itself, not followed: O_NOFOLLOW
			{root, pfSymlinkFollow, "loop", code(feLoop)},
			{root, pfSymlinkFollow, "ping", code(feLoop)},
			{root, 0, "", code(feNoEntry)},
			{root, pfSymlinkFollow, "dangling", code(feNoEntry)},
			{root, 0, "inside.txt/..", code(feNotDirectory)},
		} {
			_, got := x.openAt(c.dir, c.pf, c.path, 0, dfRead)
			x.want(mp+" open-at "+c.path, got, c.want)
			p, n := x.str(0, c.path)
			x.want(mp+" stat-at "+c.path, x.code(cabi.FSStat, "stat-at", uint64(c.dir), uint64(c.pf), p, n), func() int {
				if c.want == code(feLoop) && c.pf == 0 {
					return noCode // stat-at without follow describes the link
				}
				return c.want
			}())
		}
	}
	root := pre["/m"]
	// Creating through an escape creates nothing outside.
	for _, path := range []string{"rel/new", "abs/new", "../outside/new", "sub/upup/outside/new"} {
		_, got := x.openAt(root, 0, path, ofCreate, dfRead|dfWrite)
		x.want("create "+path, got, perm)
		x.want("create-directory-at "+path, x.pathCode("create-directory-at", root, path), perm)
	}
	x.want("unlink-file-at ../outside/secret", x.pathCode("unlink-file-at", root, "../outside/secret"), perm)
	x.want("unlink-file-at rel/secret", x.pathCode("unlink-file-at", root, "rel/secret"), perm)
	x.want("remove-directory-at ../outside", x.pathCode("remove-directory-at", root, "../outside"), perm)
	p, n := x.str(0, "inside.txt")
	q, qn := x.str(100, "../outside/stolen")
	x.want("rename-at out", x.code(cabi.FSUnit, "rename-at", uint64(root), p, n, uint64(root), q, qn), perm)
	q, qn = x.str(100, "rel/stolen")
	x.want("rename-at through a link", x.code(cabi.FSUnit, "rename-at", uint64(root), p, n, uint64(root), q, qn), perm)
	ents, _ := os.ReadDir(outside)
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "do not read" || len(ents) != 1 {
		t.Fatalf("outside changed: %d entries", len(ents))
	}
	// Links that stay inside work.
	g := x.mustOpen(root, "sub/up/inside.txt", 0, dfRead)
	if b, _ := x.readAt(g, 10, 0); string(b) != "fine" {
		t.Fatalf("read through sub/up: %q", b)
	}
	if h, c := x.openAt(root, pfSymlinkFollow, "good", 0, dfRead); c != noCode {
		t.Fatalf("good: %s", fsCodeNames[c])
	} else if b, _ := x.readAt(h, 10, 0); string(b) != "fine" {
		t.Fatalf("read through good: %q", b)
	}
	// Listing shows the links as links, without "." and "..".
	ents2 := x.dirEntries(root)
	if ents2["abs"] != dtSymbolicLink || ents2["sub"] != dtDirectory || ents2["inside.txt"] != dtRegularFile {
		t.Fatalf("entries %v", ents2)
	}
	for _, dot := range []string{".", ".."} {
		if _, ok := ents2[dot]; ok {
			t.Fatalf("%q listed", dot)
		}
	}
	names := make([]string, 0, len(ents2))
	for n := range ents2 {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) != 13 {
		t.Fatalf("entries %v", names)
	}
}

// filesystem-error-code: some(code) for an io-error from a file's stream,
// none for any other io-error.
func TestFSErrorCode(t *testing.T) {
	// A map file has no ReadAt: the stream's read fails with unsupported.
	x := mountGuest(t, NewFSConfig().WithFSMount(noReaderAt{fstest.MapFS{"f": {Data: []byte("x")}}}, "/m"))
	f := x.mustOpen(x.preopens()["/m"], "f", 0, dfRead)
	x.want("read-via-stream", x.code(cabi.FSHandle, "read-via-stream", uint64(f), 0), noCode)
	in := x.u32(retArea + cabi.FSHandle.OK)
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamBlockingRead, uint64(in), 10, retArea)
	r := x.ret(cabi.ReadArea.Size)
	if r[0] != 1 || r[cabi.ReadArea.ErrTag] != 0 {
		t.Fatalf("read from a file without ReadAt: %v", r)
	}
	e := cabi.GetU32(r, cabi.ReadArea.ErrHandle)
	x.put(retArea, []byte{9, 9, 9, 9})
	x.call(fsTypesName, witnames.FilesystemErrorCode, uint64(e), retArea)
	o := cabi.OptFSCode
	if b := x.ret(o.Size()); b[0] != 1 || int(b[o.PayloadOffset()]) != code(feUnsupported) {
		t.Fatalf("filesystem-error-code = %v, want some(unsupported)", b)
	}
	other, err := x.g.table.push(rError, &ioError{err: errors.New("tls: transport failure")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	x.put(retArea, []byte{9, 9, 9, 9})
	x.call(fsTypesName, witnames.FilesystemErrorCode, uint64(other), retArea)
	if b := x.ret(o.Size()); b[0] != 0 {
		t.Fatalf("filesystem-error-code of a TLS error = %v, want none", b)
	}
	if !strings.Contains(x.debugString(e), "unsupported") {
		t.Fatalf("debug string %q", x.debugString(e))
	}
}

// noReaderAt hides a MapFS file's ReadAt.
type noReaderAt struct{ fstest.MapFS }

func (m noReaderAt) Open(name string) (fs.File, error) {
	f, err := m.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return struct{ fs.File }{f}, nil
}

// A guest without mounts has no preopens, and one with an unreadable
// FSConfig is refused.
func TestFSNoMounts(t *testing.T) {
	x := mountGuest(t, NewFSConfig())
	if pre := x.preopens(); len(pre) != 0 {
		t.Fatalf("preopens %v", pre)
	}
	ctx, r := newRuntime(t)
	h := New(r)
	cm, err := r.CompileModule(ctx, wasmtestModule(preopensName+"@0.2.0", "get-directories"))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	_, err = h.Instantiate(ctx, cm, cfg().WithFSConfig(wazero.NewFSConfig().WithDirMount(t.TempDir(), "/x")))
	if err == nil || !strings.Contains(err.Error(), "host.NewFSConfig") {
		t.Fatalf("instantiated with wazero's FSConfig: %v", err)
	}
}

// wasmtestModule is a module importing one host function.
func wasmtestModule(module, field string) []byte {
	name := module[:strings.IndexByte(module, '@')]
	for _, f := range interfaces {
		for _, d := range f.fns {
			if f.name == name && d.name == field {
				return wasmenc.Module([]wasmenc.Import{{Module: module, Name: field, Params: d.params, Results: d.results}})
			}
		}
	}
	panic("no host function " + module + "#" + field)
}
