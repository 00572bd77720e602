//! [`Store::sync`]: push the outbox, then pull the feed, in named phases.
//!
//! **Push.** Pending outbox rows leave oldest first in batches. Each answer is recorded in one
//! transaction per batch: an acknowledged change (`applied`/`merged`) deletes its outbox row and
//! marks the record synced (unless another change to it is still queued); conflicts the server
//! reports are stored; a `rejected` change moves to state `attention` with the server's reason
//! and never blocks the rows behind it. A row leaves the outbox only after the server
//! acknowledged it, so killing the app at any moment loses nothing: the retried push carries
//! the same `change_id`s and the server applies each at most once.
//!
//! Each push carries the stored pull cursor: the server then leaves the records the push wrote
//! out of the next pull when this device already holds their state ("no echo",
//! `docs/protocol.md`); the pull's cursor still moves past them. A device that never pulled and
//! has work to push pulls its snapshot first, so that even its first push carries a cursor.
//!
//! **Pull.** Pages of the feed are applied together with the cursor advance in one transaction
//! (see `apply.rs`) until the server says there is no more; the next page is fetched on another
//! thread while one is applied, and applied only after it. An empty page with a new cursor
//! (everything after the cursor was our own echo) is stored the same way. A cursor the server no longer
//! honours (410) starts a new snapshot from no cursor, merged field by field like any page, so
//! local edits not yet pushed still win where they are newer and are pushed by the next sync;
//! nothing local is reset.
//!
//! **Failures.** Transient failures (no connection, timeouts, 5xx) are retried with exponential
//! backoff and jitter, a bounded number of times; the sleep is injectable so tests run instantly.
//! A [`CancelToken`] is checked between requests and during backoff; cancelling leaves the store
//! consistent (every finished batch and page is committed, nothing half-applied).
//!
//! **One at a time.** A second `sync` on the same store (same file, in this process) while one
//! runs returns [`SyncError::AlreadyRunning`] at once instead of waiting: the caller (a UI
//! button, a background job) decides whether to try later. Two processes syncing one file stay
//! correct (SQLite serialises the writes, the server deduplicates changes) but do double work.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gridwalk_protocol::{codes, Change, Op, Outcome, PushRequest, PushResponse};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::{self, table_of, value_text};
use super::clock;
use super::session::{META_CURSOR, META_LAST_SYNC};
use super::transport::{Transport, TransportError};
use super::SyncError;
use crate::error::Result;
use crate::model::new_id;
use crate::store::{from_ms, get_meta, ms, set_meta, Store, Tx};

/// A shared flag that asks a running sync to stop at the next safe point.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    fn check(&self) -> Result<(), SyncError> {
        if self.is_cancelled() {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// How long to pause; receives the token so a long pause can end early when cancelled.
pub type SleepFn = Arc<dyn Fn(Duration, &CancelToken) + Send + Sync>;

/// Sleeps in short slices, returning early when `cancel` is set.
pub fn cancellable_sleep(d: Duration, cancel: &CancelToken) {
    let slice = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() && !cancel.is_cancelled() {
        let step = left.min(slice);
        std::thread::sleep(step);
        left -= step;
    }
}

/// Knobs of one sync.
#[derive(Clone)]
pub struct SyncOptions {
    /// Changes per push request (the server accepts up to 1000).
    pub push_batch: usize,
    /// Records per pull page.
    pub pull_limit: usize,
    /// Attempts per request before a transient failure is reported (1 = no retry).
    pub max_attempts: u32,
    /// First backoff pause; doubles per attempt, with jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub sleep: SleepFn,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            push_batch: 500,
            pull_limit: gridwalk_protocol::DEFAULT_PULL_LIMIT,
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            sleep: Arc::new(cancellable_sleep),
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("push_batch", &self.push_batch)
            .field("pull_limit", &self.pull_limit)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .finish_non_exhaustive()
    }
}

/// Which phase a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    Push,
    Pull,
    Done,
}

