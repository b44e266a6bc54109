// Package component reads the WebAssembly component binary format (the
// component model's Binary.md) far enough to run the components that
// wit-component produces for one component: the core modules, the core
// instances that wire them, the canonical lifts and lowers with their
// options, aliases, imports and exports. Type sections are skipped whole:
// the host checks the main module's core imports against its own
// signatures instead.
//
// What a single wit-component component never contains (nested components,
// component instantiation, values, start functions, async builtins) is
// refused with an *Error naming the section and item.
package component

import (
	"bytes"
	"errors"
	"fmt"
)

// Sort is what an index refers to. Core sorts have the 0x100 bit set.
type Sort uint16

// The sorts of Binary.md.
const (
	SortCoreFunc     Sort = 0x100 | 0x00
	SortCoreTable    Sort = 0x100 | 0x01
	SortCoreMemory   Sort = 0x100 | 0x02
	SortCoreGlobal   Sort = 0x100 | 0x03
	SortCoreTag      Sort = 0x100 | 0x04
	SortCoreType     Sort = 0x100 | 0x10
	SortCoreModule   Sort = 0x100 | 0x11
	SortCoreInstance Sort = 0x100 | 0x12
	SortFunc         Sort = 0x01
	SortValue        Sort = 0x02
	SortType         Sort = 0x03
	SortComp         Sort = 0x04
	SortInstance     Sort = 0x05
)

func (s Sort) String() string {
	switch s {
	case SortCoreFunc:
		return "core func"
	case SortCoreTable:
		return "core table"
	case SortCoreMemory:
		return "core memory"
	case SortCoreGlobal:
		return "core global"
	case SortCoreTag:
		return "core tag"
	case SortCoreType:
		return "core type"
	case SortCoreModule:
		return "core module"
	case SortCoreInstance:
		return "core instance"
	case SortFunc:
		return "func"
	case SortValue:
		return "value"
	case SortType:
		return "type"
	case SortComp:
		return "component"
	case SortInstance:
		return "instance"
	}
	return fmt.Sprintf("sort 0x%x", uint16(s))
}

// Origin says how an index-space entry was defined.
type Origin uint8

// The ways an entry enters an index space.
const (
	FromImport   Origin = iota // Imports[Item]
	FromAlias                  // Aliases[Item]
	FromCanon                  // Canons[Item]
	FromDef                    // Modules, CoreInstances or Instances[Item]
	FromExport                 // Exports[Item]
	FromCoreType               // a core type definition (Item unused)
	FromTypeDef                // a type definition (Item unused)
)

// Def is one entry of an index space.
type Def struct {
	Origin Origin
	Item   int // index into the list Origin names
}

// Component is a parsed component. Index spaces hold every definition of
// each sort in order; the lists hold the definitions themselves.
type Component struct {
	Modules       [][]byte // core modules, in order (subslices of the input)
	CoreInstances []CoreInst
	Instances     []InstanceDef // component instances made from exports
	Aliases       []Alias
	Canons        []Canon
	Imports       []Import
	Exports       []Export
	Spaces        map[Sort][]Def
	// Wrappers are the nested components: wit-component exports each
	// interface through one that only re-exports what it imports (to give
	// the export its type). Nested components with code are refused.
	Wrappers []*Component
	nested   bool
}

// CoreInst instantiates Modules[Module] with Args, or (Module < 0)
// bundles Exports as an instance.
type CoreInst struct {
	Module  int
	Args    []Arg
	Exports []SortIdx
}

// Arg is one instantiation argument: a core instance under a module name.
type Arg struct {
	Name     string
	Instance uint32
}

// SortIdx names an item of an index space, exported under Name.
type SortIdx struct {
	Name  string
	Sort  Sort
	Index uint32
}

// InstanceDef is a component instance made from exports.
// InstanceDef is a component instance made from exports, or (Component
// >= 0) by instantiating Wrappers[Component] with Args.
type InstanceDef struct {
	Exports   []SortIdx
	Component int
	Args      []SortIdx
}

// Alias takes an export of an instance as a new index of Sort.
type Alias struct {
	Sort     Sort
	Core     bool // of a core instance (else of a component instance)
	Instance uint32
	Name     string
}

// The canon operations a single component may hold.
const (
	CanonLift         = 0x00
	CanonLower        = 0x01
	CanonResourceNew  = 0x02
	CanonResourceDrop = 0x03
	CanonResourceRep  = 0x04
)

// Canon is one canonical definition: a lift (component func from core
// func Func), a lower (core func from component func Func), or a resource
// builtin of type Type.
type Canon struct {
	Op   byte
	Func uint32
	Type uint32
	Opts Options
}

// Options are the canonical options of a lift or lower.
type Options struct {
	Encoding   string // "utf8" (the default), "utf16", "latin1+utf16"
	Memory     *uint32
	Realloc    *uint32
	PostReturn *uint32
	Async      bool
	Callback   *uint32
}

// Import is a component import.
type Import struct {
	Name string
	Sort Sort
}

// Export is a component export of an item.
type Export struct {
	Name string
	SortIdx
}

