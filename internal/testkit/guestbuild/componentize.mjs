// Builds a JavaScript guest into a component with componentize-js, against
// jco's WASI 0.2.12 WIT, the project's wasi-tls WIT (wit/: upstream's
// signatures, restated on wasi:io@0.2.12 and without its feature gates) and
// the guest's world.wit.
//
//	node componentize.mjs CJS_PACKAGE_DIR JCO_DIR WIT_DIR GUEST_DIR WORLD OUT.wasm
//
// The WIT directory is assembled here and handed to componentize-js as a
// path. jco's bindings for wasi:sockets/network call a `noop` method on
// the network resource, so the resource gets one (the host answers it).
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [cjsDir, jcoDir, witDir, guestDir, world, out] = process.argv.slice(2);
const { componentize } = await import(pathToFileURL(join(cjsDir, "src", "componentize.js")).href);
const wit = await mkdtemp(join(tmpdir(), "wasitls-jsguest-wit-"));
try {
  await cp(join(guestDir, "world.wit"), join(wit, "world.wit"));
  const builtin = join(jcoDir, "lib", "wit", "builtin");
  for (const p of ["wasi-cli", "wasi-clocks", "wasi-filesystem", "wasi-io", "wasi-random", "wasi-sockets"]) {
    await cp(join(builtin, "0.2.12", p), join(wit, "deps", p), { recursive: true });
  }
  await mkdir(join(wit, "deps", "wasi-tls"));
  for (const f of ["types.wit", "world.wit"]) {
    const tls = (await readFile(join(witDir, f), "utf8"))
      .replaceAll("@0.2.6", "@0.2.12")
      .replace(/@unstable\(feature = tls\)/g, "");
    await writeFile(join(wit, "deps", "wasi-tls", f), tls);
  }
  const sockets = join(wit, "deps", "wasi-sockets", "package.wit");
  const src = await readFile(sockets, "utf8");
  if (!src.includes("resource network;")) throw new Error("no `resource network;` in " + sockets);
  await writeFile(sockets, src.replace("resource network;", "resource network {\n        noop: func();\n    }"));
  const { component } = await componentize({
    sourcePath: join(guestDir, "main.js"),
    witPath: wit,
    worldName: world,
    disableFeatures: ["http", "fetch-event"],
  });
  await writeFile(out, component);
} finally {
  await rm(wit, { recursive: true, force: true });
}