/// Reported after every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    /// Changes pushed (answered) or records pulled so far in this phase.
    pub done: u64,
    /// Changes to push; unknown (`None`) while pulling.
    pub total: Option<u64>,
    /// Body bytes on the wire so far (sent + received, compressed).
    pub bytes: u64,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Changes the server acknowledged (applied or merged).
    pub pushed: usize,
    /// Changes the server refused (now in the "needs attention" list).
    pub rejected: usize,
    /// Field conflicts the server reported for our changes.
    pub conflicts: usize,
    /// Changes the server answered nothing for (left pending for the next sync).
    pub unacknowledged: usize,
    /// Records applied from the feed.
    pub pulled: usize,
    /// Malformed or unknown records skipped.
    pub skipped: usize,
    /// Records waiting for a parent not received yet (total after this sync).
    pub parked: usize,
    /// The cursor had expired and a new snapshot was taken.
    pub resnapshot: bool,
    /// Transient failures retried.
    pub retries: usize,
    /// Changes refused because the phone's clock ran ahead, re-stamped once the phone's time was
    /// right again and pushed once more (`sync/clock.rs`).
    pub restamped: usize,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Stores with a sync under way in this process (by file path, or address when in memory).
static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

struct RunningGuard(String);

impl RunningGuard {
    fn take(store: &Store) -> Result<RunningGuard, SyncError> {
        let key = match store.path().to_str() {
            Some(":memory:") | None => format!("mem:{:p}", store as *const Store),
            Some(p) => std::fs::canonicalize(p)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_else(|_| p.to_string()),
        };
        let mut g = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if !g.get_or_insert_with(HashSet::new).insert(key.clone()) {
            return Err(SyncError::AlreadyRunning);
        }
        Ok(RunningGuard(key))
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut g = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = g.as_mut() {
            set.remove(&self.0);
        }
    }
}

/// Pause before retry number `attempt` (0-based): `base * 2^attempt`, capped, with the upper
/// half jittered so a thousand phones coming back online do not retry in step.
pub fn backoff_delay(opts: &SyncOptions, attempt: u32) -> Duration {
    let cap = opts
        .backoff_base
        .saturating_mul(1u32 << attempt.min(20))
        .min(opts.backoff_max);
    let half = cap / 2;
    let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

/// A queued change read from the outbox.
struct Queued {
    seq: i64,
    change: Change,
}

fn pending_after(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Queued>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, change_id, entity, entity_id, op, payload, hlc, base FROM outbox
         WHERE state = 'pending' AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, change_id, entity, entity_id, op, payload, hlc, base) = row?;
        let payload: Map<String, Value> = serde_json::from_str(&payload)?;
        let base: Option<Map<String, Value>> =
            base.as_deref().map(serde_json::from_str).transpose()?;
        let op = if op == crate::changes::op::UPDATE {
            Op::Update
        } else {
            Op::Create
        };
        out.push(Queued {
            seq,
            change: Change {
                change_id,
                entity,
                entity_id,
                base: if op == Op::Update { base } else { None },
                op,
                hlc,
                payload,
            },
        });
    }
    Ok(out)
}

/// Sets `server_rev` and the state of a record after the server answered for one of its changes.
fn settle_record(ctx: &Tx<'_>, entity: &str, id: &str, rev: Option<i64>) -> Result<()> {
    let Some(table) = table_of(entity) else {
        return Ok(());
    };
    let state = apply::state_after(ctx.tx, entity, id).map_err(|e| match e {
        apply::ApplyError::Store(e) => e,
        apply::ApplyError::Malformed(_) => crate::Error::Format {
            what: "outbox",
            detail: "state".into(),
        },
    })?;
    ctx.tx
        .prepare_cached(&format!(
            "UPDATE {table} SET server_rev = max(coalesce(server_rev, 0), coalesce(?2, 0)),
                sync_state = ?3 WHERE id = ?1"
        ))?
        .execute(params![id, rev, state])?;
    Ok(())
}

