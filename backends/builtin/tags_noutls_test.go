//go:build no_utls

package builtin_test

const withUTLS = false
