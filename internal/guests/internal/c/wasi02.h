/*
 * wasi02.h: the WASI 0.2 imports the C test guests use (wasi:io,
 * wasi:sockets and wasi:tls), declared as core functions with clang's
 * import_module/import_name attributes, and the canonical-ABI code to call
 * them, written here from the WIT. Nothing is generated and nothing is
 * shared with the Go guest bindings (guest/) or the Rust guest.
 *
 * wasi:io and wasi:sockets are imported at 0.2.6, the version the wasi-tls
 * WIT uses (the Rust guest imports 0.2.0; the host serves every 0.2.x).
 *
 * Results come back through a return area; the offsets below are the
 * canonical ABI's layout of each result type. Lists and strings the host
 * returns are allocated through cabi_realloc (malloc) and freed with free.
 *
 * Writes are done the way wasi-libc's send() does them: check-write, then
 * write, never flush.
 *
 * Errors: a function that fails returns -1 and leaves the message in
 * wasi_err, rendered as the relay protocol wants: "tcp: <error-code>", the
 * io-error's debug string, or "stream closed".
 */
#ifndef WASITLS_WASI02_H
#define WASITLS_WASI02_H

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))
#define M_ERROR "wasi:io/error@0.2.6"
#define M_POLL "wasi:io/poll@0.2.6"
#define M_STREAMS "wasi:io/streams@0.2.6"
#define M_INSTNET "wasi:sockets/instance-network@0.2.6"
#define M_NETWORK "wasi:sockets/network@0.2.6"
#define M_LOOKUP "wasi:sockets/ip-name-lookup@0.2.6"
#define M_TCPCREATE "wasi:sockets/tcp-create-socket@0.2.6"
#define M_TCP "wasi:sockets/tcp@0.2.6"
#define M_TLS "wasi:tls/types@0.2.0-draft"

typedef uint32_t handle;

IMPORT(M_ERROR, "[method]error.to-debug-string") void error_to_debug_string(handle, void *ret);
IMPORT(M_ERROR, "[resource-drop]error") void error_drop(handle);

IMPORT(M_POLL, "[method]pollable.block") void pollable_block(handle);
IMPORT(M_POLL, "poll") void poll_list(const handle *ps, size_t n, void *ret);
IMPORT(M_POLL, "[resource-drop]pollable") void pollable_drop(handle);

IMPORT(M_STREAMS, "[method]input-stream.read") void input_read(handle, uint64_t len, void *ret);
IMPORT(M_STREAMS, "[method]input-stream.subscribe") handle input_subscribe(handle);
IMPORT(M_STREAMS, "[resource-drop]input-stream") void input_drop(handle);
IMPORT(M_STREAMS, "[method]output-stream.check-write") void output_check_write(handle, void *ret);
IMPORT(M_STREAMS, "[method]output-stream.write") void output_write(handle, const void *p, size_t n, void *ret);
IMPORT(M_STREAMS, "[method]output-stream.blocking-flush") void output_blocking_flush(handle, void *ret);
IMPORT(M_STREAMS, "[method]output-stream.subscribe") handle output_subscribe(handle);
IMPORT(M_STREAMS, "[resource-drop]output-stream") void output_drop(handle);

IMPORT(M_INSTNET, "instance-network") handle instance_network(void);
IMPORT(M_NETWORK, "[resource-drop]network") void network_drop(handle);

IMPORT(M_LOOKUP, "resolve-addresses") void resolve_addresses(handle net, const char *name, size_t n, void *ret);
IMPORT(M_LOOKUP, "[method]resolve-address-stream.resolve-next-address") void resolve_next_address(handle, void *ret);
IMPORT(M_LOOKUP, "[method]resolve-address-stream.subscribe") handle resolve_subscribe(handle);
IMPORT(M_LOOKUP, "[resource-drop]resolve-address-stream") void resolve_drop(handle);

IMPORT(M_TCPCREATE, "create-tcp-socket") void create_tcp_socket(uint32_t family, void *ret);

/* ip-socket-address flattens to its tag and the eleven slots of the larger
 * case (ipv6: port, flow-info, 8 segments, scope-id); ipv4 uses five. */
IMPORT(M_TCP, "[method]tcp-socket.start-connect")
void tcp_start_connect(handle, handle net, uint32_t tag, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                       uint32_t a4, uint32_t a5, uint32_t a6, uint32_t a7, uint32_t a8, uint32_t a9, uint32_t a10,
                       void *ret);
IMPORT(M_TCP, "[method]tcp-socket.finish-connect") void tcp_finish_connect(handle, void *ret);
IMPORT(M_TCP, "[method]tcp-socket.subscribe") handle tcp_subscribe(handle);
IMPORT(M_TCP, "[method]tcp-socket.shutdown") void tcp_shutdown(handle, uint32_t how, void *ret);
IMPORT(M_TCP, "[resource-drop]tcp-socket") void tcp_drop(handle);

