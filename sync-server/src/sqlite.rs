//! SQLite storage: one writer connection behind a mutex, a small pool of reader connections,
//! WAL, schema versioned by `PRAGMA user_version`.
//!
//! One writer is not a bottleneck here, it is the design: revisions must be assigned in commit
//! order (a pull must never skip a revision that commits later with a lower number), and the
//! simplest proof of that is that only one transaction writes at a time and the revision counter
//! lives under the same lock. Readers run in WAL snapshots and never wait for the writer.
//!
//! Durability: `synchronous = NORMAL` in WAL mode keeps every committed transaction across a
//! process kill (the OS has the pages); a push is answered only after its commit. Only a power
//! cut can lose the last transactions, which the device still holds in its outbox and re-pushes.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock};

use gridwalk_protocol::hlc::HlcClock;
use gridwalk_protocol::{
    entity, Change, ChangeResult, OrgUnit, PushResponse, Reason, Role, UserInfo,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde_json::{Map, Value};

use crate::cases::{self, ActionRequest, TaskRequest};
use crate::config::ThrottleRule;
use crate::error::{Error, Result};
use crate::group::{GroupTx, PushQueue};
use crate::sessions::{self, AccessState, DeviceStep, RefreshState, RefreshStep};
use crate::storage::{
    CaseFilter, LoginUser, NewRecord, NewUser, Principal, PullPage, RecordTx, SessionRefusal,
    Storage, StoredRecord, TokenPair, WriteStats,
};
use crate::throttle::{Decision, ThrottleState};

/// The console's data reads and audit log (`console/data_store.rs`).
mod console_data;

/// Schema version this server writes.
pub const SCHEMA_VERSION: i64 = 6;
const SCHEMA_V1: &str = include_str!("../sql/schema_v1.sql");
/// Upgrades, each applied in its own transaction to a database at the version before it:
/// 2 photo blob holders and claims, 3 sign-in throttling and device hand-overs, 4 the web
/// console (browser sessions, the case queue's derived rows and indexes; its Rust step fills
/// the queue rows of the cases already stored), 5 the console's data (warning rules and
/// tasks, record authors, the reveal audit log), 6 the records' echo mark (no echo).
const UPGRADES: &[(i64, &str)] = &[
    (2, include_str!("../sql/schema_v2.sql")),
    (3, include_str!("../sql/schema_v3.sql")),
    (4, include_str!("../sql/schema_v4.sql")),
    (5, include_str!("../sql/schema_v5.sql")),
    (6, include_str!("../sql/schema_v6.sql")),
];

/// The console's queries (`console::store::ConsoleStorage` for SQLite).
mod console;

struct Writer {
    conn: Connection,
    next_rev: i64,
    clock: HlcClock,
}

pub struct SqliteStorage {
    path: std::path::PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
    epoch: String,
    hlc: RwLock<String>,
    stats: Mutex<WriteStats>,
    /// Pushes waiting for the writer (group commit, `group.rs`).
    pushes: PushQueue,
}

/// Page cache of each connection, in KiB (negative: a size, not a page count). The records
/// table and its `(entity, id)` key are touched all over (random UUIDv7 ids) by every push and
/// every pull; with SQLite's default 2 MiB a server of a few streets reads most pages back from
/// the OS one system call at a time. The cache grows only as pages
/// are used.
const CACHE_KIB: i64 = -64 * 1024;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock left no half-written transaction (it rolled back on drop),
    // so the data behind a poisoned mutex is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteStorage {
    /// Opens (creating when needed) the database at `path`.
    pub fn open(path: &Path, readers: usize) -> Result<SqliteStorage> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "database is not in WAL mode");
        }
        configure(&conn)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            let tx = conn.transaction()?;
            tx.execute_batch(SCHEMA_V1)?;
            let epoch = uuid::Uuid::now_v7().simple().to_string();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('epoch', ?1)",
                [&epoch],
            )?;
            for (cat, n, u, e) in cases::DEFAULT_DEADLINES {
                for (urgency, hours) in [("normal", n), ("urgent", u), ("emergency", e)] {
                    tx.execute(
                        "INSERT INTO case_deadlines (category_code, urgency, hours)
                         VALUES (?1, ?2, ?3)",
                        params![cat, urgency, hours],
                    )?;
                }
            }
            tx.pragma_update(None, "user_version", 1)?;
            tx.commit()?;
        }
        for (to, sql) in UPGRADES {
            let at: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if at < *to {
                let tx = conn.transaction()?;
                tx.execute_batch(sql)?;
                if *to == 4 {
                    console::rebuild_case_queue(&tx)?;
                }
                tx.pragma_update(None, "user_version", to)?;
                tx.commit()?;
                if at > 0 {
                    tracing::info!(from = at, to, "database schema upgraded");
                }
            }
        }
        let epoch: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })?;
        let last_hlc: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| r.get(0))
            .optional()?;
        let clock = HlcClock::new("srv", last_hlc.as_deref());
        let max_rev: i64 =
            conn.query_row("SELECT coalesce(max(rev), 0) FROM records", [], |r| {
                r.get(0)
            })?;
        Ok(SqliteStorage {
            path: path.to_path_buf(),
            hlc: RwLock::new(clock.current()),
            writer: Mutex::new(Writer {
                conn,
                next_rev: max_rev + 1,
                clock,
            }),
            readers: Mutex::new(Vec::new()),
            max_readers: readers.max(1),
            epoch,
            stats: Mutex::new(WriteStats::default()),
            pushes: PushQueue::new(crate::group::DEFAULT_GROUP_LIMIT),
        })
    }

    /// Sets the most pushes one commit carries (group commit); 1 turns it off.
    pub fn with_group_limit(mut self, limit: usize) -> SqliteStorage {
        self.pushes = PushQueue::new(limit);
        self
    }

    fn reader(&self) -> Result<Connection> {
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        Ok(conn)
    }

    /// Runs `f` in a read transaction (one consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.reader()?;
        let out = {
            let tx = conn.transaction()?;
            let out = f(&tx);
            // Ending a read transaction cannot lose anything; ignore its outcome.
            let _ = tx.finish();
            out
        };
        let mut pool = lock(&self.readers);
        if pool.len() < self.max_readers {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in the one write transaction; commits on `Ok`.
    fn write<T>(&self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>) -> Result<T> {
        let asked = std::time::Instant::now();
        let mut guard = lock(&self.writer);
        self.write_locked(&mut guard, asked, f)
    }

    /// Runs `f` on the write transaction as the sync rules see it (tests of `memo.rs`).
    #[cfg(test)]
    pub(crate) fn with_record_tx_for_tests<T>(
        &self,
        f: impl FnOnce(&mut dyn RecordTx) -> Result<T>,
    ) -> Result<T> {
        self.write(|w| f(w))
    }

    /// [`Self::write`] for a caller that already holds the writer (group commit).
    fn write_locked<T>(
        &self,
        w: &mut Writer,
        asked: std::time::Instant,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let tx = w
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut wtx = WriteTx {
            tx,
            next_rev: w.next_rev,
            clock: w.clock.clone(),
            saved: None,
        };
        let out = f(&mut wtx)?;
        let worked = std::time::Instant::now();
        let WriteTx {
            tx,
            next_rev,
            clock,
            ..
        } = wtx;
        let stamp = clock.current();
        if clock != w.clock {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('hlc', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([&stamp])?;
        }
        tx.commit()?;
        w.next_rev = next_rev;
        w.clock = clock;
        *self.hlc.write().unwrap_or_else(|e| e.into_inner()) = stamp;
        let mut s = lock(&self.stats);
        s.writes += 1;
        s.wait_ns += (started - asked).as_nanos() as u64;
        s.work_ns += (worked - started).as_nanos() as u64;
        s.commit_ns += worked.elapsed().as_nanos() as u64;
        Ok(out)
    }
}

/// The write transaction, with the revision counter and clock it advances.
pub struct WriteTx<'c> {
    tx: Transaction<'c>,
    next_rev: i64,
    clock: HlcClock,
    /// The counter and clock at the current push's savepoint (group commit).
    saved: Option<(i64, HlcClock)>,
}

