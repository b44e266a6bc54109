//go:build !default_utls && !default_pq

package builtin

const defaultName = "stdtls"
