// Shared by the worker tests: the runtime settings every worker is deployed
// with, the real D1 migrations, and fakes for the outside world.
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { BUILD_OPTIONS, COMPATIBILITY_FLAGS } from "../../components/cloudflare/bundle.mjs";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const systemPath = (relative) => `${REPO_ROOT}systems/${relative}`;
// The date the workers are deployed with (systems/worker_common reads the same file).
export const COMPATIBILITY_DATE = JSON.parse(await readFile(systemPath("worker_common/runtime.json"), "utf8"))
  .compatibility_date;

// A worker's script as the deployment uploads it: its main module bundled with what it imports
// (components/cloudflare/bundle.mjs) under its name relative to systems/, and its text modules
// beside it.
export function workerModules(mainModule, ...textModules) {
  const path = systemPath(mainModule);
  const { outputFiles } = buildSync({ ...BUILD_OPTIONS, entryPoints: [path], outfile: path, write: false, absWorkingDir: REPO_ROOT });
  return {
    compatibilityFlags: COMPATIBILITY_FLAGS,
    modulesRoot: systemPath(""),
    modules: [
      { type: "ESModule", path, contents: outputFiles[0].text },
      ...textModules.map((path) => ({ type: "Text", path: systemPath(path) })),
    ],
  };
}

// Applies the numbered migration files in name order, as the deployment does.
// D1 runs one statement per prepare(), and the files hold no triggers, so
// splitting at semicolons that end a line is exact.
export async function applyMigrations(db, directory) {
  const files = (await readdir(directory)).filter((name) => name.endsWith(".sql")).sort();
  for (const file of files) {
    const sql = (await readFile(`${directory}/${file}`, "utf8"))
      .split("\n")
      .filter((line) => !line.trim().startsWith("--"))
      .join("\n");
    const statements = sql.split(/;\s*$/m).map((statement) => statement.trim()).filter(Boolean);
    await db.batch(statements.map((statement) => db.prepare(statement)));
  }
  return files;
}

// A miniflare worker whose default export builds a binding (for
// `wrappedBindings`) with the given async methods; each call is forwarded as
// JSON to `implementation[method](...args)` running here in Node, so tests can
// see and steer what the worker under test asked for.
export function nodeBackedBinding(name, implementation) {
  const methods = Object.keys(implementation)
    .map((method) => `async ${method}(...args) { return call(env, ${JSON.stringify(method)}, args); }`)
    .join(",\n");
  return {
    name,
    modules: true,
    script: `
      async function call(env, method, args) {
        const response = await env.NODE.fetch("http://node/", { method: "POST", body: JSON.stringify({ method, args }) });
        const body = await response.json();
        if (!response.ok) throw new Error(body.error);
        return body.result;
      }
      export default function (env) { return { ${methods} }; }`,
    serviceBindings: {
      NODE: async (request) => {
        const { method, args } = await request.json();
        try {
          return Response.json({ result: await implementation[method](...args) });
        } catch (error) {
          return Response.json({ error: error.message }, { status: 500 });
        }
      },
    },
  };
}

// Deterministic stand-in for a text embedding: each word adds to one of 768
// dimensions picked by its hash, so texts sharing words point the same way.
export function fakeEmbedding(text) {
  const vector = new Array(768).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 2166136261;
    for (const char of word) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    vector[hash % 768] += 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

// An in-memory Vectorize index with the binding's query/upsert/deleteByIds.
export function fakeVectorIndex() {
  const vectors = new Map();
  const cosine = (a, b) => a.reduce((sum, value, i) => sum + value * b[i], 0);
  return {
    vectors,
    binding: {
      async query(vector, { topK = 5, returnMetadata = "none" } = {}) {
        const matches = [...vectors.entries()]
          .map(([id, stored]) => ({
            id,
            score: cosine(vector, stored.values),
            ...(returnMetadata === "all" ? { metadata: stored.metadata } : {}),
          }))
          .sort((a, b) => b.score - a.score)
          .slice(0, topK);
        return { count: matches.length, matches };
      },
      async upsert(items) {
        for (const { id, values, metadata } of items) vectors.set(id, { values, metadata });
        return { mutationId: crypto.randomUUID() };
      },
      async deleteByIds(ids) {
        for (const id of ids) vectors.delete(id);
        return { mutationId: crypto.randomUUID() };
      },
    },
  };
}

export function jsonRequest(method, body, headers = {}) {
  return {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

// A worker that POSTs a body it streams itself to another worker over a service binding, so a
// test sees how much of a body the worker under test reads. Given `length`, the body has that
// Content-Length and, when `stall`, never delivers a byte, or given `sent`, ends after that many;
// given `total`, that many bytes are streamed in 1 KiB chunks as they are pulled. Answers
// {status, body, pulled}.
export function streamingClient(name, target) {
  return {
    name,
    modules: true,
    compatibilityDate: COMPATIBILITY_DATE,
    serviceBindings: { TARGET: target },
    script: `
      export default {
        async fetch(request, env) {
          const { path, contentType, length, stall, sent, total } = await request.json();
          let pulled = 0;
          let body;
          if (length !== undefined) {
            const { readable, writable } = new FixedLengthStream(length);
            body = readable;
            if (!stall) {
              const writer = writable.getWriter();
              writer.write(new Uint8Array(sent ?? length).fill(32));
              // Closing short of the length fails the stream, which is what a short body is.
              writer.close().catch(() => {});
            }
          } else {
            const chunk = new Uint8Array(1024).fill(32);
            body = new ReadableStream({
              pull(controller) {
                if (pulled >= total) return controller.close();
                pulled += chunk.byteLength;
                controller.enqueue(chunk);
              },
            });
          }
          const headers = { "Content-Type": contentType ?? "application/json" };
          const response = await env.TARGET.fetch("https://target" + path, { method: "POST", body, headers });
          return Response.json({ status: response.status, body: await response.json(), pulled });
        },
      };`,
  };
}
