//! A store never eats a file it does not own: what `Store::open` does with every kind of file
//! a slip of `--db` (or an app setting) can point it at, and how two programs share a store.
//!
//! A spreadsheet, a CSV, another app's database and an empty file are refused untouched, byte
//! for byte; only a Gridwalk store that fails its checks (truncated) is moved aside; a store
//! can be read without being written; a second writer waits for the first.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwalk_core::store::APPLICATION_ID;
use gridwalk_core::*;
use rusqlite::Connection;

/// The start of a real .xlsx (a ZIP with `[Content_Types].xml` first), padded out.
fn xlsx_bytes() -> Vec<u8> {
    let mut b = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec();
    b.extend_from_slice(b"[Content_Types].xml");
    b.extend(std::iter::repeat_n(0x5Au8, 4096));
    b
}

fn assert_refused_untouched(path: &Path, reason: NotAStoreReason) {
    let before = std::fs::read(path).unwrap();
    match Store::open(path) {
        Err(Error::NotAStore { path: p, reason: r }) => {
            assert_eq!(p, path);
            assert_eq!(r, reason);
        }
        other => panic!("expected NotAStore, got {:?}", other.err()),
    }
    assert_eq!(std::fs::read(path).unwrap(), before, "file changed");
    let dir = path.parent().unwrap();
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(names, vec![name], "nothing made or moved next to it");
    // Reading it is refused the same way.
    assert!(matches!(
        Store::open_read_only(path),
        Err(Error::NotAStore { .. })
    ));
    assert_eq!(std::fs::read(path).unwrap(), before);
}

#[test]
fn a_spreadsheet_passed_as_the_store_is_left_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("幸福社区台账.xlsx");
    std::fs::write(&xlsx, xlsx_bytes()).unwrap();
    assert_refused_untouched(&xlsx, NotAStoreReason::NotSqlite);

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mine.csv");
    std::fs::write(&csv, "楼栋,单元,房号,户主\n3栋,2,502,王芳\n".as_bytes()).unwrap();
    assert_refused_untouched(&csv, NotAStoreReason::NotSqlite);

    // The message says what happened, Chinese first.
    let e = Store::open(&csv).err().unwrap().to_string();
    assert!(e.starts_with("该文件不是 Gridwalk 数据库"), "{e}");
    assert!(e.contains("left untouched"), "{e}");
}

#[test]
fn another_apps_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
            .unwrap();
    }
    assert_refused_untouched(&p, NotAStoreReason::OtherDatabase);

    // Another application id, even with tables named like ours.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.db");
    {
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "application_id", 0x1234).unwrap();
        c.execute_batch(
            "CREATE TABLE meta (k); CREATE TABLE outbox (k); CREATE TABLE households (k);
             CREATE TABLE cases (k);",
        )
        .unwrap();
    }
    assert_refused_untouched(&p, NotAStoreReason::OtherDatabase);

    // An SQLite file without any table that Gridwalk did not make.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("blank.db");
    {
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 0).unwrap();
        c.execute_batch("CREATE TABLE t (x); DROP TABLE t; VACUUM;")
            .unwrap();
    }
    assert_refused_untouched(&p, NotAStoreReason::OtherDatabase);
}

#[test]
fn an_empty_file_is_refused_not_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    std::fs::write(&p, b"").unwrap();
    assert_refused_untouched(&p, NotAStoreReason::Empty);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
}

#[test]
fn a_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    std::fs::create_dir(&p).unwrap();
    assert!(matches!(
        Store::open(&p),
        Err(Error::NotAStore {
            reason: NotAStoreReason::NotAFile,
            ..
        })
    ));
}

#[test]
fn a_new_store_is_made_whole_and_carries_the_application_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub").join("device.db");
    let s = Store::open(&p).unwrap();
    let id: i32 = s
        .read(|c| Ok(c.query_row("PRAGMA application_id", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    drop(s);
    // No temporary file of the creation is left behind.
    let names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".creating-")), "{names:?}");
    // The header says so on disk too (the raw bytes the next open reads first).
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(
        i32::from_be_bytes([bytes[68], bytes[69], bytes[70], bytes[71]]),
        APPLICATION_ID
    );
    assert!(Store::open(&p).is_ok());
}

#[test]
fn a_store_from_before_the_application_id_is_still_ours_and_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("old.db");
    drop(Store::open(&p).unwrap());
    {
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "application_id", 0).unwrap();
    }
    let s = Store::open(&p).unwrap();
    let id: i32 = s
        .read(|c| Ok(c.query_row("PRAGMA application_id", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
}

/// A store with enough rows to span many pages, closed cleanly (WAL checkpointed).
fn filled_store(p: &Path) {
    let s = Store::open(p).unwrap();
    s.upsert_org_units(&common::org()).unwrap();
    for i in 0..150 {
        s.add_household(&common::household(&format!("{}", 100 + i)))
            .unwrap();
    }
    drop(s);
    assert!(!gridwalk_wal(p).exists());
}

fn gridwalk_wal(p: &Path) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-wal");
    s.into()
}

#[test]
fn a_truncated_store_is_moved_aside_and_a_fresh_one_opens() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    let full = std::fs::read(&p).unwrap();
    assert!(full.len() > 16 * 4096, "store too small: {}", full.len());
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    let moved = match Store::open(&p) {
        Err(Error::Corrupt { moved_to: Some(m) }) => m,
        other => panic!("expected Corrupt, got {:?}", other.err()),
    };
    assert_eq!(std::fs::read(&moved).unwrap(), &full[..full.len() / 2]);
    assert!(moved
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("device.db.corrupt-"));
    // The next open starts a fresh store; the damaged one stays for recovery.
    let s = Store::open(&p).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert!(moved.exists());
}

