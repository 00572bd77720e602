-- Gridwalk device store: full schema of version 6, kept verbatim for upgrade tests.
-- A fresh database is created from this file alone. Older databases are brought here by the
-- upgrade_*.sql files; tests/migrations.rs checks both paths produce the same schema.
--
-- Conventions (see ARCHITECTURE.md):
--   * ids are client-generated UUIDv7 text;
--   * instants are INTEGER milliseconds since the Unix epoch, UTC; calendar days are TEXT 'YYYY-MM-DD';
--   * every syncable table carries the same sync columns:
--       hlc        TEXT    clock of the latest change applied to the row (local or merged)
--       clocks     TEXT    JSON {field: hlc} for field-level last-writer-wins (households, residents)
--       server_rev INTEGER last server revision seen; NULL = the server has never seen the row
--       sync_state TEXT    'local' | 'pending' | 'synced' | 'attention'
--   * nothing syncable is hard-deleted: status / archived flags instead.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- District → street → community → grid, as the server sent it (or the demo seeded it).
CREATE TABLE org_units (
    code        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent_code TEXT REFERENCES org_units(code),
    boundary    TEXT,
    is_mine     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE households (
    id           TEXT PRIMARY KEY NOT NULL,
    grid_code    TEXT NOT NULL,
    community    TEXT NOT NULL,
    building     TEXT NOT NULL,
    unit         TEXT,
    floor        INTEGER,
    room         TEXT,
    address_text TEXT,
    housing_type TEXT NOT NULL,
    care_tier    TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    lat          REAL,
    lng          REAL,
    notes        TEXT,
    status       TEXT NOT NULL DEFAULT 'active',
    outside_grid INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    hlc          TEXT NOT NULL,
    clocks       TEXT NOT NULL DEFAULT '{}',
    server_rev   INTEGER,
    sync_state   TEXT NOT NULL DEFAULT 'local'
);
-- No secondary index: no query of the store filters households by grid, tier or status
-- through one (version 6 dropped three that only cost pages on every household write).

CREATE TABLE residents (
    id             TEXT PRIMARY KEY NOT NULL,
    household_id   TEXT NOT NULL REFERENCES households(id),
    name           TEXT NOT NULL,
    id_number      TEXT,
    phone          TEXT,
    gender         TEXT,
    birth_date     TEXT,
    relation       TEXT NOT NULL,
    residency      TEXT NOT NULL,
    special_groups TEXT NOT NULL DEFAULT '[]',
    moved_in_on    TEXT,
    moved_out_on   TEXT,
    status         TEXT NOT NULL DEFAULT 'active',
    notes          TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    hlc            TEXT NOT NULL,
    clocks         TEXT NOT NULL DEFAULT '{}',
    server_rev     INTEGER,
    sync_state     TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX residents_household ON residents(household_id);
-- Not UNIQUE: a pull may bring a duplicate the server accepted; the check is in Rust.
CREATE INDEX residents_id_number ON residents(id_number) WHERE id_number IS NOT NULL;

-- Append-only history of moves in and out.
CREATE TABLE resident_moves (
    id           TEXT PRIMARY KEY NOT NULL,
    resident_id  TEXT NOT NULL REFERENCES residents(id),
    kind         TEXT NOT NULL,
    household_id TEXT NOT NULL,
    on_date      TEXT NOT NULL,
    note         TEXT,
    created_at   INTEGER NOT NULL,
    hlc          TEXT NOT NULL,
    server_rev   INTEGER,
    sync_state   TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX resident_moves_resident ON resident_moves(resident_id);

CREATE TABLE visits (
    id           TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    visited_at   INTEGER NOT NULL,
    mode         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    notes        TEXT,
    created_at   INTEGER NOT NULL,
    hlc          TEXT NOT NULL,
    server_rev   INTEGER,
    sync_state   TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX visits_household ON visits(household_id, mode, visited_at);
CREATE INDEX visits_time ON visits(visited_at);

CREATE TABLE patrols (
    id          TEXT PRIMARY KEY NOT NULL,
    grid_code   TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    distance_m  REAL NOT NULL DEFAULT 0,
    duration_s  INTEGER NOT NULL DEFAULT 0,
    point_count INTEGER NOT NULL DEFAULT 0,
    notes       TEXT,
    created_at  INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    server_rev  INTEGER,
    sync_state  TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX patrols_time ON patrols(started_at);

-- GPS fixes. Append-only; shipped with their patrol when it stops.
CREATE TABLE track_points (
    patrol_id  TEXT NOT NULL REFERENCES patrols(id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    lat        REAL NOT NULL,
    lng        REAL NOT NULL,
    accuracy_m REAL,
    PRIMARY KEY (patrol_id, seq)
) WITHOUT ROWID;

CREATE TABLE cases (
    id            TEXT PRIMARY KEY NOT NULL,
    category_code TEXT NOT NULL,
    type_code     TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    description   TEXT NOT NULL,
    lat           REAL,
    lng           REAL,
    address       TEXT,
    grid_code     TEXT NOT NULL,
    outside_grid  INTEGER NOT NULL DEFAULT 0,
    household_id  TEXT REFERENCES households(id),
    patrol_id     TEXT REFERENCES patrols(id),
    reporter      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'draft',
    created_at    INTEGER NOT NULL,
    submitted_at  INTEGER,
    updated_at    INTEGER NOT NULL,
    hlc           TEXT NOT NULL,
    server_rev    INTEGER,
    sync_state    TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX cases_status ON cases(status);
CREATE INDEX cases_patrol ON cases(patrol_id) WHERE patrol_id IS NOT NULL;

-- Local timeline of a case: created, submitted, and whatever the server sends back.
CREATE TABLE case_events (
    id         TEXT PRIMARY KEY NOT NULL,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    status     TEXT,
    note       TEXT,
    hlc        TEXT NOT NULL,
    server_rev INTEGER,
    sync_state TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX case_events_case ON case_events(case_id, at);

-- Photo metadata; the bytes live in the store's photo folder, named by SHA-256.
CREATE TABLE photos (
    id         TEXT PRIMARY KEY NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    byte_len   INTEGER NOT NULL,
    mime       TEXT NOT NULL,
    taken_at   INTEGER,
    added_at   INTEGER NOT NULL,
    hlc        TEXT NOT NULL,
    server_rev INTEGER,
    sync_state TEXT NOT NULL DEFAULT 'local',
    -- Version 3: the processed image and its upload (see photos.rs and sync/upload.rs).
    width         INTEGER,
    height        INTEGER,
    lat           REAL,
    lng           REAL,
    thumb_file    TEXT,
    upload_state  TEXT NOT NULL DEFAULT 'pending',
    upload_url    TEXT,
    upload_offset INTEGER NOT NULL DEFAULT 0,
    uploaded_at   INTEGER,
    file_state    TEXT NOT NULL DEFAULT 'present'
);
CREATE INDEX photos_owner ON photos(owner_kind, owner_id);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    due_on       TEXT NOT NULL,
    priority     TEXT NOT NULL,
    source       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    notes        TEXT,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER,
    hlc          TEXT NOT NULL,
    server_rev   INTEGER,
    sync_state   TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX tasks_open ON tasks(status, due_on);

-- Change tracking: one row per local change, written in the same transaction as the change.
-- The sync engine pushes rows in seq order; change_id makes a retried push idempotent.
-- state: 'pending' (not yet acknowledged) | 'attention' (server rejected it; kept, shown to the
-- worker, never dropped). Acknowledged rows are deleted only after the server confirmed them.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id  TEXT NOT NULL UNIQUE,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    hlc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- Version 3: JSON {field: hlc} of the values an update overwrote, so the server can tell a
    -- concurrent edit (a conflict) from a sequential one. NULL for creates.
    base       TEXT
);
CREATE INDEX outbox_entity ON outbox(entity, entity_id);

-- Visit frequency rules by care tier. A tier may have several rules (盐池: a phone or messaging
-- contact every 15 days AND a home visit every 30 days). Supervisors change these.
CREATE TABLE visit_policies (
    care_tier     TEXT NOT NULL,
    rule          TEXT NOT NULL,
    modes         TEXT NOT NULL,
    interval_days INTEGER NOT NULL CHECK (interval_days > 0),
    PRIMARY KEY (care_tier, rule)
) WITHOUT ROWID;
INSERT INTO visit_policies (care_tier, rule, modes, interval_days) VALUES
    ('close', 'contact', '["in_person","phone","messaging"]', 7),
    ('attention', 'contact', '["in_person","phone","messaging"]', 15),
    ('routine', 'contact', '["in_person","phone","messaging"]', 30);

-- Substring search over households and residents (CJK included: trigram tokenizer).
-- search_docs holds one lowercased text per record, maintained from Rust in the same transaction
-- as the record; search_index is an external-content FTS5 index over it (queries of 3+
-- characters), and 1-2 character queries scan search_docs directly.
CREATE TABLE search_docs (
    doc    INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL,
    ref_id TEXT NOT NULL UNIQUE,
    body   TEXT NOT NULL
);
CREATE VIRTUAL TABLE search_index USING fts5(
    body,
    content = 'search_docs',
    content_rowid = 'doc',
    tokenize = 'trigram'
);
-- Version 4: two-character windows of each body (blanks removed) that hold a non-ASCII
-- character, so the one- and two-character queries most Chinese given names make ("秀英") are
-- an index lookup instead of a scan of every body. Kept with search_docs (search.rs).
CREATE TABLE search_grams (
    gram TEXT NOT NULL,
    doc  INTEGER NOT NULL,
    PRIMARY KEY (gram, doc)
) WITHOUT ROWID;

-- Latest contact per household and mode, derived from visits (local only, never synced), so
-- the daily list reads one row per household instead of searching the visit history.
CREATE TABLE visit_summary (
    household_id TEXT NOT NULL REFERENCES households(id),
    mode         TEXT NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (household_id, mode)
) WITHOUT ROWID;

-- Version 6: the local day from which each active household is due for a visit under each rule
-- of its care tier (gridwalk_domain::policy::due_day over the household, its visit_summary, the
-- visit policy and the worker's UTC offset; local only, never synced). Rewritten in the
-- transaction of every write that changes one of those (due.rs), so the daily list reads the
-- rows due by today from visit_due_day instead of working out every household's due day.
CREATE TABLE visit_due (
    household_id TEXT NOT NULL,
    rule         TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    PRIMARY KEY (household_id, rule)
) WITHOUT ROWID;
CREATE INDEX visit_due_day ON visit_due(due_on);

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

-- Ledger imports (local only, never synced): what each import created and the values it
-- replaced, so an import can be undone while none of its changes has left the device
-- (import.rs). outbox_from/outbox_to bound the outbox rows the import wrote (seq range).
CREATE TABLE ledger_imports (
    id            TEXT PRIMARY KEY NOT NULL,
    grid_code     TEXT NOT NULL,
    file_name     TEXT,
    imported_at   INTEGER NOT NULL,
    rows_accepted INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    outbox_from   INTEGER NOT NULL,
    outbox_to     INTEGER NOT NULL,
    outbox_rows   INTEGER NOT NULL,
    undone_at     INTEGER
);
-- One row per record an import created ('create') or first edited ('update', with every
-- column of the row before the edit as JSON in `before`).
CREATE TABLE ledger_import_items (
    import_id TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('create', 'update')),
    before    TEXT,
    PRIMARY KEY (import_id, entity, entity_id)
) WITHOUT ROWID;
