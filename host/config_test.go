package host

import (
	"testing"
)

// Like wazero's, the configs are immutable: a config derived from another
// leaves it as it was; a later mount at the same guest path replaces the
// earlier one; the inner config is wazero's own.
func TestConfigImmutable(t *testing.T) {
	base := NewModuleConfig().WithArgs("a").WithEnv("K", "1")
	one := base.WithEnv("K", "2").WithArgs("b", "c")
	two := base.WithEnv("L", "3")
	_, cb := unwrapConfig(base)
	_, c1 := unwrapConfig(one)
	inner, c2 := unwrapConfig(two)
	if len(cb.args) != 1 || cb.env[0] != [2]string{"K", "1"} || len(cb.env) != 1 {
		t.Fatalf("base changed: %v %v", cb.args, cb.env)
	}
	if len(c1.args) != 2 || c1.env[0] != [2]string{"K", "2"} || len(c1.env) != 1 {
		t.Fatalf("derived: %v %v", c1.args, c1.env)
	}
	if len(c2.env) != 2 || c2.env[1] != [2]string{"L", "3"} {
		t.Fatalf("derived: %v", c2.env)
	}
	if _, ok := inner.(*moduleConfig); ok {
		t.Fatal("the inner config is a wrapper")
	}

	fsBase := NewFSConfig().WithDirMount(t.TempDir(), "/a")
	fsOne := fsBase.WithReadOnlyDirMount(t.TempDir(), "a/")
	fsTwo := fsBase.WithDirMount(t.TempDir(), "/b")
	if m := fsBase.(*fsConfig).mounts; len(m) != 1 || m[0].readOnly {
		t.Fatalf("base mounts %v", m)
	}
	if m := fsOne.(*fsConfig).mounts; len(m) != 1 || !m[0].readOnly || m[0].guestPath != "a/" {
		t.Fatalf("a/ does not replace /a: %v", m)
	}
	if m := fsTwo.(*fsConfig).mounts; len(m) != 2 {
		t.Fatalf("mounts %v", m)
	}
	_, cm := unwrapConfig(NewModuleConfig().WithFSConfig(fsTwo))
	if len(cm.mounts) != 2 || cm.unknownFS {
		t.Fatalf("module config mounts %v", cm.mounts)
	}
}
