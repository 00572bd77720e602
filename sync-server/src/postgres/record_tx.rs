//! [`RecordTx`] for PostgreSQL's sync write transaction: the primitives `engine::push_batch`
//! and `cases` run on. Revisions come from the `sync_state` row the transaction holds
//! (`mod.rs`); case writes keep the console's queue row in the same transaction
//! (`console::put_queue_row`), as on SQLite.
//!
//! **Write-behind.** A push of 1,000 changes would cost seven or so round trips per change if
//! every primitive were a statement (is it applied, read, echo state, write, remember, author,
//! echo mark). Inside the transaction nobody else can see or write records (the `sync_state`
//! lock serialises record writers), so record writes, remembered change results, authors, photo
//! claims and the devices' last sync are kept in memory and written at the end in multi-row
//! statements (`unnest` of arrays), pipelined in one round trip ([`Tx::execute_many`]; in a
//! group commit, at the end of each push with its savepoint's release); reads look at what this transaction wrote first, then at the database, and a
//! record read from the database is remembered with its revision and echo mark. Anything that
//! reads records by another key than `(entity, id)` (`tasks_for_target`, or SQL through
//! [`PgWriteTx::tx`]) flushes first, so it always sees this transaction's writes.
//!
//! **Prefetch.** `engine::push_batch` names every record and change id a batch can ask about
//! before its rules run ([`RecordTx::prefetch`]); they are read here in one query per table
//! (`unnest` of keys; both queries in one round trip) into `fetched` / `fetched_applied`. A prefetched key missing from the
//! answer is absent (no second query). The order of answers stays: this transaction's own
//! writes (`pending`, `remembered`) first, then the prefetch; a `put` drops the key from the
//! prefetch, so after the write is flushed a read goes to the database again and sees it.

use std::collections::HashMap;

use gridwalk_protocol::hlc::HlcClock;
use gridwalk_protocol::{entity, ChangeResult};

use tokio_postgres::types::ToSql;

use super::{grid_of, record_from_row, scope_grids, Params, Tx};
use crate::error::Result;
use crate::group::GroupTx;
use crate::storage::{NewRecord, RecordTx, StoredRecord};

/// A record written by this transaction, not yet sent.
struct Pending {
    rec: StoredRecord,
    echo: Option<String>,
}

/// (entity, id).
type Key = (String, String);

/// The columns of buffered record writes, as arrays for one multi-row statement.
struct RecordRows {
    entities: Vec<String>,
    ids: Vec<String>,
    grids: Vec<String>,
    revs: Vec<i64>,
    hlcs: Vec<String>,
    datas: Vec<String>,
    clockss: Vec<String>,
    echoes: Vec<Option<String>>,
}

impl RecordRows {
    fn with_capacity(n: usize) -> RecordRows {
        RecordRows {
            entities: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            grids: Vec::with_capacity(n),
            revs: Vec::with_capacity(n),
            hlcs: Vec::with_capacity(n),
            datas: Vec::with_capacity(n),
            clockss: Vec::with_capacity(n),
            echoes: Vec::with_capacity(n),
        }
    }
}

/// The sync write transaction: the `sync_state` row is held; revisions and the clock advance
/// in memory and are written back at commit, with the buffered writes.
pub struct PgWriteTx<'c> {
    tx: Tx<'c>,
    first_rev: i64,
    next_rev: i64,
    clock_at_start: HlcClock,
    clock: HlcClock,
    /// Records written, by key, in the order of their revisions when flushed.
    pending: HashMap<Key, Pending>,
    /// Revision and echo mark of records read from the database (None: it has no such record).
    known: HashMap<Key, Option<(i64, Option<String>)>>,
    /// Change results to remember: change id → (user, result JSON).
    remembered: HashMap<String, (String, ChangeResult)>,
    /// Authors of created records (first wins).
    authors: HashMap<Key, (String, String, i64)>,
    /// Records read by [`RecordTx::prefetch`] and not written since (absent ones are `None`
    /// in `known`).
    fetched: HashMap<Key, StoredRecord>,
    /// Change results read by [`RecordTx::prefetch`] (None: never applied).
    fetched_applied: HashMap<String, Option<(String, ChangeResult)>>,
    /// Photo claims to write: photo id → (sha256, user).
    claims: HashMap<String, (String, String)>,
    /// Devices that synced: device id → when (the console's "last sync").
    devices_seen: HashMap<String, i64>,
    /// The counter and clock at the current push's savepoint (group commit).
    saved: Option<(i64, HlcClock)>,
}

