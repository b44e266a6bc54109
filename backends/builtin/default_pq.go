//go:build default_pq && !default_utls && !no_pq

package builtin

const defaultName = "pq"
