package pq

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq/pqproof"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// nodeServers is a Node.js 26 (OpenSSL 3.5) program that serves one TLS port
// per spec "name=group:proof", where proof is "none", "valid" (the ML-DSA-65
// proof of pqproof.WriteProof, made with Node's own crypto) or "forged" (signed over
// another exporter label). It prints the SPKI of its ML-DSA key, a line per
// port, then READY, and exits when its stdin closes.
const nodeServers = `
const tls = require('tls'), crypto = require('crypto'), fs = require('fs');
const [certFile, keyFile, ...specs] = process.argv.slice(2);
const cert = fs.readFileSync(certFile), key = fs.readFileSync(keyFile);
const ml = crypto.generateKeyPairSync('ml-dsa-65');
const spki = ml.publicKey.export({type: 'spki', format: 'der'});
console.log('KEY ' + spki.toString('base64'));
function proof(sock, label) {
  const ekm = sock.exportKeyingMaterial(32, label);
  const sig = crypto.sign(null, ekm, {key: ml.privateKey, context: Buffer.from('wasitls pq proof v1')});
  const n = Buffer.alloc(2), m = Buffer.alloc(2);
  n.writeUInt16BE(spki.length); m.writeUInt16BE(sig.length);
  return Buffer.concat([Buffer.from('WPQ1'), n, spki, m, sig]);
}
let ready = 0;
for (const spec of specs) {
  const [name, rest] = spec.split('='), [group, mode] = rest.split(':');
  const opts = {cert, key, ecdhCurve: group};
  if (group.includes('MLKEM')) opts.minVersion = 'TLSv1.3';
  const srv = tls.createServer(opts, (sock) => {
    sock.on('error', () => {});
    if (mode === 'valid') sock.write(Buffer.concat([proof(sock, 'EXPORTER-wasitls-pq-mldsa-proof'), Buffer.from('BANNER\n')]));
    if (mode === 'forged') sock.write(proof(sock, 'EXPORTER-not-the-proof-label'));
    sock.on('data', (d) => sock.write(d));
    sock.on('end', () => sock.end());
  });
  srv.on('tlsClientError', () => {});
  srv.listen(0, '127.0.0.1', () => {
    console.log('PORT ' + name + ' ' + srv.address().port);
    if (++ready === specs.length) console.log('READY');
  });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`

// startNode runs nodeServers and returns the ports by name and the pin of
// the ML-DSA key Node generated.
func startNode(t *testing.T, srv *pki.Cert, specs ...string) (map[string]string, pqproof.Pin) {
	t.Helper()
	node := peers.Node26(t)
	dir := t.TempDir()
	certFile, keyFile := srv.WriteFiles(t, dir, "server")
	script := filepath.Join(dir, "servers.js")
	if err := os.WriteFile(script, []byte(nodeServers), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{script, certFile, keyFile}, specs...)...)
	stdout, stderr := peers.Start(t, cmd) // it quits when its stdin closes
	ports := map[string]string{}
	var pin pqproof.Pin
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<16)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "KEY":
			der, err := base64.StdEncoding.DecodeString(f[1])
			if err != nil {
				t.Fatal(err)
			}
			// Parse Node's key through the PEM path an operator would use.
			pub, err := pqproof.ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			if err != nil {
				t.Fatalf("Node's ML-DSA-65 SubjectPublicKeyInfo: %v", err)
			}
			if pin, err = pqproof.PinOf(pub); err != nil || pin != pinOfDER(der) {
				t.Fatalf("our encoding of Node's key differs from Node's: %v", err)
			}
		case len(f) == 3 && f[0] == "PORT":
			ports[f[1]] = "127.0.0.1:" + f[2]
		case len(f) == 1 && f[0] == "READY":
			return ports, pin
		}
	}
	t.Fatalf("node exited before READY: %v\n%s", sc.Err(), stderr.String())
	return nil, ""
}

