//! Telling a Gridwalk store from every other file before SQLite writes a byte to it.
//!
//! Why: the store's path comes from a command line or an app setting, and a slip (`--db
//! 台账.xlsx`) must never rename, truncate or "initialise" a clerk's spreadsheet. So a file is
//! only ever treated as ours when it says so:
//!
//! - **A new store is built whole under a temporary name** (`.<name>.creating-<id>`: schema,
//!   `application_id`, closed and fsynced) and then linked into place without replacing
//!   anything. Gridwalk therefore never leaves a 0-byte or half-made file at a store's path,
//!   and a 0-byte file there is someone else's: it is refused, not silently initialised.
//! - **Ours** means: the SQLite header magic, then `application_id` = [`APPLICATION_ID`] (set
//!   on every store created since) — or, for stores made before the id existed, an
//!   `application_id` of 0 *and* the store's own tables (`meta`, `outbox`, `households`,
//!   `cases`); such a store gets the id at its next read-write open.
//! - **Anything else is refused untouched** with [`Error::NotAStore`] and a reason code: not
//!   renamed, not written, no `-wal` created.
//! - **Only a store of ours that fails its checks is moved aside** (`<name>.corrupt-<ms>`, with
//!   its `-wal`/`-shm`): a file shorter than its header's page count (truncated in a copy), a
//!   header or page SQLite cannot read, or `PRAGMA quick_check` not answering `ok`.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, NotAStoreReason, Result};

/// `PRAGMA application_id` of a Gridwalk store: "GWK1".
pub const APPLICATION_ID: i32 = 0x4757_4B31;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Tables every store has had since schema 1: how a store from before [`APPLICATION_ID`] is
/// recognised.
const STORE_TABLES: &[&str] = &["meta", "outbox", "households", "cases"];
const CREATING: &str = ".creating-";

/// What the first 100 bytes of a file say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Header {
    /// No file at the path.
    Missing,
    /// A file without any content.
    Empty,
    /// Not an SQLite header (or too short to be one).
    NotSqlite,
    Sqlite {
        application_id: i32,
        /// Bytes the header says the file holds, when the header's count is valid.
        expected_len: Option<u64>,
    },
    /// A directory or another non-file.
    NotAFile,
}

pub(crate) fn read_header(path: &Path) -> Result<Header> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Header::Missing),
        Err(e) => return Err(e.into()),
    };
    if !meta.is_file() {
        return Ok(Header::NotAFile);
    }
    if meta.len() == 0 {
        return Ok(Header::Empty);
    }
    let mut head = Vec::with_capacity(100);
    std::fs::File::open(path)?
        .take(100)
        .read_to_end(&mut head)?;
    if head.len() < 100 || !head.starts_with(SQLITE_MAGIC) {
        return Ok(Header::NotSqlite);
    }
    let u32_at = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let page_size = match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    // The in-header page count is valid only when the change counter matches the
    // "version valid for" number (older SQLite versions did not maintain it).
    let pages = u64::from(u32_at(28));
    let expected_len =
        (u32_at(24) == u32_at(92) && pages > 0 && page_size >= 512).then_some(pages * page_size);
    Ok(Header::Sqlite {
        application_id: i32::from_be_bytes([head[68], head[69], head[70], head[71]]),
        expected_len,
    })
}

/// `<path><suffix>` (`-wal`, `-shm`, `.photos`).
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether a write-ahead log with content lies next to the file (then the main file may be
/// legitimately shorter than its header says until the next checkpoint).
pub(crate) fn has_live_wal(path: &Path) -> bool {
    std::fs::metadata(sibling(path, "-wal")).is_ok_and(|m| m.len() > 0)
}

pub(crate) fn not_a_store(path: &Path, reason: NotAStoreReason) -> Error {
    tracing::warn!(reason = reason.code(), "file refused: not a Gridwalk store");
    Error::NotAStore {
        path: path.to_path_buf(),
        reason,
    }
}

/// Whether an SQLite error says the file's content is damaged (rather than, say, locked).
pub(crate) fn is_damage(e: &Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(e, Error::Sqlite(rusqlite::Error::SqliteFailure(f, _))
        if matches!(f.code, C::DatabaseCorrupt | C::NotADatabase)
            || (f.code == C::SystemIoFailure
                && f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHORT_READ))
}

/// Whether an SQLite error is "another connection holds the lock".
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Whether an SQLite error is "this file cannot be written".
pub(crate) fn is_read_only(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly)
}

