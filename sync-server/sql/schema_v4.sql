-- Gridwalk sync server schema, version 4 (PRAGMA user_version = 4): the supervisors' web console
-- (src/console/). Applied in one transaction on top of version 3; the rows of `case_queue` for
-- cases already stored are then filled by a Rust step (`sqlite.rs`, `rebuild_case_queue`), which
-- derives them with the same function (`cases::queue_fields`) as every later write.

-- Browser sign-ins. `hash` is the hex SHA-256 of the session cookie (the cookie itself is never
-- stored); `csrf` the synchronizer token every form of the session carries.
CREATE TABLE console_sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- One row per case, derived from its record on every write, for the case queue: filters and
-- "sorted by time left" are index scans at 100,000 cases. `sort_key` is the due time of a case
-- whose clock runs, else a key above every due time (most recently updated first).
CREATE TABLE case_queue (
    id            TEXT PRIMARY KEY,
    grid_code     TEXT NOT NULL,
    status        TEXT NOT NULL,
    category_code TEXT NOT NULL,
    type_code     TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    reporter_user TEXT,
    received_at   INTEGER NOT NULL,
    start_at      INTEGER,
    due_at        INTEGER,
    sort_key      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;
-- The queue's order, covering every filter column: a filtered page is one walk of this index.
CREATE INDEX case_queue_order ON case_queue
    (sort_key, id, grid_code, status, category_code, urgency, reporter_user);
-- Narrow filters start from their own column.
CREATE INDEX case_queue_grid ON case_queue (grid_code, sort_key);
-- (status, sort_key, id) in order, covering the scope and the other filters: a status page and
-- the overdue counts per status are walks of this index.
CREATE INDEX case_queue_status ON case_queue
    (status, sort_key, id, grid_code, category_code, urgency, reporter_user);
CREATE INDEX case_queue_reporter ON case_queue
    (reporter_user, sort_key, id, grid_code, status, category_code, urgency);
-- Cases per grid × status × category × urgency, kept with every queue row write: the counts
-- per status of a scope are a sum over a few hundred rows, not a scan of 100,000.
CREATE TABLE case_counts (
    grid_code     TEXT NOT NULL,
    status        TEXT NOT NULL,
    category_code TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (grid_code, status, category_code, urgency)
) WITHOUT ROWID;

-- The case page reads a case's timeline, photos and tasks by the case id inside their JSON.
CREATE INDEX records_case_events ON records (json_extract(data, '$.case_id'))
    WHERE entity = 'case_event';
CREATE INDEX records_photo_owner ON records (json_extract(data, '$.owner_id'))
    WHERE entity = 'photo';
CREATE INDEX records_task_target ON records (json_extract(data, '$.target_id'))
    WHERE entity = 'task';
-- The tasks page lists a scope's tasks newest first.
CREATE INDEX records_entity_rev ON records (entity, rev);
