package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

// cliChildEnv makes the test binary the CLI itself (main, with the
// arguments it was started with), for tests that need a real process.
const cliChildEnv = "WASITLS_TEST_CLI_CHILD"

func init() {
	if os.Getenv(cliChildEnv) == "1" {
		main()
	}
}

// TestHelp checks that every command takes -h: usage on stdout, exit
// code 0, and the exit codes listed.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"run", "-h"}, {"backends", "-h"}, {"demo", "-h"},
		{"bench", "-h"}, {"cache", "-h"}, {"cache", "size", "-h"}, {"cache", "clean", "-h"}, {"version", "-h"}} {
		r := runCLI(t, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%q: exit code %d, stderr %q; want 0 and nothing", args, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "usage:") || !strings.Contains(r.stdout, "exit codes:") || !strings.Contains(r.stdout, "\n  134 ") {
			t.Errorf("%q: stdout is not usage with the exit codes:\n%s", args, r.stdout)
		}
	}
	// The top-level usage names every command.
	r := runCLI(t, "-h")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "wasitls "+c) {
			t.Errorf("usage does not mention %s", c)
		}
	}
}

// TestUnknownCommand checks that the complaint lists every command.
func TestUnknownCommand(t *testing.T) {
	r := runCLI(t, "frobnicate")
	if r.code != exitUsage {
		t.Errorf("exit code %d, want %d", r.code, exitUsage)
	}
	for _, c := range commands {
		if !strings.Contains(r.stderr, c) {
			t.Errorf("stderr %q does not name the command %s", r.stderr, c)
		}
	}
	if !slices.Contains(commands, "bench") {
		t.Errorf("commands %v lack bench", commands)
	}
}

// TestDurationFlags checks every duration flag of run: a bare number is
// refused with what to write instead, and a duration is taken.
func TestDurationFlags(t *testing.T) {
	dir := t.TempDir()
	guest := dir + "/exit.wasm"
	if err := os.WriteFile(guest, exitModule(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var o runOptions
	var names []string
	runFlags(&o).VisitAll(func(f *flag.Flag) {
		if fmt.Sprintf("%T", f.Value) == "*flag.durationValue" {
			t.Errorf("-%s is a flag.Duration, whose error says only \"parse error\": use durationVar", f.Name)
		}
		if _, ok := f.Value.(durationFlag); ok {
			names = append(names, f.Name)
		}
	})
	if len(names) < 2 {
		t.Fatalf("duration flags %v, want -timeout and -handshake-timeout at least", names)
	}
	for _, name := range names {
		r := runCLI(t, "run", "-"+name, "5", guest)
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 ||
			!strings.Contains(r.stderr, `invalid value "5" for flag -`+name+": want a duration like 5s") {
			t.Errorf("-%s 5: exit code %d, stderr %q", name, r.code, r.stderr)
		}
		if r := runCLI(t, "run", "-"+name, "5s", guest); r.code != 0 {
			t.Errorf("-%s 5s: exit code %d, stderr %q", name, r.code, r.stderr)
		}
	}
}

// TestBackendsReadable checks that `wasitls backends` fits in 80 columns
// and still lists every fingerprint.
func TestBackendsReadable(t *testing.T) {
	r := runCLI(t, "backends")
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if len(line) > 80 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	listed := strings.NewReplacer(",", " ", "\n", " ").Replace(r.stdout)
	for _, name := range wapi.Names() {
		p, _ := wapi.Lookup(name)
		fp, ok := p.(wapi.Fingerprinter)
		if !ok {
			continue
		}
		for _, f := range fp.Fingerprints() {
			if !strings.Contains(listed, " "+f+" ") {
				t.Errorf("%s fingerprint %s not listed", name, f)
			}
		}
	}
}

// startCLI runs the CLI as a child process (this test binary, see
// cliChildEnv) and returns it with its stdout; stderr goes to errb.
func startCLI(t *testing.T, errb *guestrun.Buffer, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), cliChildEnv+"=1")
	cmd.Stderr = errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, bufio.NewReader(out)
}

// TestSignals sends SIGTERM and SIGINT to a real `wasitls run` process:
// a guest spinning in its own code, and a guest waiting in the host for a
// TLS server that never answers. Each must stop promptly with 128+signal,
// say so in one line, and close the guest's connection.
func TestSignals(t *testing.T) {
	guest := guestFile(t, testGuestSrc)
	demo := guestFile(t, demoGuestSrc)

	// A TLS server that accepts and never answers: the guest's handshake
	// waits in the host until the signal.
	p := pki.New(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")

	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{{"SIGTERM", syscall.SIGTERM, 143}, {"SIGINT", syscall.SIGINT, 130}} {
		t.Run(tc.name+"/spin", func(t *testing.T) {
			var errb guestrun.Buffer
			cmd, out := startCLI(t, &errb, "run", "-q", guest, "spin") // -q: a first compile would add lines
			if line, err := out.ReadString('\n'); line != "spinning\n" {
				t.Fatalf("guest did not start: %q, %v; stderr %q", line, err, errb.String())
			}
			checkStops(t, cmd, tc.sig, tc.code, &errb)
		})
		t.Run(tc.name+"/waiting", func(t *testing.T) {
			var errb guestrun.Buffer
			cmd, _ := startCLI(t, &errb, "run", "-q", "-ca", caFile, "-allow", "127.0.0.1:"+port, demo, "https://localhost:"+port+"/")
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}()
			var c net.Conn
			select {
			case c = <-accepted:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the guest did not connect; stderr %q", errb.String())
			}
			if c == nil {
				t.Fatal("accept failed")
			}
			defer c.Close()
			// The ClientHello arrives: the guest now waits in the host.
			if _, err := c.Read(make([]byte, 5)); err != nil {
				t.Fatalf("no ClientHello: %v", err)
			}
			checkStops(t, cmd, tc.sig, tc.code, &errb)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Errorf("the guest's connection was not closed after the signal: %v", err)
			}
		})
	}
}

func checkStops(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, code int, errb *guestrun.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != code {
			t.Errorf("after %v: %v, want exit code %d", sig, err, code)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running 20s after %v", sig)
	}
	stderr := errb.String()
	if want := "interrupted (" + signalName(sig) + ")\n"; strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr %q, want one line ending %q", stderr, want)
	}
}