impl GroupTx for WriteTx<'_> {
    fn begin_push(&mut self) -> Result<()> {
        self.tx.execute_batch("SAVEPOINT push")?;
        self.saved = Some((self.next_rev, self.clock.clone()));
        Ok(())
    }

    fn keep_push(&mut self) -> Result<()> {
        self.tx.execute_batch("RELEASE push")?;
        self.saved = None;
        Ok(())
    }

    fn undo_push(&mut self) -> Result<()> {
        self.tx.execute_batch("ROLLBACK TO push; RELEASE push")?;
        if let Some((rev, clock)) = self.saved.take() {
            self.next_rev = rev;
            self.clock = clock;
        }
        Ok(())
    }

    fn device_seen(&mut self, device_id: &str, now_ms: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE devices SET last_seen = ?2 WHERE id = ?1")?
            .execute(params![device_id, now_ms])?;
        Ok(())
    }
}

fn parse_obj(text: &str) -> Result<Map<String, Value>> {
    Ok(serde_json::from_str(text)?)
}

fn map_record(
    entity: &str,
    id: &str,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(StoredRecord, String, String)> {
    Ok((
        StoredRecord {
            entity: entity.to_string(),
            id: id.to_string(),
            grid_code: r.get(0)?,
            rev: r.get(1)?,
            hlc: r.get(2)?,
            data: Map::new(),
            clocks: Map::new(),
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

fn get_record(conn: &Connection, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
    let row = conn
        .prepare_cached(
            "SELECT grid_code, rev, hlc, data, clocks FROM records WHERE entity = ?1 AND id = ?2",
        )?
        .query_row(params![entity, id], |r| map_record(entity, id, r))
        .optional()?;
    match row {
        None => Ok(None),
        Some((mut rec, data, clocks)) => {
            rec.data = parse_obj(&data)?;
            rec.clocks = parse_obj(&clocks)?;
            Ok(Some(rec))
        }
    }
}

fn grid_of(conn: &Connection, entity: &str, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT grid_code FROM records WHERE entity = ?1 AND id = ?2")?
        .query_row(params![entity, id], |r| r.get(0))
        .optional()?)
}

/// Grids in the subtree of `org_code` plus the user's extra grids, sorted.
fn scope_grids(conn: &Connection, user_id: &str, org_code: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE sub(code, level) AS (
             SELECT code, level FROM org_units WHERE code = ?1
             UNION SELECT o.code, o.level FROM org_units o JOIN sub ON o.parent_code = sub.code)
         SELECT code FROM sub WHERE level = 'grid'
         UNION SELECT grid_code FROM user_grids WHERE user_id = ?2
         ORDER BY 1",
    )?;
    let rows = stmt.query_map(params![org_code, user_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

fn grids_json(grids: &[String]) -> Result<String> {
    Ok(serde_json::to_string(grids)?)
}

impl RecordTx for WriteTx<'_> {
    fn get(&mut self, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
        get_record(&self.tx, entity, id)
    }

    fn grid_of(&mut self, entity: &str, id: &str) -> Result<Option<String>> {
        grid_of(&self.tx, entity, id)
    }

    fn put(&mut self, rec: NewRecord<'_>) -> Result<i64> {
        let rev = self.next_rev;
        self.tx
            .prepare_cached(
                "INSERT INTO records (entity, id, grid_code, rev, hlc, data, clocks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (entity, id) DO UPDATE SET grid_code = excluded.grid_code,
                    rev = excluded.rev, hlc = excluded.hlc, data = excluded.data,
                    clocks = excluded.clocks, echo = NULL",
            )?
            .execute(params![
                rec.entity,
                rec.id,
                rec.grid_code,
                rev,
                rec.hlc,
                serde_json::to_string(rec.data)?,
                serde_json::to_string(rec.clocks)?
            ])?;
        if rec.entity == entity::CASE {
            console::put_queue_row(&self.tx, rec.id, rec.grid_code, rec.data)?;
        }
        self.next_rev += 1;
        Ok(rev)
    }

    fn echo_state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>> {
        Ok(self
            .tx
            .prepare_cached("SELECT rev, echo FROM records WHERE entity = ?1 AND id = ?2")?
            .query_row(params![entity, id], |r| Ok((r.get("rev")?, r.get("echo")?)))
            .optional()?)
    }

    fn mark_echo(&mut self, entity: &str, id: &str, rev: i64, key: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE records SET echo = ?4 WHERE entity = ?1 AND id = ?2 AND rev = ?3",
            )?
            .execute(params![entity, id, rev, key])?;
        Ok(())
    }

    fn applied(&mut self, change_id: &str) -> Result<Option<(String, ChangeResult)>> {
        let row: Option<(String, String)> = self
            .tx
            .prepare_cached("SELECT user_id, result FROM applied_changes WHERE change_id = ?1")?
            .query_row([change_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            None => Ok(None),
            Some((user, result)) => Ok(Some((user, serde_json::from_str(&result)?))),
        }
    }

    fn remember(&mut self, change_id: &str, user_id: &str, result: &ChangeResult) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO applied_changes (change_id, user_id, result) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![change_id, user_id, serde_json::to_string(result)?])?;
        Ok(())
    }

    fn tasks_for_target(&mut self, grid: &str, target_id: &str) -> Result<Vec<StoredRecord>> {
        let ids: Vec<String> = self
            .tx
            .prepare_cached(
                "SELECT id FROM records WHERE entity = 'task' AND grid_code = ?1
                   AND json_extract(data, '$.target_id') = ?2",
            )?
            .query_map(params![grid, target_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = get_record(&self.tx, entity::TASK, &id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn deadline_hours(&mut self, category: &str, urgency: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT hours FROM case_deadlines WHERE category_code = ?1 AND urgency = ?2",
            )?
            .query_row(params![category, urgency], |r| r.get(0))
            .optional()?)
    }

    fn org_parent(&mut self, code: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT parent_code FROM org_units WHERE code = ?1")?
            .query_row([code], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn user_in_grid(&mut self, username_or_id: &str, grid: &str) -> Result<Option<String>> {
        let user: Option<(String, String)> = self
            .tx
            .prepare_cached(
                "SELECT id, org_code FROM users WHERE (id = ?1 OR username = ?1) AND disabled = 0",
            )?
            .query_row([username_or_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((id, org)) = user else {
            return Ok(None);
        };
        let grids = scope_grids(&self.tx, &id, &org)?;
        Ok(grids.iter().any(|g| g == grid).then_some(id))
    }

    fn clock(&mut self) -> &mut HlcClock {
        &mut self.clock
    }

    fn note_author(
        &mut self,
        entity: &str,
        id: &str,
        user_id: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO record_authors (entity, id, user_id, device_id, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![entity, id, user_id, device_id, now_ms])?;
        Ok(())
    }

    fn claim_photo(&mut self, photo_id: &str, sha256: &str, user_id: &str) -> Result<()> {
        // Called just before the record is first written: a claim that outlived its record (a
        // rolled-back write elsewhere) is replaced, never inherited.
        self.tx
            .prepare_cached(
                "INSERT INTO photo_claims (photo_id, sha256, user_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (photo_id) DO UPDATE SET sha256 = excluded.sha256,
                    user_id = excluded.user_id",
            )?
            .execute(params![photo_id, sha256, user_id])?;
        Ok(())
    }
}

/// family, expires_at, used, session revoked, user id, device id, user disabled, device revoked.
type RefreshRow = (String, i64, bool, bool, String, String, bool, bool);
/// family, session revoked, expires_at, user id, role, org code, user disabled, device id,
/// device revoked.
type AccessRow = (
    String,
    bool,
    i64,
    String,
    String,
    String,
    bool,
    String,
    bool,
);

fn session_tokens(tx: &Transaction<'_>, family: &str, t: &TokenPair) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO access_tokens (hash, family_id, expires_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![t.access_hash, family, t.access_expires_at])?;
    tx.prepare_cached(
        "INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![t.refresh_hash, family, t.refresh_expires_at])?;
    Ok(())
}

/// Ends every live session of a user; returns how many. With `keep_access`, the access tokens
/// stay so that the next request is told why (`user_disabled`) rather than a bare "expired";
/// the sessions are over either way and never come back.
fn end_user_sessions(tx: &Transaction<'_>, user_id: &str, keep_access: bool) -> Result<usize> {
    // Browser sessions of the console end too (a disabled user is also refused on every
    // console request).
    tx.execute("DELETE FROM console_sessions WHERE user_id = ?1", [user_id])?;
    if !keep_access {
        tx.execute(
            "DELETE FROM access_tokens WHERE family_id IN
                 (SELECT family_id FROM sessions WHERE user_id = ?1)",
            [user_id],
        )?;
    }
    Ok(tx.execute(
        "UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND revoked = 0",
        [user_id],
    )?)
}

fn user_id_of(tx: &Transaction<'_>, username_or_id: &str) -> Result<String> {
    tx.query_row(
        "SELECT id FROM users WHERE username = ?1 OR id = ?1",
        [username_or_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(Error::NotFound { what: "user" })
}

fn throttle_row(tx: &Transaction<'_>, key: &str) -> Result<Option<ThrottleState>> {
    Ok(tx
        .prepare_cached(
            "SELECT window_start, failures, locked_until, strikes, last_failure
             FROM login_throttle WHERE key = ?1",
        )?
        .query_row([key], |r| {
            Ok(ThrottleState {
                window_start: r.get(0)?,
                failures: r.get(1)?,
                locked_until: r.get(2)?,
                strikes: r.get(3)?,
                last_failure: r.get(4)?,
            })
        })
        .optional()?)
}

fn put_throttle_row(tx: &Transaction<'_>, key: &str, s: &ThrottleState) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO login_throttle
             (key, window_start, failures, locked_until, strikes, last_failure)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start,
            failures = excluded.failures, locked_until = excluded.locked_until,
            strikes = excluded.strikes, last_failure = excluded.last_failure",
    )?
    .execute(params![
        key,
        s.window_start,
        s.failures,
        s.locked_until,
        s.strikes,
        s.last_failure
    ])?;
    Ok(())
}

fn revoke_family(tx: &Transaction<'_>, family: &str) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET revoked = 1 WHERE family_id = ?1",
        [family],
    )?;
    tx.execute("DELETE FROM access_tokens WHERE family_id = ?1", [family])?;
    tx.execute(
        "UPDATE refresh_tokens SET used = 1 WHERE family_id = ?1",
        [family],
    )?;
    Ok(())
}

impl Storage for SqliteStorage {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn server_hlc(&self) -> String {
        self.hlc.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn write_stats(&self) -> WriteStats {
        *lock(&self.stats)
    }

    fn put_org_units(&self, units: &[OrgUnit]) -> Result<usize> {
        self.write(|w| {
            for (i, u) in units.iter().enumerate() {
                crate::storage::check_org_unit(i, u)?;
                let field = |f: &str| format!("org[{i}].{f}");
                let boundary = u.boundary.as_ref().map(serde_json::to_string).transpose()?;
                w.tx.prepare_cached(
                    "INSERT INTO org_units (code, name, level, parent_code, boundary)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                        parent_code = excluded.parent_code, boundary = excluded.boundary",
                )?
                .execute(params![u.code, u.name, u.level, u.parent_code, boundary])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        Error::invalid(field("parent_code"), "unknown_reference")
                    }
                    e => e.into(),
                })?;
            }
            Ok(units.len())
        })
    }

    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<String> {
        let username = crate::storage::check_new_user(user)?;
        self.write(|w| {
            let level: Option<String> =
                w.tx.query_row(
                    "SELECT level FROM org_units WHERE code = ?1",
                    [&user.org_code],
                    |r| r.get(0),
                )
                .optional()?;
            if level.is_none() {
                return Err(Error::invalid("org_code", "unknown_reference"));
            }
            let taken =
                w.tx.prepare_cached("SELECT 1 FROM users WHERE username = ?1")?
                    .exists([username])?;
            if taken {
                return Err(Error::invalid("username", "duplicate"));
            }
            let id = uuid::Uuid::now_v7().to_string();
            w.tx.execute(
                "INSERT INTO users (id, username, display_name, role, org_code, password_hash,
                    created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    username,
                    user.display_name.trim(),
                    user.role.as_str(),
                    user.org_code,
                    user.password_hash,
                    now_ms
                ],
            )?;
            for g in &user.grids {
                let is_grid = w
                    .tx
                    .prepare_cached("SELECT 1 FROM org_units WHERE code = ?1 AND level = 'grid'")?
                    .exists([g])?;
                if !is_grid {
                    return Err(Error::invalid("grids", "unknown_reference"));
                }
                w.tx.execute(
                    "INSERT OR IGNORE INTO user_grids (user_id, grid_code) VALUES (?1, ?2)",
                    params![id, g],
                )?;
            }
            Ok(id)
        })
    }

    fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        self.write(|w| {
            let id = user_id_of(&w.tx, username)?;
            w.tx.execute(
                "UPDATE users SET disabled = ?2 WHERE id = ?1",
                params![id, disabled],
            )?;
            if disabled {
                // Ended for good: enabling the user again does not bring old tokens back.
                let n = end_user_sessions(&w.tx, &id, true)?;
                tracing::info!(user = %id, sessions_ended = n, "user disabled");
            } else {
                tracing::info!(user = %id, "user enabled");
            }
            Ok(())
        })
    }

    fn set_password_hash(&self, username: &str, hash: &str) -> Result<()> {
        self.write(|w| {
            let id = user_id_of(&w.tx, username)?;
            w.tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )?;
            let n = end_user_sessions(&w.tx, &id, false)?;
            tracing::info!(user = %id, sessions_ended = n, "password changed");
            Ok(())
        })
    }

    fn add_user_grid(&self, username: &str, grid: &str) -> Result<()> {
        self.write(|w| {
            let id: String =
                w.tx.query_row(
                    "SELECT id FROM users WHERE username = ?1 OR id = ?1",
                    [username],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(Error::NotFound { what: "user" })?;
            let is_grid =
                w.tx.prepare_cached("SELECT 1 FROM org_units WHERE code = ?1 AND level = 'grid'")?
                    .exists([grid])?;
            if !is_grid {
                return Err(Error::invalid("grid", "unknown_reference"));
            }
            w.tx.execute(
                "INSERT OR IGNORE INTO user_grids (user_id, grid_code) VALUES (?1, ?2)",
                params![id, grid],
            )?;
            Ok(())
        })
    }

    fn revoke_device(&self, device_id: &str) -> Result<()> {
        self.write(|w| {
            let n =
                w.tx.execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [device_id])?;
            if n == 0 {
                return Err(Error::NotFound { what: "device" });
            }
            // Tokens stay in place so the device's next request is told `device_revoked`
            // (and can say so to the worker) rather than a bare "expired".
            Ok(())
        })
    }

    fn set_case_deadline(&self, category: &str, urgency: &str, hours: i64) -> Result<()> {
        if hours <= 0 {
            return Err(Error::invalid("hours", "out_of_range"));
        }
        self.write(|w| {
            w.tx.execute(
                "INSERT INTO case_deadlines (category_code, urgency, hours) VALUES (?1, ?2, ?3)
                 ON CONFLICT (category_code, urgency) DO UPDATE SET hours = excluded.hours",
                params![category, urgency, hours],
            )?;
            Ok(())
        })
    }

    fn login_user(&self, username: &str) -> Result<Option<LoginUser>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT id, password_hash, disabled FROM users WHERE username = ?1",
            )?
            .query_row([username], |r| {
                Ok(LoginUser {
                    id: r.get(0)?,
                    password_hash: r.get(1)?,
                    disabled: r.get(2)?,
                })
            })
            .optional()?)
        })
    }

    fn login_attempt(&self, keys: &[(&str, ThrottleRule)], now_ms: i64) -> Result<Option<i64>> {
        self.write(|w| {
            let mut admitted = Vec::with_capacity(keys.len());
            let mut refused_until: Option<i64> = None;
            for (key, rule) in keys {
                let (decision, state) = rule.decide(throttle_row(&w.tx, key)?, now_ms);
                match decision {
                    Decision::Admit => admitted.push((*key, state)),
                    Decision::Refuse { until } => {
                        // A lockout that starts now is written even when the attempt is
                        // refused: it is the state, not a count.
                        put_throttle_row(&w.tx, key, &state)?;
                        refused_until = Some(refused_until.map_or(until, |u| u.max(until)));
                    }
                }
            }
            if refused_until.is_some() {
                return Ok(refused_until);
            }
            for (key, state) in admitted {
                put_throttle_row(&w.tx, key, &state)?;
            }
            // Forget keys quiet for longer than any rule remembers (and not locked).
            let memory = keys.iter().map(|(_, r)| r.memory_ms()).max().unwrap_or(0);
            w.tx.prepare_cached(
                "DELETE FROM login_throttle WHERE last_failure < ?1 AND locked_until < ?2",
            )?
            .execute(params![now_ms.saturating_sub(memory), now_ms])?;
            Ok(None)
        })
    }

    fn login_succeeded(&self, account_key: &str, address_key: &str) -> Result<()> {
        self.write(|w| {
            w.tx.prepare_cached("DELETE FROM login_throttle WHERE key = ?1")?
                .execute([account_key])?;
            w.tx.prepare_cached(
                "UPDATE login_throttle SET failures = max(failures - 1, 0) WHERE key = ?1",
            )?
            .execute([address_key])?;
            Ok(())
        })
    }

    fn start_session(
        &self,
        user_id: &str,
        device_id: &str,
        device_name: Option<&str>,
        tokens: &TokenPair,
        hand_over: bool,
        now_ms: i64,
    ) -> Result<Result<(), SessionRefusal>> {
        self.write(|w| {
            let device: Option<(String, bool)> =
                w.tx.query_row(
                    "SELECT user_id, revoked FROM devices WHERE id = ?1",
                    [device_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let step = sessions::device_step(
                device.as_ref().map(|(owner, revoked)| (owner.as_str(), *revoked)),
                user_id,
                hand_over,
            );
            if let DeviceStep::Refuse(r) = step {
                return Ok(Err(r));
            }
            if let DeviceStep::HandOver { from_user: owner } = &step {
                let ended = w.tx.execute(
                    "UPDATE sessions SET revoked = 1 WHERE device_id = ?1 AND revoked = 0",
                    [device_id],
                )?;
                w.tx.execute(
                    "DELETE FROM access_tokens WHERE family_id IN
                         (SELECT family_id FROM sessions WHERE device_id = ?1)",
                    [device_id],
                )?;
                w.tx.execute(
                    "INSERT INTO device_handovers (device_id, from_user, to_user, sessions_ended, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![device_id, owner, user_id, ended as i64, now_ms],
                )?;
                tracing::info!(
                    device = %device_id, from_user = %owner, to_user = %user_id,
                    sessions_ended = ended, "device handed over"
                );
            }
            w.tx.execute(
                "INSERT INTO devices (id, user_id, name, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
                    name = coalesce(excluded.name, devices.name), last_seen = excluded.last_seen",
                params![device_id, user_id, device_name, now_ms],
            )?;
            // A new login on a device ends that device's earlier sessions.
            let old: Vec<String> = w
                .tx
                .prepare("SELECT family_id FROM sessions WHERE device_id = ?1 AND revoked = 0")?
                .query_map([device_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for f in old {
                revoke_family(&w.tx, &f)?;
            }
            w.tx.execute("DELETE FROM access_tokens WHERE expires_at < ?1", [now_ms])?;
            let family = uuid::Uuid::now_v7().to_string();
            w.tx.execute(
                "INSERT INTO sessions (family_id, user_id, device_id, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![family, user_id, device_id, now_ms],
            )?;
            session_tokens(&w.tx, &family, tokens)?;
            Ok(Ok(()))
        })
    }

    fn refresh_session(
        &self,
        old_refresh_hash: &str,
        device_id: &str,
        tokens: &TokenPair,
        now_ms: i64,
    ) -> Result<Result<String, SessionRefusal>> {
        self.write(|w| {
            let row: Option<RefreshRow> =
                w.tx.query_row(
                    "SELECT r.family_id, r.expires_at, r.used, s.revoked, s.user_id, s.device_id,
                            u.disabled, d.revoked
                     FROM refresh_tokens r JOIN sessions s ON s.family_id = r.family_id
                     JOIN users u ON u.id = s.user_id JOIN devices d ON d.id = s.device_id
                     WHERE r.hash = ?1",
                    [old_refresh_hash],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ))
                    },
                )
                .optional()?;
            let state = row.as_ref().map(
                |(_, expires, used, revoked, _, dev, disabled, dev_revoked)| RefreshState {
                    expires_at: *expires,
                    used: *used,
                    session_revoked: *revoked,
                    device_id: dev.clone(),
                    user_disabled: *disabled,
                    device_revoked: *dev_revoked,
                },
            );
            let step = sessions::refresh_step(state.as_ref(), device_id, now_ms);
            let Some((family, _, _, _, user_id, _, _, _)) = row else {
                return Ok(Err(SessionRefusal::Ended));
            };
            match step {
                RefreshStep::Rotate => {}
                RefreshStep::EndFamily => {
                    // A rotated token came back: someone holds a copy. End the whole family.
                    tracing::warn!(session = %family, "refresh token reuse; session family revoked");
                    revoke_family(&w.tx, &family)?;
                    return Ok(Err(SessionRefusal::Ended));
                }
                RefreshStep::Refuse(r) => return Ok(Err(r)),
            }
            w.tx.execute(
                "UPDATE refresh_tokens SET used = 1 WHERE hash = ?1",
                [old_refresh_hash],
            )?;
            w.tx.execute("DELETE FROM access_tokens WHERE family_id = ?1", [&family])?;
            session_tokens(&w.tx, &family, tokens)?;
            w.tx.execute(
                "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
                params![device_id, now_ms],
            )?;
            Ok(Ok(user_id))
        })
    }

    fn end_session(&self, session_id: &str) -> Result<()> {
        self.write(|w| {
            w.tx.execute(
                "UPDATE sessions SET revoked = 1 WHERE family_id = ?1",
                [session_id],
            )?;
            w.tx.execute(
                "DELETE FROM access_tokens WHERE family_id = ?1",
                [session_id],
            )?;
            Ok(())
        })
    }

    fn authenticate(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Principal, SessionRefusal>> {
        self.read(|c| {
            let row: Option<AccessRow> = c
                .prepare_cached(
                    "SELECT s.family_id, s.revoked, a.expires_at, u.id, u.role, u.org_code,
                            u.disabled, d.id, d.revoked
                     FROM access_tokens a JOIN sessions s ON s.family_id = a.family_id
                     JOIN users u ON u.id = s.user_id JOIN devices d ON d.id = s.device_id
                     WHERE a.hash = ?1",
                )?
                .query_row([access_hash], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })
                .optional()?;
            let Some((family, revoked, expires, user_id, role, org, disabled, dev, dev_revoked)) =
                row
            else {
                return Ok(Err(SessionRefusal::Expired));
            };
            let state = AccessState {
                session_revoked: revoked,
                expires_at: expires,
                role,
                user_disabled: disabled,
                device_revoked: dev_revoked,
            };
            let role = match sessions::check_access(&state, now_ms) {
                Ok(role) => role,
                Err(r) => return Ok(Err(r)),
            };
            let grids = scope_grids(c, &user_id, &org)?;
            Ok(Ok(Principal {
                user_id,
                role,
                org_code: org,
                grids,
                device_id: dev,
                session_id: family,
            }))
        })
    }

    fn user_info(&self, user_id: &str) -> Result<UserInfo> {
        self.read(|c| {
            let (username, display_name, role, org_code): (String, String, String, String) = c
                .query_row(
                    "SELECT username, display_name, role, org_code FROM users WHERE id = ?1",
                    [user_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?
                .ok_or(Error::NotFound { what: "user" })?;
            let grids = scope_grids(c, user_id, &org_code)?;
            // The scope's units: every grid and all their ancestors.
            let mut stmt = c.prepare_cached(
                "WITH RECURSIVE up(code) AS (
                     SELECT value FROM json_each(?1)
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code, boundary FROM org_units
                 WHERE code IN (SELECT code FROM up)
                 ORDER BY CASE level WHEN 'district' THEN 0 WHEN 'street' THEN 1
                     WHEN 'community' THEN 2 ELSE 3 END, code",
            )?;
            let rows = stmt.query_map([grids_json(&grids)?], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut org = Vec::new();
            for row in rows {
                let (code, name, level, parent_code, boundary) = row?;
                org.push(OrgUnit {
                    code,
                    name,
                    level,
                    parent_code,
                    boundary: boundary.as_deref().map(serde_json::from_str).transpose()?,
                });
            }
            Ok(UserInfo {
                id: user_id.to_string(),
                username,
                display_name,
                role: Role::parse(&role).unwrap_or(Role::GridWorker),
                org_code,
                grids,
                org,
            })
        })
    }

    fn push(
        &self,
        who: &Principal,
        changes: &[Change],
        seen: crate::engine::Seen,
        now_ms: i64,
    ) -> Result<PushResponse> {
        self.pushes.push(who, changes, seen, now_ms, |group| {
            let asked = std::time::Instant::now();
            let mut writer = lock(&self.writer);
            if !group.has_work() {
                return Ok(());
            }
            self.write_locked(&mut writer, asked, |w| group.run(w))?;
            let mut s = lock(&self.stats);
            s.grouped_writes += u64::from(group.len() > 0);
            s.grouped_pushes += group.len() as u64;
            Ok(())
        })
    }

    fn pull(
        &self,
        who: &Principal,
        after_rev: i64,
        limit: usize,
        max_bytes: usize,
        skip_echo_of: Option<&str>,
    ) -> Result<PullPage> {
        self.read(|c| {
            let limit = limit.max(1);
            let mut bytes = 0usize;
            let mut stmt = c.prepare_cached(
                "SELECT entity, id, rev, hlc, data, clocks FROM records
                 WHERE rev > ?1 AND grid_code IN (SELECT value FROM json_each(?2))
                   AND (?4 IS NULL OR echo IS NULL OR echo <> ?4)
                 ORDER BY rev LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![
                after_rev,
                grids_json(&who.grids)?,
                limit as i64 + 1,
                skip_echo_of
            ])?;
            let mut records = Vec::new();
            let mut has_more = false;
            while let Some(r) = rows.next()? {
                if records.len() == limit {
                    has_more = true;
                    break;
                }
                let data: String = r.get(4)?;
                let clocks: String = r.get(5)?;
                let rec = gridwalk_protocol::ServerRecord {
                    entity: r.get(0)?,
                    id: r.get(1)?,
                    rev: r.get(2)?,
                    hlc: r.get(3)?,
                    data: parse_obj(&data)?,
                    clocks: parse_obj(&clocks)?,
                    extra: Map::new(),
                };
                // The bound counts `data` as stored and `clocks` in the full encoding (what
                // every version before compact storage counted). A record that would take the
                // page past the bound waits for the next page, unless the page is empty: a
                // record larger than the bound comes alone, so the feed never gets stuck on it.
                let size = data.len() + rec.full_clock_bytes();
                if !records.is_empty() && bytes.saturating_add(size) > max_bytes {
                    has_more = true;
                    break;
                }
                bytes = bytes.saturating_add(size);
                records.push(rec);
            }
            drop(rows);
            let next_rev = if has_more {
                records.last().map(|r| r.rev).unwrap_or(after_rev)
            } else {
                // Everything up to the snapshot's newest revision has been seen: later pulls
                // need not rescan revisions outside the scope.
                let max: i64 =
                    c.query_row("SELECT coalesce(max(rev), 0) FROM records", [], |r| {
                        r.get(0)
                    })?;
                max.max(after_rev)
            };
            Ok(PullPage {
                records,
                next_rev,
                has_more,
            })
        })
    }

    fn record_grid(&self, entity: &str, id: &str) -> Result<Option<String>> {
        self.read(|c| grid_of(c, entity, id))
    }

    fn get_record(
        &self,
        who: &Principal,
        entity: &str,
        id: &str,
    ) -> Result<Option<gridwalk_protocol::ServerRecord>> {
        self.read(|c| {
            Ok(get_record(c, entity, id)?
                .filter(|r| who.in_scope(&r.grid_code))
                .map(|r| r.to_wire()))
        })
    }

    fn grant_blob(&self, sha256: &str, user_id: &str, device_id: &str, now_ms: i64) -> Result<()> {
        self.write(|w| {
            w.tx.prepare_cached(
                "INSERT OR IGNORE INTO blob_holders (sha256, user_id, device_id, since)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sha256, user_id, device_id, now_ms])?;
            Ok(())
        })
    }

    fn blob_right(&self, who: &Principal, sha256: &str) -> Result<crate::photos::BlobRight> {
        use crate::photos::BlobRight;
        self.read(|c| {
            let holder = c
                .prepare_cached("SELECT 1 FROM blob_holders WHERE sha256 = ?1 AND user_id = ?2")?
                .exists(params![sha256, who.user_id])?;
            if holder {
                return Ok(BlobRight::Holder);
            }
            let in_scope = c
                .prepare_cached(
                    "SELECT 1 FROM photo_claims p
                     JOIN blob_holders h ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                     JOIN records r ON r.entity = 'photo' AND r.id = p.photo_id
                     WHERE p.sha256 = ?1 AND r.grid_code IN (SELECT value FROM json_each(?2))
                     LIMIT 1",
                )?
                .exists(params![sha256, grids_json(&who.grids)?])?;
            Ok(if in_scope {
                BlobRight::InScope
            } else {
                BlobRight::None
            })
        })
    }

    fn photo_serves_blob(&self, who: &Principal, photo_id: &str, sha256: &str) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM records r
                 JOIN photo_claims p ON p.photo_id = r.id AND p.sha256 = ?2
                 JOIN blob_holders h ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                 WHERE r.entity = 'photo' AND r.id = ?1
                   AND json_extract(r.data, '$.sha256') = ?2
                   AND r.grid_code IN (SELECT value FROM json_each(?3))",
            )?
            .exists(params![photo_id, sha256, grids_json(&who.grids)?])?)
        })
    }

    fn list_cases(
        &self,
        who: &Principal,
        filter: &CaseFilter,
        now_ms: i64,
    ) -> Result<Vec<gridwalk_protocol::ServerRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, rev, hlc, data, clocks FROM records
                 WHERE entity = 'case' AND grid_code IN (SELECT value FROM json_each(?1))
                   AND (?2 IS NULL OR json_extract(data, '$.status') = ?2)
                 ORDER BY rev DESC LIMIT 5000",
            )?;
            let mut rows = stmt.query(params![grids_json(&who.grids)?, filter.status])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let data = parse_obj(&r.get::<_, String>(3)?)?;
                if filter.overdue && !cases::is_overdue(&data, now_ms) {
                    continue;
                }
                out.push(gridwalk_protocol::ServerRecord {
                    entity: entity::CASE.into(),
                    id: r.get(0)?,
                    rev: r.get(1)?,
                    hlc: r.get(2)?,
                    data,
                    clocks: parse_obj(&r.get::<_, String>(4)?)?,
                    extra: Map::new(),
                });
            }
            Ok(out)
        })
    }

    fn case_action(
        &self,
        who: &Principal,
        case_id: &str,
        action: &ActionRequest,
        now_ms: i64,
    ) -> Result<Result<gridwalk_protocol::ServerRecord, Reason>> {
        self.write(|w| cases::case_action(w, who, case_id, action, now_ms))
    }

    fn create_task(
        &self,
        who: &Principal,
        input: &TaskRequest,
        now_ms: i64,
    ) -> Result<Result<gridwalk_protocol::ServerRecord, Reason>> {
        self.write(|w| Ok(cases::create_task(w, who, input, now_ms)?.map(|r| r.to_wire())))
    }
}