func TestNode26(t *testing.T) {
	p := pki.New(t)
	start := time.Now()
	ports, nodePin := startNode(t, p.Server(),
		"X25519MLKEM768=X25519MLKEM768:none",
		"SecP256r1MLKEM768=SecP256r1MLKEM768:none",
		"SecP384r1MLKEM1024=SecP384r1MLKEM1024:none",
		"classical=X25519:none",
		"proof=X25519MLKEM768:valid",
		"proof-p384=SecP384r1MLKEM1024:valid",
		"forged=X25519MLKEM768:forged",
	)
	t.Logf("node ready after %v", time.Since(start))

	for _, g := range HybridGroups() {
		t.Run(api.GroupName(g), func(t *testing.T) {
			c, err := dial(t, mustNew(t), ports[api.GroupName(g)], clientConfig(p, nil))
			if err != nil {
				t.Fatal(err)
			}
			st := c.State()
			wantHRR := g != tls.X25519MLKEM768
			if st.Group != g || st.HelloRetryRequest != wantHRR {
				t.Fatalf("group %s HRR %v, want %s HRR %v", st.GroupName(), st.HelloRetryRequest, api.GroupName(g), wantHRR)
			}
			echo(t, c)
		})
	}
	t.Run("P-256 policy", func(t *testing.T) {
		opts := map[string]string{"groups": "SecP256r1MLKEM768"}
		if _, err := dial(t, mustNew(t), ports["SecP256r1MLKEM768"], clientConfig(p, opts)); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, mustNew(t), ports["X25519MLKEM768"], clientConfig(p, opts)); !errors.Is(err, api.ErrPQRequired) {
			t.Fatalf("got %v, want PQ required", err)
		}
	})
	t.Run("classical server", func(t *testing.T) {
		if _, err := dial(t, mustNew(t), ports["classical"], clientConfig(p, nil)); !errors.Is(err, api.ErrPQRequired) {
			t.Fatalf("require: got %v, want PQ required", err)
		}
		c, err := dial(t, mustNew(t), ports["classical"], clientConfig(p, map[string]string{"mode": "prefer"}))
		if err != nil {
			t.Fatal(err)
		}
		if g := c.State().Group; g != tls.X25519 {
			t.Fatalf("prefer: group %s", api.GroupName(g))
		}
	})
	for _, name := range []string{"proof", "proof-p384"} {
		t.Run("ML-DSA proof from Node "+name, func(t *testing.T) {
			c, err := dial(t, mustNew(t), ports[name], clientConfig(p, map[string]string{"mldsa-pins": string(nodePin)}))
			if err != nil {
				t.Fatal(err)
			}
			if c.(*Conn).ProvenPin() != nodePin || !api.IsHybridPQ(c.State().Group) {
				t.Fatalf("pin %q group %s", c.(*Conn).ProvenPin(), c.State().GroupName())
			}
			readBanner(t, c)
		})
	}
	t.Run("ML-DSA proof from Node, other pin", func(t *testing.T) {
		_, _, other := genKey(t, mldsa65.Scheme())
		_, err := dial(t, mustNew(t), ports["proof"], clientConfig(p, map[string]string{"mldsa-pins": string(other)}))
		wantProofError(t, err, pqproof.ErrPinMismatch)
	})
	t.Run("forged ML-DSA proof from Node", func(t *testing.T) {
		_, err := dial(t, mustNew(t), ports["forged"], clientConfig(p, map[string]string{"mldsa-pins": string(nodePin)}))
		wantProofError(t, err, pqproof.ErrBadProof)
	})
}

// pinOfDER is a pin as the pq documentation defines it, "sha256/" and the
// base64 of the SHA-256 of the SubjectPublicKeyInfo, written out here so the
// test does not trust pqproof's own encoding.
func pinOfDER(der []byte) pqproof.Pin {
	sum := sha256.Sum256(der)
	return pqproof.Pin("sha256/" + base64.StdEncoding.EncodeToString(sum[:]))
}
