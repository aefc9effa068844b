-- holdfast catalog schema version 2: an append-only audit trail of operator actions
-- (tenant created, key shredded, restore run, ...). Never cleared by a catalog rebuild.

CREATE TABLE audit_event (
  id     INTEGER PRIMARY KEY,
  time   INTEGER NOT NULL,                 -- unix seconds
  actor  TEXT NOT NULL,                    -- operating-system user that ran holdfast
  action TEXT NOT NULL,                    -- e.g. "tenant.create", "restore"
  tenant TEXT,                             -- NULL when not about one tenant
  detail TEXT
);
CREATE INDEX audit_event_time ON audit_event (time, id);
CREATE INDEX audit_event_tenant_time ON audit_event (tenant, time, id);

-- Append-only: rows cannot be changed or removed through SQL.
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
