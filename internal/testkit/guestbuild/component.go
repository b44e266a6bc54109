package guestbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasitls/wasitls/internal/componentnew"
	"github.com/wasitls/wasitls/internal/testkit/peers"
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

// tools finds Node.js and jco as peers.Node and peers.JCO do, without a
// testing.TB; missing ones are ErrNoCompiler.
func tools() (componentnew.Tools, error) {
	t, err := componentnew.Find(peers.RepoRoot(), "", "")
	if err != nil {
		return t, fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	return t, nil
}

func buildComponent(pkg string) ([]byte, error) {
	core, err := BuildErr(pkg)
	if err != nil {
		return nil, err
	}
	t, err := tools()
	if err != nil {
		return nil, err
	}
	wit, err := componentnew.WIT(peers.RepoRoot())
	if err != nil {
		return nil, err
	}
	digest, err := t.Digest(wit, core)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(pkg) + "-" + digest + ".component.wasm"
	return cachedBuild(name, func(out string) error {
		b, err := t.New(context.Background(), wit, componentnew.World, core)
		if err != nil {
			return fmt.Errorf("guestbuild: component of %s: %w", pkg, err)
		}
		return os.WriteFile(out, b, 0o644)
	})
}
