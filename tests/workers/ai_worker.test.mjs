import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, beforeEach, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import {
  COMPATIBILITY_DATE,
  applyMigrations,
  fakeEmbedding,
  fakeVectorIndex,
  jsonRequest,
  nodeBackedBinding,
  streamingClient,
  systemPath,
  workerModules,
} from "./support.mjs";

const ADMIN_TOKEN = "admin-secret-for-tests";
const EMAIL_API_KEY = "email-api-key-for-tests";
const ALLOWED_ORIGIN = "https://app.orchestra.test";
const LIMIT_PER_MINUTE = 3;
const CLIENT_LIMIT_PER_MINUTE = 5;
const RATE_LIMIT_PERIOD_SECONDS = 60;
const VERSION = "version-of-the-uploaded-modules";
// The worker's limit on a JSON body.
const MAX_BODY_BYTES = 16 * 1024;
const knowledgeBase = JSON.parse(await readFile(systemPath("ai_worker/knowledge_base.json"), "utf8"));

const sentEmails = [];
let emailApiStatus = 200;
// While set, the email API takes requests and never answers them; each waits here until the end.
let emailApiHangs = false;
const unanswered = [];
const chatCalls = [];
let aiFailure = null;
const index = fakeVectorIndex();

const ai = {
  async run(model, inputs) {
    if (aiFailure) throw new Error(aiFailure);
    if (model === "@cf/baai/bge-base-en-v1.5") {
      return { shape: [inputs.text.length, 768], data: inputs.text.map(fakeEmbedding) };
    }
    assert.equal(model, "@cf/meta/llama-3.1-8b-instruct");
    chatCalls.push(inputs.messages);
    return { response: ` Answer #${chatCalls.length} ` };
  },
};

async function emailApi(request) {
  if (emailApiHangs) return new Promise((resolve) => unanswered.push(resolve));
  sentEmails.push({ url: request.url, authorization: request.headers.get("Authorization"), body: await request.json() });
  return Response.json({ id: "email-id" }, { status: emailApiStatus });
}

// The worker as system.py declares it, with the given limits, period and upstream timeout.
const aiWorker = (name, { limit, clientLimit, period, timeoutMs }) => ({
  name,
  compatibilityDate: COMPATIBILITY_DATE,
  ...workerModules("ai_worker/worker.js", "ai_worker/knowledge_base.json"),
  bindings: {
    ALLOWED_ORIGINS: `${ALLOWED_ORIGIN}, https://admin.orchestra.test`,
    EMAIL_API_URL: "https://email.test/emails",
    EMAIL_FROM: "Orchestra <login@orchestra.test>",
    LOGIN_LINK_URL: "https://app.orchestra.test/login",
    RATE_LIMIT_PERIOD_SECONDS: String(period),
    UPSTREAM_TIMEOUT_MS: String(timeoutMs),
    ADMIN_TOKEN,
    EMAIL_API_KEY,
    VERSION,
  },
  d1Databases: { DB: `${name}-db` },
  kvNamespaces: { AUTH_KV: `${name}-auth` },
  ratelimits: {
    CHAT_RATE_LIMITER: { simple: { limit, period } },
    LOGIN_ADDRESS_RATE_LIMITER: { simple: { limit, period } },
    LOGIN_CLIENT_RATE_LIMITER: { simple: { limit: clientLimit, period } },
  },
  wrappedBindings: { AI: { scriptName: "fake-ai" }, KNOWLEDGE_INDEX: { scriptName: "fake-vectorize" } },
  outboundService: emailApi,
});

const mf = new Miniflare({
  workers: [
    aiWorker("ai-worker", {
      limit: LIMIT_PER_MINUTE,
      clientLimit: CLIENT_LIMIT_PER_MINUTE,
      period: RATE_LIMIT_PERIOD_SECONDS,
      timeoutMs: 10_000,
    }),
    // Waits 50 ms for the email API, and counts one request per 10 seconds.
    aiWorker("ai-worker-impatient", { limit: 1, clientLimit: 1, period: 10, timeoutMs: 50 }),
    streamingClient("client", "ai-worker"),
    nodeBackedBinding("fake-ai", ai),
    nodeBackedBinding("fake-vectorize", index.binding),
  ],
});

