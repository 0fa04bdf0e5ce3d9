import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, beforeEach, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE, jsonRequest, workerModules } from "./support.mjs";

const API_KEY = "image-gen-api-key-for-tests";
const API_KEYS = JSON.stringify({ primary: API_KEY, ci: "image-gen-ci-key-for-tests" });
const IMAGE_API_KEY = "ideogram-key-for-tests";
const IMAGE_API_URL = "https://api.ideogram.test/v1/ideogram-v3/generate";
const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const imageApiCalls = [];
let imageApi;
// Requests the fake image API or image host never answers; each waits here until the end.
const unanswered = [];
const never = () => new Promise((resolve) => unanswered.push(resolve));

// The image API and the host of its generated images.
async function outside(request) {
  if (request.url === IMAGE_API_URL) {
    const form = await request.formData();
    imageApiCalls.push({ apiKey: request.headers.get("Api-Key"), prompt: form.get("prompt"), aspectRatio: form.get("aspect_ratio") });
    return imageApi.generate();
  }
  if (request.url === "https://ideogram.test/ephemeral/image.png") return imageApi.download();
  return new Response("unexpected request", { status: 599 });
}

const defaultImageApi = {
  generate: () => Response.json({ created: "2026-05-01T00:00:00Z", data: [{ url: "https://ideogram.test/ephemeral/image.png", is_image_safe: true }] }),
  download: () => new Response(PNG, { headers: { "Content-Type": "image/png" } }),
};

const imageGen = (name, instanceId, rpm, model = "ideogram-v3", tpm = 100_000, { timeoutMs = 10_000, outboundService = outside } = {}) => ({
  name,
  compatibilityDate: COMPATIBILITY_DATE,
  ...workerModules("tenants/image_gen.js"),
  bindings: {
    API_KEYS,
    IMAGE_API_KEY,
    IMAGE_API_URL,
    INSTANCE_ID: instanceId,
    IMAGE_MODEL: model,
    RATE_LIMITS: { "ideogram-v3": { rpm, tpm } },
    UPSTREAM_TIMEOUT_MS: String(timeoutMs),
    VERSION: `version-of-${name}`,
  },
  r2Buckets: { IMAGES: `images-${instanceId}` },
  serviceBindings: { RATE_LIMITER: "rate-limiter" },
  outboundService,
});

// An image API and image host inside workerd, so a test sees how much of an image the worker
// reads: the API links to /<prompt>; /endless streams bytes as they are pulled, /declared-too-large
// announces more than the limit and sends nothing, and GET /pulled reports the bytes streamed.
const imageHost = {
  name: "image-host",
  modules: true,
  compatibilityDate: COMPATIBILITY_DATE,
  script: `
    let pulled = 0;
    export default {
      async fetch(request) {
        const { pathname } = new URL(request.url);
        if (request.method === "POST") {
          const prompt = (await request.formData()).get("prompt");
          return Response.json({ data: [{ url: "https://ideogram.test/" + prompt, is_image_safe: true }] });
        }
        if (pathname === "/pulled") return Response.json({ pulled });
        const headers = { "Content-Type": "image/png" };
        if (pathname === "/declared-too-large") {
          const length = ${MAX_IMAGE_BYTES} + 1;
          const { readable, writable } = new FixedLengthStream(length);
          const writer = writable.getWriter();
          // A byte every 100 ms: the whole image would take longer than any worker waits.
          const trickle = setInterval(() => writer.write(new Uint8Array(1)).catch(() => clearInterval(trickle)), 100);
          // Named as well, since a service binding's answer does not carry the stream's length as a header.
          return new Response(readable, { headers: { ...headers, "Content-Length": String(length) } });
        }
        pulled = 0;
        const chunk = new Uint8Array(64 * 1024);
        return new Response(new ReadableStream({
          pull(controller) {
            pulled += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }), { headers });
      },
    };`,
};

const mf = new Miniflare({
  workers: [
    imageGen("image-gen-acme-dev", "acme-dev", 1000),
    imageGen("image-gen-globex-prod", "globex-prod", 1),
    imageGen("image-gen-unlisted-model", "acme-dev", 1000, "unlisted-model"),
    imageGen("image-gen-initech-small", "initech-small", 1000, "ideogram-v3", 100),
    imageGen("image-gen-impatient", "impatient", 1000, "ideogram-v3", 100_000, { timeoutMs: 50 }),
    imageGen("image-gen-untimed", "untimed", 1000, "ideogram-v3", 100_000, { timeoutMs: "" }),
    imageGen("image-gen-streaming", "streaming", 1000, "ideogram-v3", 100_000, { outboundService: "image-host" }),
    imageHost,
    {
      name: "rate-limiter",
      compatibilityDate: COMPATIBILITY_DATE,
      ...workerModules("tenants/rate_limiter.js"),
      durableObjects: { RATE_LIMITER: { className: "RateLimiter", useSQLite: true } },
    },
  ],
});
after(async () => {
  for (const answer of unanswered) answer(new Response(null, { status: 204 }));
  await mf.dispose();
});
beforeEach(() => {
  imageApi = { ...defaultImageApi };
});