IMPORT(M_TLS, "[constructor]client-handshake") handle client_handshake_new(const char *name, size_t n, handle in, handle out);
IMPORT(M_TLS, "[static]client-handshake.finish") handle client_handshake_finish(handle);
IMPORT(M_TLS, "[method]client-connection.close-output") void client_connection_close_output(handle);
IMPORT(M_TLS, "[resource-drop]client-connection") void client_connection_drop(handle);
IMPORT(M_TLS, "[method]future-client-streams.subscribe") handle future_subscribe(handle);
IMPORT(M_TLS, "[method]future-client-streams.get") void future_get(handle, void *ret);
IMPORT(M_TLS, "[resource-drop]future-client-streams") void future_drop(handle);

/* The host allocates returned lists and strings through this export.
 * malloc's alignment (16) covers every alignment the ABI asks for. */
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align,
                                                                  size_t new_size) {
	(void)old_size;
	if (new_size == 0)
		return (void *)align;
	void *p = realloc(old, new_size);
	if (!p)
		abort();
	return p;
}

/* A return area, 8-aligned, larger than every result used here. */
typedef struct {
	alignas(8) uint8_t b[32];
} ret_area;

static inline uint8_t r8(const ret_area *r, int off) { return r->b[off]; }
static inline uint16_t r16(const ret_area *r, int off) {
	uint16_t v;
	memcpy(&v, r->b + off, 2);
	return v;
}
static inline uint32_t r32(const ret_area *r, int off) {
	uint32_t v;
	memcpy(&v, r->b + off, 4);
	return v;
}
static inline uint64_t r64(const ret_area *r, int off) {
	uint64_t v;
	memcpy(&v, r->b + off, 8);
	return v;
}

static char wasi_err[1024];

/* wasi:sockets/network error-code, in WIT order. */
static const char *const error_codes[] = {
    "unknown",           "access-denied",        "not-supported",
    "invalid-argument",  "out-of-memory",        "timeout",
    "concurrency-conflict", "not-in-progress",   "would-block",
    "invalid-state",     "new-socket-limit",     "address-not-bindable",
    "address-in-use",    "remote-unreachable",   "connection-refused",
    "connection-reset",  "connection-aborted",   "datagram-too-large",
    "name-unresolvable", "temporary-resolver-failure", "permanent-resolver-failure",
};
enum { WOULD_BLOCK = 8, NAME_UNRESOLVABLE = 18 };

static inline int fail_code(uint8_t code) {
	const char *name = code < sizeof error_codes / sizeof *error_codes ? error_codes[code] : "unknown";
	snprintf(wasi_err, sizeof wasi_err, "tcp: %s", name);
	return -1;
}

static inline int fail_text(const char *msg) {
	snprintf(wasi_err, sizeof wasi_err, "%s", msg);
	return -1;
}

/* Takes an owned io-error: its debug string becomes the message. */
static inline int fail_io_error(handle e) {
	ret_area r = {0};
	error_to_debug_string(e, &r);
	error_drop(e);
	char *s = (char *)(uintptr_t)r32(&r, 0);
	uint32_t n = r32(&r, 4);
	snprintf(wasi_err, sizeof wasi_err, "%.*s", (int)n, n ? s : "");
	if (n)
		free(s);
	return -1;
}

/* stream-error at off: case 0 last-operation-failed(error) with the handle
 * at off+4, case 1 closed. Returns -1 (failed) or -2 (closed). */
static inline int fail_stream(const ret_area *r, int off) {
	if (r8(r, off) == 0)
		return fail_io_error(r32(r, off + 4));
	fail_text("stream closed");
	return -2;
}

/* Reads up to len bytes: 0 with *out (malloc'd, may be NULL) and *n, -2
 * when the stream is closed, -1 on failure. */
static inline int stream_read(handle in, uint64_t len, uint8_t **out, size_t *n) {
	ret_area r = {0};
	input_read(in, len, &r);
	if (r8(&r, 0) != 0)
		return fail_stream(&r, 4);
	*n = r32(&r, 8);
	*out = *n ? (uint8_t *)(uintptr_t)r32(&r, 4) : NULL;
	return 0;
}

/* check-write: result<u64, stream-error>, the u64 8-aligned. */
static inline int stream_check_write(handle out, uint64_t *permit) {
	ret_area r = {0};
	output_check_write(out, &r);
	if (r8(&r, 0) != 0)
		return fail_stream(&r, 8);
	*permit = r64(&r, 8);
	return 0;
}

