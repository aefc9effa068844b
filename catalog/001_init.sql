-- holdfast catalog schema version 1: tenants, their snapshots, and check results.
-- The catalog is a local index of what the repository holds and can be rebuilt from it.
-- Released migrations are immutable: change the schema with a new NNN_name.sql file. Each file runs
-- inside one transaction opened by holdfast, so it must not contain BEGIN/COMMIT.

CREATE TABLE tenant (
  id      TEXT PRIMARY KEY NOT NULL,       -- tenant id as given by the user
  tid     TEXT UNIQUE NOT NULL,            -- repository-internal handle (32 hex chars)
  tier    TEXT NOT NULL,
  created INTEGER NOT NULL DEFAULT 0,      -- unix seconds
  sources TEXT                             -- JSON describing configured sources
);
CREATE INDEX tenant_tier ON tenant (tier, id);

CREATE TABLE snapshot (
  id            TEXT PRIMARY KEY NOT NULL, -- 64 hex chars
  tenant        TEXT NOT NULL REFERENCES tenant (id) ON UPDATE CASCADE ON DELETE RESTRICT,
  source        TEXT NOT NULL,             -- "files", "postgres", "s3", ...
  label         TEXT,
  time          INTEGER NOT NULL,          -- nanoseconds since the epoch when taken
  recovery_time INTEGER NOT NULL,          -- recovery point, nanoseconds since the epoch
  recovery_lsn  TEXT,
  parent        TEXT,                      -- previous snapshot id (not a foreign key: may be pruned)
  files         INTEGER NOT NULL DEFAULT 0,
  size          INTEGER NOT NULL DEFAULT 0,
  stored        INTEGER NOT NULL DEFAULT 0,
  retain_until  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX snapshot_tenant_time ON snapshot (tenant, time, id);
CREATE INDEX snapshot_tenant_source_time ON snapshot (tenant, source, time, id);
CREATE INDEX snapshot_time ON snapshot (time, id);
CREATE INDEX snapshot_recovery ON snapshot (tenant, recovery_time);

CREATE TABLE check_result (
  id        INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,              -- nanoseconds since the epoch
  tenant    TEXT,                          -- NULL for the whole repository
  read_data INTEGER NOT NULL DEFAULT 0,    -- percentage of data read
  status    INTEGER NOT NULL,              -- 0 ok, 1 problems found, 2 could not run
  errors    INTEGER NOT NULL DEFAULT 0,
  detail    TEXT
);
CREATE INDEX check_result_time ON check_result (time, id);
CREATE INDEX check_result_tenant_time ON check_result (tenant, time);
