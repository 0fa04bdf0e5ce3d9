import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE, applyMigrations, jsonRequest, systemPath, workerModules } from "./support.mjs";

const API_KEY = "config-api-key-for-tests";
const CI_KEY = "config-ci-key-for-tests";

const VERSION = "version-of-the-config-service";

const configService = (apiKeys) =>
  new Miniflare({
    name: "config-service-acme-dev",
    compatibilityDate: COMPATIBILITY_DATE,
    ...workerModules("tenants/config_service.js"),
    bindings: apiKeys === undefined ? { VERSION } : { API_KEYS: apiKeys, VERSION },
    d1Databases: ["DB"],
  });
const mf = configService(JSON.stringify({ primary: API_KEY, ci: CI_KEY }));

function call(method, path, body, headers = { "X-API-Key": API_KEY }) {
  const init = body === undefined ? { method, headers } : jsonRequest(method, body, headers);
  return mf.dispatchFetch(`https://config.acme.test${path}`, init);
}

async function assertError(response, status) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(typeof body.error, "string");
  return body.error;
}

before(async () => applyMigrations(await mf.getD1Database("DB"), systemPath("tenants/migrations/config")));
after(() => mf.dispose());

describe("entries", () => {
  test("round-trip any JSON value through PUT, GET, list and DELETE", async () => {
    const values = { "feature.flags": { beta: true, ratio: 0.25 }, "model:default": "ideogram-v3", retries: 3, tags: ["a"], nothing: null };
    for (const [key, value] of Object.entries(values)) {
      const response = await call("PUT", `/config/${encodeURIComponent(key)}`, { value });
      assert.equal(response.status, 200);
      const entry = await response.json();
      assert.deepEqual({ key: entry.key, value: entry.value }, { key, value });
      assert.equal(entry.created_at, entry.updated_at);
    }

    const single = await call("GET", "/config/feature.flags");
    assert.equal(single.status, 200);
    assert.deepEqual((await single.json()).value, values["feature.flags"]);

    const list = await (await call("GET", "/config")).json();
    assert.deepEqual(
      list.entries.map(({ key, value }) => [key, value]),
      Object.entries(values).sort(([a], [b]) => (a < b ? -1 : 1)),
    );

    for (const key of Object.keys(values)) {
      assert.equal((await call("DELETE", `/config/${encodeURIComponent(key)}`)).status, 204);
    }
    assert.deepEqual(await (await call("GET", "/config")).json(), { entries: [], next_cursor: null });
  });

  test("replacing an entry keeps its creation time", async () => {
    const created = await (await call("PUT", "/config/theme", { value: "light" })).json();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const replaced = await (await call("PUT", "/config/theme", { value: "dark" })).json();
    assert.equal(replaced.value, "dark");
    assert.equal(replaced.created_at, created.created_at);
    assert.ok(replaced.updated_at > created.updated_at);
  });

  test("reading or deleting a missing entry answers 404", async () => {
    await assertError(await call("GET", "/config/absent"), 404);
    await assertError(await call("DELETE", "/config/absent"), 404);
  });
});

