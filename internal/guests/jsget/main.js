// A JavaScript test guest, built into a component by componentize-js:
// an HTTPS GET over raw wasi:sockets and wasi:tls.
//
//	jsguest ADDRESS PORT PATH SERVERNAME      (ADDRESS: dotted IPv4)
//
// It prints the whole response on stdout; run's result is an error (exit
// code 1) on any failure, after "error: ..." on stderr.
import { getArguments } from "wasi:cli/environment@0.2.12";
import { getStdout } from "wasi:cli/stdout@0.2.12";
import { instanceNetwork } from "wasi:sockets/instance-network@0.2.12";
import { createTcpSocket } from "wasi:sockets/tcp-create-socket@0.2.12";
import { ClientHandshake } from "wasi:tls/types@0.2.0-draft";

// retry calls f until it stops failing with would-block, waiting on
// pollable() in between.
function retry(f, pollable) {
  for (;;) {
    try {
      return f();
    } catch (e) {
      if (e.payload !== "would-block") throw e;
      pollable().block();
    }
  }
}

function get(address, port, path, serverName) {
  const net = instanceNetwork();
  const sock = createTcpSocket("ipv4");
  sock.startConnect(net, {
    tag: "ipv4",
    val: { port, address: address.split(".").map(Number) },
  });
  const [input, output] = retry(() => sock.finishConnect(), () => sock.subscribe());
  const future = ClientHandshake.finish(new ClientHandshake(serverName, input, output));
  let res;
  while ((res = future.get()) === undefined) future.subscribe().block();
  if (res.tag !== "ok") throw new Error("tls: the handshake result was already taken");
  if (res.val.tag !== "ok") throw new Error(res.val.val.toDebugString());
  const [, tin, tout] = res.val.val;
  const req = `GET ${path} HTTP/1.1\r\nHost: ${serverName}\r\nConnection: close\r\n\r\n`;
  tout.blockingWriteAndFlush(new TextEncoder().encode(req));
  const stdout = getStdout();
  for (;;) {
    let chunk;
    try {
      chunk = tin.blockingRead(16384n);
    } catch (e) {
      if (e.payload && e.payload.tag === "closed") return;
      throw e;
    }
    // blocking-write-and-flush takes at most 4096 bytes.
    for (let i = 0; i < chunk.length; i += 4096) stdout.blockingWriteAndFlush(chunk.subarray(i, i + 4096));
  }
}

export const run = {
  run() {
    const [, address, port, path, serverName] = getArguments();
    try {
      get(address, Number(port), path, serverName);
    } catch (e) {
      const what = e.payload !== undefined ? `tcp: ${JSON.stringify(e.payload)}` : String(e.message || e);
      console.error(`error: ${what}`);
      throw e;
    }
  },
};
