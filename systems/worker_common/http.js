// What every worker script shares: JSON errors, body parsing, secret checks and /healthz.
// Bundled into each worker's main module (components/cloudflare/bundle.mjs).
import { reportUnhandled } from "./error_tracking.js";
import { log } from "./log.js";

// Deep enough for any body a client means to send; deeper values are refused up front, since
// JSON.stringify recurses and D1 refuses JSON nested deeper than SQLite's own limit.
const MAX_JSON_DEPTH = 64;

export class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

export function allowMethods(request, methods) {
  if (!methods.includes(request.method)) {
    throw new HttpError(405, "method not allowed", { Allow: methods.join(", ") });
  }
}

// Only `application/json` is read: a form or `text/plain` POST is a "simple" request that a
// browser sends cross-site without a CORS preflight, so the origin allow-list would never see it.
export async function readJsonObject(request, maxBytes) {
  const mediaType = (request.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") throw new HttpError(415, "Content-Type must be application/json");
  const bytes = await readBounded(request, maxBytes, {
    tooLarge: () => new HttpError(413, `request body must be at most ${maxBytes} bytes`),
    // The client stopped sending before the end its Content-Length announced.
    failed: () => new HttpError(400, "request body ended before it was complete"),
  });
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "request body must be valid JSON");
  }
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new HttpError(400, `request body must nest at most ${MAX_JSON_DEPTH} levels deep`);
  }
  let body;
  try {
    body = JSON.parse(text, keepNumbersExact);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, "request body must be valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return body;
}

// The deepest nesting of arrays and objects in `text`, brackets inside strings not counted.
// Malformed text may give any number, and is refused with a 400 either way.
function nestingDepth(text) {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      deepest = Math.max(deepest, ++depth);
    } else if (char === "]" || char === "}") {
      depth--;
    }
  }
  return deepest;
}

// A number JavaScript cannot hold would be stored or used as another value without a word:
// 1e400 becomes Infinity (written back as null), 1e-400 becomes 0 and 9007199254740993 loses
// its last digit. Fractions that round in their last places are ordinary floating point.
function keepNumbersExact(key, value, context) {
  if (typeof value !== "number") return value;
  if (!Number.isFinite(value) || underflowed(value, context.source) || roundedInteger(value, context.source)) {
    throw new HttpError(400, "request body numbers must be finite, not round to 0, and integers at most 2^53 - 1 in size");
  }
  return value;
}

// The cheap test of each comes first: the source is only read for the rare number that may be lost.
function underflowed(value, source) {
  return value === 0 && /[1-9]/.test(source.split(/e/i)[0]);
}

function roundedInteger(value, source) {
  return Number.isInteger(value) && !Number.isSafeInteger(value) && /^-?\d+$/.test(source);
}

