package host

import (
	"io/fs"
	"strings"

	expsys "github.com/tetratelabs/wazero/experimental/sys"
)

// maxSymlinks bounds the symbolic links one path may pass through (Linux's
// limit); more is the error loop.
const maxSymlinks = 40

// resolve returns the mount-relative path that path names from the directory
// base (mount-relative, "." for the root), confined to the mount:
//
//   - an absolute path, or ".." above the mount's root, is not-permitted;
//   - every symbolic link on the way (and the last component's when follow is
//     set) is read and resolved here, by the same rules: a link whose target
//     is absolute or leaves the mount is not-permitted;
//   - a last component that does not exist is fine (open-at may create it).
//
// The result has no "..", no "." and no symbolic link but perhaps the last
// component (when follow is not set): the caller opens it with O_NOFOLLOW.
// wazero's FS has no openat, so the checks are by path: see SECURITY.md for
// what another process changing the mount meanwhile can do.
func (m *mount) resolve(base, path string, follow bool) (string, fsCode) {
	if path == "" {
		return "", feNoEntry
	}
	if strings.IndexByte(path, 0) >= 0 {
		return "", feInvalid
	}
	if path[0] == '/' {
		return "", feNotPermitted
	}
	var stack []string
	if base != "." {
		stack = strings.Split(base, "/")
	}
	todo := strings.Split(path, "/")
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return "", feNotPermitted
			}
			stack = stack[:len(stack)-1]
			continue
		}
		last := lastComponent(todo)
		if last && !follow {
			stack = append(stack, name)
			continue
		}
		cand := strings.Join(append(stack[:len(stack):len(stack)], name), "/")
		st, errno := m.fs.Lstat(cand)
		switch {
		case errno == expsys.ENOENT && last:
			stack = append(stack, name)
			continue
		case errno != 0:
			return "", errnoCode(errno)
		}
		if st.Mode&fs.ModeSymlink != 0 {
			if links++; links > maxSymlinks {
				return "", feLoop
			}
			target, errno := m.fs.Readlink(cand)
			if errno != 0 {
				return "", errnoCode(errno)
			}
			if target == "" {
				return "", feNoEntry
			}
			if target[0] == '/' {
				return "", feNotPermitted
			}
			// The target is relative to the link's directory: stack.
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if !last && !st.Mode.IsDir() {
			return "", feNotDirectory
		}
		stack = append(stack, name)
	}
	if len(stack) == 0 {
		return ".", fsOK
	}
	return strings.Join(stack, "/"), fsOK
}

// lastComponent reports whether rest holds no more names.
func lastComponent(rest []string) bool {
	for _, s := range rest {
		if s != "" && s != "." {
			return false
		}
	}
	return true
}
