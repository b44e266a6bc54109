package hostimports_test

import (
	"slices"
	"testing"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/hostimports"
)

// TestPublished checks that linking host fills the table, and that it
// agrees with itself: every listed function has a signature.
func TestPublished(t *testing.T) {
	names := hostimports.ImportNames()
	if !slices.Contains(names, host.TLSModule) || !slices.Contains(names, "wasi:io/streams@0.2.0") {
		t.Fatalf("ImportNames lacks %s or wasi:io/streams@0.2.0: %v", host.TLSModule, names)
	}
	for _, m := range names {
		fns := hostimports.Functions(m)
		if len(fns) == 0 {
			t.Errorf("%s: no functions", m)
		}
		for _, f := range fns {
			if _, _, ok := hostimports.Signature(m, f); !ok {
				t.Errorf("%s#%s: listed without a signature", m, f)
			}
		}
	}
	if fns := hostimports.Functions("wasi:nothing/here@0.2.0"); fns != nil {
		t.Errorf("an unknown module has functions %v", fns)
	}
	if _, _, ok := hostimports.Signature(host.TLSModule, "no-such-function"); ok {
		t.Error("an unknown function has a signature")
	}
}
