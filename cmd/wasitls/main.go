// Command wasitls runs WebAssembly guests (core modules such as Go's
// GOOS=wasip1, and WASI 0.2 command components) with wasi-tls, wasi-sockets
// and wasi-clocks on wazero, with a TLS backend chosen by flag or by build
// tag; a guest may also serve TLS with certificates the host holds.
//
//	go run ./cmd/wasitls demo                      # no setup, no network
//	go run ./cmd/wasitls demo -serve               # a guest serving HTTPS
//	wasitls backends                                # compiled-in backends
//	wasitls run -allow 'example.com:443' -v guest.wasm https://example.com/
//	wasitls run -listen 127.0.0.1:8443 -server-cert C -server-key K server.wasm
//	wasitls bench -quick                            # guest vs native Go
//	wasitls version                                 # module, Go, wazero, backends
//	wasitls cache size                              # compiled guests kept on disk
//
// Build tags pick the backends linked in (see backends/builtin):
//
//	go build -tags no_utls ./cmd/wasitls            # without refraction-networking/utls
//	go build -tags no_pq ./cmd/wasitls              # without cloudflare/circl
//	go build -tags default_utls ./cmd/wasitls       # utls is the default backend
//
// Exit codes: the guest's own exit code; 2 for a bad command line or a
// missing file; 134 when the guest traps (as wasmtime does); 124 when
// -timeout expires; 130 on SIGINT and 143 on SIGTERM; 1 for other failures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	_ "github.com/wasitls/wasitls/backends/builtin" // backends chosen by build tag
)

const (
	exitFailure = 1
	exitUsage   = 2
	exitTimeout = 124
	exitSignal  = 130 // interrupted (128 + SIGINT); SIGTERM gives 143
	exitTrap    = 134
)

func main() {
	ctx, stop := notifySignals(context.Background())
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, callable in-process by tests.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, nil, stdout, stderr)
}

// commands are the subcommands, in the order usage lists them.
var commands = []string{"run", "backends", "demo", "bench", "cache", "version"}

const usageText = `usage:
  wasitls run [flags] GUEST.wasm [guest args]   run a guest (wasitls run -h for flags)
  wasitls backends                              list compiled-in backends and fingerprints
  wasitls demo [-backend NAME] [-v]             fetch a page from a loopback HTTPS server with every backend
  wasitls bench [-quick] [-json] [-benchfmt]    guest TLS next to native crypto/tls: throughput, handshakes, memory
  wasitls cache size|clean [-cache-dir DIR]     the compiled-guest cache (` + "`wasitls cache -h`" + `)
  wasitls version                               module, Go, wazero and backend versions of this binary

Each command takes -h.
` + exitCodesText

const runUsage = `wasitls run [flags] GUEST.wasm [guest args]

Runs GUEST.wasm, a wasip1 core module or a WASI 0.2 command component (one
component made by wit-component: jco, componentize-js, wasm32-wasip2), with
wasi-tls, wasi-sockets and wasi-clocks. The guest may connect only where
-allow says. The first run of
a guest compiles it to native code (seconds for a large guest) and caches
the result (-cache-dir, -no-cache; wasitls cache).

flags:`

// exitCodesText is part of every command's -h.
const exitCodesText = `
exit codes:
  0..255  run: the guest's own exit code
  1       failure (a demo or bench step, a guest that could not start)
  2       bad command line, flag or file (one line on stderr names it)
  124     run -timeout expired
  130     interrupted by SIGINT (143 for SIGTERM): the guest is stopped, its connections closed
  134     the guest trapped (as wasmtime does)
`

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	code := 0
	switch args[0] {
	case "run":
		code, err = runCommand(ctx, args[1:], stdin, stdout, stderr)
	case "backends":
		err = backendsCommand(args[1:], stdout)
	case "demo":
		code, err = demoCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		code, err = benchCommand(ctx, args[1:], stdout, stderr)
	case "cache":
		err = cacheCommand(args[1:], stdout)
	case "version":
		err = versionCommand(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		err = usagef("unknown command %q (want %s; wasitls -h for usage)", args[0], strings.Join(commands, ", "))
	}
	if code != 0 && code != exitUsage {
		var in interrupted
		if errors.As(context.Cause(ctx), &in) {
			code = in.exitCode() // whatever failed, a signal stopped it
		}
	}
	var ue *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "wasitls: %s\n", ue.msg)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "wasitls: %v\n", err)
		if code == 0 {
			code = exitFailure
		}
	}
	return code
}