#[test]
fn a_store_with_a_damaged_page_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    let mut bytes = std::fs::read(&p).unwrap();
    // Overwrite a page in the middle with garbage: the file keeps its length.
    let page = 4096;
    let mid = (bytes.len() / page / 2) * page;
    for b in &mut bytes[mid..mid + page] {
        *b = 0xA5;
    }
    std::fs::write(&p, &bytes).unwrap();
    match Store::open(&p) {
        Err(Error::Corrupt { moved_to: Some(m) }) => assert!(m.exists()),
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
}

#[test]
fn a_read_only_store_can_be_read_and_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    let before = std::fs::read(&p).unwrap();
    let s = Store::open_read_only(&p).unwrap();
    assert!(s.is_read_only());
    assert_eq!(s.list_households(&Default::default()).unwrap().len(), 150);
    assert!(!s.device_id().is_empty());
    match s.add_household(&common::household("999")) {
        Err(Error::ReadOnly { needs_upgrade, .. }) => assert!(!needs_upgrade),
        other => panic!("expected ReadOnly, got {other:?}"),
    }
    drop(s);
    assert_eq!(std::fs::read(&p).unwrap(), before, "not a byte written");

    // A store of an older schema must be upgraded before this build can read it.
    let old = dir.path().join("old.db");
    {
        let c = Connection::open(&old).unwrap();
        c.execute_batch(gridwalk_core::schema::HISTORY[0].1)
            .unwrap();
        c.pragma_update(None, "user_version", gridwalk_core::schema::HISTORY[0].0)
            .unwrap();
    }
    assert!(matches!(
        Store::open_read_only(&old),
        Err(Error::ReadOnly {
            needs_upgrade: true,
            ..
        })
    ));
    // A damaged store opened for reading is reported, and left where it is.
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, &before[..before.len() / 2]).unwrap();
    assert!(matches!(
        Store::open_read_only(&bad),
        Err(Error::Corrupt { moved_to: None })
    ));
    assert!(bad.exists());
}

#[cfg(unix)]
#[test]
fn a_store_in_a_read_only_file_opens_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&p).is_ok() {
        // Running as root: permissions do not stop writes, nothing to test here.
        return;
    }
    assert!(matches!(Store::open(&p), Err(Error::ReadOnly { .. })));
    let s = Store::open_read_only(&p).unwrap();
    assert_eq!(s.list_households(&Default::default()).unwrap().len(), 150);
}

#[test]
fn a_second_writer_waits_for_the_first_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    let waits = Arc::new(AtomicUsize::new(0));
    let seen = waits.clone();
    // Two stores on one file are two programs as far as SQLite is concerned.
    let first = Store::open(&p).unwrap();
    let second = Store::open(&p).unwrap();
    second.set_busy_observer(Some(Arc::new(move |_waited: Duration| {
        seen.fetch_add(1, Ordering::SeqCst);
    })));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        // A long write (an import of thousands of rows): longer than SQLite's usual 5 s.
        first
            .write(|ctx| {
                ctx.tx.execute(
                    "INSERT INTO meta(key, value) VALUES ('long_write', 'x')",
                    [],
                )?;
                locked_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(6_500));
                Ok(())
            })
            .unwrap();
    });
    locked_rx.recv().unwrap();
    let started = Instant::now();
    let h = second.add_household(&common::household("888")).unwrap();
    let waited = started.elapsed();
    holder.join().unwrap();
    assert!(waited >= Duration::from_secs(5), "waited only {waited:?}");
    assert!(waits.load(Ordering::SeqCst) >= 3, "progress was reported");
    assert_eq!(second.household(&h.id).unwrap().id, h.id);
    // Both writes are there.
    let long: Option<String> = second
        .read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = 'long_write'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .map(Some)
        .unwrap();
    assert_eq!(long.as_deref(), Some("x"));
}

#[test]
fn reading_while_another_program_writes_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.db");
    filled_store(&p);
    let writer = Store::open(&p).unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        writer
            .write(|_ctx| {
                locked_tx.send(()).unwrap();
                let _ = done_rx.recv_timeout(Duration::from_secs(30));
                Ok(())
            })
            .unwrap();
    });
    locked_rx.recv().unwrap();
    let started = Instant::now();
    let reader = Store::open_read_only(&p).unwrap();
    assert_eq!(
        reader.list_households(&Default::default()).unwrap().len(),
        150
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    done_tx.send(()).unwrap();
    holder.join().unwrap();
}
