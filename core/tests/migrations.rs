//! Schema versions: every historic schema upgrades to exactly the fresh one without losing a
//! row (the outbox above all); newer, corrupt and foreign files are refused and never modified.

mod common;

use std::path::Path;

use gridwalk_core::schema::{HISTORY, VERSION};
use gridwalk_core::*;
use rusqlite::Connection;

/// Normalised description of a schema: every object's SQL plus every table's columns.
fn describe(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (kind, name, _tbl, sql) in rows {
        let sql: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        if kind != "table" {
            out.push(format!("{kind} {name}: {sql}"));
        } else {
            // ALTER TABLE rewrites a table's SQL text (comments, layout); its columns, types,
            // defaults and constraints are compared one by one instead.
            out.push(format!("{kind} {name}"));
            let mut cols = conn
                .prepare(&format!("PRAGMA table_xinfo(\"{name}\")"))
                .unwrap();
            let c: Vec<String> = cols
                .query_map([], |r| {
                    Ok(format!(
                        "  {}:{}:{}:{:?}:{}",
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, i64>(5)?
                    ))
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            out.extend(c);
            // Its keys and unique constraints (autoindexes have no SQL above, and their names
            // follow the table's name at creation): a WITHOUT ROWID table shows its primary key.
            let mut keys: Vec<String> = conn
                .prepare(&format!("PRAGMA index_list(\"{name}\")"))
                .unwrap()
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>("name")?,
                        r.get::<_, bool>("unique")?,
                        r.get::<_, String>("origin")?,
                        r.get::<_, bool>("partial")?,
                    ))
                })
                .unwrap()
                .map(|r| r.unwrap())
                .map(|(index, unique, origin, partial)| {
                    let cols: Vec<String> = conn
                        .prepare(&format!("PRAGMA index_info(\"{index}\")"))
                        .unwrap()
                        .query_map([], |r| r.get::<_, Option<String>>("name"))
                        .unwrap()
                        .map(|r| r.unwrap().unwrap_or_default())
                        .collect();
                    let shown = if origin == "c" { index } else { String::new() };
                    format!(
                        "  key {shown} unique={unique} origin={origin} partial={partial} {cols:?}"
                    )
                })
                .collect();
            keys.sort();
            out.extend(keys);
        }
    }
    out
}

fn fresh_schema(dir: &Path) -> Vec<String> {
    let p = dir.join("fresh.db");
    drop(Store::open(&p).unwrap());
    describe(&Connection::open(&p).unwrap())
}

#[test]
fn every_historic_version_upgrades_to_the_fresh_schema_keeping_data() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = fresh_schema(dir.path());
    assert!(!HISTORY.is_empty());
    for (version, sql) in HISTORY {
        let p = dir.path().join(format!("v{version}.db"));
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", version).unwrap();
            // A worker's unsynced data at that version.
            c.execute_batch(
                "INSERT INTO org_units (code, name, level, is_mine) VALUES ('G1', '网格', 'grid', 1);
                 INSERT INTO households (id, grid_code, community, building, room, housing_type,
                    care_tier, created_at, updated_at, hlc)
                   VALUES ('h1', 'G1', '幸福社区', '3栋', '502', 'owned', 'close', 1, 1, 'x');
                 INSERT INTO residents (id, household_id, name, relation, residency, created_at,
                    updated_at, hlc)
                   VALUES ('r1', 'h1', '欧阳建国', 'head', 'registered', 1, 1, 'x');
                 INSERT INTO visits (id, household_id, visited_at, mode, outcome, created_at, hlc)
                   VALUES ('v1', 'h1', 1000, 'in_person', 'fine', 1000, 'x');
                 INSERT INTO outbox (change_id, entity, entity_id, op, payload, hlc, created_at)
                   VALUES ('c1', 'household', 'h1', 'create', '{}', 'x', 1);",
            )
            .unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(
            s.read(gridwalk_core::schema::user_version).unwrap(),
            VERSION
        );
        drop(s);
        let upgraded = describe(&Connection::open(&p).unwrap());
        assert_eq!(
            upgraded, fresh,
            "v{version} upgraded differs from a fresh schema"
        );
        let s = Store::open(&p).unwrap();
        assert_eq!(
            s.household("h1").unwrap().address.room.as_deref(),
            Some("502")
        );
        assert_eq!(s.read(changes::counts).unwrap(), (1, 0), "outbox kept");
        if *version < 2 {
            // Rows from before the search index existed are searchable after the upgrade.
            assert_eq!(s.search("建国", 5).unwrap().len(), 1);
            assert_eq!(s.visit_policy().unwrap().rules.len(), 3);
            // The visit summary was derived from the existing history.
            let summary: i64 = s
                .read(|c| {
                    Ok(c.query_row(
                        "SELECT last_at FROM visit_summary WHERE household_id = 'h1'",
                        [],
                        |r| r.get(0),
                    )?)
                })
                .unwrap();
            assert_eq!(summary, 1000);
        }
    }
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("newer.db");
    drop(Store::open(&p).unwrap());
    {
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", VERSION + 1).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
            .unwrap();
    }
    let before = std::fs::read(&p).unwrap();
    match Store::open(&p) {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (VERSION + 1, VERSION));
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.err()),
    }
    assert_eq!(std::fs::read(&p).unwrap(), before, "file not modified");
    assert!(!dir.path().join("newer.db-wal").exists());
}

