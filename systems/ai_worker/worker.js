// The AI worker: retrieval-augmented chat over the knowledge base, magic-link
// sign-in, and an admin-only /seed that loads the knowledge base.
//
// The knowledge base is uploaded beside this module as a text module named
// "knowledge_base.json": at more than 5 KB it does not fit in a plain-text or
// JSON binding, and a text module (rather than a JSON one) is a module type the
// Workers upload API accepts as is.
import {
  d1Check,
  errorResponse,
  fetchUpstream,
  healthz,
  HttpError,
  json,
  kvCheck,
  readJsonObject,
  secretsEqual,
} from "../worker_common/http.js";
import { instrument } from "../worker_common/error_tracking.js";
import { log } from "../worker_common/log.js";
import knowledgeBaseText from "./knowledge_base.json";

const EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5";
const CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct";
// Workers AI embeds at most 100 texts per call.
const EMBEDDING_BATCH_SIZE = 50;
const RETRIEVED_PASSAGES = 4;
const REMEMBERED_MESSAGES = 10;
const MAX_MESSAGE_CHARS = 2000;
const MAX_BODY_BYTES = 16 * 1024;
const LOGIN_TOKEN_TTL_SECONDS = 15 * 60;
const SESSION_TTL_SECONDS = 7 * 24 * 60 * 60;
// 32 random bytes in unpadded base64url.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
// An address the email API takes as exactly one mailbox: RFC 5322 dot-atom characters, at most 64
// of them, then DNS labels. Quotes, angle brackets, commas, control characters and non-ASCII,
// which a mail system may read as a display name, a second recipient or a header, never get that
// far, and neither does an address the email API would refuse, which would answer 502.
const EMAIL_ATOM = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DNS_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const EMAIL_PATTERN = new RegExp(`^(?=[^@]{1,64}@)${EMAIL_ATOM}(?:\\.${EMAIL_ATOM})*@${DNS_LABEL}(?:\\.${DNS_LABEL})+$`);
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// The post-deploy smoke check signs in as this address (tools/smoke). `.invalid` is reserved and
// never resolves (RFC 6761), so no mailbox can receive its link: none is sent, and only a request
// with the admin token learns the link's token, in the answer. One fixed address, never a setting:
// a real domain here would silence its people's sign-in mail and hand their accounts to whoever
// holds the admin token, and one address gives that holder one user's chat limit, not many.
const SMOKE_TEST_ADDRESS = "smoke-check@smoke.invalid";
const SIGN_IN_STATUS = "If the address can receive email, a sign-in link is on its way.";

const ROUTES = {
  "/api/chat": { POST: chat },
  "/request-login-link": { POST: requestLoginLink },
  "/verify-login": { GET: verifyLogin, POST: verifyLogin },
  "/seed": { POST: seed },
  "/healthz": { GET: health },
};

const HEALTH_CHECKS = { DB: d1Check("DB"), AUTH_KV: kvCheck("AUTH_KV") };

export default instrument(
  {
    async fetch(request, env) {
      const origin = allowedOrigin(request, env);
      if (request.method === "OPTIONS") return preflight(origin);
      let response;
      try {
        response = await route(request, env);
      } catch (error) {
        response = errorResponse(error);
      }
      response.headers.set("Vary", "Origin");
      if (origin) response.headers.set("Access-Control-Allow-Origin", origin);
      return response;
    },
  },
);

function route(request, env) {
  const { pathname } = new URL(request.url);
  if (!Object.hasOwn(ROUTES, pathname)) throw new HttpError(404, "not found");
  const handlers = ROUTES[pathname];
  if (!Object.hasOwn(handlers, request.method)) {
    throw new HttpError(405, "method not allowed", { Allow: Object.keys(handlers).join(", ") });
  }
  return handlers[request.method](request, env);
}

function health(request, env) {
  return healthz(request, env, HEALTH_CHECKS);
}

async function chat(request, env) {
  const session = await requireSession(request, env);
  const body = await readJsonObject(request, MAX_BODY_BYTES);
  const message = typeof body.message === "string" ? body.message.trim() : "";
  if (!message || message.length > MAX_MESSAGE_CHARS) {
    throw new HttpError(400, `message must be a non-empty string of at most ${MAX_MESSAGE_CHARS} characters`);
  }
  const existingId = await findConversation(env.DB, body.conversation_id, session.user_id);
  // Counted only once the question will be answered, so a refused request costs the user nothing.
  await enforceLimit(env, env.CHAT_RATE_LIMITER, `user:${session.user_id}`);
  const history = existingId ? await loadHistory(env.DB, existingId) : [];

  const [questionVector] = await embed(env, [message]);
  const matches = await searchKnowledge(env, questionVector);
  const answer = await generateAnswer(env, message, matches, history);

  const conversationId = existingId ?? crypto.randomUUID();
  const now = new Date().toISOString();
  const insertMessage = env.DB.prepare(
    "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
  );
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO conversations (id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
    ).bind(conversationId, session.user_id, now),
    insertMessage.bind(conversationId, "user", message, now),
    insertMessage.bind(conversationId, "assistant", answer, now),
  ]);

  const sources = matches.map((match) => ({ id: match.id, title: match.metadata?.title ?? null, score: match.score }));
  return json({ answer, conversation_id: conversationId, sources });
}