/// Moves a refused change to the attention list with the server's reason.
fn mark_attention(ctx: &Tx<'_>, q: &Queued, reason: &gridwalk_protocol::Reason) -> Result<()> {
    let c = &q.change;
    let json = serde_json::to_string(reason)?;
    ctx.tx
        .prepare_cached("UPDATE outbox SET state = 'attention', last_error = ?2 WHERE seq = ?1")?
        .execute(params![q.seq, json])?;
    if let Some(table) = table_of(&c.entity) {
        ctx.tx
            .prepare_cached(&format!(
                "UPDATE {table} SET sync_state = 'attention' WHERE id = ?1"
            ))?
            .execute([&c.entity_id])?;
    }
    tracing::warn!(entity = %c.entity, id = %c.entity_id, code = %reason.code,
        "change rejected by the server");
    Ok(())
}

/// Whether the server refused a change of the batch because the phone's clock ran ahead.
fn clock_ahead_in(resp: &PushResponse) -> bool {
    resp.results.iter().any(|r| {
        r.outcome == Outcome::Rejected
            && r.reason
                .as_ref()
                .is_some_and(|x| x.code == codes::CLOCK_AHEAD)
    })
}

/// Records the server's answers for one batch (one transaction).
fn record_results(
    ctx: &mut Tx<'_>,
    batch: &[Queued],
    resp: &PushResponse,
    report: &mut SyncReport,
) -> Result<()> {
    let clock_ahead = clock_ahead_in(resp);
    let _ = ctx.observe(&resp.server_hlc);
    let by_id: HashMap<&str, _> = resp
        .results
        .iter()
        .map(|r| (r.change_id.as_str(), r))
        .collect();
    for q in batch {
        let c = &q.change;
        let Some(r) = by_id.get(c.change_id.as_str()) else {
            report.unacknowledged += 1;
            continue;
        };
        match r.outcome {
            Outcome::Applied | Outcome::Merged => {
                ctx.tx
                    .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                    .execute([q.seq])?;
                settle_record(ctx, &c.entity, &c.entity_id, r.rev)?;
                report.pushed += 1;
                for fc in &r.conflicts {
                    let _ = ctx.observe(&fc.kept_hlc);
                    let _ = ctx.observe(&fc.lost_hlc);
                    let known = ctx
                        .tx
                        .prepare_cached(
                            "SELECT 1 FROM conflicts WHERE entity = ?1 AND entity_id = ?2
                               AND field = ?3 AND kept_hlc = ?4 AND lost_hlc = ?5",
                        )?
                        .exists(params![
                            c.entity,
                            c.entity_id,
                            fc.field,
                            fc.kept_hlc,
                            fc.lost_hlc
                        ])?;
                    report.conflicts += 1;
                    if known {
                        continue;
                    }
                    let hlc = fc.kept_hlc.clone().max(fc.lost_hlc.clone());
                    ctx.tx
                        .prepare_cached(
                            "INSERT INTO conflicts (id, entity, entity_id, field, kept_value,
                                kept_hlc, lost_value, lost_hlc, detected_at, hlc)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        )?
                        .execute(params![
                            new_id(),
                            c.entity,
                            c.entity_id,
                            fc.field,
                            value_text(Some(&fc.kept)),
                            fc.kept_hlc,
                            value_text(Some(&fc.lost)),
                            fc.lost_hlc,
                            ms(ctx.now),
                            hlc
                        ])?;
                }
            }
            Outcome::Rejected => {
                let reason = r.reason.clone().unwrap_or_else(|| {
                    gridwalk_protocol::Reason::new(
                        "rejected",
                        "服务器拒绝了此变更 / the server refused this change",
                    )
                });
                mark_attention(ctx, q, &reason)?;
                report.rejected += 1;
            }
            // A newer server's outcome: keep the change queued, as if unanswered.
            Outcome::Unknown => report.unacknowledged += 1,
        }
    }
    if clock_ahead {
        // The server's clock is in this answer: if the phone's time is right again, the
        // refused changes are re-stamped and go back in the queue (not refused after all).
        let requeued = clock::recover(ctx, &resp.server_hlc)?;
        report.rejected -= requeued.min(report.rejected);
        report.restamped += requeued;
    }
    Ok(())
}

