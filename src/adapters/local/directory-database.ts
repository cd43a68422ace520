import { join } from "node:path";
import { type Db, openDatabase } from "./sqlite.js";

/**
 * The operator-level database beside the per-tenant files: tenants, members, local accounts,
 * invites, workspace links, Slack identity ties, Slack installations, processed events and the job queue.
 */
const MIGRATIONS = [
  `
  CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE members (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
  );
  CREATE TABLE local_users (
    user_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    role TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
  );
  CREATE TABLE links (
    team_id TEXT PRIMARY KEY,
    enterprise_id TEXT,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    linked_by TEXT NOT NULL,
    linked_at TEXT NOT NULL
  );
  CREATE INDEX links_tenant ON links (tenant_id);
  CREATE TABLE link_nonces (nonce TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
  CREATE TABLE installations (
    team_id TEXT PRIMARY KEY,
    enterprise_id TEXT,
    team_name TEXT,
    bot_user_id TEXT NOT NULL,
    bot_id TEXT,
    bot_token TEXT NOT NULL,
    installed_by TEXT,
    installed_at TEXT NOT NULL,
    raw TEXT
  );
  CREATE TABLE events (event_key TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
  CREATE INDEX events_expiry ON events (expires_at);
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    tenant_id TEXT,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX jobs_ready ON jobs (status, run_at);
  `,
  // A Slack user is tied to at most one web account per tenant (the key); a web account may hold several.
  `
  CREATE TABLE slack_identities (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    team_id TEXT NOT NULL,
    slack_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    linked_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team_id, slack_user_id)
  );
  CREATE INDEX slack_identities_user ON slack_identities (tenant_id, user_id);
  `,
  // Which process holds a running job's lease: a restarted process takes over its predecessor's at once.
  `
  ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
  `,
  // When an admin asked for the tenant to be deleted (the erasure job removes the row when done).
  `
  ALTER TABLE tenants ADD COLUMN deleting_since TEXT;
  `,
];

export function openDirectoryDatabase(dataDir: string): Db {
  return openDatabase(join(dataDir, "directory.db"), MIGRATIONS);
}