const acme = () => mf.getWorker("image-gen-acme-dev");
const generate = async (body, headers = { "X-API-Key": API_KEY }, worker = acme()) =>
  (await worker).fetch("https://images.acme.test/generate", jsonRequest("POST", body, headers));

async function assertError(response, status) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(typeof body.error, "string");
  return body.error;
}

describe("POST /generate", () => {
  test("stores the generated image in R2 and serves it back", async () => {
    const response = await generate({ prompt: "  a lighthouse at dawn ", aspect_ratio: "16x9" });
    assert.equal(response.status, 201);
    const created = await response.json();
    const key = `${createHash("sha256").update(PNG).digest("hex")}.png`;
    assert.deepEqual(created, {
      key,
      url: `https://images.acme.test/images/${key}`,
      content_type: "image/png",
      size: PNG.length,
    });
    assert.deepEqual(imageApiCalls.at(-1), { apiKey: IMAGE_API_KEY, prompt: "a lighthouse at dawn", aspectRatio: "16x9" });

    const stored = await (await mf.getR2Bucket("IMAGES", "image-gen-acme-dev")).get(key);
    assert.equal(stored.httpMetadata.contentType, "image/png");
    assert.deepEqual(stored.customMetadata, { instance_id: "acme-dev", aspect_ratio: "16x9" });

    const served = await (await acme()).fetch(created.url);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("Content-Type"), "image/png");
    assert.match(served.headers.get("Cache-Control"), /immutable/);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), PNG);
  });

  test("defaults the aspect ratio to 1x1", async () => {
    assert.equal((await generate({ prompt: "a cat" })).status, 201);
    assert.equal(imageApiCalls.at(-1).aspectRatio, "1x1");
  });

  test("answers 429 once the instance's rate limit is spent", async () => {
    const globex = mf.getWorker("image-gen-globex-prod");
    const calls = imageApiCalls.length;
    assert.equal((await generate({ prompt: "one" }, undefined, globex)).status, 201);
    const refused = await generate({ prompt: "two" }, undefined, globex);
    await assertError(refused, 429);
    assert.ok(Number(refused.headers.get("Retry-After")) > 0);
    assert.equal(imageApiCalls.length, calls + 1);
    assert.equal((await generate({ prompt: "acme is unaffected" })).status, 201);
  });

  test("answers 503 when the instance has no rate limit for the image model", async () => {
    const calls = imageApiCalls.length;
    await assertError(await generate({ prompt: "a cat" }, undefined, mf.getWorker("image-gen-unlisted-model")), 503);
    assert.equal(imageApiCalls.length, calls);
  });

  test("refuses with 400 a prompt longer than the instance's tokens per minute allow", async () => {
    const small = mf.getWorker("image-gen-initech-small");
    const calls = imageApiCalls.length;
    const error = await assertError(await generate({ prompt: "p".repeat(401) }, undefined, small), 400);
    assert.match(error, /at most 400 characters/);
    assert.equal(imageApiCalls.length, calls);
    assert.equal((await generate({ prompt: "p".repeat(400) }, undefined, small)).status, 201);
  });

  for (const [name, body] of [
    ["malformed JSON", "{\"prompt\":"],
    ["a missing prompt", {}],
    ["a blank prompt", { prompt: " " }],
    ["an overlong prompt", { prompt: "p".repeat(2001) }],
    ["an unknown aspect ratio", { prompt: "a cat", aspect_ratio: "16:9" }],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await generate(body), 400);
    });
  }

  for (const [name, headers] of [["a missing", {}], ["a wrong", { "X-API-Key": "nope" }]]) {
    test(`rejects ${name} API key with 401`, async () => {
      await assertError(await generate({ prompt: "a cat" }, headers), 401);
    });
  }

  test("answers 502 when the image API fails", async () => {
    imageApi.generate = () => Response.json({ message: "internal" }, { status: 500 });
    await assertError(await generate({ prompt: "a cat" }), 502);
  });

  test("answers 422 when the image API flags the image as unsafe", async () => {
    imageApi.generate = () => Response.json({ data: [{ url: null, is_image_safe: false }] });
    await assertError(await generate({ prompt: "a cat" }), 422);
  });

  test("answers 502 when the image cannot be downloaded", async () => {
    imageApi.download = () => new Response("gone", { status: 404 });
    await assertError(await generate({ prompt: "a cat" }), 502);
    imageApi.download = () => new Response("<html>", { headers: { "Content-Type": "text/html" } });
    await assertError(await generate({ prompt: "a cat" }), 502);
  });

  test("answers 502 to an image API answer longer than any list of links", async () => {
    const padding = "x".repeat(64 * 1024);
    imageApi.generate = () => Response.json({ data: [{ url: "https://ideogram.test/ephemeral/image.png", is_image_safe: true }], padding });
    assert.match(await assertError(await generate({ prompt: "a cat" }), 502), /the image API answered with more than 65536 bytes/);
  });

  for (const step of ["generate", "download"]) {
    test(`answers 504 when the image ${step} does not answer in time, storing nothing`, async () => {
      imageApi[step] = never;
      const response = await generate({ prompt: "a cat" }, undefined, mf.getWorker("image-gen-impatient"));
      assert.match(await assertError(response, 504), /did not answer in time/);
      const { objects } = await (await mf.getR2Bucket("IMAGES", "image-gen-impatient")).list();
      assert.deepEqual(objects, []);
    });
  }

  test("answers 500 without calling the image API when its timeout is not a number of milliseconds", async () => {
    const calls = imageApiCalls.length;
    const response = await generate({ prompt: "a cat" }, undefined, mf.getWorker("image-gen-untimed"));
    assert.equal(await assertError(response, 500), "the worker's upstream timeout is misconfigured");
    assert.equal(imageApiCalls.length, calls);
  });

  test("refuses an image whose Content-Length is over the limit without reading it", async () => {
    // Nothing is ever sent: a worker that read the body first would wait out its timeout instead.
    const response = await generate({ prompt: "declared-too-large" }, undefined, mf.getWorker("image-gen-streaming"));
    assert.match(await assertError(response, 502), /answered with more than 20971520 bytes/);
  });

  test("stops reading an image once it passes the limit, storing nothing", async () => {
    const response = await generate({ prompt: "endless" }, undefined, mf.getWorker("image-gen-streaming"));
    assert.match(await assertError(response, 502), /answered with more than 20971520 bytes/);
    const { pulled } = await (await (await mf.getWorker("image-host")).fetch("https://ideogram.test/pulled")).json();
    assert.ok(pulled < MAX_IMAGE_BYTES + 4 * 1024 * 1024, `pulled ${pulled} bytes`);
    const { objects } = await (await mf.getR2Bucket("IMAGES", "image-gen-streaming")).list();
    assert.deepEqual(objects, []);
  });

  test("rejects other methods with 405", async () => {
    const response = await (await acme()).fetch("https://images.acme.test/generate", { headers: { "X-API-Key": API_KEY } });
    await assertError(response, 405);
    assert.equal(response.headers.get("Allow"), "POST");
  });
});

