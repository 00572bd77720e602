//! What the worker sees of sync: field conflicts, the "needs attention" list, and per-entity
//! sync counts.
//!
//! A conflict is a value that lost a last-writer-wins race against an edit whose author never
//! saw it. The server records it; the device shows both values and lets the worker choose. The
//! choice is an ordinary local change: the subject field is set with a new clock (so it wins
//! everywhere) and the conflict record is marked resolved — both go through the outbox and sync
//! like any other edit, so a supervisor's device learns of the resolution too.
//!
//! A change the server rejected stays in the outbox in state `attention` with the server's
//! reason. The worker can retry it (after fixing what the reason says) or discard it; nothing is
//! ever discarded automatically.

use chrono::{DateTime, Utc};
use gridwalk_protocol::entity;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::apply::{self, ApplyError};
use crate::changes::{self, op};
use crate::error::{Code, Error, Result};
use crate::model::SyncStatus;
use crate::store::{from_ms, ms, Store, Tx, DIRTY_STATE};
use crate::validate;

/// A field conflict on a household or resident (or another record with field clocks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: String,
    /// The record's kind (`household`, `resident`, ...).
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    /// The value the record holds.
    pub kept_value: Value,
    pub kept_hlc: String,
    /// The value that was overwritten.
    pub lost_value: Value,
    pub lost_hlc: String,
    pub detected_at: DateTime<Utc>,
    /// `open` or `resolved`.
    pub status: String,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `keep`, `take_lost` or `custom`.
    pub resolution: Option<String>,
    pub sync_status: SyncStatus,
}

/// How the worker settles a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "choice", content = "value")]
pub enum ConflictChoice {
    /// Keep the value the record holds.
    Keep,
    /// Put back the value that was overwritten.
    TakeLost,
    /// Neither: a value typed by the worker (checked like any edit of the field).
    Custom(Value),
}

impl ConflictChoice {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConflictChoice::Keep => "keep",
            ConflictChoice::TakeLost => "take_lost",
            ConflictChoice::Custom(_) => "custom",
        }
    }
}

/// A change the server refused, waiting for the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionItem {
    pub change_id: String,
    pub entity: String,
    pub entity_id: String,
    /// `create` or `update`.
    pub op: String,
    /// The server's machine-readable reason (`out_of_scope`, `invalid`, ...).
    pub code: String,
    /// The server's message (Chinese first, then English).
    pub message: String,
    /// For `invalid`: the field the server refused (the form field to fix), never its value.
    pub field: Option<String>,
    /// For `invalid`: that field's validation code (`invalid_checksum`, `future_date`, …).
    pub field_code: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// How many records of one kind are in each sync state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCounts {
    pub entity: String,
    pub local: i64,
    pub pending: i64,
    pub synced: i64,
    pub attention: i64,
}

const SELECT: &str = "SELECT id, entity, entity_id, field, kept_value, kept_hlc, lost_value,
    lost_hlc, detected_at, status, resolved_at, resolution, sync_state FROM conflicts";

fn parse_value(text: Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
    }
}

fn map_conflict(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conflict> {
    Ok(Conflict {
        id: r.get(0)?,
        entity: r.get(1)?,
        entity_id: r.get(2)?,
        field: r.get(3)?,
        kept_value: parse_value(r.get(4)?),
        kept_hlc: r.get(5)?,
        lost_value: parse_value(r.get(6)?),
        lost_hlc: r.get(7)?,
        detected_at: from_ms(r.get(8)?),
        status: r.get(9)?,
        resolved_at: r.get::<_, Option<i64>>(10)?.map(from_ms),
        resolution: r.get(11)?,
        sync_status: r.get(12)?,
    })
}

fn get(conn: &Connection, id: &str) -> Result<Conflict> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_conflict)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "conflict",
            id: id.to_string(),
        })
}

fn store_err(e: ApplyError, field: &str) -> Error {
    match e {
        ApplyError::Store(e) => e,
        ApplyError::Malformed(_) => Error::invalid(field, Code::InvalidValue),
    }
}

/// Checks a value the worker typed for `field` like the edit forms do.
fn check_custom(ctx: &Tx<'_>, entity_name: &str, field: &str, v: &Value) -> Result<Value> {
    let text = v.as_str();
    let checked = match (entity_name, field, text) {
        (entity::RESIDENT, "name", Some(s)) => json!(validate::person_name(field, s)?),
        (entity::RESIDENT, "phone", Some(s)) => json!(validate::phone(field, s)?),
        (entity::RESIDENT, "id_number", Some(s)) => {
            json!(validate::id_number(field, s, ctx.today())?.0)
        }
        (_, "notes", Some(s)) => {
            validate::max_chars(field, s, 1000)?;
            v.clone()
        }
        _ => v.clone(),
    };
    apply::check_field(entity_name, field, &checked).map_err(|e| store_err(e, field))?;
    Ok(checked)
}

