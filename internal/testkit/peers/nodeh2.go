package peers

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeH2 is a Node.js HTTP/2-only server (http2.createSecureServer, no
// HTTP/1.1 fallback): it prints "PORT n", answers every request with
// "hello from node over HTTP/<version> alpn=<protocol>" and quits when its
// stdin closes.
const nodeH2 = `
const http2 = require('http2'), fs = require('fs');
const [certFile, keyFile] = process.argv.slice(2);
const srv = http2.createSecureServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile)}, (req, res) => {
  res.end('hello from node over HTTP/' + req.httpVersion + ' alpn=' + req.stream.session.alpnProtocol + '\n');
});
srv.on('sessionError', () => {});
srv.listen(0, '127.0.0.1', () => console.log('PORT ' + srv.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`

// NodeH2 starts Node 26's HTTP/2 server on 127.0.0.1 with the PEM files
// certFile (the chain) and keyFile, for the test's lifetime, and returns
// its port. It skips t without Node 26 (fails it under CI=true).
func NodeH2(t testing.TB, certFile, keyFile string) string {
	t.Helper()
	node := Node26(t)
	script := filepath.Join(t.TempDir(), "h2.js")
	if err := os.WriteFile(script, []byte(nodeH2), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := Start(t, exec.Command(node, script, certFile, keyFile))
	sc := bufio.NewScanner(stdout)
	if sc.Scan() {
		if port, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
			return port
		}
	}
	t.Fatalf("node did not start: %q\n%s", sc.Text(), stderr)
	return ""
}
