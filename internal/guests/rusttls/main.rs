//! rusttls is a test guest written in Rust against the raw WASI 0.2 imports,
//! with its own canonical-ABI code: it shares nothing with the Go guest
//! bindings (guest/), so a habit of theirs that the host depends on shows up
//! as a failure here. It writes the way wasi-libc's send() does:
//! check-write, then write, and never flush.
//!
//! Built by internal/testkit/guestbuild with Debian's rustc for wasm32-wasi (wasip1
//! std for the process, stdout and exit; WASI 0.2 for the network).
//!
//!     rusttls get HOST PORT PATH SERVERNAME
//!     rusttls relay TARGET-HOST TARGET-PORT RELAY-HOST RELAY-PORT SERVERNAME
//!
//! get: an HTTP/1.1 GET over TLS, the response copied to stdout until the
//! server closes. relay: the protocol of internal/guests/relay (see its
//! doc), so that the conformance suite runs through this guest.
//! A SERVERNAME of "hex:..." is given as its bytes in hex.

mod abi;

use abi::{Conn, Error, Input, Network, Output, Pollable, Socket};
use std::io::Write;
use std::process::exit;

const READ_CHUNK: u64 = 64 << 10;

fn usage(msg: &str) -> ! {
    eprintln!("usage: rusttls get HOST PORT PATH SERVERNAME | rusttls relay TARGET-HOST TARGET-PORT RELAY-HOST RELAY-PORT SERVERNAME: {}", msg);
    exit(2)
}

fn port(s: &str) -> u16 {
    s.parse().unwrap_or_else(|_| usage(&format!("bad port {}", s)))
}

/// The server name as bytes: "hex:" names carry bytes an argument cannot.
fn server_name(s: &str) -> Vec<u8> {
    match s.strip_prefix("hex:") {
        None => s.as_bytes().to_vec(),
        Some(h) => {
            if h.len() % 2 != 0 {
                usage("bad hex server name")
            }
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|_| usage("bad hex server name")))
                .collect()
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("get") if args.len() == 6 => get(&args[2], port(&args[3]), &args[4], &server_name(&args[5])),
        Some("relay") if args.len() == 7 => relay(
            &args[2],
            port(&args[3]),
            &args[4],
            port(&args[5]),
            &server_name(&args[6]),
        ),
        _ => usage("bad arguments"),
    }
}

fn fail(e: Error) -> ! {
    eprintln!("error: {}", e);
    exit(1)
}

/// A connected socket with its streams; the streams are dropped first.
struct Tcp {
    input: Input,
    output: Output,
    sock: Socket,
}