// The body of a request or a response, read whole: one whose Content-Length is over `maxBytes` is
// refused with `tooLarge()` before a byte is read, any other as soon as the bytes streamed in pass
// the limit, so no sender can make the worker hold more. A stream that fails (cut short, or past
// its deadline) is refused with `failed(error)`.
export async function readBounded(message, maxBytes, { tooLarge, failed }) {
  if (!message.body) return new Uint8Array(0);
  const reader = message.body.getReader();
  if (Number(message.headers.get("Content-Length")) > maxBytes) {
    await reader.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw failed(error);
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// A third party gets UPSTREAM_TIMEOUT_MS (a plain-text binding its system declares) to answer,
// headers and body together, since a worker waiting on it holds its client waiting too. A call
// that cannot be made or is answered with an error status is a 502, one still unanswered then a 504.
export async function fetchUpstream(env, what, url, init = {}) {
  const signal = AbortSignal.timeout(upstreamTimeoutMs(env));
  let response;
  try {
    response = await fetch(url, { ...init, signal });
  } catch (error) {
    throw upstreamFailed(what, error);
  }
  if (!response.ok) {
    const detail = await readUpstream(what, response, MAX_LOGGED_ERROR_BYTES).then(
      (bytes) => new TextDecoder().decode(bytes),
      () => "(unreadable or too long to log)",
    );
    log("error", `${what} answered with an error`, { status: response.status, detail });
    throw new HttpError(502, `${what} failed; try again`);
  }
  return response;
}

const MAX_LOGGED_ERROR_BYTES = 4096;

// The body of a response from `fetchUpstream`, at most `maxBytes` of it, within the call's deadline.
export function readUpstream(what, response, maxBytes) {
  return readBounded(response, maxBytes, {
    tooLarge: () => new HttpError(502, `${what} answered with more than ${maxBytes} bytes`),
    failed: (error) => upstreamFailed(what, error),
  });
}

function upstreamTimeoutMs(env) {
  const timeoutMs = Number(env.UPSTREAM_TIMEOUT_MS);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    log("error", "UPSTREAM_TIMEOUT_MS is not a positive whole number of milliseconds");
    throw new HttpError(500, "the worker's upstream timeout is misconfigured");
  }
  return timeoutMs;
}

function upstreamFailed(what, error) {
  if (error?.name === "TimeoutError") {
    log("error", `${what} did not answer in time`);
    return new HttpError(504, `${what} did not answer in time; try again`);
  }
  log("error", `${what} is unreachable`, { error });
  return new HttpError(502, `${what} is unavailable; try again`);
}

// API_KEYS is a secret holding a JSON object of key name to key, so an instance
// can hand out several keys and retire one by removing its name. Every key is
// compared, so the time taken does not tell which one came close. Returns the
// name of the key presented.
export async function authenticate(request, env) {
  let parsed = null;
  try {
    parsed = JSON.parse(env.API_KEYS);
  } catch {
    // Reported below, like any other shape that is not a JSON object.
  }
  // Asked of the prototype, not of `parsed.constructor`, which a key named "constructor" replaces.
  const isObject = parsed !== null && Object.getPrototypeOf(parsed) === Object.prototype;
  const keys = isObject ? Object.entries(parsed) : [];
  if (keys.length === 0 || !keys.every(([, key]) => typeof key === "string" && key)) {
    log("error", "API_KEYS is not a JSON object of non-empty keys");
    throw new HttpError(500, "the worker's API keys are misconfigured");
  }
  const provided = request.headers.get("X-API-Key");
  const matches = await Promise.all(keys.map(([, key]) => secretsEqual(provided, key)));
  const index = matches.indexOf(true);
  if (index === -1) throw new HttpError(401, "a valid X-API-Key header is required");
  return keys[index][0];
}

// Hashing first gives both sides the same length, which timingSafeEqual needs,
// so the comparison time reveals neither the key's content nor its length.
export async function secretsEqual(provided, expected) {
  if (!provided || !expected) return false;
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all(
    [provided, expected].map((value) => crypto.subtle.digest("SHA-256", encoder.encode(value))),
  );
  return crypto.subtle.timingSafeEqual(a, b);
}

export function json(body, status = 200, headers = {}) {
  return Response.json(body, { status, headers });
}

export function errorResponse(error) {
  if (error instanceof HttpError) return json({ error: error.message }, error.status, error.headers);
  reportUnhandled(error);
  return json({ error: "internal error" }, 500);
}

// GET /healthz, answered without authentication: the deployed version (the content hash of the
// uploaded modules, in the VERSION binding) and one cheap check per named binding. 200 when
// every check passes, else 503; a check's failure is reported in a few fixed words, since an
// error's own message may quote what it touched.
export async function healthz(request, env, checks) {
  allowMethods(request, ["GET"]);
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check(env);
        return [name, "ok"];
      } catch (error) {
        log("error", `health check ${name} failed`, { error });
        return [name, `${check.kind} failed`];
      }
    }),
  );
  const healthy = results.every(([, result]) => result === "ok");
  return json(
    { status: healthy ? "ok" : "failing", version: env.VERSION ?? null, checks: Object.fromEntries(results) },
    healthy ? 200 : 503,
    { "Cache-Control": "no-store" },
  );
}

// The key is never written: a read of a missing key is as cheap as reads get and proves the namespace answers.
const HEALTH_KEY = "healthz:probe";

export function d1Check(binding) {
  return Object.assign(async (env) => env[binding].prepare("select 1").first(), { kind: "D1 select 1" });
}

export function kvCheck(binding) {
  return Object.assign(async (env) => env[binding].get(HEALTH_KEY), { kind: "KV get" });
}
