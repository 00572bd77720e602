-- Gridwalk sync server, PostgreSQL schema version 1: every table of the SQLite schema v1 … v6
-- (`../schema_v1.sql` … `schema_v6.sql`, which explain each table), in one migration applied in
-- one transaction under an advisory lock (`src/postgres/migrate.rs`). Later versions add
-- numbered files `v2.sql`, … and rows in `schema_migrations`.
--
-- Differences from SQLite, on purpose:
-- - flags are BOOLEAN, times and counts BIGINT (ms since the epoch), as the Rust types are;
-- - `records.data` / `clocks` are JSONB (queries use `data->>'field'`); the wire JSON is
--   re-serialised from them;
-- - the revision counter and the server clock live in the one-row table `sync_state`, which
--   every sync write transaction locks first (`src/postgres/mod.rs` says why);
-- - `audit_log.seq` and `device_handovers.id` are plain BIGINT keys the writer assigns.

-- `epoch` (random id made at creation; cursors carry it).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The revision counter and the server clock, shared by every server instance on this database.
-- One row; a sync write transaction holds it `FOR UPDATE` until it commits.
CREATE TABLE sync_state (
    id       SMALLINT PRIMARY KEY CHECK (id = 1),
    next_rev BIGINT NOT NULL,
    hlc      TEXT            -- the server clock's last stamp (NULL before the first write)
);
INSERT INTO sync_state (id, next_rev, hlc) VALUES (1, 1, NULL);

CREATE TABLE org_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent_code TEXT REFERENCES org_units (code),
    boundary    TEXT            -- GeoJSON geometry (grids)
);
CREATE INDEX org_units_parent ON org_units (parent_code);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    org_code      TEXT NOT NULL REFERENCES org_units (code),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_grids (
    user_id   TEXT NOT NULL REFERENCES users (id),
    grid_code TEXT NOT NULL REFERENCES org_units (code),
    PRIMARY KEY (user_id, grid_code)
);

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    name       TEXT,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);

CREATE TABLE sessions (
    family_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    device_id  TEXT NOT NULL REFERENCES devices (id),
    revoked    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);

CREATE TABLE access_tokens (
    hash       TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES sessions (family_id),
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES sessions (family_id),
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Every synced record at its latest state. `rev` is global, assigned under the `sync_state`
-- row lock and committed before it is released (the revision contract). `echo`: see SQLite v6.
CREATE TABLE records (
    entity    TEXT NOT NULL,
    id        TEXT NOT NULL,
    grid_code TEXT NOT NULL,
    rev       BIGINT NOT NULL UNIQUE,
    hlc       TEXT NOT NULL,
    data      JSONB NOT NULL,
    clocks    JSONB NOT NULL,
    echo      TEXT,
    PRIMARY KEY (entity, id)
);
CREATE INDEX records_grid_rev ON records (grid_code, rev);
CREATE INDEX records_entity_rev ON records (entity, rev);
CREATE INDEX records_case_events ON records ((data->>'case_id')) WHERE entity = 'case_event';
CREATE INDEX records_photo_owner ON records ((data->>'owner_id')) WHERE entity = 'photo';
CREATE INDEX records_task_target ON records ((data->>'target_id')) WHERE entity = 'task';

CREATE TABLE applied_changes (
    change_id TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL,
    result    TEXT NOT NULL        -- JSON of the ChangeResult
);

CREATE TABLE case_deadlines (
    category_code TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    hours         BIGINT NOT NULL CHECK (hours > 0),
    PRIMARY KEY (category_code, urgency)
);

CREATE TABLE blob_holders (
    sha256    TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    since     BIGINT NOT NULL,
    PRIMARY KEY (sha256, user_id)
);

CREATE TABLE photo_claims (
    photo_id TEXT PRIMARY KEY,
    sha256   TEXT NOT NULL,
    user_id  TEXT NOT NULL
);
CREATE INDEX photo_claims_sha256 ON photo_claims (sha256);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    strikes      BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure);

CREATE TABLE device_handovers (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    from_user      TEXT NOT NULL REFERENCES users (id),
    to_user        TEXT NOT NULL REFERENCES users (id),
    sessions_ended BIGINT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX device_handovers_device ON device_handovers (device_id);

-- The console (SQLite v4).
CREATE TABLE console_sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE TABLE case_queue (
    id            TEXT PRIMARY KEY,
    grid_code     TEXT NOT NULL,
    status        TEXT NOT NULL,
    category_code TEXT NOT NULL,
    type_code     TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    reporter_user TEXT,
    received_at   BIGINT NOT NULL,
    start_at      BIGINT,
    due_at        BIGINT,
    sort_key      BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX case_queue_order ON case_queue
    (sort_key, id, grid_code, status, category_code, urgency, reporter_user);
CREATE INDEX case_queue_grid ON case_queue (grid_code, sort_key);
CREATE INDEX case_queue_status ON case_queue
    (status, sort_key, id, grid_code, category_code, urgency, reporter_user);
CREATE INDEX case_queue_reporter ON case_queue
    (reporter_user, sort_key, id, grid_code, status, category_code, urgency);

CREATE TABLE case_counts (
    grid_code     TEXT NOT NULL,
    status        TEXT NOT NULL,
    category_code TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (grid_code, status, category_code, urgency)
);

-- The console's data (SQLite v5).
CREATE TABLE console_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,   -- JSON
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE record_authors (
    entity    TEXT NOT NULL,
    id        TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE INDEX record_authors_user ON record_authors (user_id, entity, at);

CREATE TABLE warning_tasks (
    task_id     TEXT PRIMARY KEY,
    warning_key TEXT NOT NULL,
    grid_code   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX warning_tasks_key ON warning_tasks (warning_key);

-- Hash-chained, never updated or deleted; `seq` 1, 2, 3 … without gaps (the appender assigns it
-- under a lock, see `console/audit.rs`).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    username  TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_record ON audit_log (entity, record_id);