fn dial(net: &Network, host: &str, port: u16) -> Result<Tcp, Error> {
    let addrs = net.resolve(host)?;
    let mut last = Error::Code(18); // name-unresolvable
    for a in addrs {
        match Socket::connect(net, a, port) {
            Ok((sock, input, output)) => return Ok(Tcp { input, output, sock }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A TLS connection: the plaintext streams are children of conn and are
/// dropped before it, and conn before the socket (the transport streams
/// went to the host with the handshake).
struct Tls {
    input: Input,
    output: Output,
    conn: Conn,
    sock: Socket,
}

fn handshake(tcp: Tcp, name: &[u8]) -> Result<Tls, (Error, Socket)> {
    let Tcp { input, output, sock } = tcp;
    match abi::handshake(name, input, output) {
        Ok((conn, input, output)) => Ok(Tls { input, output, conn, sock }),
        Err(e) => Err((e, sock)),
    }
}

/// Writes all of b the way wasi-libc's send() does: check-write for a
/// permit, write that much, wait on the pollable when the permit is 0.
/// No flush: the WIT says write starts the write.
fn write_all(out: &Output, mut b: &[u8]) -> Result<(), Error> {
    let p = out.subscribe();
    while !b.is_empty() {
        let n = write_some(out, b)?;
        if n == 0 {
            p.block();
        }
        b = &b[n..];
    }
    Ok(())
}

/// Writes as much of b as check-write permits now, without waiting: the
/// number of bytes written (0 when the permit is 0).
fn write_some(out: &Output, b: &[u8]) -> Result<usize, Error> {
    let n = (out.check_write()? as usize).min(b.len());
    if n > 0 {
        out.write(&b[..n])?;
    }
    Ok(n)
}

fn get(host: &str, port: u16, path: &str, name: &[u8]) {
    let net = Network::instance();
    let tcp = dial(&net, host, port).unwrap_or_else(|e| fail(e));
    let tls = handshake(tcp, name).unwrap_or_else(|(e, _)| fail(e));
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rusttls\r\nConnection: close\r\n\r\n",
        path,
        String::from_utf8_lossy(name)
    );
    write_all(&tls.output, req.as_bytes()).unwrap_or_else(|e| fail(e));
    let p = tls.input.subscribe();
    let mut stdout = std::io::stdout();
    loop {
        match tls.input.read(READ_CHUNK) {
            Ok(b) if b.is_empty() => p.block(),
            Ok(b) => stdout.write_all(&b).expect("stdout"),
            Err(Error::Closed) => break,
            Err(e) => fail(e),
        }
    }
    stdout.flush().expect("stdout");
    drop(p);
    close(tls);
}

/// Drops a connection in the order the resources nest, after shutting the
/// socket down.
fn close(tls: Tls) {
    let Tls { input, output, conn, sock } = tls;
    drop(input);
    drop(output);
    drop(conn);
    let _ = sock.shutdown(2);
}

struct Relay {
    tcp: Tcp,
    to_relay: Vec<u8>, // framed bytes not yet written to the test
}

impl Relay {
    fn frame(&mut self, typ: u8, payload: &[u8]) {
        self.to_relay.push(typ);
        self.to_relay.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        self.to_relay.extend_from_slice(payload);
    }

    fn fail(mut self, e: Error) -> ! {
        self.frame(b'X', e.to_string().as_bytes());
        self.close();
        exit(0)
    }

    /// Writes what is left, then waits for a flush before the shutdown: the
    /// WIT warns that dropping a stream with a write in progress may lose it.
    fn close(mut self) {
        let pending = std::mem::take(&mut self.to_relay);
        if let Err(e) = write_all(&self.tcp.output, &pending).and_then(|_| self.tcp.output.blocking_flush()) {
            eprintln!("error: relay write: {}", e);
            exit(1)
        }
        let _ = self.tcp.sock.shutdown(2);
    }
}

fn relay(host: &str, port: u16, relay_host: &str, relay_port: u16, name: &[u8]) {
    let net = Network::instance();
    let rtcp = dial(&net, relay_host, relay_port).unwrap_or_else(|e| fail(e));
    let mut r = Relay { tcp: rtcp, to_relay: Vec::new() };
    // A WIT string is UTF-8 (the host traps on anything else): refuse such
    // a name here, before any network I/O, as the Go relay does.
    if std::str::from_utf8(name).is_err() {
        r.fail(Error::Text("tls: invalid configuration: server name is not valid UTF-8".into()));
    }
    let tcp = match dial(&net, host, port) {
        Ok(t) => t,
        Err(e) => r.fail(e),
    };
    let tls = match handshake(tcp, name) {
        Ok(t) => t,
        Err((e, sock)) => {
            drop(sock);
            r.fail(e)
        }
    };
    r.frame(b'H', &[]);
    run(&mut r, &tls);
    close(tls);
    r.close();
}

/// Relays until the TLS input ends or fails, never blocking one direction
/// while the other could move: each round tries every step and polls only
/// when none made progress.
fn run(r: &mut Relay, tls: &Tls) {
    let (p_rin, p_rout) = (r.tcp.input.subscribe(), r.tcp.output.subscribe());
    let (p_tin, p_tout) = (tls.input.subscribe(), tls.output.subscribe());
    let mut to_tls: Vec<u8> = Vec::new();
    let (mut relay_eof, mut close_sent, mut tls_done) = (false, false, false);
    loop {
        let mut progress = false;

        // Test -> TLS.
        if to_tls.is_empty() && !relay_eof && !tls_done {
            match r.tcp.input.read(READ_CHUNK) {
                Err(Error::Closed) => {
                    relay_eof = true;
                    progress = true
                }
                Err(e) => {
                    eprintln!("error: relay read: {}", e);
                    exit(1)
                }
                Ok(b) if !b.is_empty() => {
                    to_tls = b;
                    progress = true
                }
                Ok(_) => {}
            }
        }
        if !to_tls.is_empty() && !tls_done {
            match write_some(&tls.output, &to_tls) {
                Ok(0) => {}
                Ok(n) => {
                    to_tls.drain(..n);
                    progress = true
                }
                Err(e) => {
                    r.frame(b'X', e.to_string().as_bytes());
                    tls_done = true;
                    progress = true
                }
            }
        }
        if relay_eof && to_tls.is_empty() && !close_sent && !tls_done {
            tls.conn.close_output();
            close_sent = true;
            progress = true
        }

        // TLS -> test.
        if r.to_relay.is_empty() && !tls_done {
            match tls.input.read(READ_CHUNK) {
                Err(Error::Closed) => {
                    r.frame(b'E', &[]);
                    tls_done = true;
                    progress = true
                }
                Err(e) => {
                    r.frame(b'X', e.to_string().as_bytes());
                    tls_done = true;
                    progress = true
                }
                Ok(b) if !b.is_empty() => {
                    r.frame(b'D', &b);
                    progress = true
                }
                Ok(_) => {}
            }
        }
        if !r.to_relay.is_empty() {
            match write_some(&r.tcp.output, &r.to_relay) {
                Ok(0) => {}
                Ok(n) => {
                    r.to_relay.drain(..n);
                    progress = true
                }
                Err(e) => {
                    eprintln!("error: relay write: {}", e);
                    exit(1)
                }
            }
        }

        if tls_done && r.to_relay.is_empty() {
            return;
        }
        if progress {
            continue;
        }
        let mut wait: Vec<&Pollable> = Vec::new();
        if to_tls.is_empty() && !relay_eof && !tls_done {
            wait.push(&p_rin);
        }
        if !to_tls.is_empty() && !tls_done {
            wait.push(&p_tout);
        }
        if r.to_relay.is_empty() && !tls_done {
            wait.push(&p_tin);
        }
        if !r.to_relay.is_empty() {
            wait.push(&p_rout);
        }
        abi::poll(&wait);
    }
}