describe("validation", () => {
  for (const key of ["-leading-dash", "with space", "a/b", "x".repeat(129), "%E0%A4%A"]) {
    test(`rejects the key ${JSON.stringify(key.slice(0, 20))} with 400`, async () => {
      await assertError(await call("PUT", `/config/${key.includes("%") ? key : encodeURIComponent(key)}`, { value: 1 }), 400);
    });
  }

  for (const encoded of ["..%2Fhealthz", "a%2F..%2Fb", "%2E", "a%00", "a%0D%0Ab", "%C0%AE%C0%AE"]) {
    test(`rejects the encoded key ${encoded} with 400`, async () => {
      await assertError(await call("PUT", `/config/${encoded}`, { value: 1 }), 400);
      await assertError(await call("GET", `/config/${encoded}`), 400);
    });
  }

  test("keeps a __proto__ key as data of the value", async () => {
    const response = await call("PUT", "/config/prototype", '{"value": {"__proto__": {"admin": true}, "constructor": 1}}');
    assert.equal(response.status, 200);
    const { value } = await (await call("GET", "/config/prototype")).json();
    assert.ok(Object.hasOwn(value, "__proto__"));
    assert.deepEqual(value.__proto__, { admin: true });
    assert.equal(value.constructor, 1);
  });

  test("keeps lone surrogates and NUL characters in a value's strings and keys exactly", async () => {
    const text = '{"\\ud800\\u0000": ["\\udc00", "a\\u0000b", "\\ud83d\\ude00"]}';
    const response = await call("PUT", "/config/odd-text", `{"value": ${text}}`);
    assert.equal(response.status, 200);
    assert.deepEqual((await (await call("GET", "/config/odd-text")).json()).value, JSON.parse(text));
  });

  test("accepts a 128-character key", async () => {
    assert.equal((await call("PUT", `/config/${"k".repeat(128)}`, { value: 1 })).status, 200);
  });

  for (const [name, body] of [
    ["malformed JSON", "{\"value\":"],
    ["a body without value", { other: 1 }],
    ["a JSON array", "[1]"],
  ]) {
    test(`rejects ${name} with 400`, async () => {
      await assertError(await call("PUT", "/config/key", body), 400);
    });
  }

  test("rejects a body that is not application/json with 415 and stores nothing", async () => {
    const response = await mf.dispatchFetch("https://config.acme.test/config/plain", {
      method: "PUT",
      headers: { "X-API-Key": API_KEY, "Content-Type": "text/plain" },
      body: JSON.stringify({ value: 1 }),
    });
    await assertError(response, 415);
    await assertError(await call("GET", "/config/plain"), 404);
  });

  test("rejects a body over 64 KiB with 413 before parsing it", async () => {
    await assertError(await call("PUT", "/config/big", `{"value": "${"x".repeat(64 * 1024)}"}`), 413);
  });

  test("rejects a value over 32 KiB with 413", async () => {
    await assertError(await call("PUT", "/config/big", { value: "x".repeat(33 * 1024) }), 413);
  });

  // The body wraps the value, so a value nested 63 levels deep makes a body 64 levels deep.
  const nested = (depth) => `{"value": ${"[".repeat(depth)}${"]".repeat(depth)}}`;

  test("accepts a value nested as deep as the limit allows", async () => {
    const response = await call("PUT", "/config/deep", nested(63));
    assert.equal(response.status, 200);
    assert.equal(JSON.stringify((await response.json()).value), "[".repeat(63) + "]".repeat(63));
  });

  // 5000 levels is what the database itself refuses, which answered 500.
  for (const depth of [64, 5000]) {
    test(`rejects a value nested ${depth} levels deep with 400 and stores nothing`, async () => {
      assert.match(await assertError(await call("PUT", "/config/too-deep", nested(depth)), 400), /at most 64 levels/);
      await assertError(await call("GET", "/config/too-deep"), 404);
    });
  }

  test("counts no brackets inside strings toward the nesting", async () => {
    const response = await call("PUT", "/config/brackets", { value: { "[[[": "{".repeat(100), quoted: '"[\\' } });
    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()).value, { "[[[": "{".repeat(100), quoted: '"[\\' });
  });

  // JavaScript would keep 1e400 as Infinity, stored as null, 1e-400 as 0, and round 2^53 + 1 to 2^53.
  const inexact = ["1e400", "-1E400", "1e-400", "-0.0001e-330", "9007199254740993", "-9007199254740993", "123456789012345678901234567890"];
  for (const [i, number] of inexact.entries()) {
    test(`rejects the number ${number} it cannot keep exactly with 400 and stores nothing`, async () => {
      const path = `/config/number-${i}`;
      assert.match(await assertError(await call("PUT", path, `{"value": {"n": [${number}]}}`), 400), /numbers/);
      await assertError(await call("GET", path), 404);
    });
  }

  test("keeps every number JavaScript holds exactly", async () => {
    const text = "[9007199254740991, -9007199254740991, 1.5e300, 0.1, 1e21, -0.5, 5e-324, 0, 0e-400, 0.000e5]";
    const response = await call("PUT", "/config/numbers", `{"value": ${text}}`);
    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()).value, JSON.parse(text));
  });

  test("rejects unsupported methods with 405", async () => {
    const response = await call("POST", "/config", { value: 1 });
    await assertError(response, 405);
    assert.equal(response.headers.get("Allow"), "GET");
    await assertError(await call("PATCH", "/config/key", { value: 1 }), 405);
  });

  test("answers 404 for unknown paths", async () => {
    await assertError(await call("GET", "/elsewhere"), 404);
  });
});

