//! [`Store`]: the one owner of the device database.
//!
//! One connection behind a mutex is the only writer (application-services learned that two
//! writers are a mistake). Reads and writes go through closures: [`Store::read`] and
//! [`Store::write`]; `write` opens an IMMEDIATE transaction, hands the closure a [`Tx`] that
//! stamps changes with the hybrid logical clock, and commits only on `Ok` — the change, its
//! outbox row, its search-index row and the persisted clock land together or not at all.
//!
//! Durability: WAL with `synchronous = FULL`, so a write that returned `Ok` survives the process
//! being killed and the phone losing power. A file that is not a database is moved aside and
//! reported, never deleted; a database from a newer app version is refused untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Code, Error, Result};
use crate::geometry::Boundary;
use crate::hlc::HlcClock;
use crate::schema;

/// Source of "now", replaceable in tests.
pub type NowFn = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Device settings kept in `meta`; supervisors can change them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Offset of the worker's local time from UTC, in minutes (China: +480).
    pub utc_offset_minutes: i32,
    /// Patrols expected per day (一日双巡: 2).
    pub patrol_quota: u32,
    /// Who files cases from this device (the worker's account id or name code).
    pub reporter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            utc_offset_minutes: 8 * 60,
            patrol_quota: 2,
            reporter: "worker".into(),
        }
    }
}

impl Settings {
    pub fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix()))
    }

    /// The local calendar day of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.offset()).date_naive()
    }

    /// UTC instant of local midnight starting `day`.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.offset().from_local_datetime(&naive).single() {
            Some(t) => t.with_timezone(&Utc),
            None => Utc.from_utc_datetime(&naive),
        }
    }
}

struct Inner {
    conn: Connection,
    /// Settings as last read or written (read once, not on every write).
    settings: Option<Settings>,
    clock: HlcClock,
    boundaries: HashMap<String, Option<Arc<Boundary>>>,
}

/// The device's field store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    inner: Mutex<Inner>,
    path: PathBuf,
    photo_dir: PathBuf,
    device_id: String,
    now: NowFn,
}

/// A write transaction with the context every change needs.
pub struct Tx<'a> {
    pub tx: &'a Transaction<'a>,
    clock: &'a mut HlcClock,
    boundaries: &'a mut HashMap<String, Option<Arc<Boundary>>>,
    pub now: DateTime<Utc>,
    pub settings: Settings,
}

impl<'a> Tx<'a> {
    /// A fresh HLC stamp for a change made now.
    pub fn tick(&mut self) -> String {
        self.clock.tick(self.now.timestamp_millis())
    }

    /// Merges a remote stamp into the clock.
    pub fn observe(&mut self, remote: &str) -> Result<()> {
        Ok(self.clock.observe(remote, self.now.timestamp_millis())?)
    }

    /// Wall time of the clock's latest stamp.
    pub(crate) fn clock_wall_ms(&self) -> i64 {
        self.clock.wall_ms()
    }

    /// Sets a clock that ran ahead back to now (see `sync/clock.rs`, which re-stamps the unsent
    /// changes in the same transaction).
    pub(crate) fn reset_clock(&mut self) {
        self.clock.reset(self.now.timestamp_millis());
    }

    /// Boundary of an org unit, parsed once and cached.
    pub fn boundary(&mut self, grid_code: &str) -> Result<Option<Arc<Boundary>>> {
        load_boundary(self.tx, self.boundaries, grid_code)
    }

    pub fn today(&self) -> NaiveDate {
        self.settings.local_date(self.now)
    }

    /// Forgets cached boundaries (after the org tree changed).
    pub fn invalidate_boundaries(&mut self) {
        self.boundaries.clear();
    }
}

fn load_boundary(
    conn: &Connection,
    cache: &mut HashMap<String, Option<Arc<Boundary>>>,
    code: &str,
) -> Result<Option<Arc<Boundary>>> {
    if let Some(b) = cache.get(code) {
        return Ok(b.clone());
    }
    let raw: Option<Option<String>> = conn
        .query_row(
            "SELECT boundary FROM org_units WHERE code = ?1",
            [code],
            |r| r.get(0),
        )
        .optional()?;
    let parsed = match raw.flatten() {
        // A boundary that cannot be parsed flags nothing rather than refusing the worker's entry.
        Some(text) => Boundary::parse(&text).ok().map(Arc::new),
        None => None,
    };
    cache.insert(code.to_string(), parsed.clone());
    Ok(parsed)
}

