import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE, applyMigrations, systemPath } from "./support.mjs";

// The registry has no worker of its own: miniflare needs a script to host the D1.
const mf = new Miniflare({
  compatibilityDate: COMPATIBILITY_DATE,
  modules: true,
  script: "export default { fetch: () => new Response(null, { status: 404 }) };",
  d1Databases: ["REGISTRY"],
});
let db;

before(async () => {
  db = await mf.getD1Database("REGISTRY");
  assert.deepEqual(await applyMigrations(db, systemPath("tenants/migrations/registry")), ["0001_create_instances.sql"]);
});
after(() => mf.dispose());

const register = (instance) =>
  db
    .prepare(
      `INSERT INTO instances (instance_id, org_id, environment, config_service_url, image_gen_url, r2_bucket)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance_id) DO UPDATE SET
         org_id = excluded.org_id, environment = excluded.environment,
         config_service_url = excluded.config_service_url, image_gen_url = excluded.image_gen_url,
         r2_bucket = excluded.r2_bucket, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    )
    .bind(
      instance.instance_id,
      instance.org_id,
      instance.environment,
      instance.config_service_url,
      instance.image_gen_url,
      instance.r2_bucket ?? null,
    )
    .run();

test("holds one row per instance, stamped on insert and update", async () => {
  const acme = {
    instance_id: "acme-dev",
    org_id: "acme",
    environment: "development",
    config_service_url: "https://config-service-acme-dev.example.workers.dev",
    image_gen_url: "https://image-gen-acme-dev.example.workers.dev",
  };
  await register(acme);
  const first = await db.prepare("SELECT * FROM instances WHERE instance_id = 'acme-dev'").first();
  assert.equal(first.r2_bucket, null);
  assert.match(first.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(first.created_at, first.updated_at);

  await new Promise((resolve) => setTimeout(resolve, 5));
  await register({ ...acme, r2_bucket: "acme-dev-images" });
  const { results } = await db.prepare("SELECT * FROM instances").all();
  assert.equal(results.length, 1);
  assert.equal(results[0].r2_bucket, "acme-dev-images");
  assert.equal(results[0].created_at, first.created_at);
  assert.ok(results[0].updated_at > first.updated_at);
});

test("requires the image generation URL", async () => {
  await assert.rejects(
    register({ instance_id: "broken", org_id: "acme", environment: "development", config_service_url: "https://x", image_gen_url: null }),
    /NOT NULL constraint failed: instances.image_gen_url/,
  );
});
