package apidoc

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPublicSurface holds the public surface to what each package is for
// (issue 14, "public surface"): api is the contract an embedder reads, so
// the backend author's kit, the kind table, stdtls's crypto/tls plumbing,
// pq's proof protocol and the host's import table live elsewhere and must
// not come back. Names moved on purpose are listed in CHANGELOG.md.
func TestPublicSurface(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, c := range []struct {
		dir       string
		forbidden []string // moved out; where to
		exactly   []string // the whole surface, when it is small by design
		maxLines  int      // declaration lines go doc lists, when bounded
	}{
		{dir: "api", forbidden: []string{
			"Classify", "ConnError", "EOFWatch", "RunHandshake", "WithTimeout", // api/backendkit
		}, maxLines: 40},
		{dir: "backends/stdtls", exactly: []string{
			"Name", "New", "Option", "Provider", "Provider.Capabilities", "Provider.Client", "Provider.Name",
			"Provider.Server", "Provider.Validate", "WithName",
		}},
		{dir: "backends/pq", forbidden: []string{
			"Pin", "PinOf", "ParsePin", "ParsePins", "WriteProof", "Prove", "ProofLabel", "ProofContext", "ErrNoProof",
			"ErrPinMismatch", "ErrBadProof", "OIDMLDSA44", "OIDMLDSA65", "OIDMLDSA87", "MarshalPublicKey",
			"ParsePublicKey", "ParsePublicKeyPEM", // backends/pq/pqproof
		}},
		{dir: "host", forbidden: []string{"ImportNames", "Functions", "Signature"}}, // internal/hostimports
	} {
		a, ok := exported(t, filepath.Join(root, c.dir), "linux", "amd64")
		if !ok {
			t.Fatalf("%s: no Go files", c.dir)
		}
		for _, n := range c.forbidden {
			if slices.Contains(a.names, n) {
				t.Errorf("%s exports %s again; it moved out of it (see CHANGELOG.md, Moved)", c.dir, n)
			}
		}
		if c.exactly != nil {
			got := slices.Sorted(slices.Values(a.names))
			want := slices.Sorted(slices.Values(c.exactly))
			if !slices.Equal(got, want) {
				t.Errorf("%s exports %v, want %v: its surface is its constructor and options", c.dir, got, want)
			}
		}
		if c.maxLines > 0 {
			if n := docLines(t, root, c.dir); n > c.maxLines {
				t.Errorf("go doc ./%s lists %d declaration lines, more than %d: it should show the contract on one screen; does the new name belong in a package of its own?", c.dir, n, c.maxLines)
			}
		}
	}
}

// docLines counts the declaration lines go doc prints for dir (what follows
// the package comment), as a reader sees them.
func docLines(t *testing.T, root, dir string) int {
	t.Helper()
	cmd := exec.Command("go", "doc", "./"+dir)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go doc ./%s: %v", dir, err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			n = 0 // the declarations follow the last blank line
			continue
		}
		n++
	}
	return n
}