describe("API key", () => {
  test("is required", async () => {
    await assertError(await call("GET", "/config", undefined, {}), 401);
  });

  test("must match", async () => {
    await assertError(await call("GET", "/config", undefined, { "X-API-Key": `${API_KEY}x` }), 401);
    await assertError(await call("PUT", "/config/key", { value: 1 }, { "X-API-Key": "" }), 401);
  });

  test("must be sent once, exactly", async () => {
    for (const headers of [
      [["X-API-Key", API_KEY], ["X-API-Key", "wrong"]],
      [["X-API-Key", API_KEY], ["X-API-Key", API_KEY]],
      [["X-API-Key", API_KEY.toUpperCase()]],
      [["X-API-Key", `${API_KEY},${CI_KEY}`]],
    ]) {
      await assertError(await mf.dispatchFetch("https://config.acme.test/config", { headers }), 401);
    }
  });

  test("is checked before routing", async () => {
    await assertError(await call("GET", "/elsewhere", undefined, {}), 401);
  });

  test("may be any of the instance's keys", async () => {
    assert.equal((await call("GET", "/config", undefined, { "X-API-Key": CI_KEY })).status, 200);
  });

  test("may be named like a property every object has", async () => {
    const keyed = configService(`{"constructor": "${API_KEY}", "__proto__": "${CI_KEY}"}`);
    try {
      for (const key of [API_KEY, CI_KEY]) {
        // Past the key check, an unknown path is the answer that needs no database.
        const response = await keyed.dispatchFetch("https://config.acme.test/elsewhere", { headers: { "X-API-Key": key } });
        assert.equal(await assertError(response, 404), "not found");
      }
    } finally {
      await keyed.dispose();
    }
  });

  for (const [name, apiKeys] of [
    ["missing", undefined],
    ["not JSON", "primary"],
    ["an empty object", "{}"],
    ["a list", JSON.stringify([API_KEY])],
    ["holding an empty key", JSON.stringify({ primary: API_KEY, ci: "" })],
  ]) {
    test(`answers 500 without revealing a key when API_KEYS is ${name}`, async () => {
      const misconfigured = configService(apiKeys);
      try {
        const response = await misconfigured.dispatchFetch("https://config.acme.test/config", {
          headers: { "X-API-Key": API_KEY },
        });
        assert.equal(await assertError(response, 500), "the worker's API keys are misconfigured");
      } finally {
        await misconfigured.dispose();
      }
    });
  }
});

