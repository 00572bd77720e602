-- Upgrade 5 → 6: the daily list reads precomputed due days. Derived data only: the Rust step
-- (due::rebuild_all) fills visit_due from the households, the visit summary, the policy and the
-- settings; no row a worker entered is touched.

-- The daily list no longer scans every active household: the index it scanned only cost pages
-- on every household write. So did the grid and tier indexes, which no query uses (the
-- household list's optional filters are written so no index can serve them).
DROP INDEX IF EXISTS households_today;
DROP INDEX IF EXISTS households_grid;
DROP INDEX IF EXISTS households_tier;
-- The local day from which each active household is due under each rule of its care tier.
CREATE TABLE IF NOT EXISTS visit_due (
    household_id TEXT NOT NULL,
    rule         TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    PRIMARY KEY (household_id, rule)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS visit_due_day ON visit_due(due_on);
