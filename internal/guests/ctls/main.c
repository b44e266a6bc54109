/*
 * ctls is a test guest written in C against the raw WASI 0.2 imports
 * (internal/guests/internal/c/wasi02.h), built by clang
 * --target=wasm32-wasi with wasi-libc (whose wasip1 functions give it
 * main, stdio and exit). It writes the way wasi-libc's send() does:
 * check-write, then write, never flush.
 *
 *   ctls get HOST PORT PATH SERVERNAME
 *   ctls relay TARGET-HOST TARGET-PORT RELAY-HOST RELAY-PORT SERVERNAME
 *
 * get: an HTTP/1.1 GET over TLS, the response copied to stdout until the
 * server closes. relay: the protocol of internal/guests/relay (see its
 * doc), so that the conformance suite runs through this guest. A
 * SERVERNAME of "hex:..." is given as its bytes in hex.
 */
#include "../internal/c/wasi02.h"

enum { READ_CHUNK = 64 << 10 };

static void usage(const char *msg) {
	fprintf(stderr, "usage: ctls get HOST PORT PATH SERVERNAME | ctls relay TARGET-HOST TARGET-PORT RELAY-HOST RELAY-PORT SERVERNAME: %s\n", msg);
	exit(2);
}

static uint16_t port(const char *s) {
	char *end;
	unsigned long p = strtoul(s, &end, 10);
	if (*s == 0 || *end != 0 || p > 65535)
		usage("bad port");
	return (uint16_t)p;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The server name's bytes: "hex:" names carry bytes an argument cannot
 * (NUL), so the length is returned apart. */
static char *server_name(const char *s, size_t *n) {
	if (strncmp(s, "hex:", 4) != 0) {
		*n = strlen(s);
		return strdup(s);
	}
	s += 4;
	size_t len = strlen(s);
	if (len % 2)
		usage("bad hex server name");
	char *b = malloc(len / 2 + 1);
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			usage("bad hex server name");
		b[i] = (char)(hi << 4 | lo);
	}
	b[len / 2] = 0;
	*n = len / 2;
	return b;
}

/* Whether b is valid UTF-8 (RFC 3629: no overlongs, surrogates or code
 * points past U+10FFFF), as a WIT string must be. */
