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

// TestOfferedALPN: the report is NextProtos unless the list is pinned; then
// the parrot's own (none for a parrot without ALPN), and unknown for the
// randomized hello. A wrapper made with api.Wrap reports the same.
func TestOfferedALPN(t *testing.T) {
	p := newProvider(t)
	pinned := map[string]string{OptionALPN: ALPNFingerprint}
	for _, c := range []struct {
		cfg  *api.Config
		want []string
		ok   bool
	}{
		{&api.Config{NextProtos: []string{"http/1.1"}}, []string{"http/1.1"}, true},
		{&api.Config{NextProtos: []string{"http/1.1"}, Options: pinned}, []string{"h2", "http/1.1"}, true},
		{&api.Config{NextProtos: []string{"http/1.1"}, Options: pinned, Fingerprint: "android-okhttp"}, nil, true},
		{&api.Config{NextProtos: []string{"http/1.1"}, Options: pinned, Fingerprint: Golang}, []string{"http/1.1"}, true},
		{&api.Config{Options: pinned, Fingerprint: Randomized}, nil, false},
	} {
		for _, prov := range []api.Provider{p, api.Wrap(p, "wrapped", p.Client)} {
			got, ok := prov.(api.ALPNReporter).OfferedALPN(c.cfg)
			if ok != c.ok || strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s %+v: %q %v, want %q %v", prov.Name(), c.cfg, got, ok, c.want, c.ok)
			}
		}
	}
}
