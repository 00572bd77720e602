-- Upgrade 6 → 7: new records reach the search indexes in batches (search.rs, "pending" docs).
-- Every doc a version-6 store holds is already in search_index and search_grams: the mark goes
-- to the newest one. No row a worker entered is touched.
INSERT OR REPLACE INTO meta (key, value)
    SELECT 'search_folded', CAST(coalesce(max(doc), 0) AS TEXT) FROM search_docs;

-- The outbox's (entity, entity_id) index took an insertion point per entity and split full pages
-- in its middle on every tap: a record's changes are found by its id (UUIDv7, so a new record's
-- go to the last page), case events by a partial index. Both are built from the rows as they are.
DROP INDEX IF EXISTS outbox_entity;
CREATE INDEX IF NOT EXISTS outbox_entity_id ON outbox(entity_id);
CREATE INDEX IF NOT EXISTS outbox_case_events ON outbox(seq) WHERE entity = 'case_event';
