//! PostgreSQL storage: the same [`Storage`](crate::storage::Storage) as SQLite, for a city's
//! load and for several server instances on one database (`serve --database postgres://…`).
//!
//! **Nothing another instance needs lives in process memory.** The revision counter and the
//! server's HLC clock are the one row of `sync_state`; the epoch, throttle counters, sessions and
//! everything else are tables. What a process keeps is only a cache or a metric: the pool's
//! prepared statements, the newest clock stamp it saw (`server_hlc` answers from it without a
//! round trip, since async handlers call it; every pull and write refreshes it from
//! `sync_state`), write timings. `docs/scaling.md` lists them.
//!
//! **Revisions (the contract on `Storage::pull`).** Every sync write transaction (a push, a case
//! action, a task) first takes the `sync_state` row `FOR UPDATE`, assigns its revisions from it,
//! writes the counter and clock back and commits before the row lock is released. Writers of
//! records are therefore serialised across every instance, exactly like SQLite's one writer:
//! a revision is only ever handed out above every committed one and below every later one, so a
//! pull's snapshot can never pass a revision that commits later. The alternatives weighed:
//! a sequence plus capping `next_rev` below the oldest in-flight revision needs every reader to
//! see uncommitted writers' revisions (a side table written outside the transaction, or
//! `pg_locks` reads racing the snapshot); and merges need serialised writes anyway — a push
//! reads a record, merges field clocks and writes it back, which on concurrent writers needs
//! row locks on every record read and a retry on deadlock. One row lock keeps the rules
//! identical on both backends; the lock is held for the work of the pushes of one group commit
//! (below) and one commit, which sizes one database (`docs/scaling.md`). Writes that touch no record (sign-in, sessions, throttling, the console)
//! do not take it and run concurrently, with row locks where they read-modify-write.
//!
//! **The write gate.** A sync write waits for the row lock holding a pool connection, so at
//! most `Config::database_writers` of this process's sync writes take one at a time; the rest
//! wait in the process ([`PgStorage::with_writers`]) and sign-ins and pulls keep the pool.
//! The reads a push needs are prefetched under the lock (`record_tx.rs`); taking the lock only
//! after them would need every read row locked or re-checked, and is not done.
//!
//! **Group commit.** Pushes wait in the process's queue (`crate::group`, the same code as
//! SQLite's); a thread that gets a place in the gate takes the row and only then every push
//! queued in this process (up to `Config::push_group_limit`, at most [`MAX_GROUP`]), so the pushes that arrived while
//! it waited for the row share its transaction: each in its own savepoint (an error undoes and
//! answers that push alone), one commit — one WAL flush with its `fsync` — for all, and every
//! push answered only after it. The row is then held for the pushes' work plus one commit
//! instead of one commit per push; it pays only when pushes queue (a burst, a busy machine):
//! at the evening's rate on a machine of its own nothing queues and a push holds the row
//! about 7 ms with 4 round trips (`docs/scaling.md`). Groups are capped at [`MAX_GROUP`].
//! Durability is unchanged: a push is acknowledged after its commit, `synchronous_commit`
//! stays on.
//!
//! **The clock.** The HLC is read from `sync_state` under the same lock, advanced by the rules
//! and written back before commit, so two instances never issue stamps out of order.
//!
//! Reads run in `REPEATABLE READ READ ONLY` transactions (one snapshot per call, like SQLite's
//! WAL readers). No TLS: the database is expected on the same host or private network (say so
//! when deploying; `docs/scaling.md`).

use std::sync::{Condvar, Mutex, MutexGuard, RwLock};

use gridwalk_protocol::hlc::HlcClock;
use serde_json::{Map, Value};
use tokio_postgres::IsolationLevel;

use crate::error::{Error, Result};
use crate::group::PushQueue;
use crate::storage::{StoredRecord, WriteStats};

/// The console's queries (`console::store::ConsoleStorage`).
mod console;
/// The console's data reads and audit log (`console::data_store::ConsoleData`).
mod console_data;
mod migrate;
mod pool;
/// `RecordTx` for the sync write transaction.
mod record_tx;
/// Scratch databases for tests and benchmarks.
pub mod scratch;
/// Sessions and sign-in throttling.
mod sessions;
/// `impl Storage for PgStorage`.
mod storage;

pub use migrate::SCHEMA_VERSION;
pub use pool::{wait, Params, PgConn, Pool, Tx};

/// Most pushes one PostgreSQL transaction carries, whatever `Config::push_group_limit` says.
/// Each push of a group is a savepoint (a subtransaction with its own transaction id), and
/// large groups made every push slower: 1,000 devices arriving in 10 s on a quiet machine
/// (2 December, `docs/scaling.md`) went at 27.5 devices/s with groups of up to 64 (35 ms of
/// database work per push) and at 69.3 devices/s with groups of up to 16 (13 ms), against
/// 62.3 without group commit. (PostgreSQL keeps 64 subtransaction ids per session in shared
/// memory; past that every other session's snapshot looks them up in `pg_subtrans`.)
pub const MAX_GROUP: usize = 16;

