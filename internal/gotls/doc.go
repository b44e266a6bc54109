// Package gotls is the crypto/tls plumbing the stdtls and pq backends share:
// an api.Config or api.ServerConfig as a tls.Config, a handshake bounded by
// backendkit.RunHandshake, and the established Conn (classified errors,
// truncation, close_notify with half-close, api.ConnectionState). It is
// internal so that each backend's exported surface is its constructor and
// options.
package gotls
