// rate-limiter: requests-per-minute and tokens-per-minute limits per instance
// and model, over a sliding 60-second window kept in one Durable Object per
// (instance, model) pair, so all decisions for a pair are made in one place.
//
// Callers send the limits with each check: every image-gen worker carries its
// own instance's limits, so adding an instance never redeploys the limiter.
// The worker is reached only through service bindings (it is not served on
// workers.dev or any route), so its callers are the deployment's own workers.
import { errorResponse, healthz, HttpError, json, readJsonObject } from "../worker_common/http.js";
import { instrument } from "../worker_common/error_tracking.js";
import { log } from "../worker_common/log.js";

const WINDOW_SECONDS = 60;
const MAX_NAME_CHARS = 64;
const MAX_BODY_BYTES = 4 * 1024;

export default instrument(
  {
    async fetch(request, env) {
      try {
        const { pathname } = new URL(request.url);
        if (pathname === "/healthz") return await healthz(request, env, {});
        if (pathname !== "/check") throw new HttpError(404, "not found");
        if (request.method !== "POST") throw new HttpError(405, "method not allowed", { Allow: "POST" });
        const { instance_id: instanceId, model, tokens, limits } = await readJsonObject(request, MAX_BODY_BYTES);
        for (const [field, value] of [["instance_id", instanceId], ["model", model]]) {
          if (typeof value !== "string" || !value || value.length > MAX_NAME_CHARS) {
            throw new HttpError(400, `${field} must be a non-empty string of at most ${MAX_NAME_CHARS} characters`);
          }
        }
        if (!Number.isSafeInteger(tokens) || tokens < 0) throw new HttpError(400, "tokens must be a non-negative integer");
        if (![limits?.rpm, limits?.tpm].every((limit) => Number.isSafeInteger(limit) && limit > 0)) {
          throw new HttpError(400, "limits must be {\"rpm\": n, \"tpm\": n} with positive integers");
        }
        if (tokens > limits.tpm) {
          throw new HttpError(400, `tokens exceed the limit of ${limits.tpm} tokens per minute, so they can never be admitted`);
        }
        // A JSON pair names the object unambiguously whatever characters the names hold.
        const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(JSON.stringify([instanceId, model])));
        return await limiter.fetch("https://rate-limiter/admit", {
          method: "POST",
          body: JSON.stringify({ tokens, limits: { rpm: limits.rpm, tpm: limits.tpm } }),
        });
      } catch (error) {
        return errorResponse(error);
      }
    },
  }, { tenant: (env) => env.INSTANCE_ID },
);

export class RateLimiter {
  constructor(ctx) {
    this.ctx = ctx;
    // No request may run before the window is loaded from storage.
    ctx.blockConcurrencyWhile(async () => {
      this.buckets = (await ctx.storage.get("buckets")) ?? [];
    });
  }

  async fetch(request) {
    const { tokens, limits } = await request.json();
    // The check and the increment run with no await in between, so requests
    // that interleave at await points can never both take the last unit.
    const decision = admit(this.buckets, Date.now(), limits, tokens);
    this.buckets = decision.buckets;
    if (!decision.allowed) {
      return json(
        { error: "rate limit exceeded", retry_after_seconds: decision.retryAfterSeconds },
        429,
        { "Retry-After": String(decision.retryAfterSeconds) },
      );
    }
    await this.ctx.storage.put("buckets", this.buckets);
    return json({ allowed: true, remaining: decision.remaining });
  }
}

// The window is a list of per-second buckets [second, requests, tokens], so
// its size is bounded by the window length whatever the limits are.
export function admit(buckets, nowMs, limits, tokens) {
  const nowSecond = Math.floor(nowMs / 1000);
  const live = buckets.filter(([second]) => second > nowSecond - WINDOW_SECONDS);
  const usedRequests = live.reduce((sum, [, requests]) => sum + requests, 0);
  const usedTokens = live.reduce((sum, [, , used]) => sum + used, 0);
  const fits = (freedRequests, freedTokens) =>
    usedRequests - freedRequests + 1 <= limits.rpm && usedTokens - freedTokens + tokens <= limits.tpm;

  if (!fits(0, 0)) {
    return { allowed: false, buckets: live, retryAfterSeconds: secondsUntilFits(live, nowSecond, fits) };
  }
  const last = live.at(-1);
  const updated =
    last?.[0] === nowSecond
      ? [...live.slice(0, -1), [nowSecond, last[1] + 1, last[2] + tokens]]
      : [...live, [nowSecond, 1, tokens]];
  return {
    allowed: true,
    buckets: updated,
    remaining: { requests: limits.rpm - usedRequests - 1, tokens: limits.tpm - usedTokens - tokens },
  };
}

function secondsUntilFits(live, nowSecond, fits) {
  let freedRequests = 0;
  let freedTokens = 0;
  for (const [second, requests, used] of live) {
    freedRequests += requests;
    freedTokens += used;
    if (fits(freedRequests, freedTokens)) return second + WINDOW_SECONDS - nowSecond;
  }
  return WINDOW_SECONDS;
}
