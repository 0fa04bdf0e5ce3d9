// config-service-<instance>: CRUD over the instance's configuration entries,
// stored in the instance's D1 database, behind the instance's API key.
import {
  allowMethods,
  authenticate,
  d1Check,
  errorResponse,
  healthz,
  HttpError,
  json,
  readJsonObject,
} from "../worker_common/http.js";
import { instrument } from "../worker_common/error_tracking.js";
import { log } from "../worker_common/log.js";

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_VALUE_BYTES = 32 * 1024;
const MAX_BODY_BYTES = 64 * 1024;
// At most this many entries of at most MAX_VALUE_BYTES each per page of GET /config, so one
// answer stays a few megabytes however many entries the instance holds.
const MAX_PAGE_SIZE = 100;

export default instrument(
  {
    async fetch(request, env) {
      try {
        if (new URL(request.url).pathname === "/healthz") return await healthz(request, env, { DB: d1Check("DB") });
        // Checked before routing, so callers without the key learn nothing about routes.
        await authenticate(request, env);
        return await route(request, env);
      } catch (error) {
        return errorResponse(error);
      }
    },
  }, { tenant: (env) => env.INSTANCE_ID },
);

function route(request, env) {
  const { pathname } = new URL(request.url);
  if (pathname === "/config") {
    allowMethods(request, ["GET"]);
    return listEntries(env.DB, new URL(request.url).searchParams);
  }
  if (!pathname.startsWith("/config/")) throw new HttpError(404, "not found");
  allowMethods(request, ["GET", "PUT", "DELETE"]);
  const key = parseKey(pathname.slice("/config/".length));
  if (request.method === "GET") return getEntry(env.DB, key);
  if (request.method === "PUT") return putEntry(request, env.DB, key);
  return deleteEntry(env.DB, key);
}

// A page of entries in key order: `?limit=` (1 to MAX_PAGE_SIZE, that by default) and `?cursor=`,
// the `next_cursor` of the page before, which is null on the last page.
async function listEntries(db, params) {
  const limit = parsePageSize(singleParam(params, "limit"));
  const cursor = singleParam(params, "cursor");
  if (cursor !== null && !KEY_PATTERN.test(cursor)) throw new HttpError(400, "cursor must be the next_cursor of a page");
  // One more than the page, to learn whether another page follows.
  const { results } = await db
    .prepare("SELECT key, value, created_at, updated_at FROM config_entries WHERE key > ? ORDER BY key LIMIT ?")
    .bind(cursor ?? "", limit + 1)
    .all();
  const page = results.slice(0, limit);
  const nextCursor = results.length > limit ? page.at(-1).key : null;
  return json({ entries: page.map(presentEntry), next_cursor: nextCursor });
}

function singleParam(params, name) {
  const values = params.getAll(name);
  if (values.length > 1) throw new HttpError(400, `${name} may be given once`);
  return values.length ? values[0] : null;
}

function parsePageSize(text) {
  if (text === null) return MAX_PAGE_SIZE;
  if (!/^[1-9][0-9]{0,2}$/.test(text) || Number(text) > MAX_PAGE_SIZE) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return Number(text);
}

async function getEntry(db, key) {
  const row = await db.prepare("SELECT key, value, created_at, updated_at FROM config_entries WHERE key = ?").bind(key).first();
  if (!row) throw new HttpError(404, `no configuration entry named ${key}`);
  return json(presentEntry(row));
}

async function putEntry(request, db, key) {
  const body = await readJsonObject(request, MAX_BODY_BYTES);
  if (!Object.hasOwn(body, "value")) throw new HttpError(400, 'request body must be {"value": <any JSON value>}');
  const value = JSON.stringify(body.value);
  if (new TextEncoder().encode(value).length > MAX_VALUE_BYTES) {
    throw new HttpError(413, `value must be at most ${MAX_VALUE_BYTES} bytes of JSON`);
  }
  const row = await db
    .prepare(
      `INSERT INTO config_entries (key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
       RETURNING key, value, created_at, updated_at`,
    )
    .bind(key, value, new Date().toISOString())
    .first();
  return json(presentEntry(row));
}

async function deleteEntry(db, key) {
  const { meta } = await db.prepare("DELETE FROM config_entries WHERE key = ?").bind(key).run();
  if (meta.changes === 0) throw new HttpError(404, `no configuration entry named ${key}`);
  return new Response(null, { status: 204 });
}

function presentEntry(row) {
  return { key: row.key, value: JSON.parse(row.value), created_at: row.created_at, updated_at: row.updated_at };
}

function parseKey(encoded) {
  let key;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, "the key is not valid URL encoding");
  }
  if (!KEY_PATTERN.test(key)) {
    throw new HttpError(
      400,
      "key must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    );
  }
  return key;
}