fn key(entity: &str, id: &str) -> Key {
    (entity.to_string(), id.to_string())
}

impl<'c> PgWriteTx<'c> {
    pub(super) fn new(tx: Tx<'c>, next_rev: i64, clock: HlcClock) -> PgWriteTx<'c> {
        PgWriteTx {
            tx,
            first_rev: next_rev,
            next_rev,
            clock_at_start: clock.clone(),
            clock,
            pending: HashMap::new(),
            known: HashMap::new(),
            remembered: HashMap::new(),
            authors: HashMap::new(),
            fetched: HashMap::new(),
            fetched_applied: HashMap::new(),
            claims: HashMap::new(),
            devices_seen: HashMap::new(),
            saved: None,
        }
    }

    /// The transaction for statements of one's own, after this transaction's buffered writes
    /// are sent (so a query sees them).
    pub fn tx(&mut self) -> Result<&mut Tx<'c>> {
        self.flush()?;
        // Statements of one's own may write records: the prefetch no longer speaks for them.
        self.fetched.clear();
        Ok(&mut self.tx)
    }

    /// Sends the buffered writes.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_then(None)
    }

    /// Sends the buffered writes and then `last` (a statement without parameters: releasing a
    /// savepoint), pipelined in one round trip.
    fn flush_then(&mut self, last: Option<&'static str>) -> Result<()> {
        // Records, in the order of their revisions.
        let mut rows: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        rows.sort_by_key(|p| p.rec.rev);
        let n = rows.len();
        let mut r = RecordRows::with_capacity(n);
        for p in rows {
            r.datas.push(serde_json::to_string(&p.rec.data)?);
            r.clockss.push(serde_json::to_string(&p.rec.clocks)?);
            self.known.insert(
                key(&p.rec.entity, &p.rec.id),
                Some((p.rec.rev, p.echo.clone())),
            );
            r.entities.push(p.rec.entity);
            r.ids.push(p.rec.id);
            r.grids.push(p.rec.grid_code);
            r.revs.push(p.rec.rev);
            r.hlcs.push(p.rec.hlc);
            r.echoes.push(p.echo);
        }
        // Change results.
        let (mut change_ids, mut users, mut results) = (Vec::new(), Vec::new(), Vec::new());
        for (change_id, (user, result)) in self.remembered.drain() {
            results.push(serde_json::to_string(&result)?);
            change_ids.push(change_id);
            users.push(user);
        }
        // Authors of created records.
        let (mut a_entities, mut a_ids, mut a_users, mut a_devices, mut a_ats) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((entity, id), (user, device, at)) in self.authors.drain() {
            a_entities.push(entity);
            a_ids.push(id);
            a_users.push(user);
            a_devices.push(device);
            a_ats.push(at);
        }
        // Photo claims (the last one of a photo wins, as statement by statement).
        let (mut c_photos, mut c_shas, mut c_users) = (Vec::new(), Vec::new(), Vec::new());
        for (photo, (sha, user)) in self.claims.drain() {
            c_photos.push(photo);
            c_shas.push(sha);
            c_users.push(user);
        }
        // Devices' last sync.
        let (mut d_ids, mut d_ats) = (Vec::new(), Vec::new());
        for (device, at) in self.devices_seen.drain() {
            d_ids.push(device);
            d_ats.push(at);
        }
        let record_params: [&(dyn ToSql + Sync); 8] = [
            &r.entities,
            &r.ids,
            &r.grids,
            &r.revs,
            &r.hlcs,
            &r.datas,
            &r.clockss,
            &r.echoes,
        ];
        let result_params: [&(dyn ToSql + Sync); 3] = [&change_ids, &users, &results];
        let author_params: [&(dyn ToSql + Sync); 5] =
            [&a_entities, &a_ids, &a_users, &a_devices, &a_ats];
        let claim_params: [&(dyn ToSql + Sync); 3] = [&c_photos, &c_shas, &c_users];
        let device_params: [&(dyn ToSql + Sync); 2] = [&d_ids, &d_ats];
        let mut stmts: Vec<(&str, &Params<'_>)> = Vec::new();
        if n > 0 {
            stmts.push((
                "INSERT INTO records (entity, id, grid_code, rev, hlc, data, clocks, echo)
                 SELECT t.entity, t.id, t.grid_code, t.rev, t.hlc, t.data::jsonb,
                        t.clocks::jsonb, t.echo
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[],
                             $6::text[], $7::text[], $8::text[])
                      AS t(entity, id, grid_code, rev, hlc, data, clocks, echo)
                 ON CONFLICT (entity, id) DO UPDATE SET grid_code = excluded.grid_code,
                    rev = excluded.rev, hlc = excluded.hlc, data = excluded.data,
                    clocks = excluded.clocks, echo = excluded.echo",
                &record_params,
            ));
        }
        if !change_ids.is_empty() {
            stmts.push((
                "INSERT INTO applied_changes (change_id, user_id, result)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
                &result_params,
            ));
        }
        if !a_ids.is_empty() {
            stmts.push((
                "INSERT INTO record_authors (entity, id, user_id, device_id, at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                      $5::int8[])
                 ON CONFLICT DO NOTHING",
                &author_params,
            ));
        }
        if !c_photos.is_empty() {
            // As on SQLite: a claim that outlived its record is replaced, never inherited.
            stmts.push((
                "INSERT INTO photo_claims (photo_id, sha256, user_id)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (photo_id) DO UPDATE SET sha256 = excluded.sha256,
                    user_id = excluded.user_id",
                &claim_params,
            ));
        }
        if !d_ids.is_empty() {
            stmts.push((
                "UPDATE devices d SET last_seen = t.at
                 FROM unnest($1::text[], $2::int8[]) AS t(id, at) WHERE d.id = t.id",
                &device_params,
            ));
        }
        if let Some(sql) = last {
            stmts.push((sql, &[]));
        }
        if !stmts.is_empty() {
            self.tx.execute_many(&stmts)?;
        }
        Ok(())
    }

    /// Flushes and hands back the transaction with the counter and clock as they started and
    /// ended, for the commit (`PgStorage::write`).
    pub(super) fn finish(mut self) -> Result<(Tx<'c>, i64, i64, HlcClock, HlcClock)> {
        self.flush()?;
        Ok((
            self.tx,
            self.first_rev,
            self.next_rev,
            self.clock_at_start,
            self.clock,
        ))
    }

    /// Revision and echo mark of a record, from this transaction's writes or reads, else the
    /// database (remembered).
    fn state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>> {
        let k = key(entity, id);
        if let Some(p) = self.pending.get(&k) {
            return Ok(Some((p.rec.rev, p.echo.clone())));
        }
        if let Some(s) = self.known.get(&k) {
            return Ok(s.clone());
        }
        let s = match self.tx.query_opt(
            "SELECT rev, echo FROM records WHERE entity = $1 AND id = $2",
            &[&entity, &id],
        )? {
            None => None,
            Some(r) => Some((r.try_get("rev")?, r.try_get("echo")?)),
        };
        self.known.insert(k, s.clone());
        Ok(s)
    }
}

