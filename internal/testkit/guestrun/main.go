package guestrun

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

// MainOption configures Main.
type MainOption func(*mainConfig)

type mainConfig struct {
	build    []string
	cleanups []func()
	noFDs    bool
}

// Build builds these guest packages before the tests (and before the file
// descriptor baseline); build errors surface again in the tests.
func Build(pkgs ...string) MainOption {
	return func(c *mainConfig) { c.build = append(c.build, pkgs...) }
}

// Cleanup runs f after the tests and before the leak checks, e.g. to
// close a package's Env. Cleanups run in the order given.
func Cleanup(f func()) MainOption {
	return func(c *mainConfig) { c.cleanups = append(c.cleanups, f) }
}

// NoFDCheck turns off the file descriptor check, for packages whose tests
// leave descriptors open on purpose (say why where you use it).
func NoFDCheck() MainOption { return func(c *mainConfig) { c.noFDs = true } }

// Main runs the tests of a package and exits. If they pass, it fails the
// run when goroutines are left (goleak) or when the process has more open
// file descriptors than before the tests: every socket a guest opened must
// be closed with it.
func Main(m *testing.M, opts ...MainOption) {
	var c mainConfig
	for _, o := range opts {
		o(&c)
	}
	warmUp(c.build)
	before := openFDs()
	code := m.Run()
	for _, f := range c.cleanups {
		f()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
		if after := openFDs(); !c.noFDs && before >= 0 && after > before {
			fmt.Fprintf(os.Stderr, "open file descriptors: %d before the tests, %d after\n%s", before, after, describeFDs())
			code = 1
		}
	}
	os.Exit(code)
}

// warmUp makes the process create its long-lived descriptors (the network
// poller, os/exec's) before the baseline count, and builds the guests.
func warmUp(pkgs []string) {
	if ln, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	for _, pkg := range pkgs {
		guestbuild.BuildErr(pkg)
	}
	exec.Command("true").Run()
}

// openFDs counts this process's open file descriptors (-1 if unknown).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// describeFDs lists the open descriptors, for the failure message.
func describeFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		fmt.Fprintf(&b, "  fd %s -> %s\n", e.Name(), target)
	}
	return b.String()
}
