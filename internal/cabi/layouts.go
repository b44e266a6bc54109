package cabi

// WIT types of wasi:io, wasi:sockets, wasi:clocks and wasi:tls that cross
// memory, and the return areas of the functions the host implements. Every
// offset the host writes comes from here.

// Types.
var (
	// stream-error: variant { last-operation-failed(own<error>), closed }
	StreamError = VariantOf(Handle, Empty)
	// error-code of wasi:sockets/network: an enum of 21 cases.
	ErrorCode = Enum(21)
	// ip-address: variant { ipv4(tuple<u8 x4>), ipv6(tuple<u16 x8>) }
	IPAddress = VariantOf(Tuple(U8, U8, U8, U8), Tuple(U16, U16, U16, U16, U16, U16, U16, U16))
	// ipv4-socket-address: record { port: u16, address: ipv4-address }
	IPv4SocketAddress = Tuple(U16, Tuple(U8, U8, U8, U8))
	// ipv6-socket-address: record { port: u16, flow-info: u32, address: ipv6-address, scope-id: u32 }
	IPv6SocketAddress = Tuple(U16, U32, Tuple(U16, U16, U16, U16, U16, U16, U16, U16), U32)
	// ip-socket-address: variant { ipv4(ipv4-socket-address), ipv6(ipv6-socket-address) }
	IPSocketAddress = VariantOf(IPv4SocketAddress, IPv6SocketAddress)
	// datetime of wasi:clocks/wall-clock: record { seconds: u64, nanoseconds: u32 }
	Datetime = Tuple(U64, U32)
)

// Types of wasi:cli, wasi:random and wasi:filesystem.
var (
	// tuple<string, string>: an environment variable
	EnvVar = Tuple(String, String)
	// tuple<descriptor, string>: a preopen
	Preopen      = Tuple(Handle, String)
	OptionString = Option(String)
	OptionHandle = Option(Handle)
	// tuple<u64, u64> of insecure-seed; record metadata-hash-value { lower: u64, upper: u64 }
	U64Pair = Tuple(U64, U64)
	// error-code of wasi:filesystem/types: an enum of 37 cases.
	FSErrorCode = Enum(37)
	// descriptor-type: an enum of 8 cases.
	DescriptorType = Enum(8)
	// option<datetime>
	OptionDatetime = Option(Datetime)
	// descriptor-stat: record { type, link-count: u64, size: u64, three option<datetime> }
	DescriptorStat = Tuple(DescriptorType, U64, U64, OptionDatetime, OptionDatetime, OptionDatetime)
	// directory-entry: record { type: descriptor-type, name: string }
	DirectoryEntry = Tuple(DescriptorType, String)
	// flags with at most 8 members (descriptor-flags, path-flags, open-flags)
	Flags8 = U8
)

// Types of wasitls:tls/server.
var (
	CertChain = ListOf(Tuple(ListOf(U8))) // server-connection.client-certificate-chain
)

// Return areas of wasi:filesystem, each result<T, error-code>.
var (
	FSUnit     = fsArea(Result(Empty, FSErrorCode))                   // sync, set-size, ...
	FSHandle   = fsArea(Result(Handle, FSErrorCode))                  // open-at, read-via-stream, ...
	FSFlags    = fsArea(Result(Flags8, FSErrorCode))                  // get-flags
	FSType     = fsArea(Result(DescriptorType, FSErrorCode))          // get-type
	FSFilesize = fsArea(Result(U64, FSErrorCode))                     // write
	FSStat     = fsArea(Result(DescriptorStat, FSErrorCode))          // stat, stat-at
	FSHash     = fsArea(Result(U64Pair, FSErrorCode))                 // metadata-hash(-at)
	FSRead     = fsArea(Result(Tuple(ListOf(U8), Bool), FSErrorCode)) // read
	FSDirEntry = fsArea(Result(Option(DirectoryEntry), FSErrorCode))  // read-directory-entry
	FSString   = fsArea(Result(String, FSErrorCode))                  // readlink-at
	OptFSCode  = Option(FSErrorCode)                                  // filesystem-error-code
)

// FSArea locates the parts of result<T, error-code> of wasi:filesystem.
type FSArea struct {
	Type        Type
	Size, Align uint32
	Tag         uint32 // 0 ok, 1 err
	OK          uint32 // offset of the ok payload
	Code        uint32 // offset of the error-code byte
}

