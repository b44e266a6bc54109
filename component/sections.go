package component

// The sections of a component after its core modules: core instances,
// instances, aliases, canonical functions, imports and exports, each read
// into the index spaces.

import (
	"errors"
	"fmt"
	"strings"
)

func (c *Component) coreInstance(s *reader) error {
	kind, err := s.byte()
	if err != nil {
		return err
	}
	var ci CoreInst
	switch kind {
	case 0x00:
		m, err := s.u32()
		if err != nil {
			return err
		}
		if err := c.ref(SortCoreModule, m); err != nil {
			return err
		}
		ci.Module = c.Spaces[SortCoreModule][m].Item
		n, err := s.count()
		if err != nil {
			return err
		}
		for range n {
			name, err := s.name()
			if err != nil {
				return err
			}
			if b, err := s.byte(); err != nil {
				return err
			} else if b != 0x12 {
				return fmt.Errorf("instantiation argument %q: sort 0x%02x, want a core instance", name, b)
			}
			idx, err := s.u32()
			if err != nil {
				return err
			}
			if err := c.ref(SortCoreInstance, idx); err != nil {
				return fmt.Errorf("instantiation argument %q: %w", name, err)
			}
			ci.Args = append(ci.Args, Arg{Name: name, Instance: idx})
		}
	case 0x01:
		ci.Module = -1
		n, err := s.count()
		if err != nil {
			return err
		}
		for range n {
			name, sb, idx, err := s.coreExport()
			if err != nil {
				return err
			}
			sort, err := coreSort(sb)
			if err != nil {
				return err
			}
			if err := c.ref(sort, idx); err != nil {
				return fmt.Errorf("export %q: %w", name, err)
			}
			ci.Exports = append(ci.Exports, SortIdx{Name: name, Sort: sort, Index: idx})
		}
	default:
		return fmt.Errorf("unknown core instance kind 0x%02x", kind)
	}
	c.CoreInstances = append(c.CoreInstances, ci)
	c.define(SortCoreInstance, FromDef, len(c.CoreInstances)-1)
	return nil
}

// wrapper reads a nested component, which must be a pure re-export: only
// types, imports and exports, no code and no components of its own.
func (c *Component) wrapper(body []byte) error {
	if c.nested {
		return errors.New("components nested twice (a composed component) are not supported")
	}
	w, err := parse(body, true)
	if err != nil {
		return fmt.Errorf("nested component: %s", strings.TrimPrefix(err.Error(), "component: "))
	}
	if len(w.Modules) > 0 || len(w.CoreInstances) > 0 || len(w.Canons) > 0 || len(w.Instances) > 0 {
		return errors.New("nested components with code of their own (a composed component) are not supported: run each component on its own")
	}
	c.Wrappers = append(c.Wrappers, w)
	c.define(SortComp, FromDef, len(c.Wrappers)-1)
	return nil
}

func (c *Component) instance(s *reader) error {
	kind, err := s.byte()
	if err != nil {
		return err
	}
	in := InstanceDef{Component: -1}
	switch kind {
	case 0x00:
		var idx uint32
		if idx, err = s.u32(); err != nil {
			return err
		}
		if err := c.ref(SortComp, idx); err != nil {
			return err
		}
		if c.Spaces[SortComp][idx].Origin != FromDef {
			return errors.New("instantiates an imported component: not supported")
		}
		in.Component = c.Spaces[SortComp][idx].Item
		in.Args, err = c.sortIdxList(s, s.name, "argument")
	case 0x01:
		in.Exports, err = c.sortIdxList(s, s.externName, "export")
	default:
		return fmt.Errorf("unknown instance kind 0x%02x", kind)
	}
	if err != nil {
		return err
	}
	c.Instances = append(c.Instances, in)
	c.define(SortInstance, FromDef, len(c.Instances)-1)
	return nil
}

// sortIdxList reads a vector of names (each read by name) with sort
// indices: instantiation arguments or inline exports.
func (c *Component) sortIdxList(s *reader, name func() (string, error), what string) ([]SortIdx, error) {
	n, err := s.count()
	if err != nil {
		return nil, err
	}
	var out []SortIdx
	for range n {
		nm, err := name()
		if err != nil {
			return nil, err
		}
		si, err := c.sortIdx(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, nm, err)
		}
		si.Name = nm
		out = append(out, si)
	}
	return out, nil
}

func (c *Component) sortIdx(s *reader) (SortIdx, error) {
	sort, err := s.sort()
	if err != nil {
		return SortIdx{}, err
	}
	idx, err := s.u32()
	if err != nil {
		return SortIdx{}, err
	}
	if sort != SortType && sort != SortCoreType { // types are only counted
		if err := c.ref(sort, idx); err != nil {
			return SortIdx{}, err
		}
	}
	return SortIdx{Sort: sort, Index: idx}, nil
}

// externName reads an importname' or exportname': a name, with a version
// suffix in the 0x02 form.
func (r *reader) externName() (string, error) {
	b, err := r.byte()
	if err != nil {
		return "", err
	}
	switch b {
	case 0x00, 0x01:
		return r.name()
	case 0x02:
		n, err := r.name()
		if err != nil {
			return "", err
		}
		if _, err := r.name(); err != nil { // version suffix
			return "", err
		}
		return n, nil
	}
	return "", fmt.Errorf("unknown name kind 0x%02x", b)
}

