// Package builtin links the backends selected by build tags into a program
// and sets the default one. Commands import it for its side effects:
//
//	import _ "github.com/wasitls/wasitls/backends/builtin"
//
// Build tags:
//
//	no_utls       leave the utls backend (and refraction-networking/utls) out
//	no_pq         leave the pq backend (and cloudflare/circl) out
//	default_utls  make utls the default backend (stdtls otherwise)
//	default_pq    make pq the default backend
//
// stdtls is always linked. The host and api packages never import this
// package, so a library embedder links only the backends it imports itself.
package builtin

import (
	"github.com/wasitls/wasitls/api"
	_ "github.com/wasitls/wasitls/backends/stdtls" // always linked
)

// DefaultName is the backend selected by the build tags.
const DefaultName = defaultName

func init() { api.SetDefault(defaultName) }