#[test]
fn a_file_that_is_not_a_store_is_refused_untouched() {
    // (More kinds of files, and damaged stores that are moved aside: tests/store_files.rs.)
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    let junk = b"this is not an sqlite database at all, just bytes........";
    std::fs::write(&p, junk).unwrap();
    assert!(matches!(
        Store::open(&p),
        Err(Error::NotAStore {
            reason: NotAStoreReason::NotSqlite,
            ..
        })
    ));
    assert_eq!(std::fs::read(&p).unwrap(), junk);
}

#[test]
fn a_foreign_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.db");
    Connection::open(&p)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert!(matches!(
        Store::open(&p),
        Err(Error::NotAStore {
            reason: NotAStoreReason::OtherDatabase,
            ..
        })
    ));
}

#[test]
fn encryption_key_without_sqlcipher_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("enc.db");
    if cfg!(feature = "sqlcipher") {
        return;
    }
    assert!(matches!(
        Store::open_with_key(&p, "k"),
        Err(Error::Encryption(_))
    ));
    assert!(matches!(
        Store::open_with_key(&p, ""),
        Err(Error::Validation(ValidationError {
            code: Code::Required,
            ..
        }))
    ));
}

#[test]
fn reopening_keeps_the_clock_monotonic_and_the_device_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.db");
    let s = Store::open(&p).unwrap();
    s.upsert_org_units(&common::org()).unwrap();
    let h = s.add_household(&common::household("101")).unwrap();
    let dev = s.device_id().to_string();
    drop(s);
    let s = Store::open(&p).unwrap();
    assert_eq!(s.device_id(), dev);
    s.update_household(
        &h.id,
        &HouseholdPatch {
            notes: Some(Some("回访".into())),
            ..Default::default()
        },
    )
    .unwrap();
    let rows = s.read(|c| changes::list(c, "pending", 10)).unwrap();
    assert!(rows[1].hlc > rows[0].hlc);
}

#[test]
fn a_version_3_store_keeps_its_import_journal_and_can_still_undo_after_the_upgrade() {
    // Version-3 builds created the journal tables on a store's first import; a store upgraded
    // from such a build keeps the journal, so its imports can still be listed and undone.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v3_with_journal.db");
    let csv = "楼栋,单元,门牌,姓名,与户主关系,联系电话\n\
               3栋,1单元,101,张三,户主,13800138000\n\
               3栋,1单元,102,李四,户主,\n";
    let import_id = {
        let s = Store::open(&p).unwrap();
        s.upsert_org_units(&common::org()).unwrap();
        let r = s.import_ledger(csv.as_bytes(), "G1").unwrap();
        assert_eq!(r.rows_accepted, 2);
        r.import_id.unwrap()
    };
    {
        // The same file as a version-3 build left it: the journal present, user_version 3.
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 3).unwrap();
    }
    let s = Store::open(&p).unwrap();
    assert_eq!(
        s.read(gridwalk_core::schema::user_version).unwrap(),
        VERSION
    );
    let list = s.ledger_imports().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id.as_str(), list[0].created),
        (import_id.as_str(), 4)
    );
    let pending = s.read(changes::counts).unwrap();
    assert_eq!(
        pending.0, 4,
        "the import's unsynced changes survive the upgrade"
    );
    drop(s);
    assert_eq!(
        describe(&Connection::open(&p).unwrap()),
        fresh_schema(dir.path())
    );
    let s = Store::open(&p).unwrap();
    let undo = s.undo_import(&import_id).unwrap();
    assert_eq!((undo.households_removed, undo.residents_removed), (2, 2));
    assert_eq!(s.read(changes::counts).unwrap().0, 0);
}

#[test]
fn a_version_3_store_without_a_journal_gets_one_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v3.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute_batch(HISTORY[2].1).unwrap();
        assert_eq!(HISTORY[2].0, 3);
        c.pragma_update(None, "user_version", 3).unwrap();
    }
    let s = Store::open(&p).unwrap();
    assert!(s.ledger_imports().unwrap().is_empty());
    s.upsert_org_units(&common::org()).unwrap();
    let r = s
        .import_ledger(
            "楼栋,门牌,姓名,与户主关系\n3栋,101,张三,户主\n".as_bytes(),
            "G1",
        )
        .unwrap();
    assert_eq!(s.ledger_imports().unwrap()[0].id, r.import_id.unwrap());
}