static int valid_utf8(const uint8_t *b, size_t n) {
	size_t i = 0;
	while (i < n) {
		uint8_t c = b[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((b[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (b[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static void die(void) {
	fprintf(stderr, "error: %s\n", wasi_err);
	exit(1);
}

static void to_stdout(const uint8_t *b, size_t n) { fwrite(b, 1, n, stdout); }

static int get(const char *host, uint16_t p, const char *path, const char *name, size_t name_len) {
	handle net = instance_network();
	if (https_get(net, host, p, path, name, name_len, "ctls", to_stdout) < 0)
		die();
	fflush(stdout);
	network_drop(net);
	return 0;
}

/* The relay: framed bytes for the test not yet written, and the socket. */
static tcp_conn rc;
static uint8_t *to_relay;
static size_t to_relay_len, to_relay_cap;

static void frame(char typ, const void *p, size_t n) {
	if (to_relay_len + 5 + n > to_relay_cap) {
		to_relay_cap = (to_relay_len + 5 + n) * 2;
		to_relay = realloc(to_relay, to_relay_cap);
		if (!to_relay)
			abort();
	}
	uint8_t *h = to_relay + to_relay_len;
	h[0] = (uint8_t)typ;
	h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16), h[3] = (uint8_t)(n >> 8), h[4] = (uint8_t)n;
	if (n)
		memcpy(h + 5, p, n);
	to_relay_len += 5 + n;
}

/* Writes what is left, then waits for a flush before the shutdown: the WIT
 * warns that dropping a stream with a write in progress may lose it. */
static void relay_close(void) {
	if (write_all(rc.out, to_relay, to_relay_len) < 0 || stream_blocking_flush(rc.out) < 0) {
		fprintf(stderr, "error: relay write: %s\n", wasi_err);
		exit(1);
	}
	to_relay_len = 0;
	tcp_close(&rc);
}

static void relay_fail(void) {
	frame('X', wasi_err, strlen(wasi_err));
	relay_close();
	exit(0);
}

/* Relays until the TLS input ends or fails, never blocking one direction
 * while the other could move: each round tries every step and polls only
 * when none made progress. */
static void run(tls_conn *t) {
	handle p_rin = input_subscribe(rc.in), p_rout = output_subscribe(rc.out);
	handle p_tin = input_subscribe(t->in), p_tout = output_subscribe(t->out);
	uint8_t *to_tls_buf = NULL, *to_tls = NULL; /* plaintext from the test */
	size_t to_tls_len = 0;
	int relay_eof = 0, close_sent = 0, tls_done = 0;
	for (;;) {
		int progress = 0;

		/* Test -> TLS. */
		if (to_tls_len == 0 && !relay_eof && !tls_done) {
			free(to_tls_buf);
			to_tls_buf = NULL;
			size_t k;
			int r = stream_read(rc.in, READ_CHUNK, &to_tls_buf, &k);
			if (r == -2) {
				relay_eof = progress = 1;
			} else if (r < 0) {
				fprintf(stderr, "error: relay read: %s\n", wasi_err);
				exit(1);
			} else if (k > 0) {
				to_tls = to_tls_buf, to_tls_len = k, progress = 1;
			}
		}
		if (to_tls_len > 0 && !tls_done) {
			int w = write_some(t->out, &to_tls, &to_tls_len);
			if (w < 0) {
				frame('X', wasi_err, strlen(wasi_err));
				tls_done = 1;
			}
			progress |= w != 0;
		}
		if (relay_eof && to_tls_len == 0 && !close_sent && !tls_done) {
			client_connection_close_output(t->conn);
			close_sent = progress = 1;
		}

		/* TLS -> test. */
		if (to_relay_len == 0 && !tls_done) {
			uint8_t *b;
			size_t k;
			int r = stream_read(t->in, READ_CHUNK, &b, &k);
			if (r == -2) {
				frame('E', NULL, 0);
				tls_done = progress = 1;
			} else if (r < 0) {
				frame('X', wasi_err, strlen(wasi_err));
				tls_done = progress = 1;
			} else if (k > 0) {
				frame('D', b, k);
				free(b);
				progress = 1;
			}
		}
		if (to_relay_len > 0) {
			uint8_t *p = to_relay;
			size_t n = to_relay_len;
			int w = write_some(rc.out, &p, &n);
			if (w < 0) {
				fprintf(stderr, "error: relay write: %s\n", wasi_err);
				exit(1);
			}
			memmove(to_relay, p, n);
			to_relay_len = n;
			progress |= w;
		}

		if (tls_done && to_relay_len == 0)
			break;
		if (progress)
			continue;
		handle wait[4];
		size_t nw = 0;
		if (to_tls_len == 0 && !relay_eof && !tls_done)
			wait[nw++] = p_rin;
		if (to_tls_len > 0 && !tls_done)
			wait[nw++] = p_tout;
		if (to_relay_len == 0 && !tls_done)
			wait[nw++] = p_tin;
		if (to_relay_len > 0)
			wait[nw++] = p_rout;
		poll_any(wait, nw);
	}
	free(to_tls_buf);
	pollable_drop(p_rin);
	pollable_drop(p_rout);
	pollable_drop(p_tin);
	pollable_drop(p_tout);
}

static int relay(const char *host, uint16_t p, const char *relay_host, uint16_t relay_port, const char *name,
                 size_t name_len) {
	handle net = instance_network();
	if (dial(net, relay_host, relay_port, &rc) < 0)
		die();
	/* A WIT string is UTF-8 (the host traps on anything else): refuse
	 * such a name here, before any network I/O, as the Go relay does. */
	if (!valid_utf8((const uint8_t *)name, name_len)) {
		fail_text("tls: invalid configuration: server name is not valid UTF-8");
		relay_fail();
	}
	tcp_conn c;
	tls_conn t;
	if (dial(net, host, p, &c) < 0 || tls_handshake(&c, name, name_len, &t) < 0)
		relay_fail();
	frame('H', NULL, 0);
	run(&t);
	tls_close(&t);
	relay_close();
	network_drop(net);
	return 0;
}

int main(int argc, char **argv) {
	size_t n;
	if (argc == 6 && strcmp(argv[1], "get") == 0) {
		char *name = server_name(argv[5], &n);
		return get(argv[2], port(argv[3]), argv[4], name, n);
	}
	if (argc == 7 && strcmp(argv[1], "relay") == 0) {
		char *name = server_name(argv[6], &n);
		return relay(argv[2], port(argv[3]), argv[4], port(argv[5]), name, n);
	}
	usage("bad arguments");
}
