-- Upgrade 1 → 2: visit policies by care tier, the substring search index and the visit summary.
-- Both derived tables are filled from existing rows by schema.rs after this script.

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

-- Latest contact per household and mode, derived from visits (local only, never synced), so
-- the daily list reads one row per household instead of searching the visit history.
CREATE TABLE visit_summary (
    household_id TEXT NOT NULL REFERENCES households(id),
    mode         TEXT NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (household_id, mode)
) WITHOUT ROWID;
