//! The WASI 0.2 imports this guest uses, as core functions, and the
//! canonical ABI to call them: written here from the WIT, on purpose not
//! generated and not shared with any other guest. wasi:io and wasi:sockets
//! are imported at 0.2.0 (the version wasi-libc imports); the host serves
//! every 0.2.x.
//!
//! Every resource is a u32 handle in a type whose Drop calls the
//! resource-drop import. Results come back through a return area; the
//! offsets are those of the canonical ABI's layout of each result type.

use std::fmt;
use std::net::IpAddr;

#[link(wasm_import_module = "wasi:io/error@0.2.0")]
extern "C" {
    #[link_name = "[method]error.to-debug-string"]
    fn error_to_debug_string(this: u32, ret: *mut u8);
    #[link_name = "[resource-drop]error"]
    fn error_drop(this: u32);
}

#[link(wasm_import_module = "wasi:io/poll@0.2.0")]
extern "C" {
    #[link_name = "[method]pollable.block"]
    fn pollable_block(this: u32);
    #[link_name = "poll"]
    fn poll_list(ptr: *const u32, len: usize, ret: *mut u8);
    #[link_name = "[resource-drop]pollable"]
    fn pollable_drop(this: u32);
}

#[link(wasm_import_module = "wasi:io/streams@0.2.0")]
extern "C" {
    #[link_name = "[method]input-stream.read"]
    fn input_read(this: u32, len: u64, ret: *mut u8);
    #[link_name = "[method]input-stream.subscribe"]
    fn input_subscribe(this: u32) -> u32;
    #[link_name = "[resource-drop]input-stream"]
    fn input_drop(this: u32);
    #[link_name = "[method]output-stream.check-write"]
    fn output_check_write(this: u32, ret: *mut u8);
    #[link_name = "[method]output-stream.write"]
    fn output_write(this: u32, ptr: *const u8, len: usize, ret: *mut u8);
    #[link_name = "[method]output-stream.blocking-flush"]
    fn output_blocking_flush(this: u32, ret: *mut u8);
    #[link_name = "[method]output-stream.subscribe"]
    fn output_subscribe(this: u32) -> u32;
    #[link_name = "[resource-drop]output-stream"]
    fn output_drop(this: u32);
}

#[link(wasm_import_module = "wasi:sockets/instance-network@0.2.0")]
extern "C" {
    #[link_name = "instance-network"]
    fn instance_network() -> u32;
}

#[link(wasm_import_module = "wasi:sockets/network@0.2.0")]
extern "C" {
    #[link_name = "[resource-drop]network"]
    fn network_drop(this: u32);
}

#[link(wasm_import_module = "wasi:sockets/ip-name-lookup@0.2.0")]
extern "C" {
    #[link_name = "resolve-addresses"]
    fn resolve_addresses(net: u32, ptr: *const u8, len: usize, ret: *mut u8);
    #[link_name = "[method]resolve-address-stream.resolve-next-address"]
    fn resolve_next_address(this: u32, ret: *mut u8);
    #[link_name = "[method]resolve-address-stream.subscribe"]
    fn resolve_subscribe(this: u32) -> u32;
    #[link_name = "[resource-drop]resolve-address-stream"]
    fn resolve_drop(this: u32);
}

#[link(wasm_import_module = "wasi:sockets/tcp-create-socket@0.2.0")]
extern "C" {
    #[link_name = "create-tcp-socket"]
    fn create_tcp_socket(family: u32, ret: *mut u8);
}

#[link(wasm_import_module = "wasi:sockets/tcp@0.2.0")]
extern "C" {
    // The ip-socket-address variant flattens to a discriminant and the
    // eleven slots of its larger case (ipv6: port, flow-info, 8 segments,
    // scope-id); the ipv4 case uses the first five.
    #[link_name = "[method]tcp-socket.start-connect"]
    #[rustfmt::skip]
    fn tcp_start_connect(
        this: u32, net: u32, tag: u32,
        a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32, a6: u32, a7: u32, a8: u32, a9: u32, a10: u32,
        ret: *mut u8,
    );
    #[link_name = "[method]tcp-socket.finish-connect"]
    fn tcp_finish_connect(this: u32, ret: *mut u8);
    #[link_name = "[method]tcp-socket.subscribe"]
    fn tcp_subscribe(this: u32) -> u32;
    #[link_name = "[method]tcp-socket.shutdown"]
    fn tcp_shutdown(this: u32, how: u32, ret: *mut u8);
    #[link_name = "[resource-drop]tcp-socket"]
    fn tcp_drop(this: u32);
}

