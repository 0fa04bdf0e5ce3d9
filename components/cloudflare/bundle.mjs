// Bundles a worker's main module, the modules it imports and the npm packages they name, into one
// ES module, with esbuild. The same input and esbuild version give the same bytes on every
// machine (no source map, no timestamps, paths relative to the working directory), so the upload's
// content hash, and the worker's version, change only when the code does.
//
//   node components/cloudflare/bundle.mjs ENTRY OUTFILE   (run from the repository root)
//
// prints the files the bundle was made from, as a JSON list of paths relative to the working
// directory, so a caller knows when it must bundle again.
//
// Text and data modules (.json, .txt, ...) stay imports: the worker uploads them beside the
// bundle, under the same names. `node:` modules are the runtime's own (nodejs_compat).
import { realpathSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

// The flag the bundled SDK needs (AsyncLocalStorage, diagnostics_channel); the systems declare it.
export const COMPATIBILITY_FLAGS = ["nodejs_compat"];

export const BUILD_OPTIONS = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  // The Workers builds of packages first (Sentry's SDK, for one), as wrangler resolves them.
  conditions: ["workerd", "worker", "browser", "production"],
  mainFields: ["module", "main"],
  // Packages come from the project's node_modules (package-lock.json), wherever the module is.
  nodePaths: [fileURLToPath(new URL("../../node_modules", import.meta.url))],
  external: ["node:*", "*.json", "*.txt", "*.html", "*.sql", "*.bin", "*.wasm"],
  legalComments: "none",
  charset: "utf8",
  logLevel: "error",
};

export async function bundleWorker(entry, outfile) {
  const { metafile } = await build({ ...BUILD_OPTIONS, entryPoints: [entry], outfile, metafile: true });
  return Object.keys(metafile.inputs).sort();
}

// Run as a script (node resolves the symlinks of the path it was given; so does this test).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const [entry, outfile] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error("usage: node components/cloudflare/bundle.mjs ENTRY OUTFILE");
    process.exit(2);
  }
  try {
    console.log(JSON.stringify(await bundleWorker(entry, outfile)));
  } catch {
    // esbuild has printed what it could not resolve or parse.
    process.exit(1);
  }
}
