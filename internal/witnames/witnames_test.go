package witnames

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/wasitls/wasitls/internal/witnames/witparse"
)

// TestGeneratedIsCurrent: names_gen.go is what go generate makes of wit/
// now (run it after changing wit/).
func TestGeneratedIsCurrent(t *testing.T) {
	want, err := witparse.Generate("../../wit")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("names_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("names_gen.go is stale: run go generate ./internal/witnames")
	}
}

// The flattening rules, on functions written out by hand from the WIT.
func TestParams(t *testing.T) {
	sock := []string{"self", "network"} // then ip-socket-address's 12 values
	for i := range 12 {
		sock = append(sock, "remote-address-"+strconv.Itoa(i))
	}
	sock = append(sock, "ret-ptr")
	for _, c := range []struct {
		iface, fn string
		want      []string
	}{
		{IOStreams, OutputStreamWrite, []string{"self", "contents-ptr", "contents-len", "ret-ptr"}},
		{IOStreams, InputStreamRead, []string{"self", "len", "ret-ptr"}},
		{IOStreams, InputStreamSubscribe, []string{"self"}},
		{IOPoll, Poll, []string{"in-ptr", "in-len", "ret-ptr"}},
		{SocketsTCP, TCPSocketStartConnect, sock},
		{TLSTypes, NewClientHandshake, []string{"server-name-ptr", "server-name-len", "input", "output"}},
		{ClocksMonotonicClock, SubscribeDuration, []string{"when"}},
		{SocketsUDP, DropUDPSocket, []string{"self"}},
		{SocketsNetwork, NetworkNoop, []string{"self"}},
	} {
		if got := Params(c.iface, c.fn); !slices.Equal(got, c.want) {
			t.Errorf("%s#%s: %q, want %q", c.iface, c.fn, got, c.want)
		}
	}
	if Params(IOStreams, "[method]input-stream.no-such") != nil {
		t.Error("an unknown function has names")
	}
}

// A truncated or unknown WIT is an error, not a hang or a panic.
func TestParseErrors(t *testing.T) {
	for _, text := range []string{
		"package a:b@0.1.0;\ninterface i {\n  resource r {\n    f: func(x: u32",
		"package a:b@0.1.0;\ninterface i {\n  record r {\n    x: u32,",
		"package a:b@0.1.0;\ninterface i {\n  use j.{",
		"package a:b@0.1.0;\ninterface i {\n  f: func(x: no-such-type);\n}\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.wit"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := witparse.Load(dir); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}