/// A push's savepoint inside a group commit (`group.rs`). The buffered writes of the pushes
/// before it are sent before the savepoint starts and this push's before it is released, so a
/// rollback to it undoes exactly this push; the caches may hold what the undone push wrote or
/// read after writing, so they are dropped with it (rare: only an error undoes a push).
impl GroupTx for PgWriteTx<'_> {
    fn begin_push(&mut self) -> Result<()> {
        self.flush()?;
        // Sent with the push's first statement, in its round trip.
        self.tx.defer("SAVEPOINT push");
        self.saved = Some((self.next_rev, self.clock.clone()));
        Ok(())
    }

    fn keep_push(&mut self) -> Result<()> {
        // The push's writes and the release in one round trip.
        self.flush_then(Some("RELEASE push"))?;
        self.saved = None;
        Ok(())
    }

    fn undo_push(&mut self) -> Result<()> {
        self.tx.batch("ROLLBACK TO push; RELEASE push")?;
        if let Some((rev, clock)) = self.saved.take() {
            self.next_rev = rev;
            self.clock = clock;
        }
        self.pending.clear();
        self.remembered.clear();
        self.authors.clear();
        self.claims.clear();
        self.devices_seen.clear();
        self.known.clear();
        self.fetched.clear();
        self.fetched_applied.clear();
        Ok(())
    }

    fn device_seen(&mut self, device_id: &str, now_ms: i64) -> Result<()> {
        // Written with the push's other buffered writes.
        self.devices_seen.insert(device_id.to_string(), now_ms);
        Ok(())
    }
}

