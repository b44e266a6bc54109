package host

// wasi:filesystem/types: stat, identity and metadata hashes, and error-code.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"

	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/cabi"
)

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
	if st, ret, ok := c.statSelf(stack, a); ok {
		putStat(fsOKArea(c, a, ret), a.OK, st)
	}
}

// statSelf stats the descriptor self (stack[0]) for a function whose
// result area a is at stack[1]; a failure is written there.
func (c *call) statSelf(stack []uint64, a cabi.FSArea) (sys.Stat_t, uint32, bool) {
	d, ret := c.descriptor(stack[0], a, stack[1])
	st, errno := d.file.f.Stat()
	if errno != 0 {
		fsFail(c, a, ret, errnoCode(errno))
		return st, ret, false
	}
	return st, ret, true
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
	if st, ret, ok := c.statPathArg(stack, a); ok {
		putStat(fsOKArea(c, a, ret), a.OK, st)
	}
}

// statPathArg stats the path a (self, path-flags, path ptr, path len,
// retptr) function names; a failure is written to its result area a.
func (c *call) statPathArg(stack []uint64, a cabi.FSArea) (sys.Stat_t, uint32, bool) {
	d, ret := c.descriptor(stack[0], a, stack[4])
	st, code := c.statAt(d, wapi.DecodeU32(stack[1]), c.path(stack[2], stack[3]))
	if code != fsOK {
		fsFail(c, a, ret, code)
		return st, ret, false
	}
	return st, ret, true
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
	if st, ret, ok := c.statSelf(stack, a); ok {
		putHash(c, a, ret, st)
	}
}

// fsMetadataHashAt: (self, path-flags, path ptr, path len, retptr).
func fsMetadataHashAt(c *call, stack []uint64) {
	a := cabi.FSHash
	if st, ret, ok := c.statPathArg(stack, a); ok {
		putHash(c, a, ret, st)
	}
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
