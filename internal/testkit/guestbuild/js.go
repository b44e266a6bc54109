package guestbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// A JavaScript guest is a directory with main.js and world.wit (declaring
// the world jsget): componentize-js 0.23 (installed in
// .peers/cjs by scripts/install-peers.sh) builds it into a WASI 0.2
// component, every byte of it from another toolchain (StarlingMonkey,
// wit-component). Components are cached on disk by the sources, the build
// script, componentize-js's and jco's versions; a build takes a minute.

// jsWorld is the world a JavaScript guest's world.wit must declare.
const jsWorld = "jsget"

// componentizeJS returns componentize-js's package directory:
// $WASITLS_COMPONENTIZE_JS or .peers/cjs.
func componentizeJS() (string, error) {
	dir := os.Getenv("WASITLS_COMPONENTIZE_JS")
	if dir == "" {
		dir = filepath.Join(peers.RepoRoot(), ".peers/cjs/node_modules/@bytecodealliance/componentize-js")
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return "", fmt.Errorf("%w: componentize-js (@bytecodealliance/componentize-js in .peers/cjs)", ErrNoCompiler)
	}
	return dir, nil
}

// isJS reports whether pkg is a JavaScript guest directory.
func isJS(pkg string) bool {
	_, err := os.Stat(filepath.Join(guestDir(pkg), "main.js"))
	return err == nil
}

func buildJS(pkg string) ([]byte, error) {
	t, err := tools()
	if err != nil {
		return nil, err
	}
	node, jco := t.Node, t.JCO
	cjs, err := componentizeJS()
	if err != nil {
		return nil, err
	}
	dir := guestDir(pkg)
	script := filepath.Join(peers.RepoRoot(), "internal", "testkit", "guestbuild", "componentize.mjs")
	h := sha256.New()
	if err := hashFiles(h, script, filepath.Join(cjs, "package.json"), filepath.Join(jco, "package.json")); err != nil {
		return nil, err
	}
	witDir := filepath.Join(peers.RepoRoot(), "wit")
	for _, d := range []string{dir, witDir} {
		if err := hashSources(h, d, []string{".js", ".wit"}); err != nil {
			return nil, err
		}
	}
	name := filepath.Base(pkg) + "-" + hex.EncodeToString(h.Sum(nil)[:16]) + ".component.wasm"
	return cachedBuild(name, func(out string) error {
		return runNode(node, "componentize-js "+pkg, script, cjs, jco, witDir, dir, jsWorld, out)
	})
}