#[test]
fn a_version_5_store_with_unsynced_work_upgrades_and_lists_the_same_day() {
    use gridwalk_core::tasks::{DueSource, VisitPolicy};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v5.db");
    let clock = common::Clock::at(common::morning() - chrono::Duration::days(50));
    let open = |p: &Path| {
        let mut s = Store::open(p).unwrap();
        let c = clock.clone();
        s.set_now_fn(Arc::new(move || c.now()));
        s
    };
    let now = common::morning();
    let here = Some(common::inside());
    // A worker's month, none of it synced: households of every tier, visits, a task, edits,
    // the 盐池 policy.
    let (expected, outbox) = {
        let s = open(&p);
        s.upsert_org_units(&common::org()).unwrap();
        s.set_visit_policy(&VisitPolicy::yanchi()).unwrap();
        let tiers = [CareTier::Close, CareTier::Attention, CareTier::Routine];
        let mut homes = Vec::new();
        for i in 0..9 {
            let mut h = common::household(&format!("{}", 201 + i));
            h.care_tier = tiers[i % 3];
            homes.push(s.add_household(&h).unwrap());
            clock.advance(chrono::Duration::days(1));
        }
        clock.set(now);
        for (i, h) in homes.iter().enumerate().take(6) {
            let mode = [VisitMode::Phone, VisitMode::InPerson][i % 2];
            common::visit(&s, &h.id, now - chrono::Duration::days(3 * i as i64), mode);
        }
        s.update_household(
            &homes[7].id,
            &HouseholdPatch {
                care_tier: Some(CareTier::Close),
                ..Default::default()
            },
        )
        .unwrap();
        s.set_household_status(&homes[8].id, RecordStatus::MovedOut)
            .unwrap();
        s.add_task(&TaskInput {
            kind: TaskKind::CallBack,
            title: "回访".into(),
            target: Some(TaskTarget {
                kind: "household".into(),
                id: homes[0].id.clone(),
            }),
            due_on: now.date_naive(),
            priority: Priority::High,
            source: TaskSource::Own,
            notes: None,
        })
        .unwrap();
        let list = s.today_at(now, here).unwrap();
        assert!(list.len() > 3, "{list:?}");
        (list, s.read(changes::counts).unwrap())
    };
    {
        // The same file as a version-5 build left it: no due days, the household indexes
        // version 6 dropped, user_version 5.
        let c = Connection::open(&p).unwrap();
        back_to_version_6(&c);
        c.execute_batch(
            "DROP TABLE visit_due;
             DELETE FROM meta WHERE key = 'visit_due_offset';
             CREATE INDEX households_today ON households(status, id, care_tier, created_at, lat,
                lng, community, building, unit, room);
             CREATE INDEX households_grid ON households(grid_code, status);
             CREATE INDEX households_tier ON households(care_tier, status);",
        )
        .unwrap();
        assert_faithful(&c, dir.path(), 5);
    }
    let s = open(&p);
    assert_eq!(
        s.read(gridwalk_core::schema::user_version).unwrap(),
        VERSION
    );
    assert_eq!(s.today_at(now, here).unwrap(), expected);
    assert_eq!(
        s.today_from(now, here, DueSource::Computed).unwrap(),
        expected
    );
    assert_eq!(s.read(changes::counts).unwrap(), outbox, "outbox kept");
    drop(s);
    assert_eq!(
        describe(&Connection::open(&p).unwrap()),
        fresh_schema(dir.path())
    );
}

/// Undoes what version 7 changed in a file the current build wrote: every record in the FTS
/// index and the two-character table (a version-6 build indexed each at once), no search mark,
/// the outbox with a UNIQUE change_id, indexed by (entity, entity_id) and its seq counter in
/// AUTOINCREMENT's `sqlite_sequence`, the move history with a rowid — each table as version 6
/// declared it, rows and counter kept.
fn back_to_version_6(c: &Connection) {
    gridwalk_core::search::rebuild_all(c).unwrap();
    let v6 = HISTORY[5].1;
    let declared = |table: &str| {
        let start = v6
            .find(&format!("CREATE TABLE {table} ("))
            .unwrap_or_else(|| panic!("{table} in v006.sql"));
        let end = start + v6[start..].find(");").unwrap() + 2;
        v6[start..end].replace(&format!("TABLE {table} ("), &format!("TABLE {table}_v6 ("))
    };
    c.execute_batch(&format!(
        "DELETE FROM meta WHERE key = 'search_folded';
         {outbox}
         INSERT INTO outbox_v6 SELECT * FROM outbox;
         UPDATE sqlite_sequence
           SET seq = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_seq')
           WHERE name = 'outbox_v6';
         DELETE FROM meta WHERE key = 'outbox_seq';
         DROP TABLE outbox;
         ALTER TABLE outbox_v6 RENAME TO outbox;
         CREATE INDEX outbox_entity ON outbox(entity, entity_id);
         {moves}
         INSERT INTO resident_moves_v6 SELECT * FROM resident_moves;
         DROP TABLE resident_moves;
         ALTER TABLE resident_moves_v6 RENAME TO resident_moves;
         CREATE INDEX resident_moves_resident ON resident_moves(resident_id);",
        outbox = declared("outbox"),
        moves = declared("resident_moves"),
    ))
    .unwrap();
}

