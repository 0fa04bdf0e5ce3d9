-- Users are created on their first verified sign-in.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  last_login_at TEXT NOT NULL
);

-- KV deletes are eventually consistent, so a used sign-in token could still be
-- read elsewhere for a while; this primary key makes each token usable once.
-- Rows older than the token lifetime are pruned on every sign-in.
CREATE TABLE consumed_login_tokens (
  token_hash TEXT PRIMARY KEY,
  consumed_at INTEGER NOT NULL
);

CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at TEXT NOT NULL
);

-- The autoincrementing id orders the turns of a conversation.
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  content TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

-- The documents currently in the Vectorize index, so that seeding a new
-- version can delete the vectors of documents it no longer contains.
CREATE TABLE knowledge_documents (
  id TEXT PRIMARY KEY,
  version TEXT NOT NULL
);

CREATE TABLE knowledge_base_versions (
  version TEXT PRIMARY KEY,
  document_count INTEGER NOT NULL,
  seeded_at TEXT NOT NULL
);
