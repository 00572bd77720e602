//! Change tracking: the outbox.
//!
//! Every local change writes one outbox row in the same transaction as the change itself, so
//! the sync engine can never miss an edit that was acknowledged to the worker, and never ship one
//! that was rolled back. Each row has a client-generated `change_id` (the server applies a
//! change at most once, however often a batch is retried) and the HLC stamp of the change.
//!
//! Rows leave the outbox only when the server has acknowledged them. A rejected change moves to
//! state `attention` with the server's reason: it stays visible to the worker, never blocks the
//! rows behind it and is never dropped.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::model::new_id;
use crate::store::{from_ms, ms, set_meta, Tx};

/// Kinds of syncable records, as named on the wire and in the outbox.
pub mod entity {
    pub const HOUSEHOLD: &str = "household";
    pub const RESIDENT: &str = "resident";
    pub const RESIDENT_MOVE: &str = "resident_move";
    pub const VISIT: &str = "visit";
    pub const PATROL: &str = "patrol";
    pub const CASE: &str = "case";
    pub const CASE_EVENT: &str = "case_event";
    pub const PHOTO: &str = "photo";
    pub const TASK: &str = "task";
}

/// What a change does to its record.
pub mod op {
    /// A new record with all its fields.
    pub const CREATE: &str = "create";
    /// Some fields changed; the payload holds only those (field-level merge on the server).
    pub const UPDATE: &str = "update";
}

/// One pending change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub change_id: String,
    pub entity: String,
    pub entity_id: String,
    pub op: String,
    pub payload: Value,
    pub hlc: String,
    pub created_at: DateTime<Utc>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// For updates: `{field: hlc}` of the values the edit replaced.
    pub base: Option<serde_json::Map<String, Value>>,
}

/// `meta` key of the highest outbox seq ever given (schema version 7). A seq is never used
/// twice, even after the newest rows were acknowledged and deleted: the import journal keeps
/// seq ranges. `meta` is one page that every write rewrites for the clock anyway, where
/// AUTOINCREMENT kept its counter on a page of its own (`sqlite_sequence`): one page less for
/// every tap to get to the disk.
pub const SEQ_KEY: &str = "outbox_seq";

/// Appends a change to the outbox. Call inside the transaction that made the change.
pub fn record(
    ctx: &Tx<'_>,
    entity: &str,
    entity_id: &str,
    op: &str,
    payload: &Value,
    hlc: &str,
) -> Result<()> {
    record_with_base(ctx, entity, entity_id, op, payload, hlc, None)
}

/// The clocks (`{field: hlc}`) the changed fields had before an update: sent as the change's
/// `base` so the server can tell a sequential edit from a concurrent one.
pub fn base_clocks(
    clocks_json: &str,
    changed: &serde_json::Map<String, Value>,
    row_hlc: &str,
) -> serde_json::Map<String, Value> {
    let clocks: serde_json::Map<String, Value> =
        serde_json::from_str(clocks_json).unwrap_or_default();
    changed
        .keys()
        .map(|k| {
            let c = clocks.get(k).cloned();
            (
                k.clone(),
                c.unwrap_or_else(|| Value::String(row_hlc.into())),
            )
        })
        .collect()
}

/// [`record`] with the base clocks of an update.
pub fn record_with_base(
    ctx: &Tx<'_>,
    entity: &str,
    entity_id: &str,
    op: &str,
    payload: &Value,
    hlc: &str,
    base: Option<&serde_json::Map<String, Value>>,
) -> Result<()> {
    let base = base.map(serde_json::to_string).transpose()?;
    // The next seq is past the highest ever given, not only past the rows left (see SEQ_KEY).
    ctx.tx
        .prepare_cached(
            "INSERT INTO outbox (seq, change_id, entity, entity_id, op, payload, hlc, created_at,
                base)
             VALUES (max(coalesce((SELECT max(seq) FROM outbox), 0),
                         coalesce((SELECT CAST(value AS INTEGER) FROM meta
                                   WHERE key = 'outbox_seq'), 0)) + 1,
                     ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            new_id(),
            entity,
            entity_id,
            op,
            serde_json::to_string(payload)?,
            hlc,
            ms(ctx.now),
            base
        ])?;
    set_meta(ctx.tx, SEQ_KEY, &ctx.tx.last_insert_rowid().to_string())
}

