package host

// wasi:filesystem/types: directories and paths (read-directory, open-at, the
// path operations).

import (
	wapi "github.com/tetratelabs/wazero/api"
	expsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/internal/cabi"
)

// fsReadDirectory: (self, retptr) -> result<directory-entry-stream, error-code>.
func fsReadDirectory(c *call, stack []uint64) {
	a := cabi.FSHandle
	d, ret := c.descriptor(stack[0], a, stack[1])
	switch {
	case d.typ != dtDirectory:
		fsFail(c, a, ret, feNotDirectory)
		return
	case d.flags&dfRead == 0:
		fsFail(c, a, ret, feBadDescriptor)
		return
	}
	// A stream of its own: entries from the start, whatever else reads
	// the directory.
	f, errno := d.m.fs.OpenFile(d.path, expsys.O_RDONLY|expsys.O_DIRECTORY|expsys.O_NOFOLLOW, 0)
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	h := c.push(rDirEntryStream, &dirStream{f: f}, 0)
	cabi.PutU32(fsOKArea(c, a, ret), a.OK, h)
}

// dirBatch is how many entries one Readdir asks for.
const dirBatch = 64

// fsReadDirectoryEntry: (self, retptr) ->
// result<option<directory-entry>, error-code>; "." and ".." are left out.
func fsReadDirectoryEntry(c *call, stack []uint64) {
	a := cabi.FSDirEntry
	s := c.get(wapi.DecodeU32(stack[0]), rDirEntryStream).(*dirStream)
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, a.Size, a.Align)
	for len(s.buf) == 0 && !s.done {
		ents, errno := s.f.Readdir(dirBatch)
		if errno != 0 {
			fsFail(c, a, ret, errnoCode(errno))
			return
		}
		if len(ents) == 0 {
			s.done = true
		}
		for _, e := range ents {
			if e.Name != "." && e.Name != ".." {
				s.buf = append(s.buf, e)
			}
		}
	}
	opt := a.Type.Case(0)
	if len(s.buf) == 0 {
		fsOKArea(c, a, ret)[a.OK] = 0
		return
	}
	e := s.buf[0]
	s.buf = s.buf[1:]
	sp, sn := c.PutString(e.Name)
	ent := opt.Case(1)
	b := fsOKArea(c, a, ret)
	b[a.OK] = 1
	p := a.OK + opt.PayloadOffset()
	b[p+ent.FieldOffset(0)] = modeType(e.Type)
	cabi.PutU32(b, p+ent.FieldOffset(1)+cabi.ListPair.Ptr, sp)
	cabi.PutU32(b, p+ent.FieldOffset(1)+cabi.ListPair.Len, sn)
}

// path reads a path argument.
func (c *call) path(ptr, n uint64) string {
	return c.String(wapi.DecodeU32(ptr), wapi.DecodeU32(n))
}

// mutable checks that d may change its directory: read-only on a read-only
// mount, not-permitted without mutate-directory, not-directory for a file.
func (d *descriptor) mutable() fsCode {
	switch {
	case d.typ != dtDirectory:
		return feNotDirectory
	case d.m.readOnly:
		return feReadOnly
	case d.flags&dfMutateDirectory == 0:
		return feNotPermitted
	}
	return fsOK
}

type pathOp int

// fsPathOp: create-directory-at, remove-directory-at, unlink-file-at
// (self, path ptr, path len, retptr) -> result<_, error-code>.
func fsPathOp(c *call, stack []uint64, op pathOp) {
	a := cabi.FSUnit
	d, ret := c.descriptor(stack[0], a, stack[3])
	path := c.path(stack[1], stack[2])
	if code := d.mutable(); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	rel, code := d.m.resolve(d.path, path, false)
	if code == fsOK && rel == "." {
		code = feBusy // the mount's root itself (POSIX: EBUSY or EEXIST)
		if op == opMkdir {
			code = feExist
		}
	}
	if code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	var errno expsys.Errno
	switch op {
	case opMkdir:
		errno = d.m.fs.Mkdir(rel, 0o755)
	case opRmdir:
		errno = d.m.fs.Rmdir(rel)
	case opUnlink:
		errno = d.m.fs.Unlink(rel)
	}
	fsUnitDone(c, ret, errno)
}

