package observe

import (
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	_ "github.com/wasitls/wasitls/backends/builtin"
)

// TestInspectorForwards checks that Inspect (-v) is the backend it wraps
// for the host: the same capabilities (so the host runs handshakes the same
// way) and the same verdict on settings.
func TestInspectorForwards(t *testing.T) {
	for _, name := range wapi.Names() {
		p, err := wapi.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		in := Inspect(p, func(Handshake) {})
		if got, want := wapi.CapabilitiesOf(in), wapi.CapabilitiesOf(p); got != want {
			t.Errorf("%s: inspector capabilities %+v, backend %+v", name, got, want)
		}
		bad := &wapi.Config{Options: map[string]string{"nosuch": "1"}}
		if err := wapi.ValidateConfig(in, bad); err == nil || !strings.Contains(err.Error(), `unknown option "nosuch"`) {
			t.Errorf("%s: inspector accepts an unknown option: %v", name, err)
		}
		if err := wapi.ValidateConfig(in, &wapi.Config{}); err != nil {
			t.Errorf("%s: inspector refuses the empty config: %v", name, err)
		}
	}
}
