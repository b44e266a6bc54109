package host

// wasi:filesystem/types: reading and writing files, directly and through
// streams.

import (
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

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

// fileWriter writes a file from an offset on, or at its end.
type fileWriter struct {
	ref    *fileRef
	off    int64
	append bool
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
