package guestbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasitls/wasitls/internal/componentnew"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/witsrc"
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
	t, err := componentnew.Find(peers.RepoRoot(), "", "")
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	return t.Node, t.JCO, nil
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
	tools := componentnew.Tools{Node: node, JCO: jco}
	wit, err := witsrc.Source(filepath.Join(peers.RepoRoot(), "wit"))
	if err != nil {
		return nil, err
	}
	wit = witsrc.ForComponents(wit)
	key, err := tools.Key()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(key)
	fmt.Fprintf(h, "%d\x00%s%d\x00", len(wit), wit, len(core))
	h.Write(core)
	name := filepath.Base(pkg) + "-" + hex.EncodeToString(h.Sum(nil)[:16]) + ".component.wasm"
	return cachedBuild(name, func(out string) error {
		b, err := tools.New(context.Background(), wit, "wasitls:check/guest", core)
		if err != nil {
			return fmt.Errorf("guestbuild: component of %s: %w", pkg, err)
		}
		return os.WriteFile(out, b, 0o644)
	})
}