/// A store from before [`APPLICATION_ID`]: `application_id` 0 and the store's tables.
pub(crate) fn has_store_tables(conn: &Connection) -> Result<bool> {
    let mut stmt =
        conn.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    for t in STORE_TABLES {
        let n: i64 = stmt.query_row([t], |r| r.get(0))?;
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What the checks at open found about a file SQLite could open.
pub(crate) enum Verdict {
    /// Ours and sound. `legacy`: made before the application id existed.
    Sound { legacy: bool },
    /// Ours, and damaged.
    Damaged,
}

/// Checks an opened connection: ownership first (a foreign file is refused before anything
/// else is read), then soundness. Reads only.
pub(crate) fn check(conn: &Connection, path: &Path, header: &Header) -> Result<Verdict> {
    let app_id = match conn.query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0)) {
        Ok(id) => id,
        Err(e) => {
            let e = Error::from(e);
            // The header cannot be read: ours only if the raw header said so.
            return match header {
                Header::Sqlite { application_id, .. } if *application_id == APPLICATION_ID => {
                    if is_damage(&e) {
                        Ok(Verdict::Damaged)
                    } else {
                        Err(e)
                    }
                }
                _ if is_damage(&e) => Err(not_a_store(path, NotAStoreReason::NotSqlite)),
                _ => Err(e),
            };
        }
    };
    let legacy = match app_id {
        APPLICATION_ID => false,
        0 => match has_store_tables(conn) {
            Ok(true) => true,
            Ok(false) => return Err(not_a_store(path, NotAStoreReason::OtherDatabase)),
            // A store without its id whose table list is unreadable cannot be told from
            // another app's damaged database: refused untouched.
            Err(e) if is_damage(&e) => {
                return Err(not_a_store(path, NotAStoreReason::OtherDatabase))
            }
            Err(e) => return Err(e),
        },
        _ => return Err(not_a_store(path, NotAStoreReason::OtherDatabase)),
    };
    if let Header::Sqlite {
        expected_len: Some(expected),
        ..
    } = header
    {
        let len = std::fs::metadata(path)?.len();
        if len < *expected && !has_live_wal(path) {
            tracing::warn!(len, expected, "store is shorter than its header says");
            return Ok(Verdict::Damaged);
        }
    }
    match quick_check(conn) {
        Ok(true) => Ok(Verdict::Sound { legacy }),
        Ok(false) => Ok(Verdict::Damaged),
        Err(e) if is_damage(&e) => Ok(Verdict::Damaged),
        Err(e) => Err(e),
    }
}

/// `PRAGMA quick_check`: every page and index entry readable and well-formed (it skips the
/// index-content cross-check of `integrity_check`, which is what makes it cheap enough for
/// every open).
fn quick_check(conn: &Connection) -> Result<bool> {
    let mut stmt = conn.prepare("PRAGMA quick_check(1)")?;
    let first: Option<String> = stmt.query_row([], |r| r.get(0)).map(Some).or_else(|e| {
        if matches!(e, rusqlite::Error::QueryReturnedNoRows) {
            Ok(None)
        } else {
            Err(e)
        }
    })?;
    Ok(first.as_deref() == Some("ok"))
}

/// Renames a damaged store (and its WAL/SHM) to `<name>.corrupt-<ms>`; returns the new path.
pub(crate) fn move_aside(path: &Path) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let target = sibling(path, &format!(".corrupt-{stamp}"));
    std::fs::rename(path, &target)?;
    for suffix in ["-wal", "-shm"] {
        let side = sibling(path, suffix);
        if side.exists() {
            std::fs::rename(&side, sibling(&target, suffix))?;
        }
    }
    Ok(target)
}

/// Builds a fresh store at `path`: the schema is made under a temporary name in the same
/// folder, closed (which checkpoints the WAL into the file), fsynced and then linked to `path`
/// without replacing anything. If another process created the store meanwhile, theirs is kept
/// and ours dropped. `prepare` applies the key of an encrypted store.
pub(crate) fn create(path: &Path, prepare: &dyn Fn(&Connection) -> Result<()>) -> Result<()> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    sweep_stale_temps(&dir, &name);
    let tmp = dir.join(format!(".{name}{CREATING}{}", crate::model::new_id()));
    let built = (|| -> Result<()> {
        let mut conn = Connection::open_with_flags(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        prepare(&conn)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        crate::schema::migrate(&mut conn)?;
        conn.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = built {
        remove_with_sides(&tmp);
        return Err(e);
    }
    let linked = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Someone else's store (or file) is there now: it is never replaced.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A file system without hard links: rename, after checking nothing appeared.
        Err(_) if !path.exists() => std::fs::rename(&tmp, path),
        Err(_) => Ok(()),
    };
    remove_with_sides(&tmp);
    linked?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn remove_with_sides(p: &Path) {
    for side in [p.to_path_buf(), sibling(p, "-wal"), sibling(p, "-shm")] {
        let _ = std::fs::remove_file(side);
    }
}

/// Temporary files of creations killed before their link, older than ten minutes (a younger
/// one may be another process creating the store right now).
fn sweep_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}{CREATING}");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.starts_with(&prefix) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 600);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
