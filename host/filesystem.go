package host

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"io/fs"
	"sync"

	wapi "github.com/tetratelabs/wazero/api"
	expsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// wasi:filesystem over the mounts of the guest's FSConfig (see
// NewFSConfig), through wazero's FS abstraction, as its wasip1 sees them.
// Paths are resolved by fspath.go, confined to their mount. Read-only
// mounts refuse every change with read-only.
//
// Not supported (the error unsupported): set-times, set-times-at, link-at,
// symlink-at and readlink-at (a link's target would tell the guest about
// the host's paths; the host resolves links itself).

// descriptor-flags, path-flags and open-flags bits.
const (
	dfRead            = 1 << 0
	dfWrite           = 1 << 1
	dfFileSync        = 1 << 2
	dfDataSync        = 1 << 3
	dfRequestedSync   = 1 << 4
	dfMutateDirectory = 1 << 5
	dfAll             = 1<<6 - 1

	pfSymlinkFollow = 1 << 0

	ofCreate    = 1 << 0
	ofDirectory = 1 << 1
	ofExclusive = 1 << 2
	ofTruncate  = 1 << 3
)

// descriptor-type cases.
const (
	dtUnknown uint8 = iota
	dtBlockDevice
	dtCharacterDevice
	dtDirectory
	dtFifo
	dtSymbolicLink
	dtRegularFile
	dtSocket
)

func modeType(m fs.FileMode) uint8 {
	switch t := m.Type(); {
	case t == 0:
		return dtRegularFile
	case t&fs.ModeDir != 0:
		return dtDirectory
	case t&fs.ModeSymlink != 0:
		return dtSymbolicLink
	case t&fs.ModeNamedPipe != 0:
		return dtFifo
	case t&fs.ModeSocket != 0:
		return dtSocket
	case t&fs.ModeCharDevice != 0:
		return dtCharacterDevice
	case t&fs.ModeDevice != 0:
		return dtBlockDevice
	}
	return dtUnknown
}

// fileRef is an open file shared by a descriptor and the streams made from
// it; it closes with the last of them.
type fileRef struct {
	f    expsys.File
	mu   sync.Mutex
	refs int
}

func (r *fileRef) acquire() *fileRef {
	r.mu.Lock()
	r.refs++
	r.mu.Unlock()
	return r
}

func (r *fileRef) release() {
	r.mu.Lock()
	r.refs--
	last := r.refs == 0
	r.mu.Unlock()
	if last {
		_ = r.f.Close()
	}
}

// descriptor is the descriptor resource.
type descriptor struct {
	m     *mount
	path  string // mount-relative, "." for the root
	typ   uint8
	flags uint8
	file  *fileRef
}

func (d *descriptor) close() { d.file.release() }

// dirStream is the directory-entry-stream resource.
type dirStream struct {
	f    expsys.File
	buf  []expsys.Dirent
	done bool
}

func (s *dirStream) close() { _ = s.f.Close() }

var fsPreopens = register(&iface{name: witnames.FilesystemPreopens, fns: []fnDef{
	def(witnames.GetDirectories, fsGetDirectories, p(i32)),
}})

// fsGetDirectories: (retptr) -> list<tuple<descriptor, string>>, one per
// mount, each call new descriptors. A mount whose root cannot be opened is
// left out.
func fsGetDirectories(c *call, stack []uint64) {
	cfg := c.needCLI()
	ret := wapi.DecodeU32(stack[0])
	c.Area(ret, cabi.String.Size(), cabi.String.Align())
	var words []uint32
	for _, m := range cfg.mounts {
		f, errno := m.fs.OpenFile(".", expsys.O_RDONLY|expsys.O_DIRECTORY, 0)
		if errno != 0 {
			continue
		}
		flags := uint8(dfRead | dfMutateDirectory)
		if m.readOnly {
			flags = dfRead
		}
		h := c.push(rDescriptor, &descriptor{m: m, path: ".", typ: dtDirectory, flags: flags, file: (&fileRef{f: f}).acquire()}, 0)
		sp, sn := c.PutString(m.guestPath)
		words = append(words, h, sp, sn)
	}
	putList(c, ret, cabi.Preopen, words)
}

