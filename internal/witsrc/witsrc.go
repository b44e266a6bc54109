// Package witsrc turns the project's wit/ tree into the one WIT source jco
// reads, with the worlds the test guests and the host must fit (World):
// `wasitls bench`'s component row, the ABI check (internal/testkit/witcheck)
// and the component builds of test guests (internal/testkit/guestbuild)
// share it.
package witsrc

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// World is the world every test guest must fit: the interfaces the host
// implements, at the versions the bindings import.
const World = `package wasitls:check;

world guest {
  import wasi:tls/types@0.2.0-draft;
  import wasitls:tls/connection@0.1.0;
  import wasitls:tls/server@0.1.0;
  import wasi:io/error@0.2.6;
  import wasi:io/poll@0.2.6;
  import wasi:io/streams@0.2.6;
  import wasi:sockets/network@0.2.6;
  import wasi:sockets/instance-network@0.2.6;
  import wasi:sockets/tcp@0.2.6;
  import wasi:sockets/tcp-create-socket@0.2.6;
  import wasi:sockets/ip-name-lookup@0.2.6;
  import wasi:clocks/monotonic-clock@0.2.6;
  // cworld (C) calls the command world's interfaces directly.
  include wasi:cli/imports@0.2.6;
  include wasi:filesystem/imports@0.2.6;
}

world host {
  import wasi:tls/types@0.2.0-draft;
  import wasitls:tls/connection@0.1.0;
  import wasitls:tls/server@0.1.0;
  import wasi:io/error@0.2.6;
  import wasi:io/poll@0.2.6;
  import wasi:io/streams@0.2.6;
  import wasi:sockets/network@0.2.6;
  import wasi:sockets/instance-network@0.2.6;
  import wasi:sockets/tcp@0.2.6;
  import wasi:sockets/tcp-create-socket@0.2.6;
  import wasi:sockets/ip-name-lookup@0.2.6;
  import wasi:clocks/monotonic-clock@0.2.6;
  import wasi:clocks/wall-clock@0.2.6;
  include wasi:cli/imports@0.2.6;
  include wasi:random/imports@0.2.6;
  include wasi:filesystem/imports@0.2.6;
}
`

var packageDecl = regexp.MustCompile(`(?m)^package ([^;\s]+);[ \t]*$`)

// Source turns the wit/ tree at root into one WIT source for jco: World
// first, then every directory's files as a nested `package name { ... }`
// block. (jco 1.35 parses a single source reliably; its directory loading
// panics.)
func Source(root string) (string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(World)
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.wit"))
		if len(files) == 0 {
			continue
		}
		sort.Strings(files)
		name := ""
		var body strings.Builder
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			s := string(src)
			if m := packageDecl.FindStringSubmatchIndex(s); m != nil {
				if n := s[m[2]:m[3]]; name != "" && n != name {
					return "", fmt.Errorf("%s: package %s, but %s is package %s", f, n, dir, name)
				} else {
					name = n
				}
				s = s[:m[0]] + s[m[1]:]
			}
			body.WriteString(s)
			body.WriteString("\n")
		}
		if name == "" {
			return "", fmt.Errorf("%s: no package declaration", dir)
		}
		fmt.Fprintf(&b, "\npackage %s {\n%s}\n", name, body.String())
	}
	return b.String(), nil
}

// ForComponents restates src (from Source) at WASI 0.2.12, the version of
// jco's real preview1 adapter: componentNew merges a guest's world with the
// adapter's by semver, and merging 0.2.6 into 0.2.12 loses the unstable
// network-error-code that guests using guest/sockets/network import.
// 0.2.x versions only add items, so the restated WIT still describes the
// guest's @0.2.6 imports (which resolve by semver), and the host answers
// every 0.2.x.
func ForComponents(src string) string { return strings.ReplaceAll(src, "@0.2.6", "@0.2.12") }
