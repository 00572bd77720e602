//! [`Store`]: the one owner of the device database.
//!
//! One connection behind a mutex is the only writer (application-services learned that two
//! writers are a mistake). Reads and writes go through closures: [`Store::read`] and
//! [`Store::write`]; `write` opens an IMMEDIATE transaction, hands the closure a [`Tx`] that
//! stamps changes with the hybrid logical clock, and commits only on `Ok` — the change, its
//! outbox row, its search-index row and the persisted clock land together or not at all.
//!
//! Durability: WAL with `synchronous = FULL`, so a write that returned `Ok` survives the process
//! being killed and the phone losing power.
//!
//! Files: a store never eats a file it does not own (`storefile.rs`). A new store is built
//! whole and linked into place; a file that is not a Gridwalk store (a spreadsheet passed as
//! `--db`, another app's database, an empty file) is refused untouched with
//! [`Error::NotAStore`]; only a Gridwalk store that fails its checks at open (truncated,
//! malformed) is moved aside — never deleted; a store from a newer app version is refused
//! untouched. [`Store::open_read_only`] reads a store without writing a byte (read-only files,
//! backups, a second program during an import).
//!
//! Waiting: a second program writing to the same file (the CLI during an app's import) waits
//! for the running write — up to [`BUSY_WAIT_MAX`], reporting progress — instead of failing
//! after SQLite's usual 5 seconds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Code, Error, NotAStoreReason, Result};
use crate::geometry::Boundary;
use crate::hlc::HlcClock;
use crate::schema;
pub use crate::storefile::APPLICATION_ID;
use crate::storefile::{self, Header, Verdict};

/// Source of "now", replaceable in tests.
pub type NowFn = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Device settings kept in `meta`; supervisors can change them. A value written by an older
/// app lacks the newer fields: they take their defaults, the rest is kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Offset of the worker's local time from UTC, in minutes (China: +480).
    pub utc_offset_minutes: i32,
    /// Patrols expected per day (一日双巡: 2).
    pub patrol_quota: u32,
    /// Who files cases from this device (the worker's account id or name code).
    pub reporter: String,
    /// A patrol shorter than this (start to end) does not count toward the quota and the
    /// statistics (default 5 minutes): a patrol started and stopped by mistake, or to tick a
    /// box, is not a patrol. It is kept and synced all the same.
    pub min_patrol_minutes: u32,
    /// A patrol that covered less than this along its filtered track does not count either
    /// (default 100 m).
    pub min_patrol_distance_m: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            utc_offset_minutes: 8 * 60,
            patrol_quota: gridwalk_domain::policy::PatrolRules::default().quota,
            reporter: "worker".into(),
            min_patrol_minutes: gridwalk_domain::policy::PatrolRules::default().min_minutes,
            min_patrol_distance_m: gridwalk_domain::policy::PatrolRules::default().min_distance_m,
        }
    }
}

impl Settings {
    /// Whether a finished patrol of this duration and distance counts toward the quota and
    /// the statistics.
    pub fn patrol_counts(&self, duration_s: i64, distance_m: f64) -> bool {
        self.patrol_rules().counts(duration_s, distance_m)
    }

    /// The patrol rules in force (the server's warnings apply the same ones).
    pub fn patrol_rules(&self) -> gridwalk_domain::policy::PatrolRules {
        gridwalk_domain::policy::PatrolRules {
            quota: self.patrol_quota,
            min_minutes: self.min_patrol_minutes,
            min_distance_m: self.min_patrol_distance_m,
        }
    }

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

/// SQLite page cache of a store's connection, in KiB (negative: a size, not a page count).
const STORE_CACHE_KIB: i64 = -16 * 1024;

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
    /// Opened with [`Store::open_read_only`]: every write is refused.
    read_only: bool,
    /// Who hears about waits for another program's write ([`Store::set_busy_observer`]); the
    /// connection's busy handler reads it.
    busy: BusySlot,
}