func fsArea(t Type) FSArea {
	p := t.PayloadOffset()
	return FSArea{Type: t, Size: t.Size(), Align: t.Align(), Tag: tagOffset, OK: p, Code: p}
}

// Return-area types, one per function shape.
var (
	ResultListU8       = Result(ListOf(U8), StreamError)                                      // read, blocking-read
	ResultU64Stream    = Result(U64, StreamError)                                             // check-write, skip, splice
	ResultUnitStream   = Result(Empty, StreamError)                                           // write, flush, ...
	ResultStreamsCode  = Result(Tuple(Handle, Handle), ErrorCode)                             // finish-connect
	ResultHandleCode   = Result(Handle, ErrorCode)                                            // create-tcp-socket, resolve-addresses
	ResultUnitCode     = Result(Empty, ErrorCode)                                             // start-connect, shutdown, setters
	ResultOptAddrCode  = Result(Option(IPAddress), ErrorCode)                                 // resolve-next-address
	ResultSockAddrCode = Result(IPSocketAddress, ErrorCode)                                   // local-address, remote-address
	ResultBoolCode     = Result(Bool, ErrorCode)                                              // keep-alive-enabled
	ResultU64Code      = Result(U64, ErrorCode)                                               // durations, buffer sizes
	ResultU32Code      = Result(U32, ErrorCode)                                               // keep-alive-count
	ResultU8Code       = Result(U8, ErrorCode)                                                // hop-limit
	ResultAcceptCode   = Result(Tuple(Handle, Handle, Handle), ErrorCode)                     // accept
	OptionErrorCode    = Option(ErrorCode)                                                    // network-error-code
	FutureGetResult    = Option(Result(Result(Tuple(Handle, Handle, Handle), Handle), Empty)) // future-client-streams.get
	ListU32            = ListOf(U32)                                                          // poll's result
)

// Areas: precomputed offsets of the return areas.
var (
	// StreamResult is the layout of result<T, stream-error> for T in
	// list<u8>, u64 and _: tag at 0; ok payload at OK; the stream-error tag
	// at ErrTag and its error handle at ErrHandle.
	ReadArea     = streamArea(ResultListU8)
	U64Area      = streamArea(ResultU64Stream)
	UnitArea     = streamArea(ResultUnitStream)
	FinishArea   = codeArea(ResultStreamsCode)
	HandleArea   = codeArea(ResultHandleCode)
	UnitCodeArea = codeArea(ResultUnitCode)
	BoolCodeArea = codeArea(ResultBoolCode)
	U64CodeArea  = codeArea(ResultU64Code)
	U32CodeArea  = codeArea(ResultU32Code)
	U8CodeArea   = codeArea(ResultU8Code)
	AcceptArea   = codeArea(ResultAcceptCode)
	SockAddrArea = codeArea(ResultSockAddrCode)
	NextAddrArea = nextAddrArea()
	FutureGet    = futureGetArea()
)

// StreamArea locates the parts of result<T, stream-error>.
type StreamArea struct {
	Size, Align uint32
	Tag         uint32 // 0 ok, 1 err
	OK          uint32 // offset of the ok payload
	ErrTag      uint32 // offset of the stream-error discriminant
	ErrHandle   uint32 // offset of last-operation-failed's error handle
}

func streamArea(t Type) StreamArea {
	p := t.PayloadOffset()
	return StreamArea{Size: t.Size(), Align: t.Align(), Tag: tagOffset, OK: p, ErrTag: p, ErrHandle: p + StreamError.PayloadOffset()}
}

// CodeArea locates the parts of result<T, error-code>.
type CodeArea struct {
	Size, Align uint32
	Tag         uint32 // 0 ok, 1 err
	OK          uint32 // offset of the ok payload
	Code        uint32 // offset of the error-code byte
}

func codeArea(t Type) CodeArea {
	p := t.PayloadOffset()
	return CodeArea{Size: t.Size(), Align: t.Align(), Tag: tagOffset, OK: p, Code: p}
}

// NextAddr locates result<option<ip-address>, error-code>.
type NextAddr struct {
	Size, Align uint32
	Tag         uint32 // 0 ok, 1 err
	Code        uint32 // err: the error-code byte
	OptTag      uint32 // ok: the option discriminant
	AddrTag     uint32 // some: the ip-address discriminant
	Addr        uint32 // some: the address payload (4 u8 or 8 u16)
}