let db;
let kv;
let emailCounter = 0;
const freshEmail = () => `person${++emailCounter}@example.com`;
let clientCounter = 0;
// Each in a /64 of its own, since the worker counts an IPv6 client by its /64.
const freshClient = () => ({ "CF-Connecting-IP": `2001:db8:${(++clientCounter).toString(16)}::1` });

// From a client of its own unless the headers name one, so only tests of the per-client limit meet it.
function post(path, body, headers = {}) {
  return mf.dispatchFetch(`https://ai.orchestra.test${path}`, jsonRequest("POST", body, { ...freshClient(), ...headers }));
}

async function postImpatiently(path, body) {
  const worker = await mf.getWorker("ai-worker-impatient");
  return worker.fetch(`https://ai.orchestra.test${path}`, jsonRequest("POST", body, freshClient()));
}

async function requestLink(email, headers = {}) {
  const response = await post("/request-login-link", { email }, headers);
  assert.equal(response.status, 202, await response.clone().text());
  const link = new URL(sentEmails.at(-1).body.text.match(/https:\/\/\S+/)[0]);
  return link.searchParams.get("token");
}

async function signIn(email = freshEmail()) {
  const response = await post("/verify-login", { token: await requestLink(email) });
  assert.equal(response.status, 200);
  return (await response.json()).session_token;
}

async function loginRecords(email) {
  const { keys } = await kv.list({ prefix: "login:" });
  const records = await Promise.all(keys.map(async ({ name }) => ({ key: name, record: await kv.get(name, "json") })));
  return records.filter(({ record }) => record.email === email);
}

async function assertError(response, status) {
  assert.equal(response.status, status);
  assert.match(response.headers.get("Content-Type"), /application\/json/);
  const body = await response.json();
  assert.equal(typeof body.error, "string");
  return body.error;
}

before(async () => {
  db = await mf.getD1Database("DB");
  kv = await mf.getKVNamespace("AUTH_KV");
  await applyMigrations(db, systemPath("ai_worker/migrations"));
});
after(async () => {
  for (const answer of unanswered) answer(new Response(null, { status: 204 }));
  await mf.dispose();
});
beforeEach(() => {
  emailApiStatus = 200;
  emailApiHangs = false;
  aiFailure = null;
});

