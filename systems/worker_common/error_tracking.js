// Unhandled errors reported to the error tracker (Sentry's Workers SDK), when the stack gives a
// DSN in the ERROR_TRACKING_DSN secret; without it nothing is sent. Each event carries the stack
// (ENVIRONMENT) and the deployed version (VERSION), and is scrubbed before it leaves the worker.
import * as Sentry from "@sentry/cloudflare";

import { log, withRequestContext } from "./log.js";

// Bindings whose values are credentials: any text of an event that holds one loses it.
const SECRET_BINDINGS = ["ERROR_TRACKING_DSN", "API_KEYS", "ADMIN_TOKEN", "EMAIL_API_KEY", "IMAGE_API_KEY"];
// Headers an event may keep; every other (Authorization, X-API-Key, Cookie, signatures) is dropped.
const KEPT_HEADERS = new Set(["accept", "content-length", "content-type", "cf-ray", "user-agent"]);
const EMAIL = /[^\s@<>"'(),;:]+@[^\s@<>"'(),;:]+\.[A-Za-z]{2,}/g;
const BEARER = /\b(Bearer|Basic)\s+\S+/gi;
// Opaque tokens, keys, signatures and JWTs: long runs of base64url, hex or JWT characters.
const OPAQUE_TOKEN = /[A-Za-z0-9_\-.+/=]{32,}/g;

// The worker's handlers, with every request logged as one line (status and duration) and any
// error no handler caught reported. `tenant` names the instance a request is served for.
export function instrument(handlers, { tenant = () => undefined } = {}) {
  const fetch = handlers.fetch;
  return Sentry.withSentry(errorTrackingOptions, {
    ...handlers,
    async fetch(request, env, ctx) {
      const requestId = request.headers.get("cf-ray") ?? crypto.randomUUID();
      const started = Date.now();
      return withRequestContext({ request_id: requestId, tenant: tenant(env) ?? null }, async () => {
        const response = await fetch.call(handlers, request, env, ctx);
        const { pathname } = new URL(request.url);
        log("info", `${request.method} ${pathname}`, {
          status: response.status,
          duration_ms: Date.now() - started,
        });
        return response;
      });
    },
  });
}

// An error a worker answered with a 500: logged, and reported as unhandled.
export function reportUnhandled(error) {
  log("error", "unhandled error", { error });
  Sentry.captureException(error, { mechanism: { type: "orchestra.unhandled", handled: false } });
}

export function errorTrackingOptions(env) {
  return {
    dsn: env.ERROR_TRACKING_DSN || undefined,
    enabled: Boolean(env.ERROR_TRACKING_DSN),
    environment: env.ENVIRONMENT,
    release: env.VERSION,
    sendDefaultPii: false,
    // Errors only: no traces, so no request's spans leave the worker.
    tracesSampleRate: 0,
    beforeSend: (event) => scrubEvent(event, secretValues(env)),
    beforeBreadcrumb: (breadcrumb) => scrubValue(breadcrumb, secretValues(env)),
  };
}

function secretValues(env) {
  const values = [];
  for (const name of SECRET_BINDINGS) {
    const value = env[name];
    if (typeof value !== "string" || !value) continue;
    values.push(value);
    // API_KEYS is a JSON object of key name to key: each key is a secret of its own.
    if (name === "API_KEYS") {
      try {
        values.push(...Object.values(JSON.parse(value)).filter((key) => typeof key === "string" && key));
      } catch {
        // Not JSON: the whole value is already listed.
      }
    }
  }
  // Longest first, so a key inside a longer value is not left half-replaced.
  return values.sort((a, b) => b.length - a.length);
}

// The event without request bodies, cookies, query strings, headers outside KEPT_HEADERS or the
// user, and with every text that can quote data (messages, exception values, frame variables,
// breadcrumbs, extras, the request) cleared of secrets, e-mail addresses and tokens. Identifiers
// the tracker needs (event and trace ids, release) are left as they are.
export function scrubEvent(event, secrets = []) {
  const request = event.request;
  if (request) {
    delete request.data;
    delete request.cookies;
    delete request.query_string;
    if (request.url) request.url = request.url.split(/[?#]/)[0];
    if (request.headers) {
      request.headers = Object.fromEntries(
        Object.entries(request.headers).filter(([name]) => KEPT_HEADERS.has(name.toLowerCase())),
      );
    }
  }
  delete event.user;
  for (const field of ["message", "logentry", "request", "extra", "breadcrumbs"]) {
    if (field in event) event[field] = scrubValue(event[field], secrets);
  }
  for (const exception of event.exception?.values ?? []) {
    if (typeof exception.value === "string") exception.value = scrubText(exception.value, secrets);
    for (const frame of exception.stacktrace?.frames ?? []) {
      if (frame.vars) frame.vars = scrubValue(frame.vars, secrets);
    }
  }
  return event;
}

export function scrubValue(value, secrets = []) {
  if (typeof value === "string") return scrubText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, secrets));
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) value[key] = scrubValue(item, secrets);
  }
  return value;
}

function scrubText(text, secrets) {
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.split(secret).join("[secret]");
  return scrubbed.replace(BEARER, "$1 [token]").replace(EMAIL, "[email]").replace(OPAQUE_TOKEN, "[token]");
}
