//go:build !no_pq

package builtin

import _ "github.com/wasitls/wasitls/backends/pq" // registers "pq"