describe("POST /request-login-link", () => {
  test("emails a single-use link and stores only a hash of its token", async () => {
    const email = freshEmail();
    const token = await requestLink(email);

    const sent = sentEmails.at(-1);
    assert.equal(sent.url, "https://email.test/emails");
    assert.equal(sent.authorization, `Bearer ${EMAIL_API_KEY}`);
    assert.equal(sent.body.from, "Orchestra <login@orchestra.test>");
    assert.equal(sent.body.to, email);
    assert.match(sent.body.text, /^Sign in/);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);

    const [{ key, record }] = await loginRecords(email);
    assert.ok(!key.includes(token) && !JSON.stringify(record).includes(token));
    const { keys } = await kv.list({ prefix: key });
    const lifetimeSeconds = keys[0].expiration - Date.now() / 1000;
    assert.ok(lifetimeSeconds > 890 && lifetimeSeconds <= 900, `token lifetime ${lifetimeSeconds}s`);
  });

  test("answers known and unknown addresses identically", async () => {
    const known = freshEmail();
    await signIn(known);
    const forKnown = await post("/request-login-link", { email: known });
    const forUnknown = await post("/request-login-link", { email: freshEmail() });
    assert.equal(forKnown.status, 202);
    assert.equal(forUnknown.status, 202);
    assert.deepEqual(await forKnown.json(), await forUnknown.json());
  });

  test("normalises the address", async () => {
    await requestLink("  Mixed.Case@Example.COM ");
    assert.equal(sentEmails.at(-1).body.to, "mixed.case@example.com");
  });

  // Each is something a mail system could read as more than one plain mailbox, or could not read.
  for (const email of [
    "victim@example.com\r\nBcc: everyone@example.com",
    "a\u0000b@example.com",
    "a\u0001@example.com",
    "a\ud800@example.com",
    '"a,b"@example.com',
    "x<attacker@example.com>",
    "attacker@example.com>",
    "a@example.com,b@example.com",
    "(comment)a@example.com",
    "a..b@example.com",
    ".a@example.com",
    "a@exa_mple.com",
    "a@example",
    "a@[127.0.0.1]",
    `${"a".repeat(65)}@example.com`,
    `a@${"b".repeat(64)}.com`,
    "a@-example.com",
    "a@example-.com",
    "İ@example.com",
    "ä@example.com",
  ]) {
    test(`rejects the address ${JSON.stringify(email)} with 400, sending nothing`, async () => {
      const emailsBefore = sentEmails.length;
      const { keys: recordsBefore } = await kv.list({ prefix: "login:" });
      assert.equal(await assertError(await post("/request-login-link", { email }), 400), "email must be a valid email address");
      assert.equal(sentEmails.length, emailsBefore);
      assert.equal((await kv.list({ prefix: "login:" })).keys.length, recordsBefore.length);
    });
  }

  test("takes every character and length an address may hold unquoted", async () => {
    for (const email of ["o'neil+tag!#$%&*/=?^_`{|}~-x.y@mail-1.example.co.uk", `${"a".repeat(64)}@${"b".repeat(63)}.com`]) {
      await requestLink(email);
      assert.equal(sentEmails.at(-1).body.to, email);
    }
  });

  for (const [name, body] of [
    ["a missing email", {}],
    ["a malformed email", { email: "not-an-email" }],
    ["a non-string email", { email: ["a@example.com"] }],
    ["malformed JSON", "{not json"],
    ["a JSON array", "[]"],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await post("/request-login-link", body), 400);
    });
  }

  test("rejects other methods with 405", async () => {
    const response = await mf.dispatchFetch("https://ai.orchestra.test/request-login-link");
    await assertError(response, 405);
    assert.equal(response.headers.get("Allow"), "POST");
  });

  test("answers 502 when the email API fails, leaving no usable link", async () => {
    emailApiStatus = 500;
    const email = freshEmail();
    await assertError(await post("/request-login-link", { email }), 502);
    assert.equal(sentEmails.at(-1).body.to, email);
    assert.deepEqual(await loginRecords(email), []);
  });

  test("answers 504 when the email API does not answer in time, leaving no usable link", async () => {
    emailApiHangs = true;
    const email = freshEmail();
    const response = await postImpatiently("/request-login-link", { email });
    assert.equal(await assertError(response, 504), "the email API did not answer in time; try again");
    assert.ok(unanswered.length > 0);
    const impatientKv = await mf.getKVNamespace("AUTH_KV", "ai-worker-impatient");
    assert.deepEqual((await impatientKv.list({ prefix: "login:" })).keys, []);
  });

  test("limits requests per address, from however many clients", async () => {
    const email = freshEmail();
    for (let i = 0; i < LIMIT_PER_MINUTE; i++) {
      assert.equal((await post("/request-login-link", { email }, freshClient())).status, 202);
    }
    const emailsBefore = sentEmails.length;
    const refused = await post("/request-login-link", { email }, freshClient());
    await assertError(refused, 429);
    assert.equal(refused.headers.get("Retry-After"), String(RATE_LIMIT_PERIOD_SECONDS));
    assert.equal(sentEmails.length, emailsBefore);
    assert.equal((await loginRecords(email)).length, LIMIT_PER_MINUTE);
  });

  test("limits requests per client, for however many addresses", async () => {
    const client = freshClient();
    for (let i = 0; i < CLIENT_LIMIT_PER_MINUTE; i++) {
      assert.equal((await post("/request-login-link", { email: freshEmail() }, client)).status, 202);
    }
    const emailsBefore = sentEmails.length;
    await assertError(await post("/request-login-link", { email: freshEmail() }, client), 429);
    assert.equal(sentEmails.length, emailsBefore);
    assert.equal((await post("/request-login-link", { email: freshEmail() }, freshClient())).status, 202);
  });

  test("counts the addresses of one IPv6 /64 as one client, and IPv4 addresses each apart", async () => {
    const network = ["2001:DB8:ABCD:12::1", "2001:db8:abcd:12:ffff:ffff:ffff:ffff", "2001:db8:abcd:12::9:1", "2001:db8:abcd:0012::", "2001:db8:abcd:12:0:0:0:2"];
    assert.equal(network.length, CLIENT_LIMIT_PER_MINUTE);
    for (const ip of network) {
      assert.equal((await post("/request-login-link", { email: freshEmail() }, { "CF-Connecting-IP": ip })).status, 202, ip);
    }
    await assertError(await post("/request-login-link", { email: freshEmail() }, { "CF-Connecting-IP": "2001:db8:abcd:12::77" }), 429);
    assert.equal((await post("/request-login-link", { email: freshEmail() }, { "CF-Connecting-IP": "2001:db8:abcd:13::1" })).status, 202);
    for (let i = 0; i <= CLIENT_LIMIT_PER_MINUTE; i++) {
      assert.equal((await post("/request-login-link", { email: freshEmail() }, { "CF-Connecting-IP": `198.51.100.${i + 1}` })).status, 202);
    }
  });

  test("spends nothing of an address's limit on a client refused for its own volume", async () => {
    const client = freshClient();
    for (let i = 0; i < CLIENT_LIMIT_PER_MINUTE; i++) await post("/request-login-link", { email: freshEmail() }, client);
    const email = freshEmail();
    for (let i = 0; i < LIMIT_PER_MINUTE; i++) await assertError(await post("/request-login-link", { email }, client), 429);
    for (let i = 0; i < LIMIT_PER_MINUTE; i++) {
      assert.equal((await post("/request-login-link", { email }, freshClient())).status, 202);
    }
  });

  test("gives the limiters' period as Retry-After", async () => {
    const email = freshEmail();
    // At most one request per window is admitted, so a refusal comes within three.
    let refused;
    for (let i = 0; i < 3 && !refused; i++) {
      const response = await postImpatiently("/request-login-link", { email });
      if (response.status === 429) refused = response;
    }
    assert.equal(refused.headers.get("Retry-After"), "10");
    assert.equal(await assertError(refused, 429), "too many requests; try again in 10 seconds");
  });
});

