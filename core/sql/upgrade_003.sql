-- Upgrade 2 → 3: processed photos with their upload state, and field-level conflicts.
-- Existing photo rows were stored as given: they keep their file and start as 'pending' upload.

ALTER TABLE photos ADD COLUMN width INTEGER;
ALTER TABLE photos ADD COLUMN height INTEGER;
ALTER TABLE photos ADD COLUMN lat REAL;
ALTER TABLE photos ADD COLUMN lng REAL;
ALTER TABLE photos ADD COLUMN thumb_file TEXT;
ALTER TABLE photos ADD COLUMN upload_state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE photos ADD COLUMN upload_url TEXT;
ALTER TABLE photos ADD COLUMN upload_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN uploaded_at INTEGER;
ALTER TABLE photos ADD COLUMN file_state TEXT NOT NULL DEFAULT 'present';
ALTER TABLE outbox ADD COLUMN base TEXT;
-- Field-level conflicts: a value one side never saw was overwritten by last-writer-wins. Kept
-- (never deleted) so a worker or supervisor can see both values and choose. Arrives from the
-- server in the pull feed; resolving one is a local change that syncs like any other.
CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    kept_value  TEXT,
    kept_hlc    TEXT NOT NULL,
    lost_value  TEXT,
    lost_hlc    TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_at INTEGER,
    resolution  TEXT,
    hlc         TEXT NOT NULL,
    server_rev  INTEGER,
    sync_state  TEXT NOT NULL DEFAULT 'synced'
);
CREATE INDEX conflicts_open ON conflicts(status, entity, entity_id);
