// Turns core modules into components against a WIT world with jco's
// componentEmbed + componentNew; prints one JSON line per module.
//
//	node check.mjs JCO_DIR WIT_FILE WORLD MODULE.wasm[=ADAPTER.wasm]...
//
// A module without an adapter gets jco's wasi_snapshot_preview1 command adapter.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [jcoDir, witFile, world, ...modules] = process.argv.slice(2);
const jco = await import(pathToFileURL(join(jcoDir, "dist", "api.js")).href);
const witSource = await readFile(witFile, "utf8");
const adapter = await readFile(join(jcoDir, "lib", "wasi_snapshot_preview1.command.wasm"));

for (const arg of modules) {
  const [path, adapterPath] = arg.split("=");
  const out = { module: path };
  try {
    const binary = new Uint8Array(await readFile(path));
    const embedded = await jco.componentEmbed({
      binary,
      witSource,
      world,
      features: { tag: "all" },
    });
    const a = adapterPath ? await readFile(adapterPath) : adapter;
    const component = await jco.componentNew(embedded, [["wasi_snapshot_preview1", a]]);
    out.ok = true;
    out.size = component.length;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.message ? e.message : e);
  }
  console.log(JSON.stringify(out));
}