var fsTypes = register(&iface{name: witnames.FilesystemTypes, fns: []fnDef{
	def(witnames.DescriptorReadViaStream, fsReadViaStream, p(i32, i64, i32)),
	def(witnames.DescriptorWriteViaStream, func(c *call, s []uint64) { fsWriteStream(c, s[0], s[1], false, s[2]) }, p(i32, i64, i32)),
	def(witnames.DescriptorAppendViaStream, func(c *call, s []uint64) { fsWriteStream(c, s[0], 0, true, s[1]) }, p(i32, i32)),
	def(witnames.DescriptorAdvise, fsAdvise, p(i32, i64, i64, i32, i32)),
	def(witnames.DescriptorSyncData, func(c *call, s []uint64) { fsSync(c, s, true) }, p(i32, i32)),
	def(witnames.DescriptorGetFlags, fsGetFlags, p(i32, i32)),
	def(witnames.DescriptorGetType, fsGetType, p(i32, i32)),
	def(witnames.DescriptorSetSize, fsSetSize, p(i32, i64, i32)),
	def(witnames.DescriptorSetTimes, fsUnsupported(cabi.FSUnit, fsTimestamps(1, 4)), p(i32, i32, i64, i32, i32, i64, i32, i32)),
	def(witnames.DescriptorRead, fsRead, p(i32, i64, i64, i32)),
	def(witnames.DescriptorWrite, fsWrite, p(i32, i32, i32, i64, i32)),
	def(witnames.DescriptorReadDirectory, fsReadDirectory, p(i32, i32)),
	def(witnames.DescriptorSync, func(c *call, s []uint64) { fsSync(c, s, false) }, p(i32, i32)),
	def(witnames.DescriptorCreateDirectoryAt, func(c *call, s []uint64) { fsPathOp(c, s, opMkdir) }, p(i32, i32, i32, i32)),
	def(witnames.DescriptorStat, fsStat, p(i32, i32)),
	def(witnames.DescriptorStatAt, fsStatAt, p(i32, i32, i32, i32, i32)),
	def(witnames.DescriptorSetTimesAt, fsUnsupported(cabi.FSUnit, fsSetTimesAtArgs), p(i32, i32, i32, i32, i32, i64, i32, i32, i64, i32, i32)),
	def(witnames.DescriptorLinkAt, fsUnsupported(cabi.FSUnit, fsLinkAtArgs), p(i32, i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.DescriptorOpenAt, fsOpenAt, p(i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.DescriptorReadlinkAt, fsUnsupported(cabi.FSString, fsStrings(1)), p(i32, i32, i32, i32)),
	def(witnames.DescriptorRemoveDirectoryAt, func(c *call, s []uint64) { fsPathOp(c, s, opRmdir) }, p(i32, i32, i32, i32)),
	def(witnames.DescriptorRenameAt, fsRenameAt, p(i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.DescriptorSymlinkAt, fsUnsupported(cabi.FSUnit, fsStrings(1, 3)), p(i32, i32, i32, i32, i32, i32)),
	def(witnames.DescriptorUnlinkFileAt, func(c *call, s []uint64) { fsPathOp(c, s, opUnlink) }, p(i32, i32, i32, i32)),
	def(witnames.DescriptorIsSameObject, fsIsSameObject, p(i32, i32), i32),
	def(witnames.DescriptorMetadataHash, fsMetadataHash, p(i32, i32)),
	def(witnames.DescriptorMetadataHashAt, fsMetadataHashAt, p(i32, i32, i32, i32, i32)),
	def(witnames.DropDescriptor, dropOf(rDescriptor), p(i32)),
	def(witnames.DirectoryEntryStreamReadDirectoryEntry, fsReadDirectoryEntry, p(i32, i32)),
	def(witnames.DropDirectoryEntryStream, dropOf(rDirEntryStream), p(i32)),
	def(witnames.FilesystemErrorCode, fsErrorCode, p(i32, i32)),
}})

// fsFail writes the err case of a result<T, error-code>.
func fsFail(c *call, a cabi.FSArea, ret uint32, code fsCode) {
	b := c.Area(ret, a.Size, a.Align)
	b[a.Tag] = 1
	b[a.Code] = code.wire()
}

// fsUnitDone writes the outcome of a result<_, error-code> from errno.
func fsUnitDone(c *call, ret uint32, errno expsys.Errno) {
	if errno != 0 {
		fsFail(c, cabi.FSUnit, ret, errnoCode(errno))
		return
	}
	fsOKArea(c, cabi.FSUnit, ret)
}

// fsOKArea writes the ok case and returns the area to fill in.
func fsOKArea(c *call, a cabi.FSArea, ret uint32) []byte {
	b := c.Area(ret, a.Size, a.Align)
	b[a.Tag] = 0
	return b
}

// self returns the descriptor of a method and checks the return area.
func (c *call) descriptor(h uint64, a cabi.FSArea, ret uint64) (*descriptor, uint32) {
	d := c.get(wapi.DecodeU32(h), rDescriptor).(*descriptor)
	r := wapi.DecodeU32(ret)
	c.Area(r, a.Size, a.Align)
	return d, r
}

// fsUnsupported answers unsupported, in the layout a, after checking the
// descriptor, the return area and (check) the function's other arguments.
func fsUnsupported(a cabi.FSArea, check func(c *call, stack []uint64)) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		_, ret := c.descriptor(stack[0], a, stack[len(stack)-1])
		check(c, stack)
		fsFail(c, a, ret, feUnsupported)
	}
}

// Argument checks of the unsupported functions, by the position of each
// argument's first core value.
func fsTimestamps(i, j int) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		for _, k := range []int{i, j} { // new-timestamp: no-change, now, timestamp
			if tag := wapi.DecodeU32(stack[k]); tag > 2 {
				c.trap("new-timestamp discriminant %d is not 0, 1 or 2", tag)
			}
		}
	}
}