/// Sets one field of a household or resident as a local edit: new clock, outbox row with the
/// replaced clock as `base`, search index refreshed. Returns false when the value is unchanged.
fn set_field(
    ctx: &mut Tx<'_>,
    entity_name: &str,
    id: &str,
    field: &str,
    v: &Value,
) -> Result<bool> {
    let table =
        apply::table_of(entity_name).ok_or_else(|| Error::invalid("entity", Code::InvalidValue))?;
    let (mut data, mut clocks, row_hlc) =
        match apply::local_fields(ctx, entity_name, id).map_err(|e| store_err(e, field))? {
            Some(x) => x,
            None => {
                return Err(Error::NotFound {
                    entity: "record",
                    id: id.to_string(),
                })
            }
        };
    if data.get(field) == Some(v) {
        return Ok(false);
    }
    let mut changed = Map::new();
    changed.insert(field.to_string(), v.clone());
    let base = changes::base_clocks(
        &Value::Object(clocks.clone()).to_string(),
        &changed,
        &row_hlc,
    );
    let hlc = ctx.tick();
    data.insert(field.to_string(), v.clone());
    clocks.insert(field.to_string(), Value::String(hlc.clone()));
    let fields: Vec<String> = data.keys().cloned().collect();
    gridwalk_protocol::merge::rebase_clocks(
        &mut clocks,
        fields.iter().map(String::as_str),
        &row_hlc,
        &hlc,
    );
    apply::write_merged(ctx, entity_name, id, &data, &clocks, &hlc, None)
        .map_err(|e| store_err(e, field))?;
    ctx.tx.execute(
        &format!("UPDATE {table} SET sync_state = {DIRTY_STATE} WHERE id = ?1"),
        [id],
    )?;
    changes::record_with_base(
        ctx,
        entity_name,
        id,
        op::UPDATE,
        &Value::Object(changed),
        &hlc,
        Some(&base),
    )?;
    Ok(true)
}

/// The state a record shows once its outbox rows changed outside a push.
fn restate(conn: &Connection, entity_name: &str, id: &str) -> Result<()> {
    let Some(table) = apply::table_of(entity_name) else {
        return Ok(());
    };
    let state = apply::state_after(conn, entity_name, id).map_err(|e| store_err(e, "state"))?;
    conn.execute(
        &format!(
            "UPDATE {table} SET sync_state = CASE
                WHEN ?2 = 'attention' THEN 'attention'
                WHEN server_rev IS NULL THEN 'local'
                WHEN ?2 = 'pending' THEN 'pending'
                ELSE 'synced' END
             WHERE id = ?1"
        ),
        params![id, state],
    )?;
    Ok(())
}