#[link(wasm_import_module = "wasi:tls/types@0.2.0-draft")]
extern "C" {
    #[link_name = "[constructor]client-handshake"]
    fn client_handshake_new(ptr: *const u8, len: usize, input: u32, output: u32) -> u32;
    #[link_name = "[static]client-handshake.finish"]
    fn client_handshake_finish(this: u32) -> u32;
    #[link_name = "[method]client-connection.close-output"]
    fn client_connection_close_output(this: u32);
    #[link_name = "[resource-drop]client-connection"]
    fn client_connection_drop(this: u32);
    #[link_name = "[method]future-client-streams.subscribe"]
    fn future_subscribe(this: u32) -> u32;
    #[link_name = "[method]future-client-streams.get"]
    fn future_get(this: u32, ret: *mut u8);
    #[link_name = "[resource-drop]future-client-streams"]
    fn future_drop(this: u32);
}

/// An owned resource handle whose Drop calls the resource-drop import.
macro_rules! resource {
    ($name:ident, $drop:ident) => {
        pub struct $name(u32);

        impl Drop for $name {
            fn drop(&mut self) {
                unsafe { $drop(self.0) }
            }
        }
    };
}

/// The host allocates returned lists and strings in guest memory through
/// this export; the guest frees them with the same allocator.
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(old: *mut u8, old_size: usize, align: usize, new_size: usize) -> *mut u8 {
    use std::alloc::{alloc, realloc, Layout};
    if new_size == 0 {
        return align as *mut u8;
    }
    let p = if old_size == 0 {
        alloc(Layout::from_size_align_unchecked(new_size, align))
    } else {
        realloc(old, Layout::from_size_align_unchecked(old_size, align), new_size)
    };
    if p.is_null() {
        std::process::abort();
    }
    p
}

/// Takes ownership of a list<u8> the host allocated (align 1).
unsafe fn take_bytes(ptr: u32, len: u32) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize)
}

/// A return area: 8-aligned, larger than every result used here.
#[repr(C, align(8))]
struct Ret([u8; 32]);

impl Ret {
    fn new() -> Ret {
        Ret([0; 32])
    }
    fn ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr()
    }
    fn u8(&self, off: usize) -> u8 {
        self.0[off]
    }
    fn u16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.0[off], self.0[off + 1]])
    }
    fn u32(&self, off: usize) -> u32 {
        let b = &self.0[off..off + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn u64(&self, off: usize) -> u64 {
        (self.u32(off) as u64) | ((self.u32(off + 4) as u64) << 32)
    }
}

/// wasi:sockets/network error-code, in WIT order.
const ERROR_CODES: [&str; 21] = [
    "unknown",
    "access-denied",
    "not-supported",
    "invalid-argument",
    "out-of-memory",
    "timeout",
    "concurrency-conflict",
    "not-in-progress",
    "would-block",
    "invalid-state",
    "new-socket-limit",
    "address-not-bindable",
    "address-in-use",
    "remote-unreachable",
    "connection-refused",
    "connection-reset",
    "connection-aborted",
    "datagram-too-large",
    "name-unresolvable",
    "temporary-resolver-failure",
    "permanent-resolver-failure",
];
const WOULD_BLOCK: u8 = 8;

/// Every failure this guest reports, rendered as the relay protocol wants:
/// "tcp: <error-code>", the io-error's debug string, or "stream closed".
pub enum Error {
    Code(u8),
    Closed,
    Io(String),
    Text(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Code(c) => write!(f, "tcp: {}", ERROR_CODES.get(*c as usize).unwrap_or(&"unknown")),
            Error::Closed => f.write_str("stream closed"),
            Error::Io(s) | Error::Text(s) => f.write_str(s),
        }
    }
}

/// Turns an owned io-error handle into its debug string, dropping it.
fn io_error(h: u32) -> Error {
    let mut r = Ret::new();
    unsafe {
        error_to_debug_string(h, r.ptr());
        error_drop(h);
        let b = take_bytes(r.u32(0), r.u32(4));
        Error::Io(String::from_utf8_lossy(&b).into_owned())
    }
}

