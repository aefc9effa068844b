-- The kind of a snapshot: '' for a backup, 'safety' for the copy an in-place restore takes of the data it
-- replaces (such snapshots are never chosen as "latest" or by --at). Rows recorded before this column
-- existed are recognised by the label holdfast gave them.
ALTER TABLE snapshot ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE snapshot SET kind = 'safety' WHERE label LIKE 'safety copy before in-place restore of %';
