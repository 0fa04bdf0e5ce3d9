-- The instance registry of the multiagent_system database: the deployment
-- writes one row per instance it deploys.
CREATE TABLE instances (
  instance_id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  config_service_url TEXT NOT NULL,
  image_gen_url TEXT NOT NULL,
  r2_bucket TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX instances_by_org ON instances (org_id);