/// stream-error at off: case 0 last-operation-failed(error) with the handle
/// at off+4, case 1 closed.
fn stream_error(r: &Ret, off: usize) -> Error {
    match r.u8(off) {
        0 => io_error(r.u32(off + 4)),
        _ => Error::Closed,
    }
}

resource!(Pollable, pollable_drop);

impl Pollable {
    pub fn block(&self) {
        unsafe { pollable_block(self.0) }
    }
}

/// Waits until at least one of ps is ready.
pub fn poll(ps: &[&Pollable]) {
    let handles: Vec<u32> = ps.iter().map(|p| p.0).collect();
    let mut r = Ret::new();
    unsafe {
        poll_list(handles.as_ptr(), handles.len(), r.ptr());
        // list<u32>: the host allocated 4*len bytes, 4-aligned.
        let (ptr, len) = (r.u32(0), r.u32(4) as usize);
        if len > 0 {
            drop(Vec::from_raw_parts(ptr as *mut u32, len, len));
        }
    }
}

resource!(Input, input_drop);

/// Decodes a result<T, stream-error> whose error case is at err_off.
fn stream_result<T>(r: &Ret, err_off: usize, ok: impl FnOnce(&Ret) -> T) -> Result<T, Error> {
    match r.u8(0) {
        0 => Ok(ok(r)),
        _ => Err(stream_error(r, err_off)),
    }
}

impl Input {
    /// read: result<list<u8>, stream-error>; ok: ptr at 4, len at 8.
    pub fn read(&self, len: u64) -> Result<Vec<u8>, Error> {
        let mut r = Ret::new();
        unsafe { input_read(self.0, len, r.ptr()) };
        stream_result(&r, 4, |r| unsafe { take_bytes(r.u32(4), r.u32(8)) })
    }
    pub fn subscribe(&self) -> Pollable {
        Pollable(unsafe { input_subscribe(self.0) })
    }
}

resource!(Output, output_drop);

impl Output {
    /// check-write: result<u64, stream-error>; the u64 is 8-aligned.
    pub fn check_write(&self) -> Result<u64, Error> {
        let mut r = Ret::new();
        unsafe { output_check_write(self.0, r.ptr()) };
        stream_result(&r, 8, |r| r.u64(8))
    }
    /// write: result<_, stream-error>.
    pub fn write(&self, b: &[u8]) -> Result<(), Error> {
        let mut r = Ret::new();
        unsafe { output_write(self.0, b.as_ptr(), b.len(), r.ptr()) };
        stream_result(&r, 4, |_| ())
    }
    pub fn blocking_flush(&self) -> Result<(), Error> {
        let mut r = Ret::new();
        unsafe { output_blocking_flush(self.0, r.ptr()) };
        stream_result(&r, 4, |_| ())
    }
    pub fn subscribe(&self) -> Pollable {
        Pollable(unsafe { output_subscribe(self.0) })
    }
}

resource!(Network, network_drop);

impl Network {
    pub fn instance() -> Network {
        Network(unsafe { instance_network() })
    }

    /// Resolves name (an IP literal comes back as itself), waiting on the
    /// stream's pollable while the lookup would block.
    pub fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, Error> {
        let mut r = Ret::new();
        let stream = unsafe {
            resolve_addresses(self.0, name.as_ptr(), name.len(), r.ptr());
            if r.u8(0) != 0 {
                return Err(Error::Code(r.u8(4)));
            }
            r.u32(4)
        };
        let p = Pollable(unsafe { resolve_subscribe(stream) });
        let mut out = Vec::new();
        // result<option<ip-address>, error-code>: the payload is 2-aligned,
        // so the option's tag is at 2, the address's tag at 4 and its
        // segments from 6.
        let res = loop {
            let mut r = Ret::new();
            unsafe { resolve_next_address(stream, r.ptr()) };
            if r.u8(0) != 0 {
                match r.u8(2) {
                    WOULD_BLOCK => {
                        p.block();
                        continue;
                    }
                    c => break Err(Error::Code(c)),
                }
            }
            if r.u8(2) == 0 {
                break Ok(());
            }
            out.push(match r.u8(4) {
                0 => IpAddr::from([r.u8(6), r.u8(7), r.u8(8), r.u8(9)]),
                _ => {
                    let mut s = [0u16; 8];
                    for (i, v) in s.iter_mut().enumerate() {
                        *v = r.u16(6 + 2 * i);
                    }
                    IpAddr::from(s)
                }
            });
        };
        drop(p);
        unsafe { resolve_drop(stream) };
        res.map(|_| out)
    }
}