async function findConversation(db, conversationId, userId) {
  if (conversationId === undefined || conversationId === null) return null;
  if (typeof conversationId !== "string" || !UUID_PATTERN.test(conversationId)) {
    throw new HttpError(400, "conversation_id must be a conversation id returned by /api/chat");
  }
  // Another user's conversation is reported exactly like a missing one.
  const found = await db
    .prepare("SELECT id FROM conversations WHERE id = ? AND user_id = ?")
    .bind(conversationId, userId)
    .first("id");
  if (!found) throw new HttpError(404, "conversation not found");
  return found;
}

async function loadHistory(db, conversationId) {
  const { results } = await db
    .prepare("SELECT role, content FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?")
    .bind(conversationId, REMEMBERED_MESSAGES)
    .all();
  return results.reverse();
}

async function searchKnowledge(env, vector) {
  try {
    const { matches } = await env.KNOWLEDGE_INDEX.query(vector, { topK: RETRIEVED_PASSAGES, returnMetadata: "all" });
    return matches;
  } catch (error) {
    log("error", "Vectorize query failed", { error });
    throw new HttpError(502, "the knowledge index is unavailable; try again");
  }
}

async function generateAnswer(env, question, matches, history) {
  const passages = matches.length
    ? matches.map((match, i) => `[${i + 1}] ${match.metadata?.title}\n${match.metadata?.text}`).join("\n\n")
    : "(no passages found)";
  const system =
    "You answer questions about Orchestra, the platform described in the passages below. " +
    "Answer only from these passages and the conversation; if they do not contain the answer, say so. " +
    "Be concise and name the passages you used.\n\nPassages:\n" +
    passages;
  const messages = [{ role: "system", content: system }, ...history, { role: "user", content: question }];
  let result;
  try {
    result = await env.AI.run(CHAT_MODEL, { messages });
  } catch (error) {
    log("error", "chat model failed", { error });
    throw new HttpError(502, "the AI model is unavailable; try again");
  }
  if (typeof result?.response !== "string") throw new HttpError(502, "the AI model returned no answer");
  return result.response.trim();
}

async function embed(env, texts) {
  let result;
  try {
    result = await env.AI.run(EMBEDDING_MODEL, { text: texts });
  } catch (error) {
    log("error", "embedding model failed", { error });
    throw new HttpError(502, "the AI model is unavailable; try again");
  }
  if (result?.data?.length !== texts.length) throw new HttpError(502, "the embedding model returned no vectors");
  return result.data;
}

async function requestLoginLink(request, env) {
  const body = await readJsonObject(request, MAX_BODY_BYTES);
  const email = typeof body.email === "string" ? body.email.trim().toLowerCase() : "";
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) throw new HttpError(400, "email must be a valid email address");
  const smokeTest = email === SMOKE_TEST_ADDRESS;
  // One client may not mail many addresses, nor many clients flood one address. The client is
  // counted first, so one refused for its own volume spends nothing of the address's limit. The
  // smoke-test address has no mailbox to flood, and a limit anyone could spend on it would let
  // anyone fail a deploy's smoke check.
  await enforceLimit(env, env.LOGIN_CLIENT_RATE_LIMITER, `client:${clientNetwork(request)}`);
  if (!smokeTest) await enforceLimit(env, env.LOGIN_ADDRESS_RATE_LIMITER, `address:${email}`);
  // Every address gets the same answer, so it reveals nothing about accounts; a link nobody can
  // receive is not even recorded.
  if (smokeTest && !(await smokeCheckCaller(request, env))) return json({ status: SIGN_IN_STATUS }, 202);

  const token = randomToken();
  const recordKey = `login:${await sha256Hex(token)}`;
  const record = { email, expires_at: Date.now() + LOGIN_TOKEN_TTL_SECONDS * 1000 };
  await env.AUTH_KV.put(recordKey, JSON.stringify(record), { expirationTtl: LOGIN_TOKEN_TTL_SECONDS });
  if (smokeTest) {
    // The answer holds a credential, which no cache may keep.
    return json({ status: SIGN_IN_STATUS, email_sent: false, login_token: token }, 202, { "Cache-Control": "no-store" });
  }
  const link = new URL(env.LOGIN_LINK_URL);
  link.searchParams.set("token", token);
  try {
    await sendEmail(env, {
      to: email,
      subject: "Your Orchestra sign-in link",
      text:
        `Sign in to Orchestra with this link:\n\n${link}\n\n` +
        `It works once and expires in ${LOGIN_TOKEN_TTL_SECONDS / 60} minutes. If you did not ask for it, ignore this email.`,
    });
  } catch (error) {
    // A link the client was told failed must not work, should the mail still arrive.
    await env.AUTH_KV.delete(recordKey);
    throw error;
  }
  return json({ status: SIGN_IN_STATUS }, 202);
}

