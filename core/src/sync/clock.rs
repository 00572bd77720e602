//! Recovering from a phone clock that ran ahead, without losing a single unsent change.
//!
//! A cheap phone after a battery pull can wake up in the wrong year. Every change made then is
//! stamped in the future, and the server refuses such stamps (`clock_ahead`, protocol
//! `hlc::MAX_AHEAD_MS`): accepted, they would win every later merge and drag every clock of the
//! grid forward. The refused changes wait in "needs attention" with a reason that tells the
//! worker to set the time.
//!
//! Once the time is right again, the device's hybrid logical clock is still in the future (it
//! never goes back on its own). Each sync first puts the `clock_ahead` refusals back in the queue
//! ([`requeue`]); when the server refuses one again, [`recover`] compares the phone's wall time
//! with the server's clock (from the same answer). If the phone's time is right now but its clock
//! is not, it sets the clock back to the server's time and re-stamps every unsent change in
//! outbox order — the change's own stamp, the row's stamp and field clocks that carried it, and
//! the `base` of later edits that named it — all in one transaction, and the sync pushes them
//! again. Values are never touched: only their stamps. A clock that is merely ahead of a phone
//! whose time runs *behind* (it observed other devices' stamps) is left alone: only the server's
//! clock can tell the two apart.

use std::collections::HashMap;

use gridwalk_protocol::codes::CLOCK_AHEAD;
use gridwalk_protocol::hlc::{Stamp, MAX_AHEAD_MS};
use rusqlite::params;
use serde_json::{Map, Value};

use super::apply::table_of;
use crate::error::Result;
use crate::store::Tx;

/// Puts the changes refused `clock_ahead` back in the queue, to be judged afresh: the phone's
/// time may be right now, or their stamps no longer ahead of the server's.
pub(crate) fn requeue(ctx: &mut Tx<'_>) -> Result<usize> {
    Ok(ctx
        .tx
        .prepare_cached(
            "UPDATE outbox SET state = 'pending'
             WHERE state = 'attention' AND json_extract(last_error, '$.code') = ?1",
        )?
        .execute([CLOCK_AHEAD])?)
}

/// After the server refused a stamp as `clock_ahead` and answered with its clock
/// `server_hlc`: when the phone's wall time agrees with the server but the device's clock runs
/// ahead, sets the clock to the server's time, re-stamps every unsent change and requeues the
/// refused ones. Returns how many refusals went back to the queue (0: the phone's time is still
/// wrong, and they wait in "needs attention" for the worker to set it).
pub(crate) fn recover(ctx: &mut Tx<'_>, server_hlc: &str) -> Result<usize> {
    let Ok(server) = Stamp::parse(server_hlc) else {
        return Ok(0);
    };
    let bound = server.wall_ms.saturating_add(MAX_AHEAD_MS);
    let phone_right = ctx.now.timestamp_millis() <= bound;
    if !phone_right || ctx.clock_wall_ms() <= bound {
        return Ok(0);
    }
    ctx.reset_clock();
    ctx.observe(server_hlc)?;
    let restamped = restamp_unsent(ctx)?;
    let requeued = requeue(ctx)?;
    tracing::warn!(
        restamped,
        requeued,
        "device clock had run ahead of the server's; unsent changes re-stamped"
    );
    Ok(requeued)
}

/// Gives every unsent change (pending or waiting for attention) a fresh stamp, in outbox order.
fn restamp_unsent(ctx: &mut Tx<'_>) -> Result<usize> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = ctx
        .tx
        .prepare("SELECT seq, entity, entity_id, hlc, base FROM outbox ORDER BY seq")?
        .query_map([], |r| {
            Ok((
                r.get("seq")?,
                r.get("entity")?,
                r.get("entity_id")?,
                r.get("hlc")?,
                r.get("base")?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut renamed: HashMap<String, String> = HashMap::new();
    for (seq, entity, entity_id, old, base) in &rows {
        let new = ctx.tick();
        // A later edit of the same field names this change's stamp as the value it replaced.
        let base = match base {
            Some(b) => {
                let mut map: Map<String, Value> = serde_json::from_str(b)?;
                for v in map.values_mut() {
                    if let Some(n) = v.as_str().and_then(|s| renamed.get(s)) {
                        *v = Value::String(n.clone());
                    }
                }
                Some(serde_json::to_string(&map)?)
            }
            None => None,
        };
        ctx.tx
            .prepare_cached("UPDATE outbox SET hlc = ?2, base = ?3 WHERE seq = ?1")?
            .execute(params![seq, new, base])?;
        if let Some(table) = table_of(entity) {
            restamp_row(ctx, table, entity_id, old, &new)?;
        }
        renamed.insert(old.clone(), new);
    }
    Ok(rows.len())
}

/// Replaces `old` by `new` in a row's stamp and, where the table keeps them, its field clocks.
fn restamp_row(ctx: &Tx<'_>, table: &str, id: &str, old: &str, new: &str) -> Result<()> {
    if matches!(table, "households" | "residents") {
        let clocks: Option<String> = ctx
            .tx
            .prepare_cached(&format!("SELECT clocks FROM {table} WHERE id = ?1"))?
            .query_row([id], |r| r.get("clocks"))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        if let Some(clocks) = clocks {
            let mut map: Map<String, Value> = serde_json::from_str(&clocks)?;
            let mut changed = false;
            for v in map.values_mut() {
                if v.as_str() == Some(old) {
                    *v = Value::String(new.to_string());
                    changed = true;
                }
            }
            if changed {
                ctx.tx
                    .prepare_cached(&format!("UPDATE {table} SET clocks = ?2 WHERE id = ?1"))?
                    .execute(params![id, serde_json::to_string(&map)?])?;
            }
        }
    }
    ctx.tx
        .prepare_cached(&format!(
            "UPDATE {table} SET hlc = ?3 WHERE id = ?1 AND hlc = ?2"
        ))?
        .execute(params![id, old, new])?;
    Ok(())
}