// Error is a component that cannot be read or run, naming where.
type Error struct {
	Section string // "canon", "alias", ... or "" for the preamble
	Item    int    // item within the section, -1 for the whole section
	Offset  int    // byte offset in the binary
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Section == "":
		return fmt.Sprintf("component: %v", e.Err)
	case e.Item < 0:
		return fmt.Sprintf("component: %s section at offset %d: %v", e.Section, e.Offset, e.Err)
	}
	return fmt.Sprintf("component: %s section at offset %d, item %d: %v", e.Section, e.Offset, e.Item, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var (
	magic      = []byte{0x00, 0x61, 0x73, 0x6d}
	coreHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
)

// The component preamble: version 0x0d and layer 1.
const (
	version = 0x0d
	layer   = 0x01
)

// IsComponent reports whether b starts like a component (the wasm magic
// and layer 1) rather than a core module; Parse says what else is wrong.
func IsComponent(b []byte) bool {
	return len(b) >= 8 && bytes.Equal(b[:4], magic) && b[6] == layer && b[7] == 0
}

var sectionNames = [...]string{"custom", "core module", "core instance", "core type", "component",

	"instance", "alias", "type", "canon", "start", "import", "export", "value"}

// Parse reads a component.
func Parse(b []byte) (*Component, error) { return parse(b, false) }

func parse(b []byte, nested bool) (*Component, error) {
	switch {
	case len(b) < 8 || !bytes.Equal(b[:4], magic):
		return nil, &Error{Err: errors.New("not a WebAssembly binary (no \\0asm header)")}
	case bytes.Equal(b[:8], coreHeader):
		return nil, &Error{Err: errors.New("a core module, not a component")}
	case b[6] != layer || b[7] != 0:
		return nil, &Error{Err: fmt.Errorf("layer %d, want %d (a component)", b[6], layer)}
	case b[4] != version || b[5] != 0:
		return nil, &Error{Err: fmt.Errorf("version %#x, want %#x (the component model's current binary version)", uint16(b[4])|uint16(b[5])<<8, version)}
	}
	c := &Component{Spaces: map[Sort][]Def{}, nested: nested}
	r := &reader{b: b, off: 8}
	for !r.done() {
		start := r.off
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("unknown (id %d)", id)
		if int(id) < len(sectionNames) {
			name = sectionNames[id]
		}
		fail := func(item int, err error) error { return &Error{Section: name, Item: item, Offset: start, Err: err} }
		n, err := r.u32()
		if err != nil {
			return nil, fail(-1, err)
		}
		body, err := r.bytes(n)
		if err != nil {
			return nil, fail(-1, fmt.Errorf("size %d runs past the end of the binary", n))
		}
		s := &reader{b: body}
		switch id {
		case 0: // custom: ignored
		case 1:
			c.Modules = append(c.Modules, body)
			c.define(SortCoreModule, FromDef, len(c.Modules)-1)
			continue
		case 3, 7: // types: only counted (the host checks core signatures)
			if err := c.types(s, id); err != nil {
				return nil, fail(-1, err)
			}
			continue
		case 4:
			if err := c.wrapper(body); err != nil {
				return nil, fail(-1, err)
			}
			continue
		case 9:
			return nil, fail(-1, errors.New("component start functions are not supported"))
		case 12:
			return nil, fail(-1, errors.New("component values are not supported"))
		case 2, 5, 6, 8, 10, 11:
			if err := c.vector(s, id, fail); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, fail(-1, errors.New("unknown section"))
		}
	}
	return c, nil
}

// types counts the definitions of a type section.
func (c *Component) types(s *reader, id byte) error {
	n, err := s.count()
	if err != nil {
		return err
	}
	sort, origin := SortType, FromTypeDef
	if id == 3 {
		sort, origin = SortCoreType, FromCoreType
	}
	for range n {
		c.define(sort, origin, 0)
	}
	return nil
}

// vector reads the items of one vector section.
func (c *Component) vector(s *reader, id byte, fail func(int, error) error) error {
	n, err := s.count()
	if err != nil {
		return fail(-1, err)
	}
	for i := range n {
		var err error
		switch id {
		case 2:
			err = c.coreInstance(s)
		case 5:
			err = c.instance(s)
		case 6:
			err = c.alias(s)
		case 8:
			err = c.canon(s)
		case 10:
			err = c.importItem(s)
		case 11:
			err = c.export(s)
		}
		if err != nil {
			return fail(i, err)
		}
	}
	if !s.done() {
		return fail(-1, fmt.Errorf("%d bytes after the last item", len(s.b)-s.off))
	}
	return nil
}

func (c *Component) define(s Sort, o Origin, item int) {
	c.Spaces[s] = append(c.Spaces[s], Def{Origin: o, Item: item})
}

// ref checks that idx names an entry already defined in sort's space.
func (c *Component) ref(s Sort, idx uint32) error {
	if n := len(c.Spaces[s]); uint64(idx) >= uint64(n) {
		return fmt.Errorf("%s index %d out of range (%d defined)", s, idx, n)
	}
	return nil
}

func coreSort(b byte) (Sort, error) {
	switch b {
	case 0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12:
		return 0x100 | Sort(b), nil
	}
	return 0, fmt.Errorf("unknown core sort 0x%02x", b)
}

// sort reads a component sort (0x00 is followed by a core sort).
func (r *reader) sort() (Sort, error) {
	b, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch b {
	case 0x00:
		cb, err := r.byte()
		if err != nil {
			return 0, err
		}
		return coreSort(cb)
	case 0x01, 0x02, 0x03, 0x04, 0x05:
		return Sort(b), nil
	}
	return 0, fmt.Errorf("unknown sort 0x%02x", b)
}