static inline int stream_write(handle out, const void *p, size_t n) {
	ret_area r = {0};
	output_write(out, p, n, &r);
	return r8(&r, 0) ? fail_stream(&r, 4) : 0;
}

static inline int stream_blocking_flush(handle out) {
	ret_area r = {0};
	output_blocking_flush(out, &r);
	return r8(&r, 0) ? fail_stream(&r, 4) : 0;
}

/* Writes from *p (*n bytes left) as much as the permit of out allows; 1 if it wrote, 0 if the permit
 * was 0, -1 on failure. */
static inline int write_some(handle out, uint8_t **p, size_t *n) {
	uint64_t permit;
	if (stream_check_write(out, &permit) < 0)
		return -1;
	if (permit == 0)
		return 0;
	size_t k = permit < *n ? (size_t)permit : *n;
	if (stream_write(out, *p, k) < 0)
		return -1;
	*p += k;
	*n -= k;
	return 1;
}

/* Writes all of p: check-write for a permit, write that much, wait on the
 * pollable while the permit is 0. No flush: write starts the write. */
static inline int write_all(handle out, const void *p, size_t n) {
	uint8_t *b = (uint8_t *)p;
	handle poll = output_subscribe(out);
	int rc = 0;
	while (n > 0 && (rc = write_some(out, &b, &n)) >= 0)
		if (rc == 0)
			pollable_block(poll);
	pollable_drop(poll);
	return rc < 0 ? rc : 0;
}

/* Waits until one of the n pollables is ready. */
static inline void poll_any(const handle *ps, size_t n) {
	ret_area r = {0};
	poll_list(ps, n, &r);
	if (r32(&r, 4))
		free((void *)(uintptr_t)r32(&r, 0));
}

/* An IP address as the host returns it. */
typedef struct {
	int v6;
	uint8_t v4[4];
	uint16_t seg[8];
} ip_addr;

/* Resolves name (an IP literal comes back as itself) into at most max
 * addresses; returns how many, or -1. */
static inline int resolve(handle net, const char *name, ip_addr *addrs, int max) {
	ret_area r = {0};
	resolve_addresses(net, name, strlen(name), &r);
	if (r8(&r, 0) != 0)
		return fail_code(r8(&r, 4));
	handle stream = r32(&r, 4);
	handle poll = resolve_subscribe(stream);
	int n = 0;
	for (;;) {
		/* result<option<ip-address>, error-code>: the payload is
		 * 2-aligned: the option's tag at 2, the address's tag at 4,
		 * its bytes or segments from 6. */
		memset(&r, 0, sizeof r);
		resolve_next_address(stream, &r);
		if (r8(&r, 0) != 0) {
			if (r8(&r, 2) == WOULD_BLOCK) {
				pollable_block(poll);
				continue;
			}
			n = fail_code(r8(&r, 2));
			break;
		}
		if (r8(&r, 2) == 0)
			break;
		if (n == max)
			continue;
		ip_addr *a = &addrs[n++];
		memset(a, 0, sizeof *a);
		a->v6 = r8(&r, 4) == 1;
		for (int i = 0; i < 4; i++)
			a->v4[i] = r8(&r, 6 + i);
		for (int i = 0; i < 8; i++)
			a->seg[i] = r16(&r, 6 + 2 * i);
	}
	pollable_drop(poll);
	resolve_drop(stream);
	return n;
}

typedef struct {
	handle sock, in, out;
} tcp_conn;

/* Creates a socket of a's family and connects it to a:port, waiting on
 * its pollable while finish-connect would block. */
static inline int tcp_connect(handle net, const ip_addr *a, uint16_t port, tcp_conn *c) {
	ret_area r = {0};
	create_tcp_socket(a->v6 ? 1 : 0, &r);
	if (r8(&r, 0) != 0)
		return fail_code(r8(&r, 4));
	handle sock = r32(&r, 4);
	uint32_t s[11] = {port};
	if (a->v6) {
		for (int i = 0; i < 8; i++) /* s[1] flow-info and s[10] scope-id stay 0 */
			s[2 + i] = a->seg[i];
	} else {
		for (int i = 0; i < 4; i++)
			s[1 + i] = a->v4[i];
	}
	memset(&r, 0, sizeof r);
	tcp_start_connect(sock, net, a->v6, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], &r);
	if (r8(&r, 0) != 0) {
		tcp_drop(sock);
		return fail_code(r8(&r, 1));
	}
	handle poll = tcp_subscribe(sock);
	for (;;) {
		memset(&r, 0, sizeof r);
		tcp_finish_connect(sock, &r);
		if (r8(&r, 0) == 0) {
			pollable_drop(poll);
			c->sock = sock;
			c->in = r32(&r, 4);
			c->out = r32(&r, 8);
			return 0;
		}
		if (r8(&r, 4) == WOULD_BLOCK) {
			pollable_block(poll);
			continue;
		}
		pollable_drop(poll);
		tcp_drop(sock);
		return fail_code(r8(&r, 4));
	}
}