// Whether a sign-in for the smoke-test address is the smoke check's: one without an Authorization
// header is anyone's; one with a header must carry the admin token, after the client's limit
// counted it, so guesses at the token are limited too.
async function smokeCheckCaller(request, env) {
  if (!request.headers.has("Authorization")) return false;
  const token = bearerToken(request);
  if (!token || !(await secretsEqual(token, env.ADMIN_TOKEN))) {
    throw new HttpError(401, "the admin token is required", { "WWW-Authenticate": "Bearer" });
  }
  return true;
}

async function sendEmail(env, { to, subject, text }) {
  const response = await fetchUpstream(env, "the email API", env.EMAIL_API_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${env.EMAIL_API_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ from: env.EMAIL_FROM, to, subject, text }),
  });
  // Only the status matters; the rest of the answer is let go.
  await response.body?.cancel();
}

async function verifyLogin(request, env) {
  const token =
    request.method === "GET" ? new URL(request.url).searchParams.get("token") : (await readJsonObject(request, MAX_BODY_BYTES)).token;
  if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) {
    throw new HttpError(400, "token must be the token from a sign-in link");
  }
  const tokenHash = await sha256Hex(token);
  const record = await env.AUTH_KV.get(`login:${tokenHash}`, "json");
  const now = Date.now();
  // KV expiry is the cleanup; the stored deadline is what the check relies on.
  if (!record || record.expires_at <= now) throw new HttpError(401, "the sign-in link is invalid or expired");

  const [, consumed] = await env.DB.batch([
    env.DB.prepare("DELETE FROM consumed_login_tokens WHERE consumed_at < ?").bind(
      now - LOGIN_TOKEN_TTL_SECONDS * 1000,
    ),
    env.DB.prepare(
      "INSERT INTO consumed_login_tokens (token_hash, consumed_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    ).bind(tokenHash, now),
  ]);
  await env.AUTH_KV.delete(`login:${tokenHash}`);
  if (consumed.meta.changes !== 1) throw new HttpError(401, "the sign-in link is invalid or expired");

  const timestamp = new Date(now).toISOString();
  const userId = await env.DB.prepare(
    `INSERT INTO users (id, email, created_at, last_login_at) VALUES (?1, ?2, ?3, ?3)
     ON CONFLICT (email) DO UPDATE SET last_login_at = excluded.last_login_at
     RETURNING id`,
  )
    .bind(crypto.randomUUID(), record.email, timestamp)
    .first("id");

  const sessionToken = randomToken();
  const expiresAt = now + SESSION_TTL_SECONDS * 1000;
  await env.AUTH_KV.put(
    `session:${await sha256Hex(sessionToken)}`,
    JSON.stringify({ user_id: userId, expires_at: expiresAt }),
    { expirationTtl: SESSION_TTL_SECONDS },
  );
  // The answer holds a credential, and a GET's answer is one a cache may keep.
  return json(
    { session_token: sessionToken, expires_at: new Date(expiresAt).toISOString() },
    200,
    { "Cache-Control": "no-store" },
  );
}

async function requireSession(request, env) {
  const token = bearerToken(request);
  if (!token) throw new HttpError(401, "a session token is required", { "WWW-Authenticate": "Bearer" });
  const session = await env.AUTH_KV.get(`session:${await sha256Hex(token)}`, "json");
  if (!session || session.expires_at <= Date.now()) {
    throw new HttpError(401, "the session is invalid or expired", { "WWW-Authenticate": "Bearer" });
  }
  return session;
}