impl Store {
    /// Opens (creating if needed) the store at `path`. Photos go in `<path>.photos/`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_inner(path.as_ref(), None)
    }

    /// Opens an encrypted store. Needs the `sqlcipher` feature; without it this returns
    /// [`Error::Encryption`] and never creates an unencrypted file by mistake.
    pub fn open_with_key(path: impl AsRef<Path>, key: &str) -> Result<Store> {
        if key.is_empty() {
            return Err(Error::invalid("key", Code::Required));
        }
        Self::open_inner(path.as_ref(), Some(key))
    }

    /// Opens a private in-memory store (tests, previews).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        // Photos of a private store go to a folder of its own, never loose in the temp dir.
        let photos =
            std::env::temp_dir().join(format!("gridwalk-photos-{}", crate::model::new_id()));
        Self::finish_open(conn, PathBuf::from(":memory:"), photos)
    }

    fn open_inner(path: &Path, key: Option<&str>) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        if let Some(key) = key {
            apply_key(&conn, key)?;
        }
        // Probe before any pragma writes: a corrupt or foreign file must not be modified.
        if let Err(e) = schema::user_version(&conn) {
            if is_not_a_database(&e) {
                drop(conn);
                if key.is_some() {
                    return Err(Error::Encryption(
                        "wrong key or not an encrypted store".into(),
                    ));
                }
                let moved_to = move_aside(path)?;
                tracing::warn!(?moved_to, "corrupt store moved aside");
                return Err(Error::Corrupt { moved_to });
            }
            return Err(e);
        }
        schema::check_compatible(&conn)?;
        let mut photo_dir = path.as_os_str().to_owned();
        photo_dir.push(".photos");
        Self::finish_open(conn, path.to_path_buf(), PathBuf::from(photo_dir))
    }

    fn finish_open(mut conn: Connection, path: PathBuf, photo_dir: PathBuf) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        let device_id = match get_meta(&conn, "device_id")? {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::now_v7().simple().to_string();
                set_meta(&conn, "device_id", &id)?;
                id
            }
        };
        let last = get_meta(&conn, "hlc")?;
        // The node part of a stamp: short but unique enough across a city's devices.
        let node = device_id.chars().rev().take(12).collect::<String>();
        let clock = HlcClock::new(&node, last.as_deref());
        let store = Store {
            inner: Mutex::new(Inner {
                conn,
                settings: None,
                clock,
                boundaries: HashMap::new(),
            }),
            path,
            photo_dir,
            device_id,
            now: Arc::new(Utc::now),
        };
        // A kill mid-"add photo" can leave a temp file or a file no row names: removed here,
        // under the write lock (photos.rs). A failed sweep never keeps the worker out.
        if let Err(e) = store.sweep_photo_dir() {
            tracing::warn!(error = %e, "photo folder sweep failed");
        }
        Ok(store)
    }

    /// Replaces the clock (tests and simulations).
    pub fn set_now_fn(&mut self, now: NowFn) {
        self.now = now;
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written transaction behind (it is
        // rolled back on drop), so a poisoned mutex is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with a read-only view of the database.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let inner = self.lock();
        f(&inner.conn)
    }

    /// Runs `f` in one write transaction; commits on `Ok`, rolls back on `Err`.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let now = self.now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let settings = match &inner.settings {
            Some(s) => s.clone(),
            None => {
                let s = read_settings(&inner.conn)?;
                inner.settings = Some(s.clone());
                s
            }
        };
        let saved_clock = inner.clock.clone();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = {
            let mut ctx = Tx {
                tx: &tx,
                clock: &mut inner.clock,
                boundaries: &mut inner.boundaries,
                now,
                settings,
            };
            f(&mut ctx)
        };
        match result {
            Ok(value) => {
                set_meta(&tx, "hlc", &inner.clock.current())?;
                tx.commit()?;
                Ok(value)
            }
            Err(e) => {
                drop(tx);
                inner.clock = saved_clock;
                Err(e)
            }
        }
    }

    pub fn settings(&self) -> Result<Settings> {
        self.read(read_settings)
    }

    pub fn set_settings(&self, settings: &Settings) -> Result<()> {
        if settings.utc_offset_minutes.abs() > 14 * 60 {
            return Err(Error::invalid("utc_offset_minutes", Code::OutOfRange));
        }
        if settings.patrol_quota > 10 {
            return Err(Error::invalid("patrol_quota", Code::OutOfRange));
        }
        if settings.reporter.trim().is_empty() {
            return Err(Error::invalid("reporter", Code::Required));
        }
        let json = serde_json::to_string(settings)?;
        self.write(|ctx| set_meta(ctx.tx, "settings", &json))?;
        self.lock().settings = Some(settings.clone());
        Ok(())
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        self.read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
    }
}

pub(crate) fn read_settings(conn: &Connection) -> Result<Settings> {
    match get_meta(conn, "settings")? {
        // Settings written by a newer app may have more fields; unknown ones are ignored and a
        // broken value falls back to defaults rather than locking the worker out.
        Some(json) => Ok(serde_json::from_str(&json).unwrap_or_default()),
        None => Ok(Settings::default()),
    }
}

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

fn is_not_a_database(e: &Error) -> bool {
    matches!(e, Error::Sqlite(rusqlite::Error::SqliteFailure(f, _))
        if f.code == rusqlite::ErrorCode::NotADatabase)
}

/// Renames a corrupt file (and its WAL/SHM) to `<name>.corrupt-<ms>`; returns the new path.
fn move_aside(path: &Path) -> Result<PathBuf> {
    let stamp = Utc::now().timestamp_millis();
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".corrupt-{stamp}"));
    let target = PathBuf::from(target);
    std::fs::rename(path, &target)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            let mut to = target.as_os_str().to_owned();
            to.push(suffix);
            std::fs::rename(&side, PathBuf::from(to))?;
        }
    }
    Ok(target)
}

#[cfg(feature = "sqlcipher")]
fn apply_key(conn: &Connection, key: &str) -> Result<()> {
    conn.pragma_update(None, "key", key)?;
    Ok(())
}

#[cfg(not(feature = "sqlcipher"))]
fn apply_key(_conn: &Connection, _key: &str) -> Result<()> {
    Err(Error::Encryption(
        "this build has no SQLCipher (enable the `sqlcipher` feature)".into(),
    ))
}

// ---- small conversions shared by the entity modules ----

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

pub(crate) fn date_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// SQL expression giving the sync state a row gets after a local change.
pub(crate) const DIRTY_STATE: &str =
    "CASE WHEN sync_state = 'attention' THEN 'attention' WHEN server_rev IS NULL THEN 'local' ELSE 'pending' END";
