package cabi

// Types and return areas of wasitls:tls/connection@0.1.0 (wit/ext), the
// project's extension to wasi:tls.
var (
	// list<list<u8>>: ALPN ids, a certificate chain.
	ListBytes = ListOf(ListOf(U8))
	// alpn-error: enum { invalid-id, too-many-ids }
	ALPNError = Enum(2)
	// set-alpn-ids: result<list<list<u8>>, alpn-error>
	ResultALPNIDs = Result(ListBytes, ALPNError)
	// negotiated-protocol, server-name, alpn-id: option<list<u8>>
	OptionBytes = Option(ListOf(U8))
	// key-exchange-group: option<u16>
	OptionU16 = Option(U16)
)

// Areas of the extension's functions.
var (
	ALPNIDsArea     = codeArea(ResultALPNIDs) // OK: the list's ptr, len; Code: the alpn-error
	OptionBytesArea = optionArea(OptionBytes) // Some: the list's ptr, len
	GroupArea       = optionArea(OptionU16)   // Some: the u16
)

// OptionArea locates the parts of option<T>.
type OptionArea struct {
	Size, Align uint32
	Tag         uint32 // 0 none, 1 some
	Some        uint32 // offset of the payload
}

func optionArea(t Type) OptionArea {
	return OptionArea{Size: t.Size(), Align: t.Align(), Tag: tagOffset, Some: t.PayloadOffset()}
}
