/*
 * cworld is a C test guest of the WASI 0.2 command world: everything it
 * does goes through WASI 0.2 imports called directly (not wasi-libc's
 * wasip1 functions): its arguments and environment (wasi:cli/environment),
 * stdout and stderr (wasi:cli/stdout, wasi:cli/stderr), a file from a
 * preopened directory (wasi:filesystem/preopens and types), its exit code
 * (wasi:cli/exit), and an HTTPS GET (wasi:sockets, wasi:tls, with the
 * request written the way wasi-libc sends: no flush) copied to stdout by a
 * loop that polls the TLS input and stdout together.
 *
 *   wasitls run -env GREETING=hi -mount DIR:/data -allow HOST:PORT cworld.wasm URL
 *
 * It prints "hello from cworld", then "GREETING=<value>", then
 * "/data/hello.txt: <contents>", then the response to GET URL
 * (https://HOST:PORT/PATH; the server name is HOST). Any failure: a line
 * "error: ..." on stderr and exit status error.
 */
#include "../internal/c/wasi02.h"

#define M_ENV "wasi:cli/environment@0.2.6"
#define M_EXIT "wasi:cli/exit@0.2.6"
#define M_STDOUT "wasi:cli/stdout@0.2.6"
#define M_STDERR "wasi:cli/stderr@0.2.6"
#define M_PREOPENS "wasi:filesystem/preopens@0.2.6"
#define M_FS "wasi:filesystem/types@0.2.6"

IMPORT(M_ENV, "get-environment") void get_environment(void *ret);
IMPORT(M_ENV, "get-arguments") void get_arguments(void *ret);
IMPORT(M_EXIT, "exit") _Noreturn void cli_exit(uint32_t is_err);
IMPORT(M_STDOUT, "get-stdout") handle get_stdout(void);
IMPORT(M_STDERR, "get-stderr") handle get_stderr(void);
IMPORT(M_PREOPENS, "get-directories") void get_directories(void *ret);
IMPORT(M_FS, "[method]descriptor.open-at")
void descriptor_open_at(handle, uint32_t path_flags, const char *path, size_t n, uint32_t open_flags,
                        uint32_t flags, void *ret);
IMPORT(M_FS, "[method]descriptor.read") void descriptor_read(handle, uint64_t len, uint64_t off, void *ret);
IMPORT(M_FS, "[resource-drop]descriptor") void descriptor_drop(handle);

enum { SYMLINK_FOLLOW = 1, DESCRIPTOR_READ = 1 };

static handle out; /* wasi:cli/stdout */

/* A string (or list<u8>) in guest memory as the ABI lays it out. */
typedef struct {
	const char *p;
	uint32_t n;
} str;

static void print(const void *p, size_t n) {
	if (write_all(out, p, n) < 0)
		cli_exit(1); /* stdout is gone: nowhere to say why */
}

static void prints(const char *s) { print(s, strlen(s)); }

static _Noreturn void fail(const char *what) {
	handle err = get_stderr();
	char line[1200];
	int n = snprintf(line, sizeof line, "error: %s: %s\n", what, wasi_err);
	write_all(err, line, (size_t)n);
	stream_blocking_flush(err);
	stream_blocking_flush(out);
	cli_exit(1);
}

/* get-environment: list<tuple<string, string>>, 16 bytes an element. The
 * list and its strings are the guest's now; a command this short leaves
 * them to the exit. */
static str getenv02(const char *key) {
	ret_area r = {0};
	get_environment(&r);
	const str *kv = (const str *)(uintptr_t)r32(&r, 0);
	for (uint32_t i = 0; i < r32(&r, 4); i++)
		if (kv[2 * i].n == strlen(key) && memcmp(kv[2 * i].p, key, kv[2 * i].n) == 0)
			return kv[2 * i + 1];
	return (str){NULL, 0};
}

/* Reads the whole file at path (absolute, under a preopen) into a
 * malloc'd buffer. */
