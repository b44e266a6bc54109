package host

import (
	"io"
	"io/fs"
	"sync"

	wapi "github.com/tetratelabs/wazero/api"
	expsys "github.com/tetratelabs/wazero/experimental/sys"

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

const (
	opMkdir pathOp = iota
	opRmdir
	opUnlink
)
