package guestbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/testkit/witsrc"
)

// ComponentPrefix marks a guest to be built as a WASI 0.2 component:
// Build(Component("./internal/guests/httpsget")) builds the Go guest,
// then turns it into a component with jco (componentEmbed against the
// project's wit/ and the world wasitls:check/guest, then componentNew with
// jco's real wasi_snapshot_preview1 command adapter), the shape every
// wit-component toolchain produces. Components are cached on disk by the
// core module, the WIT, the script and jco's version.
const ComponentPrefix = "component:"

// Component names the component form of the guest pkg, for Build.
func Component(pkg string) string { return ComponentPrefix + pkg }

// nodeAndJCO finds Node.js and jco as peers.Node and peers.JCO do, without
// a testing.TB; missing ones are ErrNoCompiler.
func nodeAndJCO() (node, jco string, err error) {
	jco = os.Getenv("WASITLS_JCO")
	if jco == "" {
		jco = filepath.Join(peers.RepoRoot(), ".peers/npm/node_modules/@bytecodealliance/jco")
	}
	if _, err := os.Stat(filepath.Join(jco, "package.json")); err != nil {
		return "", "", fmt.Errorf("%w: jco (@bytecodealliance/jco in .peers/)", ErrNoCompiler)
	}
	node = filepath.Join(peers.RepoRoot(), ".peers/node26/bin/node")
	if _, err := os.Stat(node); err != nil {
		if node, err = exec.LookPath("node"); err != nil {
			return "", "", fmt.Errorf("%w: Node.js", ErrNoCompiler)
		}
	}
	return node, jco, nil
}

func buildComponent(pkg string) ([]byte, error) {
	core, err := BuildErr(pkg)
	if err != nil {
		return nil, err
	}
	node, jco, err := nodeAndJCO()
	if err != nil {
		return nil, err
	}
	wit, err := witsrc.Source(filepath.Join(peers.RepoRoot(), "wit"))
	if err != nil {
		return nil, err
	}
	wit = witsrc.ForComponents(wit)
	script := filepath.Join(peers.RepoRoot(), "internal", "testkit", "guestbuild", "componentnew.mjs")
	h := sha256.New()
	if err := hashFiles(h, script, filepath.Join(jco, "package.json")); err != nil {
		return nil, err
	}
	fmt.Fprintf(h, "%d\x00%s%d\x00", len(wit), wit, len(core))
	h.Write(core)
	name := filepath.Base(pkg) + "-" + hex.EncodeToString(h.Sum(nil)[:16]) + ".component.wasm"
	return cachedBuild(name, func(out string) error {
		dir, err := os.MkdirTemp("", "wasitls-component-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		in, witFile := filepath.Join(dir, "core.wasm"), filepath.Join(dir, "all.wit")
		if err := os.WriteFile(in, core, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(witFile, []byte(wit), 0o644); err != nil {
			return err
		}
		return runNode(node, "jco componentNew of "+pkg, script, jco, witFile, "wasitls:check/guest", in, out)
	})
}
