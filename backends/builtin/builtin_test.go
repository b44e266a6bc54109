package builtin_test

import (
	"slices"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/builtin"
)

// TestRegistered checks that the backends the build tags ask for, and only
// those, are registered, and that the default matches the tag. CI runs it
// under every tag combination of the build matrix.
func TestRegistered(t *testing.T) {
	names := api.Names()
	for name, want := range map[string]bool{"stdtls": true, "utls": withUTLS, "pq": withPQ} {
		if got := slices.Contains(names, name); got != want {
			t.Errorf("backend %q registered = %v, want %v (registered: %v)", name, got, want, names)
		}
	}
	p, err := api.Default()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != builtin.DefaultName {
		t.Errorf("default backend %q, want %q", p.Name(), builtin.DefaultName)
	}
}
