// Command wasitls runs WebAssembly guests (GOOS=wasip1 core modules) with
// wasi-tls, wasi-sockets and wasi-clocks on wazero, with a TLS backend
// chosen by flag or by build tag.
//
//	go run ./cmd/wasitls demo                      # no setup, no network
//	wasitls backends                                # compiled-in backends
//	wasitls run -allow 'example.com:443' -v guest.wasm https://example.com/
//
// Build tags pick the backends linked in (see backends/builtin):
//
//	go build -tags no_utls ./cmd/wasitls            # without refraction-networking/utls
//	go build -tags no_pq ./cmd/wasitls              # without cloudflare/circl
//	go build -tags default_utls ./cmd/wasitls       # utls is the default backend
//
// Exit codes: the guest's own exit code; 2 for a bad command line or a
// missing file; 134 when the guest traps (as wasmtime does); 124 when
// -timeout expires; 130 when interrupted; 1 for other failures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	_ "github.com/wasitls/wasitls/backends/builtin" // backends chosen by build tag
)

const (
	exitFailure = 1
	exitUsage   = 2
	exitTimeout = 124
	exitSignal  = 130 // interrupted (128 + SIGINT)
	exitTrap    = 134
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, callable in-process by tests.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, nil, stdout, stderr)
}

const usageText = `usage:
  wasitls run [flags] GUEST.wasm [guest args]   run a guest (wasitls run -h for flags)
  wasitls backends                              list compiled-in backends and fingerprints
  wasitls demo [-backend NAME] [-v]             fetch a page from a loopback HTTPS server with every backend
  wasitls bench [-quick] [-json]                guest TLS next to native crypto/tls: throughput, handshakes, memory
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
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		err = usagef("unknown command %q (want run, backends or demo)", args[0])
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
