// Turns a core module into a component as a component toolchain does:
// jco's componentEmbed (the WIT world as a custom section) and componentNew
// with jco's real wasi_snapshot_preview1 command adapter.
//
//	node componentnew.mjs JCO_DIR WIT_FILE WORLD IN.wasm OUT.wasm
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [jcoDir, witFile, world, input, output] = process.argv.slice(2);
const jco = await import(pathToFileURL(join(jcoDir, "dist", "api.js")).href);
const embedded = await jco.componentEmbed({
  binary: new Uint8Array(await readFile(input)),
  witSource: await readFile(witFile, "utf8"),
  world,
  features: { tag: "all" },
});
const adapter = await readFile(join(jcoDir, "lib", "wasi_snapshot_preview1.command.wasm"));
await writeFile(output, await jco.componentNew(embedded, [["wasi_snapshot_preview1", adapter]]));
