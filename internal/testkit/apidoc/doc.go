// Package apidoc holds a test that the module's public API is documented on
// every platform: go doc and pkg.go.dev read the packages as linux/amd64
// sees them, and the guest bindings are mostly for GOOS=wasip1.
package apidoc
