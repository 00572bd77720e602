-- Upgrade 3 → 4: the ledger import journal becomes part of the schema.
-- Builds of version 3 created these two tables on a store's first import (same columns):
-- IF NOT EXISTS keeps such a journal, and so the undo of imports made before the upgrade.

-- Ledger imports (local only, never synced): what each import created and the values it
-- replaced, so an import can be undone while none of its changes has left the device
-- (import.rs). outbox_from/outbox_to bound the outbox rows the import wrote (seq range).
CREATE TABLE IF NOT EXISTS ledger_imports (
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
CREATE TABLE IF NOT EXISTS ledger_import_items (
    import_id TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('create', 'update')),
    before    TEXT,
    PRIMARY KEY (import_id, entity, entity_id)
) WITHOUT ROWID;
