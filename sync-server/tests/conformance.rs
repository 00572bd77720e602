//! The storage conformance suite (`src/conformance.rs`) against every backend: the revision
//! contract under concurrent pushes and pulls, no echo, pages, idempotent pushes, and group
//! commit keeping queued pushes isolated (each backend's `WriterHooks` hold the writer from
//! another connection and make the database fail one record with a trigger).
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

    /// The database file, reached from outside the storage (`conformance::WriterHooks`).
    struct File(std::path::PathBuf);

    impl gridwalk_sync_server::conformance::WriterHooks for File {
        fn hold_writer(&self) -> Result<Box<dyn FnOnce() + Send>, String> {
            let path = self.0.clone();
            let (held, release) = hold(move |held, release| {
                let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                conn.execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| e.to_string())?;
                let _ = held.send(());
                let _ = release.recv();
                conn.execute_batch("COMMIT").map_err(|e| e.to_string())
            });
            held.recv()
                .map_err(|_| "the writer was not taken".to_string())?;
            Ok(release)
        }

        fn poison_record(&self, id: &str) -> Result<(), String> {
            let conn = rusqlite::Connection::open(&self.0).map_err(|e| e.to_string())?;
            conn.execute_batch(&format!(
                "CREATE TRIGGER poison BEFORE INSERT ON records WHEN NEW.id = '{id}'
                 BEGIN SELECT RAISE(ABORT, 'poisoned record'); END"
            ))
            .map_err(|e| e.to_string())
        }
    }

    /// Runs `body` on a thread that signals when it holds something and waits for the release;
    /// returns the signal's receiver and the release (which joins the thread).
    pub fn hold(
        body: impl FnOnce(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>) -> Result<(), String>
            + Send
            + 'static,
    ) -> (std::sync::mpsc::Receiver<()>, Box<dyn FnOnce() + Send>) {
        let (held_tx, held) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || body(held_tx, release_rx));
        let release = Box::new(move || {
            let _ = release_tx.send(());
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("holding the writer: {e}"),
                Err(_) => panic!("the thread holding the writer panicked"),
            }
        });
        (held, release)
    }

    #[test]
    fn group_commit_isolation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("server.db");
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&path, 4).expect("open"));
        if let Err(e) =
            gridwalk_sync_server::conformance::group_commit_isolation(storage, &File(path))
        {
            panic!("group commit isolation: {e}");
        }
    }
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

    /// The database, reached from outside the storage (`conformance::WriterHooks`).
    struct Database(String);

    impl Database {
        fn pool(&self) -> Result<gridwalk_sync_server::postgres::Pool, String> {
            let config: tokio_postgres::Config = self.0.parse().map_err(|e| format!("{e}"))?;
            gridwalk_sync_server::postgres::Pool::new(config, 1).map_err(|e| e.to_string())
        }
    }

    impl gridwalk_sync_server::conformance::WriterHooks for Database {
        fn hold_writer(&self) -> Result<Box<dyn FnOnce() + Send>, String> {
            let pool = self.pool()?;
            let (held, release) = super::sqlite::hold(move |held, release| {
                let mut pooled = pool.get().map_err(|e| e.to_string())?;
                let conn = pooled.conn().map_err(|e| e.to_string())?;
                let mut tx = conn
                    .begin(tokio_postgres::IsolationLevel::ReadCommitted, false)
                    .map_err(|e| e.to_string())?;
                tx.query_one(
                    "SELECT next_rev FROM sync_state WHERE id = 1 FOR UPDATE",
                    &[],
                )
                .map_err(|e| e.to_string())?;
                let _ = held.send(());
                let _ = release.recv();
                tx.commit().map_err(|e| e.to_string())
            });
            held.recv()
                .map_err(|_| "the writer was not taken".to_string())?;
            Ok(release)
        }

        fn poison_record(&self, id: &str) -> Result<(), String> {
            let pool = self.pool()?;
            let mut pooled = pool.get().map_err(|e| e.to_string())?;
            let conn = pooled.conn().map_err(|e| e.to_string())?;
            conn.batch(&format!(
                "CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.id = '{id}' THEN RAISE EXCEPTION 'poisoned record'; END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON records
                     FOR EACH ROW EXECUTE FUNCTION refuse_poisoned();"
            ))
            .map_err(|e| e.to_string())
        }
    }

    #[test]
    fn group_commit_isolation() {
        let Some((storage, db)) = postgres() else {
            return;
        };
        let hooks = Database(db.url.clone());
        if let Err(e) = gridwalk_sync_server::conformance::group_commit_isolation(storage, &hooks) {
            panic!("group commit isolation: {e}");
        }
    }

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

    /// A read of a prefetched record after this transaction wrote it answers the write, before
    /// and after the write is flushed; a prefetched miss becomes the record once written; a
    /// change remembered here is applied even though the prefetch found it absent.
    #[test]
    fn prefetched_reads_see_the_transactions_own_writes() {
        use gridwalk_protocol::{ChangeResult, Outcome};
        use gridwalk_sync_server::storage::{NewRecord, RecordTx};
        use serde_json::{json, Map, Value};

        let Some(url) = scratch::test_url("prefetched_reads_see_the_transactions_own_writes")
        else {
            return;
        };
        let db = ScratchDb::create(&url).expect("create the scratch database");
        let storage = PgStorage::open(&db.url, 2).expect("open");
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (old, new) = (
            obj(json!({"address": "1号"})),
            obj(json!({"address": "2号"})),
        );
        let none = Map::new();
        let put = |w: &mut dyn RecordTx, id: &str, grid: &str, data: &Map<String, Value>| {
            w.put(NewRecord {
                entity: "household",
                id,
                grid_code: grid,
                hlc: "0000000000001-0000-a",
                data,
                clocks: &none,
            })
        };
        storage
            .write(|w| put(w, "h1", "g1", &old).map(|_| ()))
            .expect("first write");
        storage
            .write(|w| {
                w.prefetch(&[("household", "h1"), ("household", "h2")], &["c1"])?;
                let data = |r: Option<gridwalk_sync_server::storage::StoredRecord>| {
                    r.map(|r| (r.grid_code, r.data))
                };
                assert_eq!(
                    data(w.get("household", "h1")?),
                    Some(("g1".into(), old.clone()))
                );
                assert_eq!(w.grid_of("household", "h2")?, None);
                assert!(w.applied("c1")?.is_none());
                let rev = put(w, "h1", "g2", &new)?;
                put(w, "h2", "g2", &new)?;
                for flushed in [false, true] {
                    if flushed {
                        w.flush()?;
                    }
                    let want = Some(("g2".to_string(), new.clone()));
                    assert_eq!(data(w.get("household", "h1")?), want, "flushed {flushed}");
                    assert_eq!(data(w.get("household", "h2")?), want, "flushed {flushed}");
                    assert_eq!(w.grid_of("household", "h1")?.as_deref(), Some("g2"));
                    assert_eq!(w.echo_state("household", "h1")?.map(|s| s.0), Some(rev));
                }
                let result = ChangeResult {
                    change_id: "c1".into(),
                    outcome: Outcome::Applied,
                    rev: Some(rev),
                    replayed: false,
                    reason: None,
                    conflicts: Vec::new(),
                };
                w.remember("c1", "u1", &result)?;
                assert_eq!(w.applied("c1")?.map(|a| a.0).as_deref(), Some("u1"));
                Ok(())
            })
            .expect("second write");
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