func fsPathFlags(c *call, v uint64) {
	if pf := wapi.DecodeU32(v); pf > pfSymlinkFollow {
		c.trap("path-flags %#x out of range", pf)
	}
}

func fsStrings(at ...int) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		for _, i := range at {
			c.String(wapi.DecodeU32(stack[i]), wapi.DecodeU32(stack[i+1]))
		}
	}
}

// set-times-at(self, path-flags, path, data-access-timestamp, data-modification-timestamp, ret-ptr)
func fsSetTimesAtArgs(c *call, stack []uint64) {
	fsPathFlags(c, stack[1])
	fsStrings(2)(c, stack)
	fsTimestamps(4, 7)(c, stack)
}

// link-at(self, old-path-flags, old-path, new-descriptor, new-path, ret-ptr)
func fsLinkAtArgs(c *call, stack []uint64) {
	fsPathFlags(c, stack[1])
	fsStrings(2)(c, stack)
	c.get(wapi.DecodeU32(stack[4]), rDescriptor)
	fsStrings(5)(c, stack)
}

// fileAccess checks that d is a file opened with flag (else is-directory or
// bad-descriptor) and that off fits a filesize Go can use (else tooBig).
func (d *descriptor) fileAccess(flag uint8, off uint64, tooBig fsCode) fsCode {
	switch {
	case d.typ == dtDirectory:
		return feIsDirectory
	case d.flags&flag == 0:
		return feBadDescriptor
	case off > 1<<63-1:
		return tooBig
	}
	return fsOK
}

// fileReader reads a file from an offset on, for read-via-stream.
type fileReader struct {
	ref *fileRef
	off int64
}

