//! The storage conformance suite (`src/conformance.rs`) against every backend: the revision
//! contract under concurrent pushes and pulls, no echo, pages, idempotent pushes.
//!
//! SQLite always runs. PostgreSQL runs on a fresh database per test made on the server named by
//! `GRIDWALK_TEST_POSTGRES` (`scripts/setup-postgres.sh --print-url`) and dropped afterwards;
//! without it each test says it was skipped, or fails when `GRIDWALK_REQUIRE_POSTGRES=1`.

mod sqlite {
    use std::sync::Arc;

    use gridwalk_sync_server::sqlite::SqliteStorage;
    use gridwalk_sync_server::Storage;

    fn sqlite() -> (Arc<dyn Storage>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("server.db"), 4).expect("open");
        (Arc::new(storage), dir)
    }

    gridwalk_sync_server::storage_conformance_tests!(sqlite());
}

mod postgres {
    use std::sync::Arc;

    use gridwalk_sync_server::postgres::scratch::{self, ScratchDb};
    use gridwalk_sync_server::postgres::PgStorage;
    use gridwalk_sync_server::Storage;

    /// A storage on a new database; `None` when PostgreSQL tests are skipped.
    fn postgres() -> Option<(Arc<dyn Storage>, ScratchDb)> {
        let url = scratch::test_url("conformance (postgres)")?;
        let db = ScratchDb::create(&url).expect("create the scratch database");
        let storage = PgStorage::open(&db.url, 8).expect("open");
        Some((Arc::new(storage), db))
    }

    gridwalk_sync_server::storage_conformance_tests!(match postgres() {
        Some(made) => made,
        None => return,
    });

    /// Several instances opening one new database at once: the migration runs once (advisory
    /// lock), every instance sees the same epoch.
    #[test]
    fn instances_starting_together_migrate_once() {
        let Some(url) = scratch::test_url("instances_starting_together_migrate_once") else {
            return;
        };
        let db = ScratchDb::create(&url).expect("create the scratch database");
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let url = db.url.clone();
                std::thread::spawn(move || PgStorage::open(&url, 2).map(|s| s.epoch().to_string()))
            })
            .collect();
        let epochs: Vec<String> = opened
            .into_iter()
            .map(|h| h.join().expect("thread").expect("open"))
            .collect();
        assert!(epochs.iter().all(|e| e == &epochs[0]), "{epochs:?}");
    }

    /// The revision contract with writers and readers on two instances of one database.
    #[test]
    fn revision_contract_across_two_instances() {
        let Some((a, db)) = postgres() else {
            return;
        };
        let b: Arc<dyn Storage> = Arc::new(PgStorage::open(&db.url, 8).expect("open"));
        if let Err(e) =
            gridwalk_sync_server::conformance::revision_contract_across(&[a, b], 4, 4, 30)
        {
            panic!("revision contract across two instances: {e}");
        }
    }
}
