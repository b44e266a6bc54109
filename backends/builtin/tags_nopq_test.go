//go:build no_pq

package builtin_test

const withPQ = false
