-- Upgrade 4 → 5: faster daily list and short searches. Derived data only: the search index is
-- rebuilt by the Rust step (households' bodies now end with their blank-free address, and the
-- new two-character index is filled); no row a worker entered is touched.

-- What the daily list reads of every active household, so it scans this index and not the rows
-- (which carry the field clocks, several times the size of these columns).
CREATE INDEX IF NOT EXISTS households_today ON households(status, id, care_tier, created_at, lat, lng,
    community, building, unit, room);
-- Two-character windows of each body (blanks removed) that hold a non-ASCII character, so the
-- one- and two-character queries most Chinese given names make ("秀英") are an index lookup
-- instead of a scan of every body. Kept with search_docs (search.rs).
CREATE TABLE IF NOT EXISTS search_grams (
    gram TEXT NOT NULL,
    doc  INTEGER NOT NULL,
    PRIMARY KEY (gram, doc)
) WITHOUT ROWID;