/// The storage on one PostgreSQL database.
pub struct PgStorage {
    pool: Pool,
    epoch: String,
    /// The newest clock stamp this process saw (answers `server_hlc`; the database is authoritative).
    hlc: RwLock<String>,
    stats: Mutex<WriteStats>,
    /// The write gate: sync write transactions running now, and how many may run at once.
    writers: Mutex<(usize, usize)>,
    writer_freed: Condvar,
    /// Pushes waiting for a place in the write gate and the row (group commit, `group.rs`).
    pushes: PushQueue,
}

/// A place in the write gate, given back when dropped (also on error or panic).
struct WriterSlot<'a>(&'a PgStorage);

impl Drop for WriterSlot<'_> {
    fn drop(&mut self) {
        lock(&self.0.writers).0 -= 1;
        self.0.writer_freed.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A database error as a line for logs: the server's SQLSTATE and message (never the detail,
/// which can quote row values), or the client error.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with its password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    // A password can also come as a query parameter.
    let host = match host.split_once('?') {
        Some((h, q)) if q.contains("password") => format!("{h}?…"),
        _ => host.to_string(),
    };
    match auth {
        Some(a) => match a.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{a}@{host}"),
        },
        None => format!("{scheme}://{host}"),
    }
}

impl PgStorage {
    /// Connects to `url` (a `postgres://` URL), brings the schema up to date (safely when
    /// several instances start at once) and keeps at most `pool_size` connections.
    pub fn open(url: &str, pool_size: usize) -> Result<PgStorage> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| Error::invalid("database", "invalid_format"))?;
        let pool = Pool::new(config, pool_size)?;
        let mut first = pool.connect()?;
        migrate::migrate(&mut first)?;
        drop(first);
        let storage = PgStorage {
            pool,
            epoch: String::new(),
            hlc: RwLock::new(String::new()),
            stats: Mutex::new(WriteStats::default()),
            writers: Mutex::new((0, 2)),
            writer_freed: Condvar::new(),
            pushes: PushQueue::new(MAX_GROUP),
        };
        let (epoch, hlc) = storage.read(|tx| {
            let epoch: String = tx
                .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])?
                .try_get("value")?;
            let hlc: Option<String> = tx
                .query_one("SELECT hlc FROM sync_state WHERE id = 1", &[])?
                .try_get("hlc")?;
            Ok((epoch, hlc))
        })?;
        let clock = HlcClock::new("srv", hlc.as_deref());
        tracing::info!(database = %redact_url(url), pool_size, "PostgreSQL storage open");
        Ok(PgStorage {
            epoch,
            hlc: RwLock::new(clock.current()),
            ..storage
        })
    }

    /// At most `n` (at least 1) sync write transactions of this process at once; the others
    /// wait in the process before taking a pool connection (`Config::database_writers`).
    pub fn with_writers(self, n: usize) -> PgStorage {
        lock(&self.writers).1 = n.max(1);
        self
    }

    /// At most `limit` queued pushes committed in one transaction (group commit,
    /// `Config::push_group_limit`), and never more than [`MAX_GROUP`]; 1 commits every push on
    /// its own.
    pub fn with_group_limit(mut self, limit: usize) -> PgStorage {
        self.pushes = PushQueue::new(limit.min(MAX_GROUP));
        self
    }

    /// Waits for a place in the write gate.
    fn writer_slot(&self) -> WriterSlot<'_> {
        let mut w = lock(&self.writers);
        while w.0 >= w.1 {
            w = self.writer_freed.wait(w).unwrap_or_else(|e| e.into_inner());
        }
        w.0 += 1;
        WriterSlot(self)
    }

    /// Runs `f` in a read-only transaction on one snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut pooled = self.pool.get()?;
        let mut tx = pooled.conn()?.begin(IsolationLevel::RepeatableRead, true)?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read-write transaction (READ COMMITTED) that writes no record: sessions,
    /// throttling, admin, the console's own tables. Commits on `Ok`, rolls back on `Err`.
    /// Read-modify-write steps inside take row locks (`FOR UPDATE`).
    pub fn write_plain<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut pooled = self.pool.get()?;
        let mut tx = pooled.conn()?.begin(IsolationLevel::ReadCommitted, false)?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a sync write transaction: holds the `sync_state` row (revisions, clock)
    /// until commit, so record writes are serialised across instances (module doc). Commits on
    /// `Ok`; an `Err` rolls everything back, counter and clock included.
    pub fn write<T>(&self, f: impl FnOnce(&mut PgWriteTx<'_>) -> Result<T>) -> Result<T> {
        let asked = std::time::Instant::now();
        let _slot = self.writer_slot();
        self.write_in_slot(asked, f)
    }

    /// [`Self::write`] for a caller that already holds a place in the write gate (a group
    /// commit's leader); `asked` is when it started waiting.
    fn write_in_slot<T>(
        &self,
        asked: std::time::Instant,
        f: impl FnOnce(&mut PgWriteTx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut pooled = self.pool.get()?;
        let mut tx = pooled.conn()?.begin(IsolationLevel::ReadCommitted, false)?;
        let row = tx.query_one(
            "SELECT next_rev, hlc FROM sync_state WHERE id = 1 FOR UPDATE",
            &[],
        )?;
        let next_rev: i64 = row.try_get("next_rev")?;
        let hlc: Option<String> = row.try_get("hlc")?;
        let started = std::time::Instant::now();
        // The wait for the row counts as waiting, not as work.
        let locking = tx.spent();
        let clock = HlcClock::new("srv", hlc.as_deref());
        let mut w = PgWriteTx::new(tx, next_rev, clock);
        let out = f(&mut w)?;
        // The buffered writes go out: still work (the commit is only the clock's row and COMMIT).
        let (mut tx, first_rev, next_rev, clock_at_start, clock) = w.finish()?;
        let worked = std::time::Instant::now();
        let (db_ns, statements) = tx.spent();
        let (db_ns, statements) = (db_ns - locking.0, statements - locking.1);
        let stamp = clock.current();
        if next_rev != first_rev || clock != clock_at_start {
            tx.execute(
                "UPDATE sync_state SET next_rev = $1, hlc = $2 WHERE id = 1",
                &[&next_rev, &stamp],
            )?;
        }
        tx.commit()?;
        {
            // Another instance may have moved the clock further already; keep the newest.
            let mut cached = self.hlc.write().unwrap_or_else(|e| e.into_inner());
            if stamp > *cached {
                *cached = stamp;
            }
        }
        let mut s = lock(&self.stats);
        s.writes += 1;
        s.wait_ns += (started - asked).as_nanos() as u64;
        s.work_ns += (worked - started).as_nanos() as u64;
        s.commit_ns += worked.elapsed().as_nanos() as u64;
        s.db_ns += db_ns;
        s.statements += statements;
        Ok(out)
    }
}

pub use record_tx::PgWriteTx;

/// Parses a JSON object read as text (`data::text`).
pub(crate) fn parse_obj(text: &str) -> Result<Map<String, Value>> {
    Ok(serde_json::from_str(text)?)
}

/// Reads a record row selected as `grid_code, rev, hlc, data::text AS data,
/// clocks::text AS clocks`.
pub(crate) fn record_from_row(
    entity: &str,
    id: &str,
    r: &tokio_postgres::Row,
) -> Result<StoredRecord> {
    Ok(StoredRecord {
        entity: entity.to_string(),
        id: id.to_string(),
        grid_code: r.try_get("grid_code")?,
        rev: r.try_get("rev")?,
        hlc: r.try_get("hlc")?,
        data: parse_obj(r.try_get("data")?)?,
        clocks: parse_obj(r.try_get("clocks")?)?,
    })
}

/// One record at its latest state.
pub(crate) fn get_record(tx: &mut Tx<'_>, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
    match tx.query_opt(
        "SELECT grid_code, rev, hlc, data::text AS data, clocks::text AS clocks
         FROM records WHERE entity = $1 AND id = $2",
        &[&entity, &id],
    )? {
        None => Ok(None),
        Some(r) => Ok(Some(record_from_row(entity, id, &r)?)),
    }
}

/// The grid of a record.
pub(crate) fn grid_of(tx: &mut Tx<'_>, entity: &str, id: &str) -> Result<Option<String>> {
    match tx.query_opt(
        "SELECT grid_code FROM records WHERE entity = $1 AND id = $2",
        &[&entity, &id],
    )? {
        None => Ok(None),
        Some(r) => Ok(Some(r.try_get("grid_code")?)),
    }
}

/// Grids in the subtree of `org_code` plus the user's extra grids, sorted (the same rule as
/// SQLite's `scope_grids`).
pub(crate) fn scope_grids(tx: &mut Tx<'_>, user_id: &str, org_code: &str) -> Result<Vec<String>> {
    let rows = tx.query(
        "WITH RECURSIVE sub(code, level) AS (
             SELECT code, level FROM org_units WHERE code = $1
             UNION SELECT o.code, o.level FROM org_units o JOIN sub ON o.parent_code = sub.code)
         SELECT code FROM sub WHERE level = 'grid'
         UNION SELECT grid_code FROM user_grids WHERE user_id = $2",
        &[&org_code, &user_id],
    )?;
    let mut grids = rows
        .iter()
        .map(|r| Ok(r.try_get::<_, String>("code")?))
        .collect::<Result<Vec<_>>>()?;
    // Byte order, whatever the database's collation: `Principal::in_scope` binary-searches it.
    grids.sort();
    Ok(grids)
}