/// Marks `c` as `version` and checks its schema is that version's, verbatim.
fn assert_faithful(c: &Connection, dir: &Path, version: i64) {
    c.pragma_update(None, "user_version", version).unwrap();
    let (v, sql) = HISTORY[version as usize - 1];
    assert_eq!(v, version);
    let old = Connection::open(dir.join(format!("v{version}_schema.db"))).unwrap();
    old.execute_batch(sql).unwrap();
    assert_eq!(
        describe(c),
        describe(&old),
        "a faithful version-{version} file"
    );
}

#[test]
fn a_version_6_store_keeps_its_search_index_and_indexes_new_records_in_batches_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v6.db");
    let people = {
        let s = Store::open(&p).unwrap();
        s.upsert_org_units(&common::org()).unwrap();
        let mut people = Vec::new();
        for (room, name) in [("101", "王秀英"), ("102", "李建国"), ("103", "张桂兰")] {
            let h = s.add_household(&common::household(room)).unwrap();
            let mut r = common::resident(&h.id, name, None);
            r.moved_in_on =
                Some(s.settings().unwrap().local_date(s.now()) - chrono::Duration::days(30));
            people.push(s.add_resident(&r).unwrap().id);
        }
        people
    };
    // Every column of the outbox and the move history.
    let unsent = |c: &Connection| -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for sql in [
            "SELECT json_array(seq, change_id, entity, entity_id, op, payload, hlc, created_at,
                state, attempts, last_error, base) FROM outbox ORDER BY seq",
            "SELECT json_array(id, resident_id, kind, household_id, on_date, note, created_at, hlc,
                server_rev, sync_state) FROM resident_moves ORDER BY id",
        ] {
            let mut stmt = c.prepare(sql).unwrap();
            let r = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
            rows.push(r.map(|r| r.unwrap()).collect::<Vec<_>>());
        }
        rows
    };
    let before = {
        // The same file as a version-6 build left it, after a sync acknowledged the newest
        // change (its seq must never come back).
        let c = Connection::open(&p).unwrap();
        back_to_version_6(&c);
        assert_faithful(&c, dir.path(), 6);
        c.execute(
            "DELETE FROM outbox WHERE seq = (SELECT max(seq) FROM outbox)",
            [],
        )
        .unwrap();
        let counter: i64 = c
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let newest: i64 = c
            .query_row("SELECT max(seq) FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert!(counter > newest, "AUTOINCREMENT remembers the deleted row");
        (unsent(&c), counter)
    };
    assert_eq!(before.0[1].len(), 3, "three move-in lines");
    let s = Store::open(&p).unwrap();
    assert_eq!(
        s.read(gridwalk_core::schema::user_version).unwrap(),
        VERSION
    );
    assert_eq!(
        s.read(|c| Ok(unsent(c))).unwrap(),
        before.0,
        "outbox and moves kept"
    );
    let (mark, docs): (i64, i64) = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_folded'),
                        (SELECT max(doc) FROM search_docs)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(
        mark, docs,
        "every doc a version-6 store indexed counts as folded"
    );
    // Found through the indexes (a two-character and a trigram query), not the pending scan.
    for (q, id) in [
        ("秀英", &people[0]),
        ("李建国", &people[1]),
        ("桂兰", &people[2]),
    ] {
        let hits = s.search(q, 5).unwrap();
        assert_eq!(hits.len(), 1, "{q}");
        assert_eq!(&hits[0].id, id);
    }
    // A record written after the upgrade is pending, and found.
    let h = s.add_household(&common::household("104")).unwrap();
    s.add_resident(&common::resident(&h.id, "赵淑珍", None))
        .unwrap();
    let newest: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT min(seq) FROM outbox WHERE entity_id = ?1",
                [&h.id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(newest > before.1, "a seq is never used twice");
    assert_eq!(s.search("淑珍", 5).unwrap().len(), 1);
    assert_eq!(s.search("赵淑珍", 5).unwrap().len(), 1);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}