/// A write transaction with the context every change needs.
pub struct Tx<'a> {
    pub tx: &'a Transaction<'a>,
    clock: &'a mut HlcClock,
    boundaries: &'a mut HashMap<String, Option<Arc<Boundary>>>,
    pub now: DateTime<Utc>,
    pub settings: Settings,
    /// Search entries to refresh once at the end of a bulk write instead of record by record
    /// (`None`: at once). See [`crate::search::defer`].
    pub(crate) deferred_search: Option<crate::search::Deferred>,
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
        let mut conn = Connection::open_in_memory()?;
        let busy = BusySlot::default();
        install_busy_handler(&mut conn, busy.clone())?;
        // Photos of a private store go to a folder of its own, never loose in the temp dir.
        let photos =
            std::env::temp_dir().join(format!("gridwalk-photos-{}", crate::model::new_id()));
        Self::finish_open(conn, PathBuf::from(":memory:"), photos, busy)
    }

    /// Opens an existing store for reading only: nothing is written to the file (no upgrade,
    /// no photo-folder sweep, no moving aside), so it works on a read-only file or folder (a
    /// copy from a worker's phone, a backup) and while another program is writing. Every
    /// write fails with [`Error::ReadOnly`]. A store of an older schema cannot be read without
    /// its upgrade: [`Error::ReadOnly`] with `needs_upgrade`. A damaged store is reported as
    /// [`Error::Corrupt`] without `moved_to`.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let header = storefile::read_header(path)?;
        match header {
            Header::Missing => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "找不到数据库文件 / no store file at this path",
                )))
            }
            Header::Empty => return Err(storefile::not_a_store(path, NotAStoreReason::Empty)),
            Header::NotAFile => {
                return Err(storefile::not_a_store(path, NotAStoreReason::NotAFile))
            }
            Header::NotSqlite => {
                return Err(storefile::not_a_store(path, NotAStoreReason::NotSqlite))
            }
            Header::Sqlite { .. } => {}
        }
        let mut conn = open_read_only_conn(path)?;
        let busy = BusySlot::default();
        install_busy_handler(&mut conn, busy.clone())?;
        if let Verdict::Damaged = storefile::check(&conn, path, &header)? {
            tracing::warn!("damaged store opened read-only; left in place");
            return Err(Error::Corrupt { moved_to: None });
        }
        let found = schema::check_compatible(&conn)?;
        if found < schema::VERSION {
            return Err(Error::ReadOnly {
                path: path.to_path_buf(),
                needs_upgrade: true,
            });
        }
        let device_id = get_meta(&conn, "device_id")?.unwrap_or_default();
        let last = get_meta(&conn, "hlc")?;
        let node = device_id.chars().rev().take(12).collect::<String>();
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                settings: None,
                clock: HlcClock::new(&node, last.as_deref()),
                boundaries: HashMap::new(),
            }),
            path: path.to_path_buf(),
            photo_dir: storefile::sibling(path, ".photos"),
            device_id,
            now: Arc::new(Utc::now),
            read_only: true,
            busy,
        })
    }

    fn open_inner(path: &Path, key: Option<&str>) -> Result<Store> {
        let mut header = storefile::read_header(path)?;
        if header == Header::Missing {
            storefile::create(path, &|c| match key {
                Some(k) => apply_key(c, k),
                None => Ok(()),
            })?;
            header = storefile::read_header(path)?;
        }
        let refuse = |reason| Err(storefile::not_a_store(path, reason));
        match (&header, key) {
            (Header::Missing, _) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "数据库文件创建后不见了 / the store file vanished after it was created",
                )))
            }
            (Header::Empty, _) => return refuse(NotAStoreReason::Empty),
            (Header::NotAFile, _) => return refuse(NotAStoreReason::NotAFile),
            // An encrypted store has no readable header: the key decides below.
            (Header::NotSqlite, None) => return refuse(NotAStoreReason::NotSqlite),
            _ => {}
        }
        // No CREATE flag: a file that disappears between the checks and here is not re-made.
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        if let Some(key) = key {
            apply_key(&conn, key)?;
        }
        let busy = BusySlot::default();
        install_busy_handler(&mut conn, busy.clone())?;
        // Ownership and soundness before any pragma writes: a foreign or damaged file must not
        // be modified (storefile.rs).
        let verdict = match storefile::check(&conn, path, &header) {
            Err(Error::NotAStore { .. }) if key.is_some() => {
                return Err(Error::Encryption(
                    "wrong key or not an encrypted store".into(),
                ))
            }
            other => other?,
        };
        let legacy = match verdict {
            Verdict::Sound { legacy } => legacy,
            Verdict::Damaged => {
                drop(conn);
                if key.is_some() {
                    return Err(Error::Encryption(
                        "wrong key or not an encrypted store".into(),
                    ));
                }
                let moved_to = storefile::move_aside(path)?;
                tracing::warn!(?moved_to, "damaged store moved aside");
                return Err(Error::Corrupt {
                    moved_to: Some(moved_to),
                });
            }
        };
        schema::check_compatible(&conn)?;
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(Error::ReadOnly {
                path: path.to_path_buf(),
                needs_upgrade: false,
            });
        }
        let photo_dir = storefile::sibling(path, ".photos");
        let store = Self::finish_open(conn, path.to_path_buf(), photo_dir, busy)?;
        if legacy {
            // A store from before the application id: it is ours, so it says so from now on.
            store.write(|ctx| {
                ctx.tx
                    .pragma_update(None, "application_id", storefile::APPLICATION_ID)?;
                Ok(())
            })?;
        }
        Ok(store)
    }

    fn finish_open(
        mut conn: Connection,
        path: PathBuf,
        photo_dir: PathBuf,
        busy: BusySlot,
    ) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| map_write_error(e, &path))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A grid's store is tens of megabytes, and its busiest indexes (random UUIDv7 and
        // HLC keys, the search index) are touched all over: with SQLite's default 2 MiB page
        // cache an initial pull or a search reads most pages back from the OS one system call
        // at a time. 16 MiB holds a 10,000-household grid's hot pages on a cheap phone.
        conn.pragma_update(None, "cache_size", STORE_CACHE_KIB)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            Error::Sqlite(e) => map_write_error(e, &path),
            other => other,
        })?;
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
            read_only: false,
            busy,
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

    /// Whether the store was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
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
    ///
    /// If another program (a second process on the same file) is writing, this waits for it
    /// — up to [`BUSY_WAIT_MAX`], reporting progress to the [`Store::set_busy_observer`] callback —
    /// instead of failing; after that it fails with [`Error::Busy`] and writes nothing.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                needs_upgrade: false,
            });
        }
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
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_write_error(e, &self.path))?;
        let result = {
            let mut ctx = Tx {
                tx: &tx,
                clock: &mut inner.clock,
                boundaries: &mut inner.boundaries,
                now,
                settings,
                deferred_search: None,
            };
            f(&mut ctx)
        };
        match result {
            Ok(value) => {
                set_meta(&tx, "hlc", &inner.clock.current())?;
                tx.commit().map_err(|e| map_write_error(e, &self.path))?;
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
        if settings.min_patrol_minutes > 240 {
            return Err(Error::invalid("min_patrol_minutes", Code::OutOfRange));
        }
        if settings.min_patrol_distance_m > 10_000 {
            return Err(Error::invalid("min_patrol_distance_m", Code::OutOfRange));
        }
        let json = serde_json::to_string(settings)?;
        self.write(|ctx| {
            set_meta(ctx.tx, "settings", &json)?;
            // Due days are local days: another UTC offset moves them (due.rs).
            if !crate::due::rows_current(ctx.tx, settings)? {
                crate::due::rebuild_all(ctx.tx)?;
            }
            Ok(())
        })?;
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
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    // Every write ends here (the clock), so the statement is prepared once.
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE value != excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// A write that failed because another connection held the lock past the wait, or because
/// the file cannot be written, as the typed errors a caller can act on.
fn map_write_error(e: rusqlite::Error, path: &Path) -> Error {
    if storefile::is_busy(&e) {
        Error::Busy {
            waited_s: BUSY_WAIT_MAX.as_secs(),
        }
    } else if storefile::is_read_only(&e) {
        Error::ReadOnly {
            path: path.to_path_buf(),
            needs_upgrade: false,
        }
    } else {
        Error::Sqlite(e)
    }
}

/// How long a write waits for another program's write before giving up with
/// [`Error::Busy`]. A ledger import of thousands of rows holds the write lock for a while; a
/// second write waits for it rather than failing (SQLite's usual 5 s are too short for that).
pub const BUSY_WAIT_MAX: Duration = Duration::from_secs(600);

/// Called about once a second while a write waits for another program's write, with the
/// time waited so far (a shell shows "waiting for another write…").
pub type BusyObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// A store's observer of waits, shared with its connection's busy handler.
type BusySlot = Arc<RwLock<Option<BusyObserver>>>;

impl Store {
    /// Sets (or clears) who hears about this store's waits for another program's write.
    pub fn set_busy_observer(&self, observer: Option<BusyObserver>) {
        *self.busy.write().unwrap_or_else(|p| p.into_inner()) = observer;
    }
}

fn notify_busy(slot: &BusySlot, waited: Duration) {
    tracing::info!(
        waited_ms = waited.as_millis() as u64,
        "waiting for another write"
    );
    let observer = slot.read().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(f) = observer {
        f(waited);
    }
}

/// Replaces SQLite's fixed busy timeout: retries with short, growing pauses (1 ms up to
/// 100 ms), reports the wait about once a second and gives up after [`BUSY_WAIT_MAX`].
fn install_busy_handler(conn: &mut Connection, slot: BusySlot) -> Result<()> {
    let mut started = Instant::now();
    let mut reported = Duration::ZERO;
    conn.busy_handler(Some(move |count: i32| -> bool {
        if count == 0 {
            started = Instant::now();
            reported = Duration::ZERO;
        }
        let waited = started.elapsed();
        if waited >= BUSY_WAIT_MAX {
            return false;
        }
        if waited >= reported + Duration::from_secs(1) {
            reported = waited;
            notify_busy(&slot, waited);
        }
        const PAUSES_MS: [u64; 7] = [1, 2, 5, 10, 20, 50, 100];
        let step = usize::try_from(count).unwrap_or(0).min(PAUSES_MS.len() - 1);
        std::thread::sleep(Duration::from_millis(PAUSES_MS[step]));
        true
    }))?;
    Ok(())
}

/// Opens a connection that never writes. A store in WAL mode needs its `-shm` index; on a
/// read-only folder that cannot be made, so the file is opened as immutable (nobody can be
/// writing to a file in a folder nobody may write to).
fn open_read_only_conn(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            ) =>
        {
            drop(conn);
            let uri = format!("file:{}?immutable=1", uri_path(path));
            Ok(Connection::open_with_flags(
                uri,
                flags | OpenFlags::SQLITE_OPEN_URI,
            )?)
        }
        // Anything else (a damaged file) is for the checks to judge.
        Err(_) => Ok(conn),
    }
}

/// A path for an SQLite `file:` URI: everything but unreserved characters and `/` escaped.
fn uri_path(path: &Path) -> String {
    let raw = path.to_string_lossy();
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SQLCipher version compiled into this build (`PRAGMA cipher_version`), or `None` when
/// the build has plain SQLite and [`Store::open_with_key`] cannot encrypt. Shells check it at
/// start so a phone build without encryption is caught before it writes residents' data.
pub fn cipher_version() -> Option<String> {
    let conn = Connection::open_in_memory().ok()?;
    conn.query_row("PRAGMA cipher_version", [], |r| r.get::<_, String>(0))
        .ok()
        .filter(|v| !v.is_empty())
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