describe("GET /config pages", () => {
  // An instance of its own, so the entries other tests write do not move the pages.
  const paged = configService(JSON.stringify({ primary: API_KEY }));
  const MAX_PAGE_SIZE = 100;
  const ENTRY_COUNT = 2 * MAX_PAGE_SIZE + 50;
  const keys = Array.from({ length: ENTRY_COUNT }, (_, i) => `entry.${String(i).padStart(4, "0")}`);
  const list = async (query = "") => paged.dispatchFetch(`https://config.acme.test/config${query}`, { headers: { "X-API-Key": API_KEY } });

  before(async () => {
    const db = await paged.getD1Database("DB");
    await applyMigrations(db, systemPath("tenants/migrations/config"));
    const insert = db.prepare("INSERT INTO config_entries (key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)");
    await db.batch(keys.map((key, i) => insert.bind(key, JSON.stringify({ i }), "2026-05-01T00:00:00.000Z")));
  });
  after(() => paged.dispose());

  async function walk(query) {
    const pages = [];
    let cursor = null;
    do {
      const response = await list(`?${query}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(response.status, 200);
      const page = await response.json();
      pages.push(page.entries);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return pages;
  }

  test(`answers at most ${MAX_PAGE_SIZE} entries at once, however many there are`, async () => {
    const page = await (await list()).json();
    assert.deepEqual(page.entries.map((entry) => entry.key), keys.slice(0, MAX_PAGE_SIZE));
    assert.equal(page.next_cursor, keys[MAX_PAGE_SIZE - 1]);
  });

  test("walks every entry once, in key order, with the default page size or a smaller one", async () => {
    for (const [query, sizes] of [
      ["", [100, 100, 50]],
      ["limit=100", [100, 100, 50]],
      ["limit=99", [99, 99, 52]],
    ]) {
      const pages = await walk(query);
      assert.deepEqual(pages.map((page) => page.length), sizes);
      assert.deepEqual(pages.flat().map((entry) => entry.key), keys);
    }
    const pages = await walk("limit=7");
    assert.equal(pages.length, Math.ceil(ENTRY_COUNT / 7));
    assert.deepEqual(pages.flat().map(({ key, value }) => [key, value.i]), keys.map((key, i) => [key, i]));
  });

  test("ends with a null cursor when the last page is exactly full", async () => {
    const page = await (await list(`?limit=50&cursor=${keys[ENTRY_COUNT - 51]}`)).json();
    assert.equal(page.entries.length, 50);
    assert.equal(page.next_cursor, null);
  });

  for (const query of [
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=1.5",
    "limit=1e2",
    "limit=010",
    "limit=",
    "limit=abc",
    "limit=5&limit=6",
    "cursor=",
    "cursor=a%20b",
    `cursor=${"x".repeat(129)}`,
    "cursor=a&cursor=b",
  ]) {
    test(`rejects ?${query.slice(0, 30)} with 400`, async () => {
      await assertError(await list(`?${query}`), 400);
    });
  }
});

describe("GET /healthz", () => {
  test("answers without an API key with the version and the database's check", async () => {
    const response = await mf.dispatchFetch("https://config.acme.test/healthz");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", version: VERSION, checks: { DB: "ok" } });
  });

  test("refuses other methods with 405 JSON", async () => {
    await assertError(await mf.dispatchFetch("https://config.acme.test/healthz", { method: "POST" }), 405);
  });

  test("answers 503 naming the failed check, never its error", async () => {
    const broken = new Miniflare({
      workers: [
        {
          name: "config-service-broken",
          compatibilityDate: COMPATIBILITY_DATE,
          ...workerModules("tenants/config_service.js"),
          bindings: { VERSION },
          wrappedBindings: { DB: { scriptName: "unreachable-database" } },
        },
        {
          // A D1 binding whose queries fail, as they do when the database cannot be reached.
          name: "unreachable-database",
          modules: true,
          script: `
            export default function () {
              const failing = { async first() { throw new Error("D1_ERROR: connection to db-secret-host refused"); } };
              return { prepare: () => failing };
            }`,
        },
      ],
    });
    try {
      const response = await broken.dispatchFetch("https://config.acme.test/healthz");
      assert.equal(response.status, 503);
      const text = await response.text();
      assert.deepEqual(JSON.parse(text), { status: "failing", version: VERSION, checks: { DB: "D1 select 1 failed" } });
      assert.ok(!text.includes("db-secret-host"));
    } finally {
      await broken.dispose();
    }
  });
});
