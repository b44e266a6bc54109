// Package componentnew turns a core module into a WASI 0.2 component the
// way component toolchains do: jco's componentEmbed (the WIT world as a
// custom section), then componentNew with jco's real
// wasi_snapshot_preview1 command adapter. The tests' component guests
// (internal/testkit/guestbuild) and `wasitls bench`'s component row share it.
//
// jco runs on Node.js: Find looks for both where scripts/install-peers.sh
// puts them (.peers/ of a checkout), on PATH, or where $WASITLS_JCO and
// $WASITLS_NODE say.
package componentnew

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wasitls/wasitls/internal/witsrc"
)

// script is the Node.js program that calls jco:
//
//	node componentnew.mjs JCO_DIR WIT_FILE WORLD IN.wasm OUT.wasm
//
//go:embed componentnew.mjs
var script []byte

// ErrMissing is wrapped by Find's errors: Node.js or jco is not installed.
var ErrMissing = errors.New("not installed")

// Tools are the programs a component is made with.
type Tools struct {
	Node string // the node binary
	JCO  string // the @bytecodealliance/jco package directory
}

// Find finds Node.js and jco: node is the argument node, else
// $WASITLS_NODE, else root's .peers/node26/bin/node, else node on PATH; jco
// is the argument jco, else $WASITLS_JCO, else root's
// .peers/npm/node_modules/@bytecodealliance/jco. root is a checkout's
// directory ("" for none). An error wraps ErrMissing and names what is
// missing and where it was looked for.
func Find(root, jco, node string) (Tools, error) {
	t := Tools{Node: node, JCO: jco}
	if t.JCO == "" {
		t.JCO = os.Getenv("WASITLS_JCO")
	}
	if t.JCO == "" && root != "" {
		t.JCO = filepath.Join(root, ".peers/npm/node_modules/@bytecodealliance/jco")
	}
	if t.JCO == "" {
		return t, fmt.Errorf("jco (@bytecodealliance/jco) %w: no checkout's .peers/ and no $WASITLS_JCO", ErrMissing)
	}
	if err := CheckJCO(t.JCO); err != nil {
		return t, err
	}
	if t.Node == "" {
		t.Node = os.Getenv("WASITLS_NODE")
	}
	if t.Node == "" && root != "" {
		t.Node = filepath.Join(root, ".peers/node26/bin/node")
		if _, err := os.Stat(t.Node); err != nil {
			t.Node = ""
		}
	}
	if t.Node == "" {
		p, err := exec.LookPath("node")
		if err != nil {
			return t, fmt.Errorf("Node.js %w: not in .peers/node26 nor on PATH, and no $WASITLS_NODE", ErrMissing)
		}
		t.Node = p
	}
	return t, CheckNode(t.Node)
}

// CheckJCO reports whether dir is jco's package directory.
func CheckJCO(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return fmt.Errorf("jco (@bytecodealliance/jco) %w: no package.json in %s", ErrMissing, dir)
	}
	return nil
}

// CheckNode reports whether node is an executable file.
func CheckNode(node string) error {
	st, err := os.Stat(node)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("Node.js %w: %s is not an executable", ErrMissing, node)
	}
	return nil
}

// Version is jco's version, from its package.json ("" if unreadable).
func (t Tools) Version() string {
	var pj struct{ Version string }
	b, _ := os.ReadFile(filepath.Join(t.JCO, "package.json"))
	_ = json.Unmarshal(b, &pj)
	return pj.Version
}

// Key is a digest of what a component made with t depends on besides its
// inputs: the script and jco's version (its package.json), for caches.
func (t Tools) Key() ([]byte, error) {
	pj, err := os.ReadFile(filepath.Join(t.JCO, "package.json"))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s%d\x00%s", len(script), script, len(pj), pj)
	return h.Sum(nil), nil
}

// World is the world the project's guests are made components of (see
// internal/witsrc).
const World = "wasitls:check/guest"

// WIT is the WIT source a component of the project's guests is made
// against: the wit/ tree of the checkout at root, restated for jco's
// preview1 adapter (witsrc.ForComponents).
func WIT(root string) (string, error) {
	wit, err := witsrc.Source(filepath.Join(root, "wit"))
	if err != nil {
		return "", err
	}
	return witsrc.ForComponents(wit), nil
}

// Digest names a component of core made with t against wit, for caches:
// it changes with jco, its adapter and script (Key), the WIT and the core
// module.
func (t Tools) Digest(wit string, core []byte) (string, error) {
	key, err := t.Key()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(key)
	fmt.Fprintf(h, "%d\x00%s%d\x00", len(wit), wit, len(core))
	h.Write(core)
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// New makes a component of core, whose world is world in the WIT source
// wit, with jco's wasi_snapshot_preview1 command adapter.
func (t Tools) New(ctx context.Context, wit, world string, core []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasitls-componentnew-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	js, in, witFile, out := filepath.Join(dir, "componentnew.mjs"), filepath.Join(dir, "core.wasm"), filepath.Join(dir, "all.wit"), filepath.Join(dir, "out.wasm")
	for f, b := range map[string][]byte{js: script, in: core, witFile: []byte(wit)} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, t.Node, js, t.JCO, witFile, world, in, out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("jco componentNew: %w\n%s", err, strings.TrimSpace(log.String()))
	}
	return os.ReadFile(out)
}