/* Resolves host and connects to the first address that answers. */
static inline int dial(handle net, const char *host, uint16_t port, tcp_conn *c) {
	ip_addr addrs[16];
	int n = resolve(net, host, addrs, 16);
	if (n < 0)
		return -1;
	if (n == 0)
		return fail_code(NAME_UNRESOLVABLE);
	for (int i = 0; i < n; i++)
		if (tcp_connect(net, &addrs[i], port, c) == 0)
			return 0;
	return -1;
}

/* shutdown(both), then the streams before the socket. */
static inline void tcp_close(tcp_conn *c) {
	ret_area r = {0};
	tcp_shutdown(c->sock, 2, &r);
	input_drop(c->in);
	output_drop(c->out);
	tcp_drop(c->sock);
}

typedef struct {
	handle conn, in, out; /* the plaintext streams are children of conn */
	handle sock;          /* the transport streams went to the host */
} tls_conn;

/* Hands c's streams to the host and waits for the handshake's outcome.
 * name (n bytes) must be UTF-8, a WIT string. On failure the socket is
 * dropped. */
static inline int tls_handshake(tcp_conn *c, const char *name, size_t n, tls_conn *t) {
	handle hs = client_handshake_new(name, n, c->in, c->out);
	handle fut = client_handshake_finish(hs);
	handle poll = future_subscribe(fut);
	int rc;
	for (;;) {
		/* option<result<result<tuple<conn, in, out>, io-error>>>: option
		 * tag at 0, outer result tag at 4, inner at 8, payload from 12. */
		ret_area r = {0};
		future_get(fut, &r);
		if (r8(&r, 0) == 0) {
			pollable_block(poll);
			continue;
		}
		if (r8(&r, 4) != 0) {
			rc = fail_text("future-client-streams.get: outcome already taken");
		} else if (r8(&r, 8) != 0) {
			rc = fail_io_error(r32(&r, 12));
		} else {
			t->conn = r32(&r, 12);
			t->in = r32(&r, 16);
			t->out = r32(&r, 20);
			t->sock = c->sock;
			rc = 0;
		}
		break;
	}
	pollable_drop(poll);
	future_drop(fut);
	if (rc < 0)
		tcp_drop(c->sock);
	return rc;
}

/* Drops a TLS connection in the order its resources nest. */
static inline void tls_close(tls_conn *t) {
	ret_area r = {0};
	input_drop(t->in);
	output_drop(t->out);
	client_connection_drop(t->conn);
	tcp_shutdown(t->sock, 2, &r);
	tcp_drop(t->sock);
}

/* https_request connects to host:port, runs the TLS handshake (server
 * name name, n bytes) and sends an HTTP/1.1 GET of path with Connection:
 * close, written the way wasi-libc's send() does (no flush). The caller
 * reads the response from t->in and closes t. -1 on failure. */
static inline int https_request(handle net, const char *host, uint16_t port, const char *path, const char *name,
                                size_t n, const char *agent, tls_conn *t) {
	tcp_conn c;
	if (dial(net, host, port, &c) < 0 || tls_handshake(&c, name, n, t) < 0)
		return -1;
	size_t cap = strlen(path) + n + strlen(agent) + 128;
	char *req = malloc(cap);
	int k = snprintf(req, cap, "GET %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", path,
	                 (int)n, name, agent);
	int rc = write_all(t->out, req, (size_t)k);
	free(req);
	if (rc < 0)
		tls_close(t);
	return rc;
}

/* https_get is https_request, then every piece of the response handed to
 * sink until the server closes. -1 on failure. */
static inline int https_get(handle net, const char *host, uint16_t port, const char *path, const char *name, size_t n,
                            const char *agent, void (*sink)(const uint8_t *, size_t)) {
	tls_conn t;
	if (https_request(net, host, port, path, name, n, agent, &t) < 0)
		return -1;
	handle poll = input_subscribe(t.in);
	int rc = 0;
	for (;;) {
		uint8_t *b;
		size_t got;
		int r = stream_read(t.in, 64 << 10, &b, &got);
		if (r == -2)
			break; /* closed: that was the whole response */
		if (r < 0) {
			rc = -1;
			break;
		}
		if (got == 0) {
			pollable_block(poll);
			continue;
		}
		sink(b, got);
		free(b);
	}
	pollable_drop(poll);
	tls_close(&t);
	return rc;
}

#endif