describe("POST /request-login-link for the smoke-test address", () => {
  const SMOKE_TEST_ADDRESS = "smoke-check@smoke.invalid";
  const asAdmin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

  test("with the admin token, answers the link's token and sends no mail; the token signs in", async () => {
    const emailsBefore = sentEmails.length;
    const response = await post("/request-login-link", { email: " Smoke-Check@SMOKE.invalid " }, asAdmin);
    assert.equal(response.status, 202);
    assert.equal(response.headers.get("Cache-Control"), "no-store");
    const answer = await response.json();
    assert.equal(answer.email_sent, false);
    assert.match(answer.login_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(sentEmails.length, emailsBefore);

    const verified = await post("/verify-login", { token: answer.login_token });
    assert.equal(verified.status, 200);
    assert.ok((await verified.json()).session_token);
    const user = await db.prepare("SELECT email FROM users WHERE email = ?").bind(SMOKE_TEST_ADDRESS).first();
    assert.equal(user.email, SMOKE_TEST_ADDRESS);
    assert.equal(sentEmails.length, emailsBefore);
  });

  test("without a token, answers like any address, sending and recording nothing", async () => {
    const emailsBefore = sentEmails.length;
    const forSmoke = await post("/request-login-link", { email: SMOKE_TEST_ADDRESS });
    const forPerson = await post("/request-login-link", { email: freshEmail() });
    assert.equal(forSmoke.status, 202);
    assert.deepEqual(await forSmoke.json(), await forPerson.json());
    assert.equal(sentEmails.length, emailsBefore + 1);
    assert.deepEqual(await loginRecords(SMOKE_TEST_ADDRESS), []);
  });

  for (const [name, authorization] of [
    ["a wrong admin token", `Bearer ${ADMIN_TOKEN}x`],
    ["a header that is no bearer token", ADMIN_TOKEN],
  ]) {
    test(`with ${name}, answers 401, sending and recording nothing`, async () => {
      const emailsBefore = sentEmails.length;
      const response = await post("/request-login-link", { email: SMOKE_TEST_ADDRESS }, { Authorization: authorization });
      assert.equal(await assertError(response, 401), "the admin token is required");
      assert.equal(sentEmails.length, emailsBefore);
      assert.deepEqual(await loginRecords(SMOKE_TEST_ADDRESS), []);
    });
  }

  test("the admin token reveals no other address's link: that one is mailed as always", async () => {
    for (const email of [freshEmail(), `other@smoke.invalid`]) {
      const response = await post("/request-login-link", { email }, asAdmin);
      assert.equal(response.status, 202);
      assert.deepEqual(await response.json(), { status: "If the address can receive email, a sign-in link is on its way." });
      assert.equal(sentEmails.at(-1).body.to, email);
    }
  });

  test("is not limited per address, so nobody can spend the smoke check's sign-ins", async () => {
    for (let i = 0; i <= LIMIT_PER_MINUTE; i++) {
      assert.equal((await post("/request-login-link", { email: SMOKE_TEST_ADDRESS })).status, 202);
    }
    const response = await post("/request-login-link", { email: SMOKE_TEST_ADDRESS }, asAdmin);
    assert.equal(response.status, 202);
    assert.ok((await response.json()).login_token);
  });

  test("counts every request, guesses at the token included, against the client's limit", async () => {
    const client = freshClient();
    for (let i = 0; i < CLIENT_LIMIT_PER_MINUTE; i++) {
      const guess = { ...client, Authorization: `Bearer guess-${i}` };
      await assertError(await post("/request-login-link", { email: SMOKE_TEST_ADDRESS }, guess), 401);
    }
    await assertError(await post("/request-login-link", { email: SMOKE_TEST_ADDRESS }, { ...client, ...asAdmin }), 429);
  });
});

describe("/verify-login", () => {
  test("exchanges a token for a session and creates the user once", async () => {
    const email = freshEmail();
    const response = await post("/verify-login", { token: await requestLink(email) });
    assert.equal(response.status, 200);
    const { session_token: sessionToken, expires_at: expiresAt } = await response.json();
    assert.match(sessionToken, /^[A-Za-z0-9_-]{43}$/);
    const lifetimeDays = (Date.parse(expiresAt) - Date.now()) / 86_400_000;
    assert.ok(lifetimeDays > 6.9 && lifetimeDays <= 7, `session lifetime ${lifetimeDays} days`);

    await signIn(email);
    const users = await db.prepare("SELECT email FROM users WHERE email = ?").bind(email).all();
    assert.equal(users.results.length, 1);
  });

  test("accepts the token as a GET query parameter", async () => {
    const token = await requestLink(freshEmail());
    const response = await mf.dispatchFetch(`https://ai.orchestra.test/verify-login?token=${token}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Cache-Control"), "no-store");
    assert.ok((await response.json()).session_token);
  });

  test("rejects a reused token with 401", async () => {
    const token = await requestLink(freshEmail());
    assert.equal((await post("/verify-login", { token })).status, 200);
    await assertError(await post("/verify-login", { token }), 401);
  });

  test("rejects a reused token even while KV still returns it", async () => {
    const email = freshEmail();
    const token = await requestLink(email);
    const [{ key, record }] = await loginRecords(email);
    assert.equal((await post("/verify-login", { token })).status, 200);
    // A stale KV replica elsewhere may still serve the deleted record.
    await kv.put(key, JSON.stringify(record), { expirationTtl: 900 });
    await assertError(await post("/verify-login", { token }), 401);
  });

  test("gives one session for a token presented many times at once", async () => {
    const token = await requestLink(freshEmail());
    const responses = await Promise.all(Array.from({ length: 8 }, () => post("/verify-login", { token })));
    const statuses = responses.map((response) => response.status).sort();
    assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
  });

  test("rejects a token cut short, lengthened or altered with 400 or 401", async () => {
    const token = await requestLink(freshEmail());
    const altered = `${token.slice(0, -1)}${token.at(-1) === "A" ? "B" : "A"}`;
    await assertError(await post("/verify-login", { token: token.slice(0, -1) }), 400);
    await assertError(await post("/verify-login", { token: `${token}A` }), 400);
    await assertError(await post("/verify-login", { token: ` ${token}` }), 400);
    await assertError(await post("/verify-login", { token: altered }), 401);
    assert.equal((await post("/verify-login", { token })).status, 200);
  });

  test("rejects an expired token with 401", async () => {
    const email = freshEmail();
    const token = await requestLink(email);
    const [{ key, record }] = await loginRecords(email);
    // The record outlived its deadline because KV had not purged it yet.
    await kv.put(key, JSON.stringify({ ...record, expires_at: Date.now() - 1 }), { expirationTtl: 60 });
    await assertError(await post("/verify-login", { token }), 401);
  });

  test("rejects an unknown token with 401", async () => {
    await assertError(await post("/verify-login", { token: "A".repeat(43) }), 401);
  });

  for (const [name, body] of [
    ["a missing token", {}],
    ["a malformed token", { token: "short" }],
    ["malformed JSON", "{"],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await post("/verify-login", body), 400);
    });
  }
});

describe("POST /seed", () => {
  const seed = (token) => post("/seed", {}, token ? { Authorization: `Bearer ${token}` } : {});

  test("loads every document with its metadata and records the version", async () => {
    const response = await seed(ADMIN_TOKEN);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      version: knowledgeBase.version,
      documents: knowledgeBase.documents.length,
      removed: 0,
    });
    assert.deepEqual([...index.vectors.keys()].sort(), knowledgeBase.documents.map((doc) => doc.id).sort());
    const [first] = knowledgeBase.documents;
    const stored = index.vectors.get(first.id);
    assert.equal(stored.values.length, 768);
    assert.deepEqual(stored.metadata, { title: first.title, text: first.text, version: knowledgeBase.version });
    const version = await db.prepare("SELECT * FROM knowledge_base_versions WHERE version = ?").bind(knowledgeBase.version).first();
    assert.equal(version.document_count, knowledgeBase.documents.length);
  });

  test("is idempotent and removes documents no longer in the file", async () => {
    await db.prepare("INSERT INTO knowledge_documents (id, version) VALUES ('retired-doc', 'old')").run();
    index.vectors.set("retired-doc", { values: fakeEmbedding("retired"), metadata: { title: "Retired" } });

    const response = await seed(ADMIN_TOKEN);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).removed, 1);
    assert.equal(index.vectors.size, knowledgeBase.documents.length);
    assert.equal(index.vectors.has("retired-doc"), false);
    const { results } = await db.prepare("SELECT count(*) AS n FROM knowledge_base_versions").all();
    assert.equal(results[0].n, 1);
  });

  test("rejects a missing token with 401", async () => {
    const response = await seed(null);
    await assertError(response, 401);
    assert.equal(response.headers.get("WWW-Authenticate"), "Bearer");
  });

  test("rejects a wrong admin token with 401", async () => {
    await assertError(await seed(`${ADMIN_TOKEN}x`), 401);
  });

  test("rejects a user's session token with 401", async () => {
    await assertError(await seed(await signIn()), 401);
  });
});

describe("POST /api/chat", () => {
  before(async () => {
    assert.equal((await post("/seed", {}, { Authorization: `Bearer ${ADMIN_TOKEN}` })).status, 200);
  });

  const chat = (session, body) => post("/api/chat", body, session ? { Authorization: `Bearer ${session}` } : {});

  test("answers from the retrieved passages and remembers the conversation", async () => {
    const session = await signIn();
    const question = "How does the tenant rate limiter count requests and tokens per minute?";
    const first = await chat(session, { message: question });
    assert.equal(first.status, 200);
    const answer = await first.json();
    assert.match(answer.answer, /^Answer #\d+$/);
    assert.equal(answer.sources.length, 4);
    assert.equal(answer.sources[0].id, "tenant-rate-limiter");
    assert.equal(answer.sources[0].title, "Tenant rate limiter");

    const [system, user] = chatCalls.at(-1);
    assert.equal(system.role, "system");
    assert.match(system.content, /\[1\] Tenant rate limiter\nThe rate-limiter worker enforces/);
    assert.deepEqual(user, { role: "user", content: question });

    const second = await chat(session, { message: "And who can call it?", conversation_id: answer.conversation_id });
    assert.equal(second.status, 200);
    assert.equal((await second.json()).conversation_id, answer.conversation_id);
    assert.deepEqual(
      chatCalls.at(-1).slice(1),
      [
        { role: "user", content: question },
        { role: "assistant", content: answer.answer },
        { role: "user", content: "And who can call it?" },
      ],
    );
    const { results } = await db
      .prepare("SELECT role FROM messages WHERE conversation_id = ? ORDER BY id")
      .bind(answer.conversation_id)
      .all();
    assert.deepEqual(results.map((row) => row.role), ["user", "assistant", "user", "assistant"]);
  });

  test("rejects a missing session with 401", async () => {
    await assertError(await chat(null, { message: "hello" }), 401);
  });

  test("rejects an unknown session with 401", async () => {
    await assertError(await chat("B".repeat(43), { message: "hello" }), 401);
  });

  test("does not continue another user's conversation", async () => {
    const owner = await signIn();
    const { conversation_id: conversationId } = await (await chat(owner, { message: "What is Orchestra?" })).json();
    await assertError(await chat(await signIn(), { message: "hi", conversation_id: conversationId }), 404);
  });

  for (const [name, body] of [
    ["a missing message", {}],
    ["an empty message", { message: "   " }],
    ["an overlong message", { message: "x".repeat(2001) }],
    ["a malformed conversation_id", { message: "hi", conversation_id: "42" }],
    ["malformed JSON", "{\"message\": "],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await chat(await signIn(), body), 400);
    });
  }

  test("limits questions per user", async () => {
    const session = await signIn();
    for (let i = 0; i < LIMIT_PER_MINUTE; i++) {
      assert.equal((await chat(session, { message: "What is Orchestra?" })).status, 200);
    }
    const refused = await chat(session, { message: "What is Orchestra?" });
    await assertError(refused, 429);
    assert.equal(refused.headers.get("Retry-After"), String(RATE_LIMIT_PERIOD_SECONDS));
  });

  test("counts no refused question against the user's limit", async () => {
    const session = await signIn();
    const auth = { Authorization: `Bearer ${session}` };
    const refused = [
      await mf.dispatchFetch("https://ai.orchestra.test/api/chat", { method: "POST", headers: { ...auth, "Content-Type": "text/plain" }, body: "{}" }),
      await chat(session, "{\"message\": "),
      await chat(session, { message: " " }),
      await chat(session, { message: "hi", conversation_id: "42" }),
      await chat(session, { message: "hi", conversation_id: crypto.randomUUID() }),
    ];
    assert.deepEqual(refused.map((response) => response.status), [415, 400, 400, 400, 404]);
    assert.ok(refused.length > LIMIT_PER_MINUTE);
    assert.equal((await chat(session, { message: "What is Orchestra?" })).status, 200);
  });

  test("answers 502 when Workers AI fails, storing nothing", async () => {
    const session = await signIn();
    const before = await db.prepare("SELECT count(*) AS n FROM messages").first("n");
    aiFailure = "model overloaded";
    await assertError(await chat(session, { message: "What is Orchestra?" }), 502);
    assert.equal(await db.prepare("SELECT count(*) AS n FROM messages").first("n"), before);
  });
});

describe("CORS", () => {
  const preflight = (origin) =>
    mf.dispatchFetch("https://ai.orchestra.test/api/chat", {
      method: "OPTIONS",
      headers: {
        ...(origin ? { Origin: origin } : {}),
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });

  test("answers an allowed origin's preflight", async () => {
    const response = await preflight(ALLOWED_ORIGIN);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("Access-Control-Allow-Origin"), ALLOWED_ORIGIN);
    assert.match(response.headers.get("Access-Control-Allow-Methods"), /POST/);
    assert.match(response.headers.get("Access-Control-Allow-Headers"), /Authorization/);
  });

  test("refuses the preflight of other origins with 403", async () => {
    for (const origin of ["https://evil.test", null]) {
      const response = await preflight(origin);
      await assertError(response, 403);
      assert.equal(response.headers.get("Access-Control-Allow-Origin"), null);
    }
  });

  test("adds the header to an allowed origin's responses, errors included", async () => {
    const response = await post("/request-login-link", { email: "nope" }, { Origin: "https://admin.orchestra.test" });
    await assertError(response, 400);
    assert.equal(response.headers.get("Access-Control-Allow-Origin"), "https://admin.orchestra.test");
    assert.equal(response.headers.get("Vary"), "Origin");
  });

  test("adds no CORS header for other origins", async () => {
    const response = await post("/request-login-link", { email: freshEmail() }, { Origin: "https://evil.test" });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get("Access-Control-Allow-Origin"), null);
  });
});

test("unknown paths answer 404 JSON", async () => {
  await assertError(await mf.dispatchFetch("https://ai.orchestra.test/nope"), 404);
});

describe("bad input to endpoints that take JSON", () => {
  const send = (path, body, contentType) =>
    mf.dispatchFetch(`https://ai.orchestra.test${path}`, {
      method: "POST",
      headers: contentType === null ? {} : { "Content-Type": contentType },
      body,
    });
  const stream = async (request) => (await (await mf.getWorker("client")).fetch("https://client/", jsonRequest("POST", request))).json();

  test("refuses anything but application/json with 415, before anything is sent", async () => {
    // A cross-site form or text/plain POST needs no CORS preflight: the allow-list would never see it.
    const email = freshEmail();
    const emailsBefore = sentEmails.length;
    for (const contentType of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
      null,
    ]) {
      for (const path of ["/request-login-link", "/verify-login"]) {
        const error = await assertError(await send(path, JSON.stringify({ email }), contentType), 415);
        assert.equal(error, "Content-Type must be application/json");
      }
    }
    assert.equal(sentEmails.length, emailsBefore);
    assert.deepEqual(await loginRecords(email), []);
  });

  test("takes application/json with parameters, in any case", async () => {
    const response = await send("/request-login-link", JSON.stringify({ email: freshEmail() }), "Application/JSON; charset=utf-8");
    assert.equal(response.status, 202);
  });

  // The body never arrives: a worker that read it first would never answer, and the timeout
  // turns that hang into a failure.
  test("refuses a body whose Content-Length is over the limit without reading it", { timeout: 60_000 }, async () => {
    const answer = await stream({ path: "/request-login-link", length: MAX_BODY_BYTES + 1, stall: true });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error, `request body must be at most ${MAX_BODY_BYTES} bytes`);
  });

  test("stops reading a streamed body once it passes the limit", async () => {
    const total = 64 * MAX_BODY_BYTES;
    const answer = await stream({ path: "/request-login-link", total });
    assert.equal(answer.status, 413);
    assert.ok(answer.pulled < 4 * MAX_BODY_BYTES, `read ${answer.pulled} of ${total} bytes`);
  });

  test("answers 400 to a body that ends before its Content-Length, sending nothing", async () => {
    const emailsBefore = sentEmails.length;
    const answer = await stream({ path: "/request-login-link", length: 100, sent: 10 });
    assert.deepEqual(answer, { status: 400, body: { error: "request body ended before it was complete" }, pulled: 0 });
    assert.equal(sentEmails.length, emailsBefore);
  });

  test("reads a body within the limit, however it arrives", async () => {
    const answer = await stream({ path: "/request-login-link", length: MAX_BODY_BYTES });
    // All spaces: within the limit, and not JSON.
    assert.deepEqual(answer, { status: 400, body: { error: "request body must be valid JSON" }, pulled: 0 });
  });
});

describe("GET /healthz", () => {
  test("answers without authentication with the version and a check per binding", async () => {
    const response = await mf.dispatchFetch("https://ai.orchestra.test/healthz");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Cache-Control"), "no-store");
    assert.deepEqual(await response.json(), { status: "ok", version: VERSION, checks: { DB: "ok", AUTH_KV: "ok" } });
  });

  test("refuses other methods with 405 JSON", async () => {
    const response = await mf.dispatchFetch("https://ai.orchestra.test/healthz", { method: "POST" });
    await assertError(response, 405);
    assert.equal(response.headers.get("Allow"), "GET");
  });
});