resource!(Socket, tcp_drop);

impl Socket {
    /// Creates a socket of a's family and connects it, waiting on its
    /// pollable until finish-connect stops saying would-block.
    pub fn connect(net: &Network, a: IpAddr, port: u16) -> Result<(Socket, Input, Output), Error> {
        let mut r = Ret::new();
        let family = if a.is_ipv4() { 0 } else { 1 };
        let sock = unsafe {
            create_tcp_socket(family, r.ptr());
            if r.u8(0) != 0 {
                return Err(Error::Code(r.u8(4)));
            }
            Socket(r.u32(4))
        };
        let mut slots = [0u32; 11];
        slots[0] = port as u32;
        let tag = match a {
            IpAddr::V4(v4) => {
                for (i, o) in v4.octets().iter().enumerate() {
                    slots[1 + i] = *o as u32;
                }
                0
            }
            IpAddr::V6(v6) => {
                // slots[1] is flow-info, slots[10] scope-id: both 0.
                for (i, s) in v6.segments().iter().enumerate() {
                    slots[2 + i] = *s as u32;
                }
                1
            }
        };
        let mut r = Ret::new();
        let s = slots;
        #[rustfmt::skip]
        unsafe { tcp_start_connect(sock.0, net.0, tag, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], r.ptr()) };
        if r.u8(0) != 0 {
            return Err(Error::Code(r.u8(1)));
        }
        let p = Pollable(unsafe { tcp_subscribe(sock.0) });
        loop {
            let mut r = Ret::new();
            unsafe { tcp_finish_connect(sock.0, r.ptr()) };
            match (r.u8(0), r.u8(4)) {
                (0, _) => return Ok((sock, Input(r.u32(4)), Output(r.u32(8)))),
                (_, WOULD_BLOCK) => p.block(),
                (_, c) => return Err(Error::Code(c)),
            }
        }
    }

    /// shutdown: 0 receive, 1 send, 2 both.
    pub fn shutdown(&self, how: u32) -> Result<(), Error> {
        let mut r = Ret::new();
        unsafe { tcp_shutdown(self.0, how, r.ptr()) };
        match r.u8(0) {
            0 => Ok(()),
            _ => Err(Error::Code(r.u8(1))),
        }
    }
}

resource!(Conn, client_connection_drop);

impl Conn {
    pub fn close_output(&self) {
        unsafe { client_connection_close_output(self.0) }
    }
}

/// Hands input and output to the host and waits for the handshake's
/// outcome. name must be UTF-8 (a WIT string); the caller checks.
pub fn handshake(name: &[u8], input: Input, output: Output) -> Result<(Conn, Input, Output), Error> {
    let hs = unsafe { client_handshake_new(name.as_ptr(), name.len(), input.0, output.0) };
    // The constructor took ownership: the handles are the host's now.
    std::mem::forget(input);
    std::mem::forget(output);
    let fut = unsafe { client_handshake_finish(hs) };
    let p = Pollable(unsafe { future_subscribe(fut) });
    // option<result<result<tuple<conn, in, out>, io-error>>>: option tag at
    // 0, outer result tag at 4, inner result tag at 8, payload from 12.
    let res = loop {
        let mut r = Ret::new();
        unsafe { future_get(fut, r.ptr()) };
        if r.u8(0) == 0 {
            p.block();
            continue;
        }
        break match (r.u8(4), r.u8(8)) {
            (0, 0) => Ok((Conn(r.u32(12)), Input(r.u32(16)), Output(r.u32(20)))),
            (0, _) => Err(io_error(r.u32(12))),
            _ => Err(Error::Text("future-client-streams.get: outcome already taken".into())),
        };
    };
    drop(p);
    unsafe { future_drop(fut) };
    res
}
