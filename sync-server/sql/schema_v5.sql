-- Gridwalk sync server schema, version 5: the supervisors' console data — warning rules a
-- district edits, warnings turned into tasks, who created each synced record, and the
-- hash-chained audit log of every reveal of an ID number or phone (`src/console/`).
-- (Version 4 is the console core's sessions; this upgrade needs nothing from it.)

-- Console settings a district edits, one JSON document per key (`warning_rules`).
CREATE TABLE console_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,   -- JSON
    updated_by TEXT,            -- user id; NULL for the defaults
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The user and device whose push created each record (per-worker statistics). Records created
-- before version 5 have no row: they count for no worker.
CREATE TABLE record_authors (
    entity    TEXT NOT NULL,
    id        TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at        INTEGER NOT NULL,   -- ms, when the server applied the create
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX record_authors_user ON record_authors (user_id, entity, at);

-- A warning a supervisor turned into a task for the worker (`console/warnings.rs`).
CREATE TABLE warning_tasks (
    task_id     TEXT PRIMARY KEY,
    warning_key TEXT NOT NULL,
    grid_code   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX warning_tasks_key ON warning_tasks (warning_key);

-- Every reveal of a masked value (and every unmasked export), hash-chained: `hash` is the
-- SHA-256 of `prev_hash` and the entry's canonical JSON (`console/audit.rs`), so changing,
-- removing or reordering an entry breaks the chain from there on. Never updated or deleted.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,   -- 1, 2, 3 … without gaps
    at        INTEGER NOT NULL,
    user_id   TEXT NOT NULL,
    username  TEXT NOT NULL,
    action    TEXT NOT NULL,         -- reveal | export_unmasked
    entity    TEXT NOT NULL,         -- resident | ledger
    record_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_record ON audit_log (entity, record_id);
