-- Gridwalk sync server schema, version 1 (PRAGMA user_version = 1).
-- Applied in one transaction on a fresh database. Later versions add numbered upgrade files.

-- Key/value facts about this database: `epoch` (random id made at creation; cursors carry it),
-- `hlc` (the server clock's last stamp, so a restart never goes backwards).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- district → street → community → grid.
CREATE TABLE org_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent_code TEXT REFERENCES org_units (code),
    boundary    TEXT            -- GeoJSON geometry (grids)
) WITHOUT ROWID;
CREATE INDEX org_units_parent ON org_units (parent_code);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    org_code      TEXT NOT NULL REFERENCES org_units (code),
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Extra grids a grid worker works besides the one of their org_code.
CREATE TABLE user_grids (
    user_id   TEXT NOT NULL REFERENCES users (id),
    grid_code TEXT NOT NULL REFERENCES org_units (code),
    PRIMARY KEY (user_id, grid_code)
) WITHOUT ROWID;

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    name       TEXT,
    revoked    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);

-- One login = one session family; refresh rotation stays inside it. Reuse of a rotated refresh
-- token revokes the family.
CREATE TABLE sessions (
    family_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    device_id  TEXT NOT NULL REFERENCES devices (id),
    revoked    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Only SHA-256 hashes of tokens are stored.
CREATE TABLE access_tokens (
    hash       TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES sessions (family_id),
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_family ON access_tokens (family_id);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES sessions (family_id),
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Every synced record, one row per (entity, id), at its latest state. `rev` is global and
-- monotonic: bumped on every write, assigned in commit order under the writer lock.
CREATE TABLE records (
    entity    TEXT NOT NULL,
    id        TEXT NOT NULL,
    grid_code TEXT NOT NULL,
    rev       INTEGER NOT NULL UNIQUE,
    hlc       TEXT NOT NULL,
    data      TEXT NOT NULL,   -- JSON object
    clocks    TEXT NOT NULL,   -- JSON object {field: hlc}
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX records_grid_rev ON records (grid_code, rev);

-- Change ids already applied, with the result given (a replay returns it again).
CREATE TABLE applied_changes (
    change_id TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL,
    result    TEXT NOT NULL
) WITHOUT ROWID;

-- Case deadlines by category and urgency, in hours from acceptance.
CREATE TABLE case_deadlines (
    category_code TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    hours         INTEGER NOT NULL CHECK (hours > 0),
    PRIMARY KEY (category_code, urgency)
) WITHOUT ROWID;