describe("GET /images/:key", () => {
  test("answers 404 for unknown and malformed keys", async () => {
    const worker = await acme();
    await assertError(await worker.fetch(`https://images.acme.test/images/${"0".repeat(64)}.png`), 404);
    await assertError(await worker.fetch("https://images.acme.test/images/not-a-content-hash.png"), 404);
  });

  test("answers 404 for keys that try to leave /images/", async () => {
    const worker = await acme();
    for (const key of ["..%2Fgenerate", `%2E%2E%2F${"0".repeat(64)}.png`, `${"0".repeat(64)}.png%00`, `${"0".repeat(64)}.png/x`]) {
      await assertError(await worker.fetch(`https://images.acme.test/images/${key}`), 404);
    }
  });

  test("rejects other methods with 405", async () => {
    const worker = await acme();
    for (const method of ["DELETE", "PUT", "HEAD", "OPTIONS"]) {
      const response = await worker.fetch(`https://images.acme.test/images/${"0".repeat(64)}.png`, { method });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("Allow"), "GET");
    }
  });
});

describe("GET /healthz", () => {
  test("answers without an API key with the deployed version", async () => {
    const response = await acme().then((worker) => worker.fetch("https://images.acme.test/healthz"));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", version: "version-of-image-gen-acme-dev", checks: {} });
  });

  test("refuses other methods with 405 JSON", async () => {
    const response = await acme().then((worker) => worker.fetch("https://images.acme.test/healthz", { method: "DELETE" }));
    assert.equal(response.status, 405);
    assert.equal(typeof (await response.json()).error, "string");
  });
});
