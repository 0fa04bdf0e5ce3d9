import assert from "node:assert/strict";
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import { scrubEvent } from "../../systems/worker_common/error_tracking.js";
import { COMPATIBILITY_DATE, jsonRequest, workerModules } from "./support.mjs";

const API_KEY = "tenant-api-key-0123456789abcdef0123456789";
const VERSION = "3f1c".repeat(16);
const EMAIL = "alice@example.com";
const QUERY_TOKEN = "magic-link-token-for-the-tests-0123456789";

// A Sentry ingest endpoint on 127.0.0.1: it keeps every envelope's events, parsed.
let ingest;
const events = [];
let eventArrived = () => {};
before(async () => {
  ingest = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      let body = Buffer.concat(chunks);
      if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const [, ...items] = body.toString("utf8").split("\n").filter(Boolean);
      for (let i = 0; i + 1 < items.length; i += 2) {
        if (JSON.parse(items[i]).type === "event") events.push({ path: request.url, raw: items[i + 1], event: JSON.parse(items[i + 1]) });
      }
      response.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      eventArrived();
    });
  });
  await new Promise((resolve) => ingest.listen(0, "127.0.0.1", resolve));
});
after(() => ingest.close());

const dsn = () => `http://publickey@127.0.0.1:${ingest.address().port}/42`;

// The config service with no D1 database bound: every entry it touches fails unhandled.
function brokenConfigService(bindings, logs) {
  return new Miniflare({
    name: "config-service-acme-dev",
    compatibilityDate: COMPATIBILITY_DATE,
    ...workerModules("tenants/config_service.js"),
    bindings: { API_KEYS: JSON.stringify({ primary: API_KEY }), VERSION, ENVIRONMENT: "dev", INSTANCE_ID: "acme", ...bindings },
    handleRuntimeStdio: (stdout, stderr) => {
      for (const stream of [stdout, stderr]) stream.on("data", (chunk) => logs.push(...chunk.toString().split("\n").filter(Boolean)));
    },
  });
}

function failingRequest(mf) {
  return mf.dispatchFetch(
    `https://config.acme.test/config/contact?token=${QUERY_TOKEN}`,
    jsonRequest("PUT", { value: `write to ${EMAIL}` }, { "X-API-Key": API_KEY, Authorization: `Bearer ${QUERY_TOKEN}` }),
  );
}

function nextEvent(timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
    eventArrived = () => {
      clearTimeout(timer);
      resolve(events.at(-1));
    };
  });
}

describe("a worker's unhandled error", () => {
  test("reaches the error tracker tagged with stack and version, without a secret", async () => {
    const logs = [];
    const mf = brokenConfigService({ ERROR_TRACKING_DSN: dsn() }, logs);
    try {
      const arrived = nextEvent(10_000);
      const response = await failingRequest(mf);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "internal error" });
      const { path, raw, event } = await arrived;

      assert.equal(path.split("?")[0], "/api/42/envelope/");
      assert.equal(event.release, VERSION);
      assert.equal(event.environment, "dev");
      const [exception] = event.exception.values;
      assert.equal(exception.type, "TypeError");
      assert.equal(exception.mechanism.handled, false);
      for (const secret of [API_KEY, EMAIL, QUERY_TOKEN, "Bearer", "write to"]) assert.ok(!raw.includes(secret), secret);
      assert.equal(event.request?.query_string, undefined);
      assert.equal(event.request?.data, undefined);

      // The request's own log line: JSON, with its id, tenant and duration.
      const lines = logs.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
      const served = lines.find((line) => line.message === "PUT /config/contact");
      assert.equal(served.level, "info");
      assert.equal(served.status, 500);
      assert.equal(served.tenant, "acme");
      assert.equal(typeof served.request_id, "string");
      assert.ok(Number.isInteger(served.duration_ms) && served.duration_ms >= 0);
      const failure = lines.find((line) => line.message === "unhandled error");
      assert.deepEqual([failure.level, failure.request_id, failure.error.name], ["error", served.request_id, "TypeError"]);
      for (const line of logs) assert.ok(!line.includes(API_KEY) && !line.includes(QUERY_TOKEN), line);
    } finally {
      await mf.dispose();
    }
  });

  test("is sent nowhere without a DSN", async () => {
    const before = events.length;
    const logs = [];
    const mf = brokenConfigService({}, logs);
    try {
      const quiet = nextEvent(2_000);
      assert.equal((await failingRequest(mf)).status, 500);
      await assert.rejects(quiet, /no event within/);
      assert.equal(events.length, before);
      // Logged all the same.
      assert.ok(logs.some((line) => line.includes('"unhandled error"')));
    } finally {
      await mf.dispose();
    }
  });
});

describe("scrubEvent", () => {
  const secretKey = "k".repeat(12);
  const event = () => ({
    event_id: "a".repeat(32),
    release: VERSION,
    environment: "prod",
    contexts: { trace: { trace_id: "b".repeat(32), span_id: "c".repeat(16) } },
    user: { ip_address: "203.0.113.9", email: EMAIL },
    request: {
      url: `https://ai.example.test/verify-login?token=${QUERY_TOKEN}`,
      method: "POST",
      query_string: `token=${QUERY_TOKEN}`,
      data: { email: EMAIL },
      cookies: { session: "s" },
      headers: { Authorization: `Bearer ${QUERY_TOKEN}`, "X-API-Key": secretKey, "X-Signature-Ed25519": "ab".repeat(32), "Content-Type": "application/json" },
    },
    exception: { values: [{ type: "Error", value: `no user ${EMAIL} for key ${secretKey}`, stacktrace: { frames: [{ filename: "tenants/image_gen.js", vars: { token: QUERY_TOKEN } }] } }] },
    breadcrumbs: [{ message: `sent ${"ey" + "J".repeat(40)}`, data: { authorization: "Basic dXNlcjpwYXNz" } }],
    extra: { note: `from ${EMAIL}` },
  });

  test("drops bodies, cookies, queries, the user and headers that carry credentials", () => {
    const { request, user } = scrubEvent(event(), [secretKey]);
    assert.equal(user, undefined);
    assert.deepEqual(request, { url: "https://ai.example.test/verify-login", method: "POST", headers: { "Content-Type": "application/json" } });
  });

  test("clears secrets, e-mail addresses and tokens from every text, and keeps the ids", () => {
    const scrubbed = scrubEvent(event(), [secretKey]);
    const text = JSON.stringify(scrubbed);
    for (const leak of [secretKey, EMAIL, QUERY_TOKEN, "dXNlcjpwYXNz", "J".repeat(40)]) assert.ok(!text.includes(leak), leak);
    assert.equal(scrubbed.exception.values[0].value, "no user [email] for key [secret]");
    assert.equal(scrubbed.extra.note, "from [email]");
    assert.deepEqual(
      [scrubbed.event_id, scrubbed.release, scrubbed.contexts.trace.trace_id, scrubbed.exception.values[0].stacktrace.frames[0].filename],
      ["a".repeat(32), VERSION, "b".repeat(32), "tenants/image_gen.js"],
    );
  });
});