static uint8_t *read_file(const char *path, size_t *len) {
	ret_area r = {0};
	get_directories(&r);
	/* list<tuple<descriptor, string>>: 12 bytes an element. */
	const uint8_t *dirs = (const uint8_t *)(uintptr_t)r32(&r, 0);
	uint32_t ndirs = r32(&r, 4);
	for (uint32_t i = 0; i < ndirs; i++) {
		handle dir;
		str name;
		memcpy(&dir, dirs + 12 * i, 4);
		memcpy(&name, dirs + 12 * i + 4, 8);
		if (strncmp(path, name.p, name.n) != 0 || path[name.n] != '/')
			continue;
		const char *rel = path + name.n + 1;
		memset(&r, 0, sizeof r);
		descriptor_open_at(dir, SYMLINK_FOLLOW, rel, strlen(rel), 0, DESCRIPTOR_READ, &r);
		if (r8(&r, 0) != 0) {
			snprintf(wasi_err, sizeof wasi_err, "open-at %s: filesystem error-code %u", rel, r8(&r, 4));
			return NULL;
		}
		handle fd = r32(&r, 4);
		uint8_t *buf = NULL;
		*len = 0;
		for (;;) {
			/* result<tuple<list<u8>, bool>, error-code>: list at 4,
			 * end-of-file at 12. */
			memset(&r, 0, sizeof r);
			descriptor_read(fd, 64 << 10, *len, &r);
			if (r8(&r, 0) != 0) {
				snprintf(wasi_err, sizeof wasi_err, "read %s: filesystem error-code %u", rel, r8(&r, 4));
				descriptor_drop(fd);
				free(buf);
				return NULL;
			}
			uint32_t n = r32(&r, 8);
			uint8_t *p = (uint8_t *)(uintptr_t)r32(&r, 4);
			buf = realloc(buf, *len + n + 1);
			memcpy(buf + *len, p, n);
			*len += n;
			if (n)
				free(p);
			if (r8(&r, 12) || n == 0)
				break;
		}
		descriptor_drop(fd);
		return buf;
	}
	snprintf(wasi_err, sizeof wasi_err, "no preopened directory holds %s", path);
	return NULL;
}

/* copy_response moves the response from t to stdout without blocking on
 * either: it reads ahead (up to 256 KiB) while stdout cannot take more,
 * so one poll waits on the TLS input and stdout together (both streams
 * are in the guest's one table). -1 on failure. */
static int copy_response(tls_conn *t) {
	enum { AHEAD = 256 << 10 };
	handle p_in = input_subscribe(t->in), p_out = output_subscribe(out);
	uint8_t *buf = malloc(AHEAD), *b;
	size_t n = 0, got;
	int eof = 0, rc = 0;
	while (!eof || n > 0) {
		int progress = 0;
		if (!eof && n < AHEAD) {
			int r = stream_read(t->in, AHEAD - n, &b, &got);
			if (r == -2) {
				eof = progress = 1;
			} else if (r < 0) {
				rc = -1;
				break;
			} else if (got > 0) {
				memcpy(buf + n, b, got);
				free(b);
				n += got;
				progress = 1;
			}
		}
		if (n > 0) {
			uint8_t *p = buf;
			size_t left = n;
			int w = write_some(out, &p, &left);
			if (w < 0)
				cli_exit(1); /* stdout is gone: nowhere to say why */
			memmove(buf, p, left);
			n = left;
			progress |= w;
		}
		if (progress)
			continue;
		handle wait[2];
		size_t k = 0;
		if (!eof && n < AHEAD)
			wait[k++] = p_in;
		if (n > 0)
			wait[k++] = p_out;
		poll_any(wait, k);
	}
	free(buf);
	pollable_drop(p_in);
	pollable_drop(p_out);
	return rc;
}

int main(void) {
	out = get_stdout();
	prints("hello from cworld\n");

	str v = getenv02("GREETING");
	if (!v.p) {
		fail_text("not set");
		fail("GREETING");
	}
	prints("GREETING=");
	print(v.p, v.n);
	prints("\n");

	size_t n;
	uint8_t *file = read_file("/data/hello.txt", &n);
	if (!file)
		fail("/data/hello.txt");
	prints("/data/hello.txt: ");
	print(file, n);
	prints("\n");
	free(file);

	/* get-arguments: list<string>; the URL is the one after argv[0]. */
	ret_area r = {0};
	get_arguments(&r);
	const str *args = (const str *)(uintptr_t)r32(&r, 0);
	if (r32(&r, 4) != 2) {
		fail_text("want one argument, https://HOST:PORT/PATH");
		fail("usage");
	}
	char url[512], host[256], path[256];
	snprintf(url, sizeof url, "%.*s", (int)args[1].n, args[1].p);
	unsigned port;
	int used = 0;
	if (sscanf(url, "https://%255[^:/]:%u%n", host, &port, &used) != 2 || port > 65535) {
		fail_text(url);
		fail("not https://HOST:PORT/PATH");
	}
	snprintf(path, sizeof path, "%s", url[used] ? url + used : "/");

	handle net = instance_network();
	tls_conn t;
	if (https_request(net, host, (uint16_t)port, path, host, strlen(host), "cworld", &t) < 0 || copy_response(&t) < 0)
		fail(url);
	tls_close(&t);
	network_drop(net);
	/* The WIT: dropping a stream with a write in progress may lose it. */
	if (stream_blocking_flush(out) < 0)
		cli_exit(1);
	cli_exit(0);
}