impl Store {
    /// Field conflicts, newest first; only open ones when `open_only`.
    pub fn conflicts(&self, open_only: bool) -> Result<Vec<Conflict>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT} WHERE (?1 = 0 OR status = 'open') ORDER BY detected_at DESC, id"
            ))?;
            let rows = stmt.query_map([open_only], map_conflict)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn conflict(&self, id: &str) -> Result<Conflict> {
        self.read(|c| get(c, id))
    }

    /// Settles an open conflict (see the module docs). Both the field edit and the conflict's
    /// new status are queued for the next sync.
    pub fn resolve_conflict(&self, id: &str, choice: &ConflictChoice) -> Result<Conflict> {
        self.write(|ctx| {
            let c = get(ctx.tx, id)?;
            if c.status != "open" {
                return Err(Error::InvalidState {
                    entity: "conflict",
                    id: id.to_string(),
                    state: c.status,
                    action: "resolve",
                });
            }
            let merged = apply::merged_fields(&c.entity).is_some();
            let value = match choice {
                ConflictChoice::Keep => c.kept_value.clone(),
                ConflictChoice::TakeLost => c.lost_value.clone(),
                ConflictChoice::Custom(v) => {
                    if !merged {
                        return Err(Error::invalid("value", Code::InvalidValue));
                    }
                    check_custom(ctx, &c.entity, &c.field, v)?
                }
            };
            if merged {
                set_field(ctx, &c.entity, &c.entity_id, &c.field, &value)?;
            } else if *choice != ConflictChoice::Keep {
                return Err(Error::InvalidState {
                    entity: "conflict",
                    id: id.to_string(),
                    state: c.entity.clone(),
                    action: "take another value for a record without field clocks",
                });
            }
            let old_hlc: String =
                ctx.tx
                    .query_row("SELECT hlc FROM conflicts WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })?;
            let hlc = ctx.tick();
            let now = ms(ctx.now);
            ctx.tx.execute(
                &format!(
                    "UPDATE conflicts SET status = 'resolved', resolved_at = ?2, resolution = ?3,
                        hlc = ?4, sync_state = {DIRTY_STATE} WHERE id = ?1"
                ),
                params![id, now, choice.as_str(), hlc],
            )?;
            let payload = json!({
                "status": "resolved", "resolved_at": now, "resolution": choice.as_str(),
            });
            let base: Map<String, Value> = ["status", "resolved_at", "resolution"]
                .iter()
                .map(|k| (k.to_string(), Value::String(old_hlc.clone())))
                .collect();
            changes::record_with_base(
                ctx,
                entity::CONFLICT,
                id,
                op::UPDATE,
                &payload,
                &hlc,
                Some(&base),
            )?;
            get(ctx.tx, id)
        })
    }

    /// Changes the server refused, oldest first.
    pub fn attention(&self) -> Result<Vec<AttentionItem>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT change_id, entity, entity_id, op, last_error, attempts, created_at
                 FROM outbox WHERE state = 'attention' ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |r| {
                let err: Option<String> = r.get(4)?;
                let reason = err
                    .as_deref()
                    .and_then(|e| serde_json::from_str::<gridwalk_protocol::Reason>(e).ok());
                let (code, message, field, field_code) = match (reason, err) {
                    (Some(r), _) => (r.code, r.message, r.field, r.field_code),
                    (None, Some(e)) => ("unknown".to_string(), e, None, None),
                    (None, None) => ("unknown".to_string(), String::new(), None, None),
                };
                Ok(AttentionItem {
                    change_id: r.get(0)?,
                    entity: r.get(1)?,
                    entity_id: r.get(2)?,
                    op: r.get(3)?,
                    code,
                    message,
                    field,
                    field_code,
                    attempts: r.get(5)?,
                    created_at: from_ms(r.get(6)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Puts a refused change back in the queue; the next sync pushes it again.
    pub fn retry_attention(&self, change_id: &str) -> Result<()> {
        self.write(|ctx| {
            let row: Option<(String, String)> = ctx
                .tx
                .query_row(
                    "SELECT entity, entity_id FROM outbox WHERE change_id = ?1 AND state = 'attention'",
                    [change_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((entity_name, id)) = row else {
                return Err(Error::NotFound {
                    entity: "attention",
                    id: change_id.to_string(),
                });
            };
            ctx.tx.execute(
                "UPDATE outbox SET state = 'pending', last_error = NULL
                 WHERE change_id = ?1 AND state = 'attention'",
                [change_id],
            )?;
            restate(ctx.tx, &entity_name, &id)
        })
    }

    /// Drops a refused change at the worker's explicit request. The local record keeps its
    /// value; it is simply never sent. Never called automatically.
    pub fn discard_attention(&self, change_id: &str) -> Result<()> {
        self.write(|ctx| {
            let row: Option<(String, String)> = ctx
                .tx
                .query_row(
                    "SELECT entity, entity_id FROM outbox WHERE change_id = ?1 AND state = 'attention'",
                    [change_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((entity_name, id)) = row else {
                return Err(Error::NotFound {
                    entity: "attention",
                    id: change_id.to_string(),
                });
            };
            ctx.tx.execute(
                "DELETE FROM outbox WHERE change_id = ?1 AND state = 'attention'",
                [change_id],
            )?;
            tracing::info!(entity = %entity_name, id = %id, "refused change discarded by the user");
            restate(ctx.tx, &entity_name, &id)
        })
    }

    /// Records per sync state for each kind of record (for the UI's sync screen).
    pub fn sync_status_counts(&self) -> Result<Vec<EntityCounts>> {
        self.read(|c| {
            let mut out = Vec::new();
            for e in gridwalk_protocol::entity::PUSHABLE {
                let Some(table) = apply::table_of(e) else {
                    continue;
                };
                let mut n = EntityCounts {
                    entity: e.to_string(),
                    ..Default::default()
                };
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT sync_state, count(*) FROM {table} GROUP BY sync_state"
                ))?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (state, count) = row?;
                    match state.as_str() {
                        "local" => n.local += count,
                        "pending" => n.pending += count,
                        "synced" => n.synced += count,
                        _ => n.attention += count,
                    }
                }
                out.push(n);
            }
            Ok(out)
        })
    }
}
