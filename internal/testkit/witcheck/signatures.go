package witcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Signatures returns the interfaces of the WIT packages under root (a wit/
// directory: the files in it and in each deps/ subdirectory form one
// package each), keyed "namespace:package@version/interface", each as its
// declarations one per line: comments, feature gates (@since, @unstable,
// @deprecated) and layout removed, so that two WIT texts that differ only
// in their doc comments have equal signatures.
func Signatures(root string) (map[string]string, error) {
	dirs := []string{root}
	deps, _ := filepath.Glob(filepath.Join(root, "deps", "*"))
	sort.Strings(deps)
	dirs = append(dirs, deps...)
	out := map[string]string{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.wit"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		var pkg string
		var texts []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			text := normalize(string(b))
			if m := packageRE.FindStringSubmatch(text); m != nil {
				if pkg != "" && pkg != m[1] {
					return nil, fmt.Errorf("%s: package %s, but %s in the same directory", f, m[1], pkg)
				}
				pkg = m[1]
			}
			texts = append(texts, text)
		}
		if len(texts) == 0 {
			continue
		}
		if pkg == "" {
			return nil, fmt.Errorf("%s: no package declaration", dir)
		}
		for _, text := range texts {
			ifaces, err := interfaces(text)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
			for name, body := range ifaces {
				out[pkg+"/"+name] = body
			}
		}
	}
	return out, nil
}

var (
	packageRE  = regexp.MustCompile(`package ([^;]+);`)
	commentRE  = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/`)
	gateRE     = regexp.MustCompile(`@(since|unstable|deprecated)\([^)]*\)`)
	spaceRE    = regexp.MustCompile(`\s+`)
	punctRE    = regexp.MustCompile(`\s*([{}();:,<>=.])\s*`)
	interfaceR = regexp.MustCompile(`interface ([a-z0-9-]+)\{`)
)

// normalize strips comments, gates and layout.
func normalize(s string) string {
	s = commentRE.ReplaceAllString(s, " ")
	s = gateRE.ReplaceAllString(s, " ")
	s = spaceRE.ReplaceAllString(s, " ")
	s = punctRE.ReplaceAllString(s, "$1")
	// A trailing comma before a closing bracket is layout too.
	s = strings.NewReplacer(",)", ")", ",}", "}").Replace(s)
	return strings.TrimSpace(s)
}

// interfaces splits a normalized file into its interfaces' bodies, one
// declaration per line.
func interfaces(text string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range interfaceR.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[2]:m[3]]
		start := m[1] // after the opening brace
		depth := 1
		i := start
		for ; i < len(text) && depth > 0; i++ {
			switch text[i] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth != 0 {
			return nil, fmt.Errorf("interface %s: unbalanced braces", name)
		}
		out[name] = lines(text[start : i-1])
	}
	return out, nil
}

// lines puts one declaration on each line: a break after each ';', after
// a '{' that opens a body (not a use list's "x.{"), and after a '}' that
// ends one.
func lines(body string) string {
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		b.WriteByte(c)
		next := byte(0)
		if i+1 < len(body) {
			next = body[i+1]
		}
		switch {
		case c == ';', c == '{' && i > 0 && body[i-1] != '.', c == '}' && next != ';' && next != ',' && next != '}':
			b.WriteByte('\n')
		}
	}
	return strings.TrimSpace(b.String())
}

// FormatSignatures renders Signatures' result as text, interfaces sorted.
func FormatSignatures(sigs map[string]string) string {
	names := make([]string, 0, len(sigs))
	for n := range sigs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "interface %s\n%s\n\n", n, sigs[n])
	}
	return b.String()
}
