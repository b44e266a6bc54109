package utls

import (
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
)

// TestValidateALPN: NextProtos with the fingerprint's list pinned is a
// conflict Validate names (so that a CLI's -alpn is never silently
// ignored); every other combination is accepted.
func TestValidateALPN(t *testing.T) {
	pinned := map[string]string{OptionALPN: ALPNFingerprint}
	for _, c := range []struct {
		name     string
		p        *Provider
		cfg      *api.Config
		conflict bool
	}{
		{"default, NextProtos: accepted (they are sent)", newProvider(t), &api.Config{NextProtos: []string{"http/1.1"}}, false},
		{"pinned by option, NextProtos: conflict", newProvider(t), &api.Config{NextProtos: []string{"http/1.1"}, Options: pinned}, true},
		{"pinned by WithALPN, NextProtos: conflict", newProvider(t, WithALPN(ALPNFingerprint)), &api.Config{NextProtos: []string{"h2"}, Fingerprint: "firefox"}, true},
		{"pinned, no NextProtos: accepted", newProvider(t), &api.Config{Options: pinned}, false},
		{"pinned golang hello, NextProtos: accepted (it always sends them)", newProvider(t), &api.Config{NextProtos: []string{"h2"}, Options: pinned, Fingerprint: Golang}, false},
		{"pinned by WithALPN, override option, NextProtos: accepted", newProvider(t, WithALPN(ALPNFingerprint)), &api.Config{NextProtos: []string{"h2"}, Options: map[string]string{OptionALPN: ALPNOverride}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate(c.cfg)
			if !c.conflict {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if api.KindOf(err) != api.KindInvalidConfig || !strings.Contains(err.Error(), "conflict with option alpn=fingerprint") {
				t.Fatalf("Validate: %v, want an invalid configuration naming the conflict", err)
			}
		})
	}
}