// fsRenameAt: (self, old ptr, old len, new-descriptor, new ptr, new len,
// retptr). Both directories must be on the same mount (else cross-device).
func fsRenameAt(c *call, stack []uint64) {
	a := cabi.FSUnit
	d, ret := c.descriptor(stack[0], a, stack[6])
	oldPath := c.path(stack[1], stack[2])
	nd := c.get(wapi.DecodeU32(stack[3]), rDescriptor).(*descriptor)
	newPath := c.path(stack[4], stack[5])
	code := d.mutable()
	if code == fsOK {
		code = nd.mutable()
	}
	if code == fsOK && nd.m != d.m {
		code = feCrossDevice
	}
	var from, to string
	if code == fsOK {
		from, code = d.m.resolve(d.path, oldPath, false)
	}
	if code == fsOK {
		to, code = nd.m.resolve(nd.path, newPath, false)
	}
	if code == fsOK && (from == "." || to == ".") {
		code = feBusy
	}
	if code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	fsUnitDone(c, ret, d.m.fs.Rename(from, to))
}

// fsOpenAt: (self, path-flags, path ptr, path len, open-flags,
// descriptor-flags, retptr) -> result<descriptor, error-code>.
func fsOpenAt(c *call, stack []uint64) {
	a := cabi.FSHandle
	d, ret := c.descriptor(stack[0], a, stack[6])
	pf, of, df := wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[4]), wapi.DecodeU32(stack[5])
	path := c.path(stack[2], stack[3])
	if pf > pfSymlinkFollow || of > 0xf || df > dfAll {
		c.trap("flags out of range: path-flags %#x, open-flags %#x, descriptor-flags %#x", pf, of, df)
	}
	if d.typ != dtDirectory {
		fsFail(c, a, ret, feNotDirectory)
		return
	}
	changes := df&(dfWrite|dfMutateDirectory) != 0 || of&(ofCreate|ofTruncate) != 0
	switch {
	case changes && d.m.readOnly:
		fsFail(c, a, ret, feReadOnly)
		return
	case changes && d.flags&dfMutateDirectory == 0:
		fsFail(c, a, ret, feNotPermitted)
		return
	case of&ofDirectory != 0 && df&dfWrite != 0:
		fsFail(c, a, ret, feIsDirectory)
		return
	}
	rel, code := d.m.resolve(d.path, path, pf&pfSymlinkFollow != 0)
	if code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	flag := expsys.O_RDONLY | expsys.O_NOFOLLOW
	switch {
	case df&dfRead != 0 && df&dfWrite != 0:
		flag = expsys.O_RDWR | expsys.O_NOFOLLOW
	case df&dfWrite != 0:
		flag = expsys.O_WRONLY | expsys.O_NOFOLLOW
	}
	if of&ofCreate != 0 {
		flag |= expsys.O_CREAT
	}
	if of&ofExclusive != 0 {
		flag |= expsys.O_EXCL
	}
	if of&ofTruncate != 0 {
		flag |= expsys.O_TRUNC
	}
	if of&ofDirectory != 0 {
		flag |= expsys.O_DIRECTORY
	}
	if df&(dfFileSync|dfRequestedSync) != 0 {
		flag |= expsys.O_SYNC
	} else if df&dfDataSync != 0 {
		flag |= expsys.O_DSYNC
	}
	f, errno := d.m.fs.OpenFile(rel, flag, 0o644)
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	st, errno := f.Stat()
	if errno != 0 {
		_ = f.Close()
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	typ := modeType(st.Mode)
	flags := uint8(df)
	if typ == dtDirectory {
		flags |= dfRead // a directory opened to look up paths in reads it
	} else {
		flags &^= dfMutateDirectory
	}
	h := c.push(rDescriptor, &descriptor{m: d.m, path: rel, typ: typ, flags: flags, file: (&fileRef{f: f}).acquire()}, 0)
	cabi.PutU32(fsOKArea(c, a, ret), a.OK, h)
}
