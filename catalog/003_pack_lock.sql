-- Object Lock retain-until of packs, as last seen or set by holdfast, so that a new snapshot that
-- references old packs extends their locks without a HEAD request per pack.
CREATE TABLE pack_lock (
  pack         TEXT PRIMARY KEY,          -- object name data/<tid>/<xx>/<id>
  retain_until INTEGER NOT NULL           -- unix seconds
);
