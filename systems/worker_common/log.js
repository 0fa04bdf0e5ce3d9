// Log lines a person can query: one JSON object per line, with the request it belongs to.
// Uploaded (bundled) with each worker as "worker_common/log.js".
import { AsyncLocalStorage } from "node:async_hooks";

// The request id and tenant of the request being served, so every line it logs carries them
// without each caller passing them down.
const requestContext = new AsyncLocalStorage();

export function withRequestContext(fields, callback) {
  return requestContext.run(fields, callback);
}

// `fields` are the caller's own (a status, a duration); an Error is logged as its name and
// message, never its properties, which may hold what it touched.
export function log(level, message, fields = {}) {
  const line = { level, message, ...requestContext.getStore(), ...describe(fields) };
  const write = level === "error" ? console.error : level === "warn" ? console.warn : console.log;
  write(JSON.stringify(line));
}

function describe(fields) {
  return Object.fromEntries(
    Object.entries(fields).map(([name, value]) => [
      name,
      value instanceof Error ? { name: value.name, message: value.message } : value,
    ]),
  );
}
