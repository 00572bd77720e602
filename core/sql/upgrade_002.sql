-- Upgrade 1 → 2: visit policies by care tier and the substring search index.
-- The search index is filled from existing rows by schema.rs after this script.

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
-- Maintained from Rust in the same transaction as the row it indexes.
CREATE VIRTUAL TABLE search_index USING fts5(
    kind UNINDEXED,
    ref_id UNINDEXED,
    body,
    tokenize = 'trigram'
);
