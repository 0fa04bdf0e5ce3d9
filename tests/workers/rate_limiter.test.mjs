import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import { admit } from "../../systems/tenants/rate_limiter.js";
import { COMPATIBILITY_DATE, jsonRequest, workerModules } from "./support.mjs";

// What the callers send: each image-gen worker carries its instance's limits.
const LIMITS = {
  "acme-dev": {
    "ideogram-v3": { rpm: 10, tpm: 100_000 },
    "llama-3.1": { rpm: 1000, tpm: 1000 },
  },
  "globex-prod": { "ideogram-v3": { rpm: 2, tpm: 100 } },
  initech: { a: { rpm: 1, tpm: 10 }, b: { rpm: 1, tpm: 10 } },
  umbrella: { a: { rpm: 1, tpm: 10 } },
};

const mf = new Miniflare({
  name: "rate-limiter",
  compatibilityDate: COMPATIBILITY_DATE,
  ...workerModules("tenants/rate_limiter.js"),
  bindings: { VERSION: "version-of-the-limiter" },
  durableObjects: { RATE_LIMITER: { className: "RateLimiter", useSQLite: true } },
});
after(() => mf.dispose());

const post = (body) => mf.dispatchFetch("https://rate-limiter/check", jsonRequest("POST", body));
const check = (body) => post({ ...body, limits: LIMITS[body.instance_id][body.model] });

async function assertError(response, status) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(typeof body.error, "string");
  return body;
}

describe("POST /check", () => {
  test("admits within the limits and reports what remains", async () => {
    const response = await check({ instance_id: "globex-prod", model: "ideogram-v3", tokens: 30 });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { allowed: true, remaining: { requests: 1, tokens: 70 } });
  });

  test("admits exactly rpm of 50 concurrent requests", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => check({ instance_id: "acme-dev", model: "ideogram-v3", tokens: 1 })),
    );
    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 200).length, 10);
    assert.equal(statuses.filter((status) => status === 429).length, 40);
    const denied = responses.find((response) => response.status === 429);
    const body = await assertError(denied, 429);
    assert.ok(body.retry_after_seconds > 0 && body.retry_after_seconds <= 60);
    assert.equal(denied.headers.get("Retry-After"), String(body.retry_after_seconds));
  });

  test("admits exactly tpm worth of 50 concurrent requests", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => check({ instance_id: "acme-dev", model: "llama-3.1", tokens: 100 })),
    );
    assert.equal(responses.filter((response) => response.status === 200).length, 10);
  });

  test("keeps separate windows per instance and model", async () => {
    assert.equal((await check({ instance_id: "initech", model: "a", tokens: 1 })).status, 200);
    assert.equal((await check({ instance_id: "initech", model: "a", tokens: 1 })).status, 429);
    assert.equal((await check({ instance_id: "initech", model: "b", tokens: 1 })).status, 200);
    assert.equal((await check({ instance_id: "umbrella", model: "a", tokens: 1 })).status, 200);
  });

  test("holds the window when the limits change and applies the new ones", async () => {
    const body = { instance_id: "umbrella", model: "b", tokens: 1 };
    assert.equal((await post({ ...body, limits: { rpm: 1, tpm: 10 } })).status, 200);
    assert.equal((await post({ ...body, limits: { rpm: 1, tpm: 10 } })).status, 429);
    assert.equal((await post({ ...body, limits: { rpm: 2, tpm: 10 } })).status, 200);
  });

  const limits = { rpm: 10, tpm: 100 };
  for (const [name, body] of [
    ["malformed JSON", "{"],
    ["a JSON array", "[]"],
    ["a missing instance_id", { model: "m", tokens: 1, limits }],
    ["an overlong model", { instance_id: "acme-dev", model: "m".repeat(65), tokens: 1, limits }],
    ["fractional tokens", { instance_id: "acme-dev", model: "m", tokens: 1.5, limits }],
    ["negative tokens", { instance_id: "acme-dev", model: "m", tokens: -1, limits }],
    ["tokens as a string", { instance_id: "acme-dev", model: "m", tokens: "1", limits }],
    ["more tokens than tpm", { instance_id: "acme-dev", model: "m", tokens: 101, limits }],
    ["missing limits", { instance_id: "acme-dev", model: "m", tokens: 1 }],
    ["limits without tpm", { instance_id: "acme-dev", model: "m", tokens: 1, limits: { rpm: 10 } }],
    ["a zero rpm", { instance_id: "acme-dev", model: "m", tokens: 1, limits: { rpm: 0, tpm: 100 } }],
    ["limits as text", { instance_id: "acme-dev", model: "m", tokens: 1, limits: { rpm: "10", tpm: 100 } }],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await post(body), 400);
    });
  }

  test("rejects other methods and paths", async () => {
    const response = await mf.dispatchFetch("https://rate-limiter/check");
    await assertError(response, 405);
    assert.equal(response.headers.get("Allow"), "POST");
    await assertError(await mf.dispatchFetch("https://rate-limiter/admit", jsonRequest("POST", {})), 404);
  });
});

// The window itself, with time injected: a minute cannot pass inside workerd.
describe("admit", () => {
  const limits = { rpm: 3, tpm: 100 };
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
  const run = (steps) => {
    let buckets = [];
    return steps.map(([offsetMs, tokens]) => {
      const decision = admit(buckets, t0 + offsetMs, limits, tokens);
      buckets = decision.buckets;
      return decision;
    });
  };

  test("frees a request exactly 60 seconds after it was admitted", () => {
    const decisions = run([[0, 1], [1000, 1], [2000, 1], [59_999, 1], [60_000, 1], [60_500, 1], [61_000, 1]]);
    assert.deepEqual(decisions.map((decision) => decision.allowed), [true, true, true, false, true, false, true]);
    assert.equal(decisions[3].retryAfterSeconds, 1);
    assert.equal(decisions[5].retryAfterSeconds, 1);
  });

  test("waits until enough tokens have left the window", () => {
    const decisions = run([[0, 40], [10_000, 40], [20_000, 30], [30_000, 0]]);
    assert.deepEqual(decisions.map((decision) => decision.allowed), [true, true, false, true]);
    assert.equal(decisions[2].retryAfterSeconds, 40);
    assert.deepEqual(decisions[3].remaining, { requests: 0, tokens: 20 });
  });

  test("keeps one bucket per second and drops buckets that left the window", () => {
    const [, , third] = run([[0, 5], [400, 5], [90_000, 7]]);
    assert.deepEqual(third.buckets, [[Math.floor(t0 / 1000) + 90, 1, 7]]);
    const [, second] = run([[0, 5], [400, 5]]);
    assert.deepEqual(second.buckets, [[Math.floor(t0 / 1000), 2, 10]]);
  });
});

describe("GET /healthz", () => {
  test("answers with the deployed version", async () => {
    const response = await mf.dispatchFetch("https://rate-limiter/healthz");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", version: "version-of-the-limiter", checks: {} });
  });

  test("refuses other methods with 405 JSON", async () => {
    await assertError(await mf.dispatchFetch("https://rate-limiter/healthz", { method: "PUT" }), 405);
  });
});