func (r *fileReader) Read(p []byte) (int, error) {
	n, errno := r.ref.f.Pread(p, r.off)
	r.off += int64(n)
	switch {
	case errno != 0:
		return n, fsErr("read", errno)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// fileWriter writes a file from an offset on, or at its end.
type fileWriter struct {
	ref    *fileRef
	off    int64
	append bool
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.append {
		st, errno := w.ref.f.Stat()
		if errno != 0 {
			return 0, fsErr("write", errno)
		}
		w.off = st.Size
	}
	total := 0
	for total < len(p) {
		n, errno := w.ref.f.Pwrite(p[total:], w.off)
		total += n
		w.off += int64(n)
		if errno != 0 {
			return total, fsErr("write", errno)
		}
		if n == 0 {
			return total, fsErr("write", expsys.EIO)
		}
	}
	return total, nil
}

// fsReadViaStream: (self, offset u64, retptr) -> result<input-stream, error-code>.
func fsReadViaStream(c *call, stack []uint64) {
	a := cabi.FSHandle
	d, ret := c.descriptor(stack[0], a, stack[2])
	if code := d.fileAccess(dfRead, stack[1], feInvalid); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	ref := d.file.acquire()
	h := c.push(rInput, &inStream{p: newPump(c.g, &fileReader{ref: ref, off: int64(stack[1])}), done: ref.release}, 0)
	cabi.PutU32(fsOKArea(c, a, ret), a.OK, h)
}

// fsWriteStream: write-via-stream (self, offset, retptr) and
// append-via-stream (self, retptr) -> result<output-stream, error-code>.
func fsWriteStream(c *call, self, off uint64, appending bool, retp uint64) {
	a := cabi.FSHandle
	d, ret := c.descriptor(self, a, retp)
	if code := d.fileAccess(dfWrite, off, feInvalid); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	ref := d.file.acquire()
	w := &fileWriter{ref: ref, off: int64(off), append: appending}
	h := c.push(rOutput, &outStream{s: newSink(c.g, w, nil, nil), done: ref.release}, 0)
	cabi.PutU32(fsOKArea(c, a, ret), a.OK, h)
}

// fsAdvise: (self, offset, length, advice, retptr): advice is a hint; none
// is taken.
func fsAdvise(c *call, stack []uint64) {
	a := cabi.FSUnit
	_, ret := c.descriptor(stack[0], a, stack[4])
	if adv := wapi.DecodeU32(stack[3]); adv > 5 {
		c.trap("advice %d is not one of the 6 cases", adv)
	}
	fsOKArea(c, a, ret)
}

// fsSync: sync / sync-data (self, retptr).
func fsSync(c *call, stack []uint64, data bool) {
	a := cabi.FSUnit
	d, ret := c.descriptor(stack[0], a, stack[1])
	if data {
		fsUnitDone(c, ret, d.file.f.Datasync())
		return
	}
	fsUnitDone(c, ret, d.file.f.Sync())
}

// fsGetFlags: (self, retptr) -> result<descriptor-flags, error-code>.
func fsGetFlags(c *call, stack []uint64) {
	a := cabi.FSFlags
	d, ret := c.descriptor(stack[0], a, stack[1])
	fsOKArea(c, a, ret)[a.OK] = d.flags
}

// fsGetType: (self, retptr) -> result<descriptor-type, error-code>.
func fsGetType(c *call, stack []uint64) {
	a := cabi.FSType
	d, ret := c.descriptor(stack[0], a, stack[1])
	fsOKArea(c, a, ret)[a.OK] = d.typ
}

// fsSetSize: (self, size u64, retptr).
func fsSetSize(c *call, stack []uint64) {
	a := cabi.FSUnit
	d, ret := c.descriptor(stack[0], a, stack[2])
	if code := d.fileAccess(dfWrite, stack[1], feFileTooLarge); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	fsUnitDone(c, ret, d.file.f.Truncate(int64(stack[1])))
}

// fsRead: (self, length u64, offset u64, retptr) ->
// result<tuple<list<u8>, bool>, error-code>; the bool says the end of the
// file was reached.
func fsRead(c *call, stack []uint64) {
	a := cabi.FSRead
	d, ret := c.descriptor(stack[0], a, stack[3])
	n, off := min(stack[1], maxRead), stack[2]
	if code := d.fileAccess(dfRead, off, feInvalid); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	buf := make([]byte, n)
	k, errno := d.file.f.Pread(buf, int64(off))
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	ptr, ln := c.PutBytes(buf[:k])
	tup := a.Type.Case(0)
	b := fsOKArea(c, a, ret)
	cabi.PutU32(b, a.OK+tup.FieldOffset(0)+cabi.ListPair.Ptr, ptr)
	cabi.PutU32(b, a.OK+tup.FieldOffset(0)+cabi.ListPair.Len, ln)
	if uint64(k) < stack[1] {
		b[a.OK+tup.FieldOffset(1)] = 1
	} else {
		b[a.OK+tup.FieldOffset(1)] = 0
	}
}

// fsWrite: (self, ptr, len, offset u64, retptr) -> result<filesize, error-code>.
func fsWrite(c *call, stack []uint64) {
	a := cabi.FSFilesize
	d, ret := c.descriptor(stack[0], a, stack[4])
	data := c.Bytes(wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2]))
	off := stack[3]
	if code := d.fileAccess(dfWrite, off, feInvalid); code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	n, errno := d.file.f.Pwrite(data, int64(off))
	if errno != 0 && n == 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	cabi.PutU64(fsOKArea(c, a, ret), a.OK, uint64(n))
}

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

const (
	opMkdir pathOp = iota
	opRmdir
	opUnlink
)

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

// putStat writes a descriptor-stat at off of b.
func putStat(b []byte, off uint32, st sys.Stat_t) {
	t := cabi.DescriptorStat
	b[off+t.FieldOffset(0)] = modeType(st.Mode)
	cabi.PutU64(b, off+t.FieldOffset(1), st.Nlink)
	cabi.PutU64(b, off+t.FieldOffset(2), uint64(max(st.Size, 0)))
	for i, ns := range []int64{st.Atim, st.Mtim, st.Ctim} {
		o := off + t.FieldOffset(3+i)
		if ns < 0 { // before 1970, or unknown (an fs.FS file without a time): none
			b[o] = 0
			continue
		}
		b[o] = 1
		p := o + cabi.OptionDatetime.PayloadOffset()
		cabi.PutU64(b, p+cabi.Datetime.FieldOffset(0), uint64(ns/1e9))
		cabi.PutU32(b, p+cabi.Datetime.FieldOffset(1), uint32(ns%1e9))
	}
}

