package main

// The bench guest's side: starting guests and the line protocol they speak
// on stdin and stdout.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// guestRun is one bench guest running in the background.
type guestRun struct {
	lines chan string
	stdin *io.PipeWriter
	errb  bytes.Buffer
	done  chan error
}

// lineWriter turns the guest's stdout into lines on a channel.
type lineWriter struct {
	mu    sync.Mutex
	part  []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	eachLine(&w.part, p, func(l string) { w.lines <- l })
	return len(p), nil
}

// eachLine adds p to the partial line *part and calls line with every line
// that completes, without its newline.
func eachLine(part *[]byte, p []byte, line func(string)) {
	*part = append(*part, p...)
	for {
		i := bytes.IndexByte(*part, '\n')
		if i < 0 {
			return
		}
		s := string((*part)[:i])
		*part = (*part)[i+1:]
		line(s)
	}
}

func (b *bench) policy() *host.Policy {
	// TLS 1.3 only, as nativeConfig: both clients send the same hello.
	return &host.Policy{
		Allow:      []string{"127.0.0.1:" + strconv.Itoa(b.port)},
		RootCAs:    b.roots,
		MinVersion: tls.VersionTLS13,
		Limits:     host.Limits{Handles: 1 << 20, Connections: 1 << 16, Handshakes: 1 << 16},
	}
}

func (b *bench) startGuest(ctx context.Context, backend, mode string, n int64) (*guestRun, error) {
	return b.startNamedGuest(ctx, "", backend, mode, n)
}

func (b *bench) startNamedGuest(ctx context.Context, modName, backend, mode string, n int64) (*guestRun, error) {
	return b.startGuestModule(ctx, b.guest, modName, backend, mode, n)
}

// startGuestModule starts m, the bench guest or another form of it.
func (b *bench) startGuestModule(ctx context.Context, m guestModule, modName, backend, mode string, n int64) (*guestRun, error) {
	p, err := api.Lookup(backend)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	gr := &guestRun{lines: make(chan string, 16), stdin: pw, done: make(chan error, 1)}
	mc := host.NewModuleConfig().WithName(modName).
		WithArgs("benchguest", mode, "127.0.0.1", strconv.Itoa(b.port), "localhost", strconv.FormatInt(n, 10)).
		WithStdin(pr).WithStdout(&lineWriter{lines: gr.lines}).WithStderr(&gr.errb).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	go func() {
		opts := []host.Option{host.WithProvider(p), host.WithPolicy(b.policy())}
		if b.observer != nil {
			opts = append(opts, host.WithObserver(b.observer))
		}
		g, err := m.instantiate(ctx, b.h, mc, opts...)
		if g != nil {
			_ = g.Close(context.Background())
		}
		_ = pr.Close()
		gr.done <- err
		close(gr.lines)
	}()
	return gr, nil
}

// next returns the guest's next line, or why it ended.
func (gr *guestRun) next() (string, error) {
	l, ok := <-gr.lines
	if !ok {
		err := <-gr.done
		gr.done <- err
		return "", fmt.Errorf("bench guest ended (%v): %s", err, strings.TrimSpace(gr.errb.String()))
	}
	return l, nil
}

// expect reads lines until one starts with prefix.
func (gr *guestRun) expect(prefix string) (string, error) {
	for {
		l, err := gr.next()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(l, prefix) {
			return l, nil
		}
	}
}

func (gr *guestRun) step() error {
	_, err := gr.stdin.Write([]byte{'g'})
	return err
}

// wait ends stdin and waits for the guest to exit.
func (gr *guestRun) wait() error {
	_ = gr.stdin.Close()
	for range gr.lines {
	}
	err := <-gr.done
	gr.done <- err
	if err != nil {
		return fmt.Errorf("bench guest: %v: %s", err, strings.TrimSpace(gr.errb.String()))
	}
	return nil
}

// okFields runs a guest to its "ok N NS" line.
func (b *bench) okRun(ctx context.Context, backend, mode string, n int64) (count int64, d time.Duration, err error) {
	return b.okRunModule(ctx, b.guest, backend, mode, n)
}

// okRunModule is okRun with m.
func (b *bench) okRunModule(ctx context.Context, m guestModule, backend, mode string, n int64) (count int64, d time.Duration, err error) {
	gr, err := b.startGuestModule(ctx, m, "", backend, mode, n)
	if err != nil {
		return 0, 0, err
	}
	l, err := gr.expect("ok ")
	if err != nil {
		return 0, 0, err
	}
	if err := gr.wait(); err != nil {
		return 0, 0, err
	}
	f := strings.Fields(l)
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("bench guest: %q, want \"ok COUNT NS\"", l)
	}
	count, err1 := strconv.ParseInt(f[1], 10, 64)
	ns, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bench guest: %q, want \"ok COUNT NS\"", l)
	}
	return count, time.Duration(ns), nil
}