fn map_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OutboxEntry, String, Option<String>)> {
    let payload: String = r.get(5)?;
    Ok((
        OutboxEntry {
            seq: r.get(0)?,
            change_id: r.get(1)?,
            entity: r.get(2)?,
            entity_id: r.get(3)?,
            op: r.get(4)?,
            payload: Value::Null,
            hlc: r.get(6)?,
            created_at: from_ms(r.get(7)?),
            state: r.get(8)?,
            attempts: r.get(9)?,
            last_error: r.get(10)?,
            base: None,
        },
        payload,
        r.get(11)?,
    ))
}

/// Outbox rows in `state` ('pending' or 'attention'), oldest first.
pub fn list(conn: &Connection, state: &str, limit: usize) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, change_id, entity, entity_id, op, payload, hlc, created_at, state, attempts,
                last_error, base
         FROM outbox WHERE state = ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![state, limit as i64], map_entry)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut entry, payload, base) = row?;
        entry.payload = serde_json::from_str(&payload)?;
        entry.base = base.as_deref().map(serde_json::from_str).transpose()?;
        out.push(entry);
    }
    Ok(out)
}

/// Counts by state: (pending, attention).
pub fn counts(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'attention'), 0)
         FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// The fields whose values differ between `old` and `new` (with the new values).
pub fn diff_fields(
    old: &serde_json::Map<String, Value>,
    new: &serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    new.iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The `clocks` JSON of a record written whole by one change (a create): every field has the
/// row's own stamp, so none is kept ([`bump_clocks`] of all the fields over `{}` gives the same;
/// a test checks it).
pub const NEW_RECORD_CLOCKS: &str = "{}";

/// The `clocks` JSON of a household or resident after an edit stamped `hlc` changed `changed`
/// (`clocks_json` and `row_hlc`: the row's before the edit), in the compact encoding the store
/// keeps (`docs/protocol.md`, "Compact records"): a field without a clock has the row's stamp,
/// so the stored map holds only the fields whose clock differs from the row's — none for a
/// record written by one change. The fields left at the row's old stamp are written out first
/// ([`gridwalk_protocol::merge::rebase_clocks`]), so none of them takes the edit's stamp.
pub fn bump_clocks(
    entity_name: &str,
    clocks_json: &str,
    row_hlc: &str,
    changed: &serde_json::Map<String, Value>,
    hlc: &str,
) -> Result<String> {
    let mut clocks: serde_json::Map<String, Value> =
        serde_json::from_str(clocks_json).unwrap_or_default();
    for k in changed.keys() {
        clocks.insert(k.clone(), Value::String(hlc.to_string()));
    }
    let fields = crate::entities::entity(entity_name)
        .map(|e| e.fields)
        .unwrap_or_default();
    gridwalk_protocol::merge::rebase_clocks(
        &mut clocks,
        fields.iter().map(|f| f.name),
        row_hlc,
        hlc,
    );
    Ok(serde_json::to_string(&clocks)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_keeps_only_changed_fields() {
        let old = json!({"a": 1, "b": "x", "c": null});
        let new = json!({"a": 1, "b": "y", "c": 3});
        let d = diff_fields(old.as_object().unwrap(), new.as_object().unwrap());
        assert_eq!(Value::Object(d), json!({"b": "y", "c": 3}));
    }

    #[test]
    fn bump_keeps_only_the_clocks_that_differ_from_the_row() {
        let changed = json!({"phone": 1});
        let changed = changed.as_object().unwrap();
        // A full map (as older versions stored it): the edit's field takes the row's new stamp,
        // the others keep theirs, written out.
        let out = bump_clocks(
            "resident",
            r#"{"notes":"1","phone":"1"}"#,
            "1",
            changed,
            "2",
        );
        let out: Value = serde_json::from_str(&out.unwrap()).unwrap();
        assert_eq!(out["notes"], json!("1"));
        assert_eq!(out.get("phone"), None);
        // Every other field of a resident had the row's old stamp: it keeps it.
        assert_eq!(out["name"], json!("1"));
        // A new record: no clock at all.
        let all = json!({"phone": 1, "name": "x"});
        let out = bump_clocks("resident", "{}", "3", all.as_object().unwrap(), "3").unwrap();
        assert_eq!(out, NEW_RECORD_CLOCKS);
        // Compact in, compact out: a field already at another stamp stays; one at the row's
        // old stamp is written out.
        let out = bump_clocks("resident", r#"{"notes":"0"}"#, "2", changed, "4").unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out["notes"], json!("0"));
        assert_eq!(out["name"], json!("2"));
        assert_eq!(out.get("phone"), None);
    }
}