impl RecordTx for PgWriteTx<'_> {
    fn prefetch(&mut self, records: &[(&str, &str)], change_ids: &[&str]) -> Result<()> {
        let wanted: Vec<(&str, &str)> = records
            .iter()
            .copied()
            .filter(|(e, i)| {
                let k = key(e, i);
                !self.pending.contains_key(&k)
                    && !self.known.contains_key(&k)
                    && !self.fetched.contains_key(&k)
            })
            .collect();
        let ids: Vec<&str> = change_ids
            .iter()
            .copied()
            .filter(|c| !self.remembered.contains_key(*c) && !self.fetched_applied.contains_key(*c))
            .collect();
        // Both reads in one round trip.
        let entities: Vec<&str> = wanted.iter().map(|(e, _)| *e).collect();
        let record_ids: Vec<&str> = wanted.iter().map(|(_, i)| *i).collect();
        let record_params: [&(dyn ToSql + Sync); 2] = [&entities, &record_ids];
        let applied_params: [&(dyn ToSql + Sync); 1] = [&ids];
        let mut queries: Vec<(&str, &Params<'_>)> = Vec::new();
        if !wanted.is_empty() {
            queries.push((
                "SELECT r.entity, r.id, r.grid_code, r.rev, r.hlc, r.data::text AS data,
                        r.clocks::text AS clocks, r.echo
                 FROM unnest($1::text[], $2::text[]) AS k(entity, id)
                 JOIN records r ON r.entity = k.entity AND r.id = k.id",
                &record_params,
            ));
        }
        if !ids.is_empty() {
            queries.push((
                "SELECT change_id, user_id, result FROM applied_changes
                 WHERE change_id = ANY($1::text[])",
                &applied_params,
            ));
        }
        if queries.is_empty() {
            return Ok(());
        }
        let mut answers = self.tx.query_many(&queries)?.into_iter();
        if !wanted.is_empty() {
            let rows = answers.next().unwrap_or_default();
            for (e, i) in &wanted {
                self.known.insert(key(e, i), None);
            }
            for r in &rows {
                let rec = record_from_row(r.try_get("entity")?, r.try_get("id")?, r)?;
                let k = key(&rec.entity, &rec.id);
                self.known
                    .insert(k.clone(), Some((rec.rev, r.try_get("echo")?)));
                self.fetched.insert(k, rec);
            }
        }
        if !ids.is_empty() {
            let rows = answers.next().unwrap_or_default();
            for c in &ids {
                self.fetched_applied.insert(c.to_string(), None);
            }
            for r in &rows {
                let result: &str = r.try_get("result")?;
                let c: String = r.try_get("change_id")?;
                let stored = (r.try_get("user_id")?, serde_json::from_str(result)?);
                self.fetched_applied.insert(c, Some(stored));
            }
        }
        Ok(())
    }

    fn get(&mut self, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
        let k = key(entity, id);
        if let Some(p) = self.pending.get(&k) {
            return Ok(Some(p.rec.clone()));
        }
        if let Some(rec) = self.fetched.get(&k) {
            return Ok(Some(rec.clone()));
        }
        if matches!(self.known.get(&k), Some(None)) {
            return Ok(None);
        }
        let row = self.tx.query_opt(
            "SELECT grid_code, rev, hlc, data::text AS data, clocks::text AS clocks, echo
             FROM records WHERE entity = $1 AND id = $2",
            &[&entity, &id],
        )?;
        match row {
            None => {
                self.known.insert(k, None);
                Ok(None)
            }
            Some(r) => {
                let rec = record_from_row(entity, id, &r)?;
                self.known.insert(k, Some((rec.rev, r.try_get("echo")?)));
                Ok(Some(rec))
            }
        }
    }

    fn grid_of(&mut self, entity: &str, id: &str) -> Result<Option<String>> {
        if let Some(p) = self.pending.get(&key(entity, id)) {
            return Ok(Some(p.rec.grid_code.clone()));
        }
        if let Some(rec) = self.fetched.get(&key(entity, id)) {
            return Ok(Some(rec.grid_code.clone()));
        }
        if matches!(self.known.get(&key(entity, id)), Some(None)) {
            return Ok(None);
        }
        grid_of(&mut self.tx, entity, id)
    }

    fn put(&mut self, rec: NewRecord<'_>) -> Result<i64> {
        let rev = self.next_rev;
        if rec.entity == entity::CASE {
            super::console::put_queue_row(&mut self.tx, rec.id, rec.grid_code, rec.data)?;
        }
        // Once written, the prefetched row is stale: `pending`, then the flushed row, answer.
        self.fetched.remove(&key(rec.entity, rec.id));
        self.pending.insert(
            key(rec.entity, rec.id),
            Pending {
                rec: StoredRecord {
                    entity: rec.entity.to_string(),
                    id: rec.id.to_string(),
                    grid_code: rec.grid_code.to_string(),
                    rev,
                    hlc: rec.hlc.to_string(),
                    data: rec.data.clone(),
                    clocks: rec.clocks.clone(),
                },
                echo: None,
            },
        );
        self.next_rev += 1;
        Ok(rev)
    }

    fn echo_state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>> {
        self.state(entity, id)
    }

    fn mark_echo(&mut self, entity: &str, id: &str, rev: i64, key_: &str) -> Result<()> {
        if let Some(p) = self.pending.get_mut(&key(entity, id)) {
            if p.rec.rev == rev {
                p.echo = Some(key_.to_string());
            }
            return Ok(());
        }
        // Written and flushed earlier in this transaction, or an older revision: the row itself.
        self.tx.execute(
            "UPDATE records SET echo = $4 WHERE entity = $1 AND id = $2 AND rev = $3",
            &[&entity, &id, &rev, &key_],
        )?;
        if let Some(Some((r, echo))) = self.known.get_mut(&key(entity, id)) {
            if *r == rev {
                *echo = Some(key_.to_string());
            }
        }
        Ok(())
    }

    fn applied(&mut self, change_id: &str) -> Result<Option<(String, ChangeResult)>> {
        if let Some((user, result)) = self.remembered.get(change_id) {
            return Ok(Some((user.clone(), result.clone())));
        }
        if let Some(stored) = self.fetched_applied.get(change_id) {
            return Ok(stored.clone());
        }
        match self.tx.query_opt(
            "SELECT user_id, result FROM applied_changes WHERE change_id = $1",
            &[&change_id],
        )? {
            None => Ok(None),
            Some(r) => {
                let result: &str = r.try_get("result")?;
                Ok(Some((r.try_get("user_id")?, serde_json::from_str(result)?)))
            }
        }
    }

    fn remember(&mut self, change_id: &str, user_id: &str, result: &ChangeResult) -> Result<()> {
        self.remembered
            .insert(change_id.to_string(), (user_id.to_string(), result.clone()));
        Ok(())
    }

    fn tasks_for_target(&mut self, grid: &str, target_id: &str) -> Result<Vec<StoredRecord>> {
        self.flush()?;
        let rows = self.tx.query(
            "SELECT id, grid_code, rev, hlc, data::text AS data, clocks::text AS clocks
             FROM records WHERE entity = 'task' AND grid_code = $1 AND data->>'target_id' = $2
             ORDER BY rev",
            &[&grid, &target_id],
        )?;
        rows.iter()
            .map(|r| record_from_row(entity::TASK, r.try_get("id")?, r))
            .collect()
    }

    fn deadline_hours(&mut self, category: &str, urgency: &str) -> Result<Option<i64>> {
        match self.tx.query_opt(
            "SELECT hours FROM case_deadlines WHERE category_code = $1 AND urgency = $2",
            &[&category, &urgency],
        )? {
            None => Ok(None),
            Some(r) => Ok(Some(r.try_get("hours")?)),
        }
    }

    fn org_parent(&mut self, code: &str) -> Result<Option<String>> {
        match self.tx.query_opt(
            "SELECT parent_code FROM org_units WHERE code = $1",
            &[&code],
        )? {
            None => Ok(None),
            Some(r) => Ok(r.try_get("parent_code")?),
        }
    }

    fn user_in_grid(&mut self, username_or_id: &str, grid: &str) -> Result<Option<String>> {
        let Some(r) = self.tx.query_opt(
            "SELECT id, org_code FROM users WHERE (id = $1 OR username = $1) AND NOT disabled",
            &[&username_or_id],
        )?
        else {
            return Ok(None);
        };
        let id: String = r.try_get("id")?;
        let org: String = r.try_get("org_code")?;
        let grids = scope_grids(&mut self.tx, &id, &org)?;
        Ok(grids.iter().any(|g| g == grid).then_some(id))
    }

    fn clock(&mut self) -> &mut HlcClock {
        &mut self.clock
    }

    fn claim_photo(&mut self, photo_id: &str, sha256: &str, user_id: &str) -> Result<()> {
        // Written at the flush, with the records (nothing in the transaction reads claims).
        self.claims.insert(
            photo_id.to_string(),
            (sha256.to_string(), user_id.to_string()),
        );
        Ok(())
    }

    fn note_author(
        &mut self,
        entity: &str,
        id: &str,
        user_id: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.authors
            .entry(key(entity, id))
            .or_insert_with(|| (user_id.to_string(), device_id.to_string(), now_ms));
        Ok(())
    }
}
