//go:build !no_utls

package builtin

import _ "github.com/wasitls/wasitls/backends/utls" // registers "utls"