/// Runs `call` with backoff on transient failures; returns its result and the retries made.
/// A free function so the pull can ask for the next page on another thread.
fn retry<T>(
    store: &Store,
    transport: &dyn Transport,
    opts: &SyncOptions,
    cancel: &CancelToken,
    mut call: impl FnMut(&Store, &dyn Transport) -> Result<T, SyncError>,
) -> (Result<T, SyncError>, usize) {
    let mut attempt = 0u32;
    loop {
        if let Err(e) = cancel.check() {
            return (Err(e), attempt as usize);
        }
        match call(store, transport) {
            Err(SyncError::Transport(e))
                if e.is_transient() && attempt + 1 < opts.max_attempts.max(1) =>
            {
                let delay = backoff_delay(opts, attempt);
                tracing::info!(
                    code = e.code(),
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "transient sync failure, retrying"
                );
                attempt += 1;
                (opts.sleep)(delay, cancel);
            }
            other => return (other, attempt as usize),
        }
    }
}

/// A pull page with the retries it took.
type Fetched = (Result<gridwalk_protocol::PullResponse, SyncError>, usize);

/// One sync run's state.
struct Run<'a> {
    store: &'a Store,
    transport: &'a dyn Transport,
    opts: &'a SyncOptions,
    cancel: &'a CancelToken,
    progress: &'a mut dyn FnMut(&SyncProgress),
    start_bytes: (u64, u64),
    report: SyncReport,
}

