package api

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

var registry struct {
	sync.RWMutex
	byName      map[string]Provider
	defaultName string
}

// Register makes p available by p.Name(). Backends call it from init. It
// panics on an empty or duplicate name, as database/sql.Register does.
func Register(p Provider) {
	registry.Lock()
	defer registry.Unlock()
	name := p.Name()
	if name == "" {
		panic("api: Register of a provider with an empty name")
	}
	if registry.byName == nil {
		registry.byName = map[string]Provider{}
	}
	if _, dup := registry.byName[name]; dup {
		panic("api: Register called twice for provider " + name)
	}
	registry.byName[name] = p
}

// SetDefault names the default Provider. The backends/builtin package calls
// it from a file selected by build tag; embedders may call it too.
func SetDefault(name string) {
	registry.Lock()
	defer registry.Unlock()
	registry.defaultName = name
}

// Lookup returns the registered Provider called name. The error lists the
// registered names.
func Lookup(name string) (Provider, error) {
	registry.RLock()
	defer registry.RUnlock()
	if p, ok := registry.byName[name]; ok {
		return p, nil
	}
	return nil, &Error{Kind: KindInvalidConfig, Err: fmt.Errorf("unknown backend %q (registered: %s)", name, strings.Join(namesLocked(), ", "))}
}

// Names returns the registered Provider names, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Default returns the default Provider: the one named by SetDefault, or
// "stdtls", or the only one registered.
func Default() (Provider, error) {
	registry.RLock()
	name := registry.defaultName
	n := len(registry.byName)
	registry.RUnlock()
	if name == "" {
		name = "stdtls"
		if n == 1 {
			name = Names()[0]
		}
	}
	return Lookup(name)
}

// Fingerprinter is implemented by Providers that can shape their ClientHello
// after a named client (see Config.Fingerprint).
type Fingerprinter interface {
	// Fingerprints returns the accepted Config.Fingerprint names; the first
	// is the default.
	Fingerprints() []string
}
