//go:build default_utls && !default_pq && !no_utls

package builtin

const defaultName = "utls"