impl Run<'_> {
    fn bytes(&self) -> (u64, u64) {
        let (s, r) = self.transport.wire_bytes();
        (
            s.saturating_sub(self.start_bytes.0),
            r.saturating_sub(self.start_bytes.1),
        )
    }

    fn tell(&mut self, phase: SyncPhase, done: u64, total: Option<u64>) {
        let (s, r) = self.bytes();
        (self.progress)(&SyncProgress {
            phase,
            done,
            total,
            bytes: s + r,
        });
    }

    /// Runs `call` with backoff on transient failures.
    fn retrying<T>(
        &mut self,
        call: impl FnMut(&Store, &dyn Transport) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let (result, retries) = retry(self.store, self.transport, self.opts, self.cancel, call);
        self.report.retries += retries;
        result
    }

    /// Writes the server's answers for one batch (one transaction) and reports progress.
    fn settle(
        &mut self,
        batch: &[Queued],
        resp: &PushResponse,
        done: &mut u64,
        total: u64,
    ) -> Result<(), SyncError> {
        let mut report = std::mem::take(&mut self.report);
        let res = self
            .store
            .write(|ctx| record_results(ctx, batch, resp, &mut report));
        self.report = report;
        res?;
        *done += batch.len() as u64;
        self.tell(SyncPhase::Push, *done, Some(total));
        Ok(())
    }

    /// Pushes the outbox in batches, in order: a batch is sent only once the one before it was
    /// answered (a batch may need the records of the one before). While the server works on a
    /// batch, the phone writes the answers of the batch before it and reads the next one, so the
    /// phone's work and the server's overlap instead of taking turns. The answers of a batch are
    /// written whatever becomes of the next one (an error, a cancel), and an answered change
    /// whose answer was not written yet (the phone stopped) is simply pushed again: the server
    /// applies a change id once and answers it again with `replayed`.
    fn push(&mut self) -> Result<(), SyncError> {
        let total: i64 = self.store.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )?)
        })?;
        let total = total as u64;
        let batch_size = self
            .opts
            .push_batch
            .clamp(1, gridwalk_protocol::MAX_PUSH_CHANGES);
        let mut after = 0i64;
        let mut done = 0u64;
        let mut size = batch_size;
        if total > 0 {
            self.tell(SyncPhase::Push, 0, Some(total));
        }
        // The last batch answered, its answers not written yet; the next batch, read ahead.
        let mut answered: Option<(Vec<Queued>, PushResponse)> = None;
        let mut ahead: Option<Vec<Queued>> = None;
        let outcome = loop {
            if let Err(e) = self.cancel.check() {
                break Err(e);
            }
            // Refusals for a clock that ran ahead may re-stamp every unsent change
            // (`clock.rs`): those answers are written before anything else is read or sent.
            if let Some((b, resp)) = answered.take_if(|(_, r)| clock_ahead_in(r)) {
                if let Err(e) = self.settle(&b, &resp, &mut done, total) {
                    break Err(e);
                }
                ahead = None;
            }
            let mut batch = match ahead.take() {
                Some(b) => b,
                None => match self.store.read(|c| pending_after(c, after, size)) {
                    Ok(b) => b,
                    Err(e) => break Err(e.into()),
                },
            };
            let Some(last) = batch.last() else {
                break Ok(());
            };
            let (first, last) = (batch[0].seq, last.seq);
            let prepared = self.store.write(|ctx| {
                ctx.tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1
                     WHERE seq BETWEEN ?1 AND ?2 AND state = 'pending'",
                    params![first, last],
                )?;
                get_meta(ctx.tx, META_CURSOR)
            });
            // The cursor stored with the last pulled page: the server leaves the records this
            // push writes out of our next pull when we already hold their state (no echo).
            let cursor = match prepared {
                Ok(c) => c,
                Err(e) => break Err(e.into()),
            };
            // The payloads move into the request: the answers need only the ids (a batch that
            // must be sent again, halved, is read again from the outbox).
            let req = PushRequest {
                batch_id: new_id(),
                changes: batch
                    .iter_mut()
                    .map(|q| Change {
                        payload: std::mem::take(&mut q.change.payload),
                        base: q.change.base.take(),
                        ..q.change.clone()
                    })
                    .collect(),
                cursor,
            };
            // Sent on another thread with a token taken now, so the request never waits for
            // the store, busy meanwhile with the answers before it.
            let (store, transport, opts, cancel) =
                (self.store, self.transport, self.opts, self.cancel);
            let token = self.store.access_token(self.transport).ok();
            let (sent, written, next) = std::thread::scope(|scope| {
                let req = &req;
                let handle = token.map(|token| {
                    scope.spawn(move || {
                        retry(store, transport, opts, cancel, |_, t| {
                            Ok(t.push(&token, req)?)
                        })
                    })
                });
                let written = match answered.take() {
                    Some((b, resp)) => self.settle(&b, &resp, &mut done, total),
                    None => Ok(()),
                };
                let next = self.store.read(|c| pending_after(c, last, size));
                let sent = handle.map(|h| {
                    h.join().unwrap_or_else(|_| {
                        let e = TransportError::Protocol("the push stopped".into());
                        (Err(e.into()), 0)
                    })
                });
                (sent, written, next)
            });
            if let Err(e) = written {
                break Err(e);
            }
            let resp = match sent {
                Some((Err(SyncError::Transport(TransportError::AuthExpired)), retries)) => {
                    self.report.retries += retries;
                    self.retrying(|store, t| store.with_access(t, |tok| t.push(tok, &req)))
                }
                None => self.retrying(|store, t| store.with_access(t, |tok| t.push(tok, &req))),
                Some((res, retries)) => {
                    self.report.retries += retries;
                    res
                }
            };
            let resp = match resp {
                // Too large for the server (long patrol tracks): halve the batch; a single
                // change that is still too large goes to the attention list, the rest go on.
                Err(SyncError::Transport(TransportError::Rejected {
                    status: 413,
                    code,
                    message,
                })) => {
                    if batch.len() > 1 {
                        size = (batch.len() / 2).max(1);
                        continue;
                    }
                    let reason = gridwalk_protocol::Reason::new(code, message);
                    let q = &batch[0];
                    if let Err(e) = self.store.write(|ctx| mark_attention(ctx, q, &reason)) {
                        break Err(e.into());
                    }
                    self.report.rejected += 1;
                    after = last;
                    done += 1;
                    continue;
                }
                Err(e) => break Err(e),
                Ok(r) => r,
            };
            after = last;
            answered = Some((batch, resp));
            ahead = next.ok();
        };
        // The last answers (or those received before an error or a cancel) are written.
        if let Some((b, resp)) = answered.take() {
            self.settle(&b, &resp, &mut done, total)?;
        }
        outcome
    }

    /// Pulls pages until the feed says there is no more. While a page is applied (its own
    /// transaction, with its cursor), the next one is already being asked for on another
    /// thread: the phone's work and the network's (or the server's) overlap instead of taking
    /// turns. The next page is only ever applied after the one before it committed, and is
    /// dropped unread if that fails, so the order and the crash guarantees are those of one
    /// page at a time.
    fn pull(&mut self) -> Result<(), SyncError> {
        let cursor = self.store.read(|c| get_meta(c, META_CURSOR))?;
        let limit = self
            .opts
            .pull_limit
            .clamp(1, gridwalk_protocol::MAX_PULL_LIMIT);
        let (store, transport, opts, cancel) = (self.store, self.transport, self.opts, self.cancel);
        let fetch = move |cursor: Option<String>| -> Fetched {
            retry(store, transport, opts, cancel, |store, t| {
                store.with_access(t, |tok| t.pull(tok, cursor.as_deref(), limit))
            })
        };
        // The page asked for ahead uses a token taken before, so its request never waits for
        // the store (busy writing the page before it); an expired token just means asking
        // again the ordinary way.
        let fetch_with = move |token: String, cursor: Option<String>| -> Fetched {
            retry(store, transport, opts, cancel, |_, t| {
                Ok(t.pull(&token, cursor.as_deref(), limit)?)
            })
        };
        std::thread::scope(|scope| self.pull_pages(cursor, &fetch, &fetch_with, scope))?;
        self.report.parked = self.store.read(apply::parked_count)? as usize;
        Ok(())
    }

    fn pull_pages<'scope>(
        &mut self,
        mut cursor: Option<String>,
        fetch: &'scope (impl Fn(Option<String>) -> Fetched + Sync),
        fetch_with: &'scope (impl Fn(String, Option<String>) -> Fetched + Sync),
        scope: &'scope std::thread::Scope<'scope, '_>,
    ) -> Result<(), SyncError> {
        let mut done = 0u64;
        // The page asked for ahead: (its cursor, the thread fetching it).
        let mut ahead: Option<(
            Option<String>,
            std::thread::ScopedJoinHandle<'scope, Fetched>,
        )> = None;
        loop {
            self.cancel.check()?;
            let asked = cursor.clone();
            let early = match ahead.take() {
                Some((for_cursor, handle)) if for_cursor == asked => {
                    Some(handle.join().unwrap_or_else(|_| {
                        let e = TransportError::Protocol("the page fetch stopped".into());
                        (Err(e.into()), 0)
                    }))
                }
                _ => None,
            };
            let (page, retries) = match early {
                Some((Err(SyncError::Transport(TransportError::AuthExpired)), _)) | None => {
                    fetch(asked.clone())
                }
                Some(fetched) => fetched,
            };
            self.report.retries += retries;
            let page = match page {
                Err(SyncError::Transport(TransportError::CursorExpired))
                    if !self.report.resnapshot && cursor.is_some() =>
                {
                    tracing::info!("sync cursor expired; taking a new snapshot");
                    self.report.resnapshot = true;
                    cursor = None;
                    continue;
                }
                other => other?,
            };
            let stuck = page.records.is_empty() && asked.as_deref() == Some(page.cursor.as_str());
            if page.has_more && !stuck {
                // Without a token now, the next page is asked for the ordinary way (which
                // reports why).
                if let Ok(token) = self.store.access_token(self.transport) {
                    let next = Some(page.cursor.clone());
                    let asked_next = next.clone();
                    ahead = Some((next, scope.spawn(move || fetch_with(token, asked_next))));
                }
            }
            let stats = self.store.write(|ctx| {
                let stats = apply::apply_page(ctx, &page.records)?;
                set_meta(ctx.tx, META_CURSOR, &page.cursor)?;
                let _ = ctx.observe(&page.server_hlc);
                Ok(stats)
            })?;
            self.report.pulled += stats.applied + stats.unparked;
            self.report.skipped += stats.skipped;
            done += page.records.len() as u64;
            self.tell(SyncPhase::Pull, done, None);
            if !page.has_more {
                break;
            }
            if stuck {
                return Err(TransportError::Protocol(
                    "the feed says there is more but sends nothing new".into(),
                )
                .into());
            }
            cursor = Some(page.cursor);
        }
        Ok(())
    }
}

