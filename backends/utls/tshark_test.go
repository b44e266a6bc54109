package utls

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestTSharkJA3 checks our ClientHellos with a parser that owes nothing to
// this repository: tshark captures one loopback session with five
// handshakes (one per fingerprint, told apart by client port) and its
// tls.handshake.ja3 must equal the expected JA3 of each.
func TestTSharkJA3(t *testing.T) {
	tshark := peers.TShark(t)
	names := []string{"firefox", "safari", "ios", "edge", "golang"}

	pk := pki.New(t)
	s := startServer(t, pk, nil)
	_, port, _ := net.SplitHostPort(s.addr)
	pcap := filepath.Join(t.TempDir(), "hellos.pcap")

	// -P -l prints a summary line per packet as it is captured, which is
	// how the test knows the capture is live and complete without sleeping.
	cmd := exec.Command(tshark, "-i", "lo", "-f", "tcp port "+port, "-w", pcap, "-P", "-l")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
		}
	}
	defer stop()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()

	// tshark says "Capturing on" before dumpcap really captures, so probe
	// with bare TCP connections until one shows up in its output.
	live := false
	for attempt := 0; attempt < 150 && !live; attempt++ {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
		}
		select {
		case _, ok := <-lines:
			if !ok {
				t.Fatalf("tshark exited:\n%s", log.String())
			}
			live = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !live {
		t.Fatalf("tshark captured none of 150 probe connections:\n%s", log.String())
	}

	p := newProvider(t, WithALPN(ALPNFingerprint))
	byPort := map[string]string{}
	for _, name := range names {
		c, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		roundTrip(t, c)
		c.Close()
		_, lport, _ := net.SplitHostPort(local)
		byPort[lport] = name
	}
	// Wait until tshark has dissected all the ClientHellos, then stop it.
	hellos := 0
	deadline := time.After(30 * time.Second)
	for hellos < len(names) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tshark exited after %d ClientHellos:\n%s", hellos, log.String())
			}
			if strings.Contains(l, "Client Hello") {
				hellos++
			}
		case <-deadline:
			t.Fatalf("tshark showed %d of %d ClientHellos in 30s", hellos, len(names))
		}
	}
	stop()
	for range lines { // let the reader finish
	}

	out, err := exec.Command(tshark, "-r", pcap, "-Y", "tls.handshake.type==1", "-T", "fields",
		"-e", "tcp.srcport", "-e", "tls.handshake.ja3").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\ncapture log:\n%s", err, log.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			got[byPort[f[0]]] = f[1]
		}
	}
	for _, name := range names {
		want := fingerprintTable[name].ja3
		switch {
		case got[name] == "":
			t.Errorf("%s: tshark saw no ClientHello (output %q)", name, out)
		case got[name] != want:
			t.Errorf("%s: tshark JA3 %s, want %s", name, got[name], want)
		default:
			t.Logf("%-8s tshark JA3 %s", name, got[name])
		}
	}
	if st, err := os.Stat(pcap); err == nil {
		t.Logf("capture: %d bytes", st.Size())
	}
}