func (c *Component) alias(s *reader) error {
	sort, err := s.sort()
	if err != nil {
		return err
	}
	target, err := s.byte()
	if err != nil {
		return err
	}
	if sort == SortCoreInstance || sort == SortCoreModule || sort == SortComp {
		// wit-component never makes these; refusing them keeps each of
		// those index spaces equal to its list.
		return fmt.Errorf("alias of a %s: not supported", sort)
	}
	a := Alias{Sort: sort}
	switch target {
	case 0x00, 0x01:
		a.Core = target == 0x01
		if a.Core != (sort >= 0x100) {
			return fmt.Errorf("%s alias of a %s export", sort, map[bool]string{true: "core instance", false: "component instance"}[a.Core])
		}
		if a.Instance, err = s.u32(); err != nil {
			return err
		}
		in := SortInstance
		if a.Core {
			in = SortCoreInstance
		}
		if err := c.ref(in, a.Instance); err != nil {
			return err
		}
		if a.Name, err = s.name(); err != nil {
			return err
		}
	case 0x02:
		// Outer aliases only reach enclosing components' types; types are
		// only counted here.
		if sort != SortType && sort != SortCoreType {
			return fmt.Errorf("outer alias of a %s: not supported", sort)
		}
		for range 2 {
			if _, err := s.u32(); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown alias target 0x%02x", target)
	}
	c.Aliases = append(c.Aliases, a)
	c.define(sort, FromAlias, len(c.Aliases)-1)
	return nil
}

func (c *Component) canon(s *reader) error {
	op, err := s.byte()
	if err != nil {
		return err
	}
	cn := Canon{Op: op}
	switch op {
	case CanonLift, CanonLower:
		if b, err := s.byte(); err != nil {
			return err
		} else if b != 0x00 {
			return fmt.Errorf("canon 0x%02x: unexpected byte 0x%02x", op, b)
		}
		if cn.Func, err = s.u32(); err != nil {
			return err
		}
		from := SortFunc
		if op == CanonLift {
			from = SortCoreFunc
		}
		if err := c.ref(from, cn.Func); err != nil {
			return err
		}
		if cn.Opts, err = c.options(s); err != nil {
			return err
		}
		if op == CanonLift {
			if cn.Type, err = s.u32(); err != nil {
				return err
			}
		}
	case CanonResourceNew, CanonResourceDrop, CanonResourceRep:
		if cn.Type, err = s.u32(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("canon 0x%02x: async, thread and other builtins are not supported", op)
	}
	c.Canons = append(c.Canons, cn)
	if op == CanonLift {
		c.define(SortFunc, FromCanon, len(c.Canons)-1)
	} else {
		c.define(SortCoreFunc, FromCanon, len(c.Canons)-1)
	}
	return nil
}

func (c *Component) options(s *reader) (Options, error) {
	o := Options{Encoding: "utf8"}
	n, err := s.count()
	if err != nil {
		return o, err
	}
	for range n {
		b, err := s.byte()
		if err != nil {
			return o, err
		}
		idx := func(sort Sort) (*uint32, error) {
			v, err := s.u32()
			if err != nil {
				return nil, err
			}
			return &v, c.ref(sort, v)
		}
		switch b {
		case 0x00:
			o.Encoding = "utf8"
		case 0x01:
			o.Encoding = "utf16"
		case 0x02:
			o.Encoding = "latin1+utf16"
		case 0x03:
			o.Memory, err = idx(SortCoreMemory)
		case 0x04:
			o.Realloc, err = idx(SortCoreFunc)
		case 0x05:
			o.PostReturn, err = idx(SortCoreFunc)
		case 0x06:
			o.Async = true
		case 0x07:
			o.Callback, err = idx(SortCoreFunc)
		default:
			return o, fmt.Errorf("unknown canonical option 0x%02x", b)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func (c *Component) importItem(s *reader) error {
	name, err := s.externName()
	if err != nil {
		return err
	}
	sort, err := s.externDesc()
	if err != nil {
		return fmt.Errorf("import %q: %w", name, err)
	}
	if sort == SortCoreModule {
		return fmt.Errorf("import %q: imported core modules are not supported", name)
	}
	c.Imports = append(c.Imports, Import{Name: name, Sort: sort})
	c.define(sort, FromImport, len(c.Imports)-1)
	return nil
}

// externDesc reads an externdesc and returns the sort it defines.
func (r *reader) externDesc() (Sort, error) {
	b, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch b {
	case 0x00:
		if b, err := r.byte(); err != nil {
			return 0, err
		} else if b != 0x11 {
			return 0, fmt.Errorf("core extern 0x%02x", b)
		}
		_, err := r.u32()
		return SortCoreModule, err
	case 0x01, 0x04, 0x05:
		_, err := r.u32()
		return map[byte]Sort{0x01: SortFunc, 0x04: SortComp, 0x05: SortInstance}[b], err
	case 0x02:
		return 0, errors.New("value imports and exports are not supported")
	case 0x03:
		bound, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch bound {
		case 0x00:
			_, err = r.u32()
		case 0x01:
		default:
			err = fmt.Errorf("unknown type bound 0x%02x", bound)
		}
		return SortType, err
	}
	return 0, fmt.Errorf("unknown extern kind 0x%02x", b)
}

func (c *Component) export(s *reader) error {
	name, err := s.externName()
	if err != nil {
		return err
	}
	si, err := c.sortIdx(s)
	if err != nil {
		return fmt.Errorf("export %q: %w", name, err)
	}
	si.Name = name
	if si.Sort >= 0x100 {
		return fmt.Errorf("export %q of a %s: not supported", name, si.Sort)
	}
	has, err := s.byte()
	if err != nil {
		return err
	}
	switch has {
	case 0x00:
	case 0x01:
		if _, err := s.externDesc(); err != nil {
			return fmt.Errorf("export %q: %w", name, err)
		}
	default:
		return fmt.Errorf("export %q: bad type ascription flag 0x%02x", name, has)
	}
	c.Exports = append(c.Exports, Export{Name: name, SortIdx: si})
	c.define(si.Sort, FromExport, len(c.Exports)-1)
	return nil
}
