package host

import (
	"encoding/binary"
	"io"
	mrand "math/rand"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// maxRandom bounds one get-random-bytes; a larger request traps.
const maxRandom = 16 << 20

var randomRandom = register(&iface{name: witnames.RandomRandom, fns: []fnDef{
	def(witnames.GetRandomBytes, func(c *call, s []uint64) { randomBytes(c, s, c.secureRand()) }, p(i64, i32)),
	def(witnames.GetRandomU64, func(c *call, s []uint64) { s[0] = randomU64(c, c.secureRand()) }, nil, i64),
}})

var randomInsecure = register(&iface{name: witnames.RandomInsecure, fns: []fnDef{
	def(witnames.GetInsecureRandomBytes, func(c *call, s []uint64) { randomBytes(c, s, c.insecureRand()) }, p(i64, i32)),
	def(witnames.GetInsecureRandomU64, func(c *call, s []uint64) { s[0] = randomU64(c, c.insecureRand()) }, nil, i64),
}})

var randomInsecureSeed = register(&iface{name: witnames.RandomInsecureSeed, fns: []fnDef{
	def(witnames.InsecureSeed, func(c *call, stack []uint64) {
		t := cabi.U64Pair
		ret := wapi.DecodeU32(stack[0])
		c.Area(ret, t.Size(), t.Align())
		src := c.insecureRand()
		lo, hi := randomU64(c, src), randomU64(c, src)
		b := c.Area(ret, t.Size(), t.Align())
		cabi.PutU64(b, t.FieldOffset(0), lo)
		cabi.PutU64(b, t.FieldOffset(1), hi)
	}, p(i32)),
}})

// secureRand is the configured random source. random.wit: "Deterministic
// environments must omit this function": without WithRandSource the guest
// may not import wasi:random/random (Instantiate says so), and a Prepare'd
// guest traps here.
func (c *call) secureRand() io.Reader {
	cfg := c.needCLI()
	if cfg.rand == nil {
		c.trap("no random source: the ModuleConfig has no WithRandSource, and wasi:random/random must not be deterministic")
	}
	return cfg.rand
}

// insecureRand is the configured random source, or, as wazero's default for
// wasip1, a deterministic one.
func (c *call) insecureRand() io.Reader {
	cfg := c.needCLI()
	if cfg.rand != nil {
		return cfg.rand
	}
	s := &c.g.cli
	s.randOnce.Do(func() { s.insecure = mrand.New(mrand.NewSource(42)) })
	return s.insecure
}

// randomBytes: (len u64, retptr) -> +0 ptr, +4 len of list<u8>.
func randomBytes(c *call, stack []uint64, src io.Reader) {
	n, ret := stack[0], wapi.DecodeU32(stack[1])
	c.Area(ret, cabi.String.Size(), cabi.String.Align())
	if n > maxRandom {
		c.trap("%d random bytes asked for; at most %d are given at once", n, maxRandom)
	}
	ptr := c.Alloc(1, uint32(n))
	if _, err := io.ReadFull(src, c.Bytes(ptr, uint32(n))); err != nil {
		c.trap("the random source failed: %v", err)
	}
	putListArea(c, ret, ptr, uint32(n))
}

func randomU64(c *call, src io.Reader) uint64 {
	var b [8]byte
	if _, err := io.ReadFull(src, b[:]); err != nil {
		c.trap("the random source failed: %v", err)
	}
	return binary.LittleEndian.Uint64(b[:])
}