impl Store {
    /// Pushes every pending change, then pulls the feed until it is exhausted.
    ///
    /// `progress` is called after every request; `cancel` stops the run at the next safe point
    /// with [`SyncError::Cancelled`] (everything finished so far is kept). A second call while
    /// one runs on the same store returns [`SyncError::AlreadyRunning`] immediately.
    pub fn sync(
        &self,
        transport: &dyn Transport,
        opts: &SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
        cancel: &CancelToken,
    ) -> Result<SyncReport, SyncError> {
        let _guard = RunningGuard::take(self)?;
        let mut run = Run {
            store: self,
            transport,
            opts,
            cancel,
            progress,
            start_bytes: transport.wire_bytes(),
            report: SyncReport::default(),
        };
        // Changes refused because the phone's clock ran ahead are judged afresh; when the time
        // is right again they are re-stamped during the push and pushed once more.
        self.write(clock::requeue)?;
        // A device that never pulled and has work to push takes its snapshot first, so that its
        // push carries a cursor and what it pushes does not come back down (no echo): without
        // it, the first evening's sync downloads the whole day's work again.
        let never_pulled = self.read(|c| get_meta(c, META_CURSOR))?.is_none();
        let has_work = self.read(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending')",
                [],
                |r| r.get::<_, bool>(0),
            )?)
        })?;
        if never_pulled && has_work {
            run.pull()?;
        }
        run.push()?;
        if run.report.restamped > 0 {
            run.push()?;
        }
        run.pull()?;
        // When the phone last heard everything the server had: the sync screen's "last sync".
        self.write(|ctx| {
            let at = ms(ctx.now).to_string();
            set_meta(ctx.tx, META_LAST_SYNC, &at)
        })?;
        let (sent, received) = run.bytes();
        run.report.bytes_sent = sent;
        run.report.bytes_received = received;
        let done = run.report.pulled as u64;
        run.tell(SyncPhase::Done, done, None);
        tracing::info!(
            pushed = run.report.pushed,
            rejected = run.report.rejected,
            pulled = run.report.pulled,
            "sync finished"
        );
        Ok(run.report)
    }

    /// When the last sync finished (pushed and pulled everything), if one ever did.
    pub fn last_sync_at(&self) -> Result<Option<DateTime<Utc>>> {
        let raw = self.read(|c| get_meta(c, META_LAST_SYNC))?;
        Ok(raw.and_then(|v| v.parse::<i64>().ok()).map(from_ms))
    }

    /// [`Store::sync`] with default options, no progress and no cancellation.
    pub fn sync_now(&self, transport: &dyn Transport) -> Result<SyncReport, SyncError> {
        self.sync(
            transport,
            &SyncOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
        )
    }
}