func nextAddrArea() NextAddr {
	t := ResultOptAddrCode
	p := t.PayloadOffset()
	opt := t.Case(0)
	a := p + opt.PayloadOffset()
	return NextAddr{Size: t.Size(), Align: t.Align(), Tag: tagOffset, Code: p, OptTag: p, AddrTag: a, Addr: a + IPAddress.PayloadOffset()}
}

// FutureGetArea locates option<result<result<tuple<conn, in, out>, io-error>>>.
type FutureGetArea struct {
	Size, Align uint32
	OptionTag   uint32 // 0 none, 1 some
	OuterTag    uint32 // 0 ok, 1 err (the result was already taken)
	InnerTag    uint32 // 0 ok, 1 err(io-error)
	Conn        uint32 // inner ok: client-connection
	Input       uint32 // inner ok: input-stream
	Output      uint32 // inner ok: output-stream
	Error       uint32 // inner err: io-error
}

func futureGetArea() FutureGetArea {
	t := FutureGetResult
	outer := t.Case(1)
	inner := outer.Case(0)
	tup := inner.Case(0)
	o := t.PayloadOffset()
	i := o + outer.PayloadOffset()
	p := i + inner.PayloadOffset()
	return FutureGetArea{
		Size: t.Size(), Align: t.Align(),
		OptionTag: tagOffset, OuterTag: o, InnerTag: i,
		Conn: p + tup.FieldOffset(0), Input: p + tup.FieldOffset(1), Output: p + tup.FieldOffset(2),
		Error: p,
	}
}

// Handles in the ok tuple of finish-connect's and accept's areas.
var (
	FinishInput  = FinishArea.OK + ResultStreamsCode.Case(0).FieldOffset(0)
	FinishOutput = FinishArea.OK + ResultStreamsCode.Case(0).FieldOffset(1)
	AcceptSocket = AcceptArea.OK + ResultAcceptCode.Case(0).FieldOffset(0)
	AcceptInput  = AcceptArea.OK + ResultAcceptCode.Case(0).FieldOffset(1)
	AcceptOutput = AcceptArea.OK + ResultAcceptCode.Case(0).FieldOffset(2)
)

// tagOffset is where every variant (result, option, enum) keeps its
// discriminant: its first byte.
const tagOffset = 0

// ListArea locates the (ptr, len) pair of a list<T> or a string in memory:
// a return area of a function returning one, or an element of a
// list<list<T>>.
type ListArea struct {
	Size, Align uint32
	Ptr, Len    uint32
}

// ListPair is the layout of every list's (ptr, len) pair.
var ListPair = listArea()

func listArea() ListArea {
	pair := Tuple(U32, U32) // the canonical ABI's (ptr, len)
	return ListArea{Size: String.Size(), Align: String.Align(), Ptr: pair.FieldOffset(0), Len: pair.FieldOffset(1)}
}

// Option areas of wasi:sockets, wasi:cli and wasitls:tls/server.
var (
	OptionCodeArea   = optionArea(OptionErrorCode) // network-error-code
	OptionStringArea = optionArea(OptionString)    // initial-cwd, server-name
	OptionHandleArea = optionArea(OptionHandle)    // get-terminal-*
	OptFSCodeArea    = optionArea(OptFSCode)       // filesystem-error-code
)

// IPAddrPayload is where an ip-address's octets or segments start,
// relative to the ip-address.
var IPAddrPayload = IPAddress.PayloadOffset()

// SockAddr offsets inside an ip-socket-address (relative to its start).
var (
	SockAddrPayload = IPSocketAddress.PayloadOffset()
	V4Port          = SockAddrPayload + IPv4SocketAddress.FieldOffset(0)
	V4Addr          = SockAddrPayload + IPv4SocketAddress.FieldOffset(1)
	V6Port          = SockAddrPayload + IPv6SocketAddress.FieldOffset(0)
	V6Flow          = SockAddrPayload + IPv6SocketAddress.FieldOffset(1)
	V6Addr          = SockAddrPayload + IPv6SocketAddress.FieldOffset(2)
	V6Scope         = SockAddrPayload + IPv6SocketAddress.FieldOffset(3)
)

// Flat ip-socket-address parameters (12 i32s as a start-connect passes them).
const (
	FlatSockAddrLen = 12
)