async function seed(request, env) {
  const token = bearerToken(request);
  if (!token || !(await secretsEqual(token, env.ADMIN_TOKEN))) {
    throw new HttpError(401, "the admin token is required", { "WWW-Authenticate": "Bearer" });
  }
  const { version, documents } = parseKnowledgeBase(knowledgeBaseText);

  for (let start = 0; start < documents.length; start += EMBEDDING_BATCH_SIZE) {
    const batch = documents.slice(start, start + EMBEDDING_BATCH_SIZE);
    const vectors = await embed(env, batch.map((doc) => `${doc.title}\n\n${doc.text}`));
    await env.KNOWLEDGE_INDEX.upsert(
      batch.map((doc, i) => ({
        id: doc.id,
        values: vectors[i],
        metadata: { title: doc.title, text: doc.text, version },
      })),
    );
  }

  const currentIds = new Set(documents.map((doc) => doc.id));
  const { results } = await env.DB.prepare("SELECT id FROM knowledge_documents").all();
  const removedIds = results.map((row) => row.id).filter((id) => !currentIds.has(id));
  if (removedIds.length) await env.KNOWLEDGE_INDEX.deleteByIds(removedIds);

  const insertDocument = env.DB.prepare("INSERT INTO knowledge_documents (id, version) VALUES (?, ?)");
  await env.DB.batch([
    env.DB.prepare("DELETE FROM knowledge_documents"),
    ...documents.map((doc) => insertDocument.bind(doc.id, version)),
    env.DB.prepare(
      `INSERT INTO knowledge_base_versions (version, document_count, seeded_at) VALUES (?, ?, ?)
       ON CONFLICT (version) DO UPDATE SET document_count = excluded.document_count, seeded_at = excluded.seeded_at`,
    ).bind(version, documents.length, new Date().toISOString()),
  ]);
  return json({ version, documents: documents.length, removed: removedIds.length });
}

function parseKnowledgeBase(text) {
  const invalid = (why) => new HttpError(500, `the knowledge base file is invalid: ${why}`);
  let knowledgeBase;
  try {
    knowledgeBase = JSON.parse(text);
  } catch {
    throw invalid("not JSON");
  }
  if (typeof knowledgeBase?.version !== "string" || !knowledgeBase.version) throw invalid("version must be a string");
  if (!Array.isArray(knowledgeBase.documents) || !knowledgeBase.documents.length) {
    throw invalid("documents must be a non-empty list");
  }
  const ids = new Set();
  for (const doc of knowledgeBase.documents) {
    if (!["id", "title", "text"].every((field) => typeof doc?.[field] === "string" && doc[field])) {
      throw invalid("every document needs a non-empty id, title and text");
    }
    if (ids.has(doc.id)) throw invalid(`duplicate document id ${doc.id}`);
    ids.add(doc.id);
  }
  return knowledgeBase;
}

// Every limiter counts over RATE_LIMIT_PERIOD_SECONDS, a plain-text binding system.py declares from
// the same value as the limiters' period, so the two cannot differ.
async function enforceLimit(env, limiter, key) {
  const period = env.RATE_LIMIT_PERIOD_SECONDS;
  if (!/^[1-9][0-9]*$/.test(period ?? "")) {
    log("error", "RATE_LIMIT_PERIOD_SECONDS is not a whole number of seconds");
    throw new HttpError(500, "the worker's rate limits are misconfigured");
  }
  const { success } = await limiter.limit({ key });
  if (!success) {
    throw new HttpError(429, `too many requests; try again in ${period} seconds`, { "Retry-After": period });
  }
}

function allowedOrigin(request, env) {
  const origin = request.headers.get("Origin");
  if (!origin) return null;
  const allowed = (env.ALLOWED_ORIGINS ?? "").split(",").map((entry) => entry.trim());
  return allowed.includes(origin) ? origin : null;
}

function preflight(origin) {
  if (!origin) {
    const response = json({ error: "origin not allowed" }, 403);
    response.headers.set("Vary", "Origin");
    return response;
  }
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
      "Access-Control-Allow-Headers": "Authorization, Content-Type",
      "Access-Control-Max-Age": "86400",
      Vary: "Origin",
    },
  });
}

function bearerToken(request) {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "");
  return match ? match[1] : null;
}

// The client's IPv4 address, or the /64 its IPv6 address is in: a host given IPv6 is usually
// given a whole /64, and would otherwise have more addresses than any limit could count.
function clientNetwork(request) {
  const ip = (request.headers.get("CF-Connecting-IP") ?? "unknown").toLowerCase();
  if (!ip.includes(":") || ip.includes(".")) return ip;
  const [head, tail] = ip.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? 0 : Math.max(0, 8 - headGroups.length - tailGroups.length);
  const groups = [...headGroups, ...Array(zeros).fill("0"), ...tailGroups];
  return `${groups.slice(0, 4).map((group) => group.padStart(4, "0")).join(":")}::/64`;
}

function randomToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