// fsStat: (self, retptr) -> result<descriptor-stat, error-code>.
func fsStat(c *call, stack []uint64) {
	a := cabi.FSStat
	d, ret := c.descriptor(stack[0], a, stack[1])
	st, errno := d.file.f.Stat()
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	putStat(fsOKArea(c, a, ret), a.OK, st)
}

// statAt resolves path under d and stats it (following a last symbolic
// link only with symlink-follow).
func (c *call) statAt(d *descriptor, pf uint32, path string) (sys.Stat_t, fsCode) {
	if pf > pfSymlinkFollow {
		c.trap("path-flags %#x out of range", pf)
	}
	if d.typ != dtDirectory {
		return sys.Stat_t{}, feNotDirectory
	}
	rel, code := d.m.resolve(d.path, path, pf&pfSymlinkFollow != 0)
	if code != fsOK {
		return sys.Stat_t{}, code
	}
	st, errno := d.m.fs.Lstat(rel)
	if errno != 0 {
		return st, errnoCode(errno)
	}
	return st, fsOK
}

// fsStatAt: (self, path-flags, path ptr, path len, retptr).
func fsStatAt(c *call, stack []uint64) {
	a := cabi.FSStat
	d, ret := c.descriptor(stack[0], a, stack[4])
	st, code := c.statAt(d, wapi.DecodeU32(stack[1]), c.path(stack[2], stack[3]))
	if code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	putStat(fsOKArea(c, a, ret), a.OK, st)
}

// fsIsSameObject: (self, other) -> bool: the same device and inode.
func fsIsSameObject(c *call, stack []uint64) {
	d := c.get(wapi.DecodeU32(stack[0]), rDescriptor).(*descriptor)
	o := c.get(wapi.DecodeU32(stack[1]), rDescriptor).(*descriptor)
	a, e1 := d.file.f.Stat()
	b, e2 := o.file.f.Stat()
	stack[0] = b2u(e1 == 0 && e2 == 0 && a.Dev == b.Dev && a.Ino == b.Ino)
}

// hashKey keys metadata hashes (types.wit: "a secret value chosen by the
// implementation"), so that they do not reveal inode numbers.
var hashKey = func() [32]byte {
	var k [32]byte
	_, _ = rand.Read(k[:])
	return k
}()

func putHash(c *call, a cabi.FSArea, ret uint32, st sys.Stat_t) {
	// types.wit: a hash of the modification time and the size, and perhaps
	// the inode and device numbers.
	var in [64]byte
	copy(in[:], hashKey[:])
	binary.LittleEndian.PutUint64(in[32:], st.Dev)
	binary.LittleEndian.PutUint64(in[40:], st.Ino)
	binary.LittleEndian.PutUint64(in[48:], uint64(st.Mtim))
	binary.LittleEndian.PutUint64(in[56:], uint64(st.Size))
	sum := sha256.Sum256(in[:])
	b := fsOKArea(c, a, ret)
	cabi.PutU64(b, a.OK+cabi.U64Pair.FieldOffset(0), binary.LittleEndian.Uint64(sum[0:]))
	cabi.PutU64(b, a.OK+cabi.U64Pair.FieldOffset(1), binary.LittleEndian.Uint64(sum[8:]))
}

// fsMetadataHash: (self, retptr) -> result<metadata-hash-value, error-code>.
func fsMetadataHash(c *call, stack []uint64) {
	a := cabi.FSHash
	d, ret := c.descriptor(stack[0], a, stack[1])
	st, errno := d.file.f.Stat()
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return
	}
	putHash(c, a, ret, st)
}

// fsMetadataHashAt: (self, path-flags, path ptr, path len, retptr).
func fsMetadataHashAt(c *call, stack []uint64) {
	a := cabi.FSHash
	d, ret := c.descriptor(stack[0], a, stack[4])
	st, code := c.statAt(d, wapi.DecodeU32(stack[1]), c.path(stack[2], stack[3]))
	if code != fsOK {
		fsFail(c, a, ret, code)
		return
	}
	putHash(c, a, ret, st)
}

// fsErrorCode: (err, retptr) -> option<error-code>: some for an io-error
// from a file's stream.
func fsErrorCode(c *call, stack []uint64) {
	e := c.get(wapi.DecodeU32(stack[0]), rError).(*ioError)
	a := cabi.OptFSCodeArea
	ret := wapi.DecodeU32(stack[1])
	b := c.Area(ret, a.Size, a.Align)
	code, ok := fsCodeOf(e.err)
	if !ok {
		b[a.Tag] = 0
		return
	}
	b[a.Tag] = 1
	b[a.Some] = code.wire()
}
