package component

import (
	"bytes"
	"errors"
	"fmt"
)

// CoreImport is one import of a core module.
type CoreImport struct {
	Module, Field string
	Kind          byte // 0 func, 1 table, 2 memory, 3 global, 4 tag
}

// CoreModule is what the loader needs of a core module: its imports and
// the names it exports, by kind.
type CoreModule struct {
	Imports []CoreImport
	Exports map[string]byte // name -> kind
	// importSection locates the import section (payload) for Rename.
	importHead, importStart, importEnd int
}

// ParseCore reads the imports and exports of the core module b.
func ParseCore(b []byte) (*CoreModule, error) {
	if len(b) < 8 || !bytes.Equal(b[:8], coreHeader) {
		return nil, errors.New("not a core module (no \\0asm version 1 header)")
	}
	m := &CoreModule{Exports: map[string]byte{}, importStart: -1}
	r := &reader{b: b, off: 8}
	for !r.done() {
		head := r.off
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		n, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("core section %d: %w", id, err)
		}
		start := r.off
		body, err := r.bytes(n)
		if err != nil {
			return nil, fmt.Errorf("core section %d: size %d runs past the end", id, n)
		}
		s := &reader{b: body}
		switch id {
		case 2:
			m.importHead, m.importStart, m.importEnd = head, start, r.off
			if m.Imports, err = coreImports(s); err != nil {
				return nil, fmt.Errorf("core import section: %w", err)
			}
		case 7:
			if err := m.coreExports(s); err != nil {
				return nil, fmt.Errorf("core export section: %w", err)
			}
		}
	}
	return m, nil
}

func coreImports(s *reader) ([]CoreImport, error) {
	n, err := s.count()
	if err != nil {
		return nil, err
	}
	out := make([]CoreImport, 0, n)
	for i := range n {
		var im CoreImport
		if im.Module, err = s.name(); err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
		if im.Field, err = s.name(); err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
		if im.Kind, err = s.byte(); err != nil {
			return nil, err
		}
		if err := s.skipImportDesc(im.Kind); err != nil {
			return nil, fmt.Errorf("import %s %q: %w", im.Module, im.Field, err)
		}
		out = append(out, im)
	}
	if !s.done() {
		return nil, errors.New("bytes after the last import")
	}
	return out, nil
}

// skipImportDesc skips the type part of an import of kind k.
func (r *reader) skipImportDesc(k byte) error {
	switch k {
	case 0x00: // func: type index
		_, err := r.u32()
		return err
	case 0x01: // table: reftype, limits
		if _, err := r.s33(); err != nil {
			return err
		}
		return r.skipLimits()
	case 0x02: // memory: limits
		return r.skipLimits()
	case 0x03: // global: valtype, mutability
		if _, err := r.s33(); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case 0x04: // tag: attribute, type index
		if _, err := r.byte(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	}
	return fmt.Errorf("unknown import kind 0x%02x", k)
}

func (r *reader) skipLimits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 0x07 {
		return fmt.Errorf("unknown limits flags 0x%02x", flags)
	}
	n := 1 + int(flags&1)
	for range n {
		if _, err := r.u64(); err != nil {
			return err
		}
	}
	return nil
}

// u64 reads an unsigned LEB128 of at most 64 bits (memory64 limits).
func (r *reader) u64() (uint64, error) {
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer too long")
}

// coreExport reads a name, a kind (a core sort) and an index: a core
// module's export, or a core instance's inline export.
func (r *reader) coreExport() (name string, kind byte, idx uint32, err error) {
	if name, err = r.name(); err != nil {
		return
	}
	if kind, err = r.byte(); err != nil {
		return
	}
	idx, err = r.u32()
	return
}

func (m *CoreModule) coreExports(s *reader) error {
	n, err := s.count()
	if err != nil {
		return err
	}
	for range n {
		name, kind, _, err := s.coreExport()
		if err != nil {
			return err
		}
		m.Exports[name] = kind
	}
	return nil
}

// RenameImports returns b (the module m was parsed from) with its import
// field names replaced by rename, or b itself if nothing changes.
func (m *CoreModule) RenameImports(b []byte, rename func(CoreImport) string) []byte {
	if m.importStart < 0 {
		return b
	}
	changed := false
	var sec []byte
	sec = appendU32(sec, uint32(len(m.Imports)))
	s := &reader{b: b[:m.importEnd], off: m.importStart}
	_, _ = s.u32() // count
	for _, im := range m.Imports {
		_, _ = s.name()
		_, _ = s.name()
		descStart := s.off
		_, _ = s.byte()
		_ = s.skipImportDesc(im.Kind)
		field := rename(im)
		changed = changed || field != im.Field
		sec = appendName(appendName(sec, im.Module), field)
		sec = append(sec, b[descStart:s.off]...)
	}
	if !changed {
		return b
	}
	head := m.importHead
	out := make([]byte, 0, len(b)+len(sec)-(m.importEnd-m.importStart))
	out = append(out, b[:head]...)
	out = append(out, 2)
	out = appendU32(out, uint32(len(sec)))
	out = append(out, sec...)
	return append(out, b[m.importEnd:]...)
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
