package policyfile

// Errors that point into the file: the line and field of a YAML or schema
// mistake, worded for the file rather than for Go.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// topKeys returns the keys of the document's top mapping.
func topKeys(root *yaml.Node) []string {
	if root == nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		keys = append(keys, m.Content[i].Value)
	}
	return keys
}

// lineOf returns the line of the node at path (map keys and list
// indices), or of the deepest node on the way that exists.
func lineOf(root *yaml.Node, path []any) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	n := root.Content[0]
	line := n.Line
	for _, step := range path {
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			break
		}
		n = next
		line = n.Line
	}
	return line
}

// fieldName formats a path: deny[1], identities[0].for[2], limits.sockets.
func fieldName(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

// pathAt returns the path of the deepest node on line, for yaml's errors,
// which give only a line.
func pathAt(n *yaml.Node, line int, path []any) ([]any, bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return pathAt(n.Content[0], line, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := append(slices.Clip(path), k.Value)
			if p, ok := pathAt(v, line, sub); ok {
				return p, true
			}
			if k.Line == line {
				return sub, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			sub := append(slices.Clip(path), i)
			if p, ok := pathAt(v, line, sub); ok {
				return p, true
			}
		}
	case yaml.ScalarNode, yaml.AliasNode:
		return path, n.Line == line
	}
	return nil, false
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// yamlError turns the yaml package's error into an Error with the file's
// name, the line and, when root is known, the field.
func (p *parser) yamlError(root *yaml.Node, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error // *Error
	for _, msg := range msgs {
		e := &Error{File: p.name, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			text := m[2]
			key := ""
			if u := unknownField.FindStringSubmatch(text); u != nil {
				text, key = fmt.Sprintf("unknown field %q", u[1]), u[1]
			} else if c := cannotDecode.FindStringSubmatch(text); c != nil {
				text = fmt.Sprintf("%q is a %s, want %s", c[2], c[1], goTypeName(c[3]))
			}
			e.Err = errors.New(text)
			if root != nil {
				if path, ok := pathAt(root, e.Line, nil); ok {
					// An unknown key: name it, not what is under it.
					if i := slices.Index(path, any(key)); key != "" && i >= 0 {
						path = path[:i+1]
					}
					e.Field = fieldName(path)
				}
			}
		}
		errs = append(errs, e)
	}
	// One line, as a command line tool wants it: the first problem.
	if len(errs) > 1 {
		e := errs[0].(*Error)
		e.Err = fmt.Errorf("%w (and %d more)", e.Err, len(errs)-1)
	}
	return errs[0]
}

func goTypeName(t string) string {
	switch {
	case t == "int":
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "policyfile."):
		return "a mapping"
	}
	return t
}
