//! The storage conformance suite (`src/conformance.rs`) against the SQLite backend: the
//! revision contract under concurrent pushes and pulls, no echo, idempotent pushes. A new
//! backend adds a file like this one with its own constructor.

use std::sync::Arc;

use gridwalk_sync_server::sqlite::SqliteStorage;
use gridwalk_sync_server::Storage;

fn sqlite() -> (Arc<dyn Storage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = SqliteStorage::open(&dir.path().join("server.db"), 4).expect("open");
    (Arc::new(storage), dir)
}

gridwalk_sync_server::storage_conformance_tests!(sqlite());
