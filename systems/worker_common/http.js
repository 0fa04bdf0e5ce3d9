// What every worker script shares: JSON errors, body parsing and secret checks.
// Uploaded with each worker as the module "worker_common/http.js".

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

export async function readJsonObject(request, maxChars) {
  const text = await request.text();
  if (text.length > maxChars) throw new HttpError(413, "request body is too large");
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body must be valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return body;
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
  const keys = parsed?.constructor === Object ? Object.entries(parsed) : [];
  if (keys.length === 0 || !keys.every(([, key]) => typeof key === "string" && key)) {
    console.error("API_KEYS is not a JSON object of non-empty keys");
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
  console.error("unhandled error", error);
  return json({ error: "internal error" }, 500);
}
