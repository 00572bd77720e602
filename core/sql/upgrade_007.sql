-- Upgrade 6 → 7: fewer pages written by every tap (a new household or resident). Only derived
-- data and storage change; every row a worker entered is copied as it is, the outbox above all.

-- New records reach the search indexes in batches (search.rs, "pending" docs). Every doc a
-- version-6 store holds is already in search_index and search_grams: the mark goes to the
-- newest one.
INSERT OR REPLACE INTO meta (key, value)
    SELECT 'search_folded', CAST(coalesce(max(doc), 0) AS TEXT) FROM search_docs;

-- The outbox without the UNIQUE index on change_id (a UUIDv7 made with the row; only refused
-- rows are looked up by it, through a partial index) and without the (entity, entity_id) index,
-- which took an insertion point per entity and split full pages in its middle on every tap: a
-- record's changes are found by its id, case events by a partial index. Rows are copied with
-- their seq; the highest seq ever given (AUTOINCREMENT's counter) moves to meta 'outbox_seq'
-- (changes.rs), on the page every write rewrites for the clock, so no seq is ever used twice.
CREATE TABLE outbox_v7 (
    seq        INTEGER PRIMARY KEY,
    change_id  TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    hlc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    base       TEXT
);
INSERT INTO outbox_v7 (seq, change_id, entity, entity_id, op, payload, hlc, created_at, state,
        attempts, last_error, base)
    SELECT seq, change_id, entity, entity_id, op, payload, hlc, created_at, state, attempts,
        last_error, base
    FROM outbox ORDER BY seq;
-- (AUTOINCREMENT's counter is read before this script and raised into meta after it, by
-- schema.rs: a counter above the rows left survives.)
INSERT OR REPLACE INTO meta (key, value)
    SELECT 'outbox_seq', CAST(coalesce(max(seq), 0) AS TEXT) FROM outbox_v7;
DROP TABLE outbox;
ALTER TABLE outbox_v7 RENAME TO outbox;
CREATE INDEX outbox_entity_id ON outbox(entity_id);
CREATE INDEX outbox_case_events ON outbox(seq) WHERE entity = 'case_event';
CREATE INDEX outbox_attention ON outbox(change_id) WHERE state = 'attention';

-- The move history stored by id (WITHOUT ROWID): one B-tree for the row and its id.
CREATE TABLE resident_moves_v7 (
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
) WITHOUT ROWID;
INSERT INTO resident_moves_v7 (id, resident_id, kind, household_id, on_date, note, created_at,
        hlc, server_rev, sync_state)
    SELECT id, resident_id, kind, household_id, on_date, note, created_at, hlc, server_rev,
        sync_state
    FROM resident_moves;
DROP TABLE resident_moves;
ALTER TABLE resident_moves_v7 RENAME TO resident_moves;
CREATE INDEX resident_moves_resident ON resident_moves(resident_id);
