-- One row per configuration entry of the instance; values are JSON text.
CREATE TABLE config_entries (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value)),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
