// image-gen-<instance>: turns a prompt into an image through an Ideogram-style
// API, keeps the image in R2 and serves it back at /images/<key>.
//
// Permission comes from the rate-limiter worker over a service binding, so the
// limiter's storage layout and Durable Object naming stay private to it.
import {
  allowMethods,
  authenticate,
  errorResponse,
  fetchUpstream,
  healthz,
  HttpError,
  json,
  readJsonObject,
  readUpstream,
} from "../worker_common/http.js";
import { instrument } from "../worker_common/error_tracking.js";
import { log } from "../worker_common/log.js";

const MAX_PROMPT_CHARS = 2000;
const MAX_BODY_BYTES = 16 * 1024;
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
// The image API's answer is a short JSON document of links.
const MAX_IMAGE_API_ANSWER_BYTES = 64 * 1024;
// About four characters per token: the image API does not report tokens.
const CHARS_PER_TOKEN = 4;
const DEFAULT_ASPECT_RATIO = "1x1";
const ASPECT_RATIOS = [
  "1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10",
  "2x3", "3x2", "3x4", "4x3", "4x5", "5x4", "1x1",
];
const IMAGE_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };
const IMAGE_KEY_PATTERN = /^[0-9a-f]{64}\.(png|jpg|webp)$/;

export default instrument(
  {
    async fetch(request, env) {
      try {
        const { pathname } = new URL(request.url);
        if (pathname === "/healthz") return await healthz(request, env, {});
        // Image keys are content hashes nobody can guess, so the links work in
        // an <img> tag without the API key.
        if (pathname.startsWith("/images/")) {
          allowMethods(request, ["GET"]);
          return await serveImage(env.IMAGES, pathname.slice("/images/".length));
        }
        await authenticate(request, env);
        if (pathname !== "/generate") throw new HttpError(404, "not found");
        allowMethods(request, ["POST"]);
        return await generate(request, env);
      } catch (error) {
        return errorResponse(error);
      }
    },
  }, { tenant: (env) => env.INSTANCE_ID },
);

async function generate(request, env) {
  const body = await readJsonObject(request, MAX_BODY_BYTES);
  const prompt = typeof body.prompt === "string" ? body.prompt.trim() : "";
  if (!prompt || prompt.length > MAX_PROMPT_CHARS) {
    throw new HttpError(400, `prompt must be a non-empty string of at most ${MAX_PROMPT_CHARS} characters`);
  }
  const aspectRatio = body.aspect_ratio ?? DEFAULT_ASPECT_RATIO;
  if (!ASPECT_RATIOS.includes(aspectRatio)) {
    throw new HttpError(400, `aspect_ratio must be one of ${ASPECT_RATIOS.join(", ")}`);
  }

  await checkRateLimit(env, Math.ceil(prompt.length / CHARS_PER_TOKEN));
  const imageUrl = await requestImage(env, prompt, aspectRatio);
  const { bytes, contentType } = await downloadImage(env, imageUrl);

  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const hash = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const key = `${hash}.${IMAGE_EXTENSIONS[contentType]}`;
  await env.IMAGES.put(key, bytes, {
    httpMetadata: { contentType },
    customMetadata: { instance_id: env.INSTANCE_ID, aspect_ratio: aspectRatio },
  });
  const url = new URL(`/images/${key}`, request.url).href;
  return json({ key, url, content_type: contentType, size: bytes.byteLength }, 201);
}

// RATE_LIMITS holds the instance's limits per model, {"<model>": {"rpm": n, "tpm": n}}.
async function checkRateLimit(env, tokens) {
  const limits = Object.hasOwn(env.RATE_LIMITS ?? {}, env.IMAGE_MODEL) ? env.RATE_LIMITS[env.IMAGE_MODEL] : null;
  if (!limits) {
    log("error", `RATE_LIMITS has no limits for ${env.IMAGE_MODEL}`);
    throw new HttpError(503, "no rate limit is configured for the image model; image generation is unavailable");
  }
  // The limiter could never admit it: the prompt is the client's to shorten, not a fault to retry.
  if (tokens > limits.tpm) {
    throw new HttpError(
      400,
      `prompt must be at most ${limits.tpm * CHARS_PER_TOKEN} characters within the instance's limit of ${limits.tpm} tokens per minute`,
    );
  }
  const response = await env.RATE_LIMITER.fetch("https://rate-limiter/check", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ instance_id: env.INSTANCE_ID, model: env.IMAGE_MODEL, tokens, limits }),
  });
  if (response.status === 429) {
    const { retry_after_seconds: retryAfter } = await response.json();
    throw new HttpError(429, `rate limit exceeded; retry in ${retryAfter} seconds`, { "Retry-After": String(retryAfter) });
  }
  if (!response.ok) {
    // Refusing is safer than spending the instance's image budget unchecked.
    log("error", "rate limiter answered with an error", { status: response.status, detail: await response.text() });
    throw new HttpError(503, "the rate limiter refused the request; image generation is unavailable");
  }
}

async function requestImage(env, prompt, aspectRatio) {
  const form = new FormData();
  form.set("prompt", prompt);
  form.set("aspect_ratio", aspectRatio);
  const what = "the image API";
  const response = await fetchUpstream(env, what, env.IMAGE_API_URL, {
    method: "POST",
    headers: { "Api-Key": env.IMAGE_API_KEY },
    body: form,
  });
  const result = parseJson(await readUpstream(what, response, MAX_IMAGE_API_ANSWER_BYTES));
  const image = result?.data?.[0];
  if (image?.is_image_safe === false) throw new HttpError(422, "the image API flagged the result as unsafe");
  if (typeof image?.url !== "string" || !image.url.startsWith("https://")) {
    throw new HttpError(502, "the image API returned no image");
  }
  return image.url;
}

function parseJson(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// The API's image links expire, so the image is copied to R2 straight away.
async function downloadImage(env, url) {
  const what = "the image download";
  const response = await fetchUpstream(env, what, url);
  const contentType = (response.headers.get("Content-Type") ?? "").split(";")[0].trim();
  if (!Object.hasOwn(IMAGE_EXTENSIONS, contentType)) {
    await response.body?.cancel();
    throw new HttpError(502, `the generated image has an unsupported type: ${contentType || "none"}`);
  }
  return { bytes: await readUpstream(what, response, MAX_IMAGE_BYTES), contentType };
}

async function serveImage(bucket, key) {
  if (!IMAGE_KEY_PATTERN.test(key)) throw new HttpError(404, "image not found");
  const object = await bucket.get(key);
  if (!object) throw new HttpError(404, "image not found");
  const headers = new Headers({ ETag: object.httpEtag, "Cache-Control": "public, max-age=31536000, immutable" });
  object.writeHttpMetadata(headers);
  return new Response(object.body, { headers });
}
