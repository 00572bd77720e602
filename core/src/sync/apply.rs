//! Applying pulled records ([`ServerRecord`]) to the local tables.
//!
//! One page of the feed is applied in the caller's transaction, together with the cursor
//! advance, so a page is either wholly applied with its cursor or not at all. Within a page:
//!
//! - **Households and residents merge per field** with the protocol's
//!   [`merge_fields`](gridwalk_protocol::merge::merge_fields) (`detect = false`): a local edit
//!   not yet pushed has a newer clock than what the server sends back and survives the pull.
//!   Their rows keep the compact record encoding of the wire (`docs/protocol.md`, "Stored
//!   compact"): the row's stamp plus only the field clocks that differ from it
//!   ([`rebase_clocks`](gridwalk_protocol::merge::rebase_clocks) whenever the stamp moves), so a
//!   pulled record written by one change stores `{}` instead of a clock per field.
//! - **Append-only kinds** (visits, resident moves, case events, photo metadata) are inserted
//!   when absent; our own records echoed back only get their `server_rev`.
//! - **Cases, tasks, patrols, conflicts** take the server's state unless a local change to the
//!   same record is still waiting in the outbox (it will be pushed; the next pull settles it).
//!   Case status always comes from the server: the state machine lives there. A case status that
//!   changes is written into the case's timeline as a `server_update` event.
//! - The feed sends each record once at its latest revision, so a child can arrive before its
//!   parent (a household edited after its residents were added). Records are applied parents
//!   first within a page; a child whose parent is in neither the page nor the store is **parked**
//!   in `meta` (`sync_parked:<entity>:<id>`) and applied as soon as the parent arrives.
//! - A record that does not make sense (a required field missing, an unknown code) is skipped
//!   and counted, never allowed to block the feed; the log names its entity, id and field, never
//!   a value. Storage errors abort the page (and the transaction with its cursor).
//!
//! A page is applied in passes, because the initial pull of a new or replaced phone (tens of
//! thousands of records, often on a weak signal) is bounded by the phone's work per record:
//! first every record's own row (merge, insert or update, with its revision and sync state in
//! the same statement), then the derived tables in one go ([`Derived`]): the search index of
//! the new households and residents in two statements for the whole page, the changed ones one
//! by one, and one visit-summary write per household and mode. A page applied while the outbox
//! is empty (an initial pull) marks its rows `synced` without asking the outbox row by row. Statements are prepared once and
//! reused from the connection's cache. All of it stays in the page's transaction, so the page,
//! its derived rows and the cursor still commit together or not at all.

use std::collections::HashMap;
use std::str::FromStr;

use gridwalk_domain::entities::{Field, Ty};
use gridwalk_protocol::hlc::Stamp;
use gridwalk_protocol::merge::{incoming_from_record, merge_fields, rebase_clocks};
use gridwalk_protocol::{entity, ServerRecord};
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::model::*;
use crate::store::{ms, parse_date, Tx};
use crate::{due, households, residents, search, visits};

const PARKED_PREFIX: &str = "sync_parked:";

/// Why a record could not be applied as sent.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The record is malformed; `field` names what is wrong (never its value).
    Malformed(String),
    Store(Error),
}

impl<E: Into<Error>> From<E> for ApplyError {
    fn from(e: E) -> Self {
        ApplyError::Store(e.into())
    }
}

type R<T> = std::result::Result<T, ApplyError>;

fn bad(field: &str) -> ApplyError {
    ApplyError::Malformed(field.to_string())
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    /// Waiting for its parent.
    Parked,
    /// Malformed or of an unknown kind.
    Skipped,
}

/// Counts of one page.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PageStats {
    pub applied: usize,
    pub parked: usize,
    pub skipped: usize,
    /// Parked records (of earlier pages) applied because their parent arrived.
    pub unparked: usize,
}

/// Parents before children, so a page never parks a child whose parent it carries.
fn rank(entity_name: &str) -> u8 {
    match entity_name {
        entity::HOUSEHOLD => 0,
        entity::PATROL => 1,
        entity::RESIDENT => 2,
        entity::RESIDENT_MOVE => 3,
        entity::VISIT => 4,
        entity::CASE => 5,
        entity::CASE_EVENT => 6,
        entity::PHOTO => 7,
        entity::TASK => 8,
        entity::CONFLICT => 9,
        _ => 10,
    }
}

/// The local table of a wire entity.
pub(crate) fn table_of(entity_name: &str) -> Option<&'static str> {
    Some(match entity_name {
        entity::HOUSEHOLD => "households",
        entity::RESIDENT => "residents",
        entity::RESIDENT_MOVE => "resident_moves",
        entity::VISIT => "visits",
        entity::PATROL => "patrols",
        entity::CASE => "cases",
        entity::CASE_EVENT => "case_events",
        entity::PHOTO => "photos",
        entity::TASK => "tasks",
        entity::CONFLICT => "conflicts",
        _ => return None,
    })
}

/// The sync state a record should show given what is left for it in the outbox.
///
/// `+entity` (here and in [`has_pending`]): the outbox has a partial index `WHERE entity =
/// 'case_event'`, and a bound `entity = ?1` makes SQLite check that index against the bound
/// value, so every new value re-prepares the statement (about 10 µs a call, once per pushed or
/// pulled record). The unary `+` keeps the term out of index matching; `entity_id` finds the row.
pub(crate) fn state_after(conn: &rusqlite::Connection, entity_name: &str, id: &str) -> R<String> {
    let (attention, pending): (bool, bool) = conn
        .prepare_cached(
            "SELECT coalesce(max(state = 'attention'), 0), coalesce(max(state = 'pending'), 0)
             FROM outbox WHERE +entity = ?1 AND entity_id = ?2",
        )?
        .query_row(params![entity_name, id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(if attention {
        "attention"
    } else if pending {
        "pending"
    } else {
        "synced"
    }
    .to_string())
}

/// Whether a change to this record has not reached the server: still waiting to be pushed,
/// or refused and waiting for the worker. Either way the local values are the worker's.
fn has_pending(conn: &rusqlite::Connection, entity_name: &str, id: &str) -> R<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM outbox WHERE +entity = ?1 AND entity_id = ?2
               AND state IN ('pending', 'attention')",
        )?
        .exists(params![entity_name, id])?)
}

fn exists(conn: &rusqlite::Connection, table: &str, id: &str) -> R<bool> {
    Ok(conn
        .prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))?
        .exists([id])?)
}

/// Sets `server_rev` and the sync state of an existing row (our own record echoed back, or a
/// record whose local change still waits in the outbox).
fn touch(ctx: &Tx<'_>, table: &str, entity_name: &str, rec: &ServerRecord) -> R<()> {
    let state = state_after(ctx.tx, entity_name, &rec.id)?;
    ctx.tx
        .prepare_cached(&format!(
            "UPDATE {table} SET server_rev = max(coalesce(server_rev, 0), ?2), sync_state = ?3
             WHERE id = ?1"
        ))?
        .execute(params![rec.id, rec.rev, state])?;
    Ok(())
}

// ---- reading fields of a record ----------------------------------------------------------

/// Typed access to a record's `data`, failing with the field's name.
struct D<'a>(&'a Map<String, Value>);

impl D<'_> {
    fn s(&self, f: &str) -> R<Option<String>> {
        match self.0.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(f)),
        }
    }
    fn req(&self, f: &str) -> R<String> {
        self.s(f)?.ok_or_else(|| bad(f))
    }
    fn i(&self, f: &str) -> R<Option<i64>> {
        match self.0.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
                .map(Some)
                .ok_or_else(|| bad(f)),
            Some(_) => Err(bad(f)),
        }
    }
    fn f(&self, f: &str) -> R<Option<f64>> {
        match self.0.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| bad(f)),
            Some(_) => Err(bad(f)),
        }
    }
    fn b(&self, f: &str) -> R<Option<bool>> {
        match self.0.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => Ok(Some(n.as_i64().unwrap_or(0) != 0)),
            Some(_) => Err(bad(f)),
        }
    }
    /// A code of an enumeration, returned in its canonical form.
    fn code<E: FromStr>(&self, f: &str, to: fn(E) -> &'static str) -> R<Option<&'static str>> {
        match self.s(f)? {
            None => Ok(None),
            Some(s) => s.parse::<E>().map(|e| Some(to(e))).map_err(|_| bad(f)),
        }
    }
    fn req_code<E: FromStr>(&self, f: &str, to: fn(E) -> &'static str) -> R<&'static str> {
        self.code(f, to)?.ok_or_else(|| bad(f))
    }
    fn date(&self, f: &str) -> R<Option<String>> {
        match self.s(f)? {
            None => Ok(None),
            Some(s) if parse_date(&s).is_some() => Ok(Some(s)),
            Some(_) => Err(bad(f)),
        }
    }
}

// ---- households and residents: field-level merge ------------------------------------------

/// How a merged field is stored, derived from its type in the domain's entity table
/// (`gridwalk_domain::entities`), so the field list of a household or resident is written once.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    ReqText,
    Int,
    Real,
    Date,
    /// JSON array of strings, each checked by the function.
    List(fn(&str) -> bool),
    Enum(fn(&str) -> bool),
    OptEnum(fn(&str) -> bool),
}

fn kind_of(field: &Field) -> Kind {
    match field.ty {
        Ty::Text { .. } | Ty::PersonName | Ty::Id if field.required => Kind::ReqText,
        Ty::Int { .. } | Ty::OptInt { .. } | Ty::Instant | Ty::OptInstant => Kind::Int,
        Ty::OptNum { .. } => Kind::Real,
        Ty::Date { .. } | Ty::OptDate { .. } => Kind::Date,
        // A stored code is never null (the columns are NOT NULL), required or not.
        Ty::Code(ok) => Kind::Enum(ok),
        Ty::OptCode(ok) => Kind::OptEnum(ok),
        Ty::CodeList(ok) => Kind::List(ok),
        Ty::TextList { .. } | Ty::IdList => Kind::List(|_| true),
        _ => Kind::Text,
    }
}

/// The merged fields of `entity` (household or resident): its columns, in table order.
pub(crate) fn merged_fields(entity_name: &str) -> Option<&'static [Field]> {
    match entity_name {
        entity::HOUSEHOLD | entity::RESIDENT => {
            gridwalk_domain::entities::entity(entity_name).map(|e| e.fields)
        }
        _ => None,
    }
}

/// Converts one field value for its column; fails with the field name.
fn to_sql(field: &Field, v: &Value) -> R<Sql> {
    let name = field.name;
    let kind = kind_of(field);
    let null_ok = !matches!(kind, Kind::ReqText | Kind::Enum(_));
    if v.is_null() {
        return if null_ok {
            Ok(match kind {
                Kind::List(_) => Sql::Text("[]".into()),
                _ => Sql::Null,
            })
        } else {
            Err(bad(name))
        };
    }
    Ok(match kind {
        Kind::Text | Kind::ReqText => Sql::Text(v.as_str().ok_or_else(|| bad(name))?.into()),
        Kind::Date => {
            let s = v.as_str().ok_or_else(|| bad(name))?;
            parse_date(s).ok_or_else(|| bad(name))?;
            Sql::Text(s.into())
        }
        Kind::Int => Sql::Integer(
            v.as_i64()
                .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
                .ok_or_else(|| bad(name))?,
        ),
        Kind::Real => Sql::Real(
            v.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(name))?,
        ),
        Kind::List(ok) => {
            let items = v.as_array().ok_or_else(|| bad(name))?;
            if !items.iter().all(|i| i.as_str().is_some_and(ok)) {
                return Err(bad(name));
            }
            Sql::Text(serde_json::to_string(items).map_err(Error::from)?)
        }
        Kind::Enum(ok) | Kind::OptEnum(ok) => {
            let code = v.as_str().filter(|c| ok(c)).ok_or_else(|| bad(name))?;
            Sql::Text(code.into())
        }
    })
}

/// Checks a value for a merged field (used for custom conflict resolutions too).
pub(crate) fn check_field(entity_name: &str, field: &str, v: &Value) -> Result<(), ApplyError> {
    let spec = merged_fields(entity_name)
        .and_then(|fs| fs.iter().find(|f| f.name == field))
        .ok_or_else(|| bad(field))?;
    to_sql(spec, v).map(|_| ())
}

/// A local household or resident as the wire sees it: (data, clocks, row hlc).
pub(crate) type LocalFields = (Map<String, Value>, Map<String, Value>, String);

/// The local state of a household or resident, if the row exists.
pub(crate) fn local_fields(ctx: &Tx<'_>, entity_name: &str, id: &str) -> R<Option<LocalFields>> {
    let table = table_of(entity_name).ok_or_else(|| bad("entity"))?;
    let row: Option<(String, String)> = ctx
        .tx
        .prepare_cached(&format!("SELECT clocks, hlc FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((clocks, hlc)) = row else {
        return Ok(None);
    };
    let data = match entity_name {
        entity::HOUSEHOLD => households::fields(&households::get(ctx.tx, id)?),
        _ => residents::fields(&residents::get(ctx.tx, id)?),
    };
    let clocks = serde_json::from_str(&clocks).unwrap_or_default();
    Ok(Some((data, clocks, hlc)))
}

/// Writes merged field values of a household or resident to its row (insert or update) and
/// brings its search index row up to date (a local edit: conflict resolutions).
pub(crate) fn write_merged(
    ctx: &mut Tx<'_>,
    entity_name: &str,
    id: &str,
    data: &Map<String, Value>,
    clocks: &Map<String, Value>,
    hlc: &str,
    new: Option<i64>,
) -> R<()> {
    write_merged_row(ctx, entity_name, id, data, clocks, hlc, new, None)?;
    match entity_name {
        entity::HOUSEHOLD => {
            search::index_household(ctx.tx, id)?;
            due::refresh(ctx.tx, &ctx.settings, id)?;
        }
        _ => search::index_resident(ctx.tx, id)?,
    }
    Ok(())
}

/// The server's revision and the sync state a pulled row takes, written with its fields.
type Settle<'a> = Option<(i64, &'a str)>;

/// Writes merged field values to the row only (the caller keeps the search index current).
/// With `settle`, the row's `server_rev` and `sync_state` are set in the same statement.
#[allow(clippy::too_many_arguments)]
fn write_merged_row(
    ctx: &mut Tx<'_>,
    entity_name: &str,
    id: &str,
    data: &Map<String, Value>,
    clocks: &Map<String, Value>,
    hlc: &str,
    new: Option<i64>,
    settle: Settle<'_>,
) -> R<()> {
    let fields = merged_fields(entity_name).ok_or_else(|| bad("entity"))?;
    let table = table_of(entity_name).ok_or_else(|| bad("entity"))?;
    let mut values: Vec<Sql> = Vec::with_capacity(fields.len() + 8);
    for f in fields {
        values.push(to_sql(f, data.get(f.name).unwrap_or(&Value::Null))?);
    }
    let clocks = serde_json::to_string(clocks).map_err(Error::from)?;
    let now = ms(ctx.now);
    let mut extra: Vec<(&str, Sql)> = vec![
        ("updated_at", Sql::Integer(now)),
        ("hlc", Sql::Text(hlc.into())),
        ("clocks", Sql::Text(clocks)),
    ];
    if entity_name == entity::HOUSEHOLD {
        let grid = data
            .get("grid_code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let lat = data.get("lat").and_then(Value::as_f64);
        let lng = data.get("lng").and_then(Value::as_f64);
        let p = lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng });
        let outside = crate::org::outside_grid(ctx, grid, p)?;
        extra.push(("outside_grid", Sql::Integer(outside as i64)));
    }
    if let Some((_, state)) = settle {
        extra.push(("sync_state", Sql::Text(state.into())));
    }
    let sql = match new {
        Some(created_at) => {
            extra.push(("created_at", Sql::Integer(created_at)));
            let cols: Vec<&str> = fields
                .iter()
                .map(|f| f.name)
                .chain(extra.iter().map(|(c, _)| *c))
                .collect();
            let marks: Vec<String> = (2..cols.len() + 2).map(|i| format!("?{i}")).collect();
            let (rev_col, rev_mark) = match settle {
                Some(_) => (", server_rev", format!(", ?{}", cols.len() + 2)),
                None => ("", String::new()),
            };
            format!(
                "INSERT INTO {table} (id, {}{rev_col}) VALUES (?1, {}{rev_mark})",
                cols.join(", "),
                marks.join(", ")
            )
        }
        None => {
            let sets: Vec<String> = fields
                .iter()
                .map(|f| f.name)
                .chain(extra.iter().map(|(c, _)| *c))
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 2))
                .collect();
            let rev_set = match settle {
                Some(_) => format!(
                    ", server_rev = max(coalesce(server_rev, 0), ?{})",
                    sets.len() + 2
                ),
                None => String::new(),
            };
            format!(
                "UPDATE {table} SET {}{rev_set} WHERE id = ?1",
                sets.join(", ")
            )
        }
    };
    values.extend(extra.into_iter().map(|(_, v)| v));
    let mut all = vec![Sql::Text(id.into())];
    all.extend(values);
    if let Some((rev, _)) = settle {
        all.push(Sql::Integer(rev));
    }
    ctx.tx
        .prepare_cached(&sql)?
        .execute(params_from_iter(all))?;
    Ok(())
}

fn apply_merged(ctx: &mut Tx<'_>, rec: &ServerRecord, derived: &mut Derived) -> R<Outcome> {
    let local = local_fields(ctx, &rec.entity, &rec.id)?;
    let is_new = local.is_none();
    let (mut data, mut clocks, local_hlc) = local.unwrap_or_default();
    let record_hlc = if is_new {
        rec.hlc.clone()
    } else {
        local_hlc.clone()
    };
    let merged = merge_fields(
        &mut data,
        &mut clocks,
        &record_hlc,
        incoming_from_record(&rec.data, &rec.clocks, &rec.hlc),
        false,
    );
    let table = table_of(&rec.entity).ok_or_else(|| bad("entity"))?;
    if !is_new && merged.changed.is_empty() {
        // Our own values echoed back (or older ones): only the revision is news.
        touch(ctx, table, &rec.entity, rec)?;
        return Ok(Outcome::Applied);
    }
    if rec.entity == entity::RESIDENT {
        let household = data
            .get("household_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("household_id"))?;
        if !exists(ctx.tx, "households", household)? {
            return Ok(Outcome::Parked);
        }
    }
    let hlc = if rec.hlc > local_hlc {
        rec.hlc.clone()
    } else {
        local_hlc
    };
    // Stored compact: only the clocks that differ from the row's (new) stamp.
    rebase_clocks(
        &mut clocks,
        data.keys().map(String::as_str),
        &record_hlc,
        &hlc,
    );
    let created = if is_new {
        Some(D(&rec.data).i("created_at")?.unwrap_or(ms(ctx.now)))
    } else {
        None
    };
    let state = if derived.outbox_empty {
        "synced".to_string()
    } else {
        state_after(ctx.tx, &rec.entity, &rec.id)?
    };
    write_merged_row(
        ctx,
        &rec.entity,
        &rec.id,
        &data,
        &clocks,
        &hlc,
        created,
        Some((rec.rev, &state)),
    )?;
    derived.indexed(&rec.entity, &rec.id, is_new);
    Ok(Outcome::Applied)
}

// ---- append-only kinds ----------------------------------------------------------------------

fn apply_visit(ctx: &mut Tx<'_>, rec: &ServerRecord, derived: &mut Derived) -> R<Outcome> {
    if exists(ctx.tx, "visits", &rec.id)? {
        touch(ctx, "visits", entity::VISIT, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let household = d.req("household_id")?;
    let at = d.i("visited_at")?.ok_or_else(|| bad("visited_at"))?;
    let mode: VisitMode = d.req("mode")?.parse().map_err(|_| bad("mode"))?;
    let outcome = d.req_code("outcome", VisitOutcome::as_str)?;
    let notes = d.s("notes")?;
    let created = d.i("created_at")?.unwrap_or(at);
    if !exists(ctx.tx, "households", &household)? {
        return Ok(Outcome::Parked);
    }
    ctx.tx
        .prepare_cached(
            "INSERT INTO visits (id, household_id, visited_at, mode, outcome, notes, created_at,
                hlc, server_rev, sync_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'synced')",
        )?
        .execute(params![
            rec.id, household, at, mode, outcome, notes, created, rec.hlc, rec.rev
        ])?;
    derived.contacts.push((household, mode, at));
    Ok(Outcome::Applied)
}

fn apply_move(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    if exists(ctx.tx, "resident_moves", &rec.id)? {
        touch(ctx, "resident_moves", entity::RESIDENT_MOVE, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let resident = d.req("resident_id")?;
    let kind = d.req_code("kind", MoveKind::as_str)?;
    let household = d.req("household_id")?;
    let on = d.date("on")?.ok_or_else(|| bad("on"))?;
    let note = d.s("note")?;
    let created = d.i("created_at")?.unwrap_or(ms(ctx.now));
    if !exists(ctx.tx, "residents", &resident)? {
        return Ok(Outcome::Parked);
    }
    ctx.tx
        .prepare_cached(
            "INSERT INTO resident_moves (id, resident_id, kind, household_id, on_date, note,
                created_at, hlc, server_rev, sync_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'synced')",
        )?
        .execute(params![
            rec.id, resident, kind, household, on, note, created, rec.hlc, rec.rev
        ])?;
    Ok(Outcome::Applied)
}

fn apply_case_event(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    if exists(ctx.tx, "case_events", &rec.id)? {
        touch(ctx, "case_events", entity::CASE_EVENT, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let case_id = d.req("case_id")?;
    let kind = d.req_code("kind", CaseEventKind::as_str)?;
    let at = d.i("at")?.ok_or_else(|| bad("at"))?;
    let status = d.code("status", CaseStatus::as_str)?;
    let note = d.s("note")?;
    if !exists(ctx.tx, "cases", &case_id)? {
        return Ok(Outcome::Parked);
    }
    ctx.tx
        .prepare_cached(
            "INSERT INTO case_events (id, case_id, kind, at, status, note, hlc, server_rev,
                sync_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'synced')",
        )?
        .execute(params![
            rec.id, case_id, kind, at, status, note, rec.hlc, rec.rev
        ])?;
    Ok(Outcome::Applied)
}

fn apply_photo(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    if exists(ctx.tx, "photos", &rec.id)? {
        touch(ctx, "photos", entity::PHOTO, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let owner_kind = d.req("owner_kind")?;
    let owner_id = d.req("owner_id")?;
    let sha = d.req("sha256")?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("sha256"));
    }
    let sha = sha.to_ascii_lowercase();
    let mime = d.s("mime")?.unwrap_or_else(|| "image/jpeg".into());
    // The bytes stay on the server until someone opens the photo: the row says so
    // (`file_state = 'deleted'`, `upload_state = 'done'`: on the server, not on this device).
    ctx.tx
        .prepare_cached(
            "INSERT INTO photos (id, owner_kind, owner_id, sha256, file_name, byte_len, mime,
                taken_at, added_at, hlc, server_rev, sync_state, width, height, lat, lng,
                upload_state, file_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'synced', ?12, ?13, ?14, ?15,
                'done', 'deleted')",
        )?
        .execute(params![
            rec.id,
            owner_kind,
            owner_id,
            sha,
            format!("{sha}.jpg"),
            d.i("byte_len")?.unwrap_or(0),
            mime,
            d.i("taken_at")?,
            d.i("added_at")?.unwrap_or(ms(ctx.now)),
            rec.hlc,
            rec.rev,
            d.i("width")?,
            d.i("height")?,
            d.f("lat")?,
            d.f("lng")?,
        ])?;
    Ok(Outcome::Applied)
}

// ---- server-owned or last-writer-wins kinds -------------------------------------------------

fn apply_patrol(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    let known = exists(ctx.tx, "patrols", &rec.id)?;
    if known && has_pending(ctx.tx, entity::PATROL, &rec.id)? {
        touch(ctx, "patrols", entity::PATROL, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let grid = d.req("grid_code")?;
    let started = d.i("started_at")?.ok_or_else(|| bad("started_at"))?;
    let ended = d.i("ended_at")?;
    let notes = d.s("notes")?;
    let distance = d.f("distance_m")?.unwrap_or(0.0);
    let duration = d.i("duration_s")?.unwrap_or(0);
    let track = match rec.data.get("track") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(bad("track")),
    };
    if known {
        ctx.tx.execute(
            "UPDATE patrols SET grid_code = ?2, started_at = ?3, ended_at = ?4, notes = ?5,
                distance_m = ?6, duration_s = ?7, hlc = ?8 WHERE id = ?1",
            params![rec.id, grid, started, ended, notes, distance, duration, rec.hlc],
        )?;
    } else {
        let created = d.i("created_at")?.unwrap_or(started);
        ctx.tx.execute(
            "INSERT INTO patrols (id, grid_code, started_at, ended_at, distance_m, duration_s,
                notes, created_at, hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![rec.id, grid, started, ended, distance, duration, notes, created, rec.hlc],
        )?;
    }
    let have: i64 = ctx.tx.query_row(
        "SELECT count(*) FROM track_points WHERE patrol_id = ?1",
        [&rec.id],
        |r| r.get(0),
    )?;
    if have == 0 && !track.is_empty() {
        let mut stmt = ctx.tx.prepare_cached(
            "INSERT INTO track_points (patrol_id, seq, at, lat, lng, accuracy_m)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut seq = 0i64;
        for p in &track {
            // A point that does not parse is a GPS glitch on somebody's phone: skip it alone.
            let Some(a) = p.as_array() else { continue };
            let num = |i: usize| a.get(i).and_then(Value::as_f64).filter(|x| x.is_finite());
            let (Some(at), Some(lat), Some(lng)) = (num(0), num(1), num(2)) else {
                continue;
            };
            seq += 1;
            stmt.execute(params![rec.id, seq, at as i64, lat, lng, num(3)])?;
        }
        drop(stmt);
        ctx.tx.execute(
            "UPDATE patrols SET point_count = ?2 WHERE id = ?1",
            params![rec.id, seq],
        )?;
    }
    touch(ctx, "patrols", entity::PATROL, rec)?;
    Ok(Outcome::Applied)
}

fn apply_case(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    let d = D(&rec.data);
    let status = d
        .code("status", CaseStatus::as_str)?
        .unwrap_or(CaseStatus::Submitted.as_str());
    let local: Option<String> = ctx
        .tx
        .prepare_cached("SELECT status FROM cases WHERE id = ?1")?
        .query_row([&rec.id], |r| r.get(0))
        .optional()?;
    let pending = local.is_some() && has_pending(ctx.tx, entity::CASE, &rec.id)?;
    if pending {
        // The content waits to be pushed; the status is the server's in any case.
        ctx.tx.execute(
            "UPDATE cases SET status = ?2 WHERE id = ?1",
            params![rec.id, status],
        )?;
    } else {
        let type_code = d.req("type_code")?;
        let category = match d.s("category_code")? {
            Some(c) => c,
            None => type_code
                .get(0..2)
                .ok_or_else(|| bad("type_code"))?
                .to_string(),
        };
        let urgency = d.code("urgency", Urgency::as_str)?.unwrap_or("normal");
        let description = d.s("description")?.unwrap_or_default();
        let grid = d.req("grid_code")?;
        let household = d.s("household_id")?;
        let patrol = d.s("patrol_id")?;
        let reporter = d.s("reporter")?.unwrap_or_default();
        let created = d.i("created_at")?.unwrap_or(ms(ctx.now));
        let submitted = d.i("submitted_at")?;
        let updated = d.i("updated_at")?.unwrap_or(ms(ctx.now));
        if let Some(h) = &household {
            if !exists(ctx.tx, "households", h)? {
                return Ok(Outcome::Parked);
            }
        }
        if let Some(p) = &patrol {
            if !exists(ctx.tx, "patrols", p)? {
                return Ok(Outcome::Parked);
            }
        }
        ctx.tx
            .prepare_cached(
                "INSERT INTO cases (id, category_code, type_code, urgency, description, lat, lng,
                    address, grid_code, outside_grid, household_id, patrol_id, reporter, status,
                    created_at, submitted_at, updated_at, hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18)
                 ON CONFLICT(id) DO UPDATE SET category_code = excluded.category_code,
                    type_code = excluded.type_code, urgency = excluded.urgency,
                    description = excluded.description, lat = excluded.lat, lng = excluded.lng,
                    address = excluded.address, grid_code = excluded.grid_code,
                    outside_grid = excluded.outside_grid, household_id = excluded.household_id,
                    patrol_id = excluded.patrol_id, reporter = excluded.reporter,
                    status = excluded.status, submitted_at = excluded.submitted_at,
                    updated_at = excluded.updated_at, hlc = excluded.hlc",
            )?
            .execute(params![
                rec.id,
                category,
                type_code,
                urgency,
                description,
                d.f("lat")?,
                d.f("lng")?,
                d.s("address")?,
                grid,
                d.b("outside_grid")?.unwrap_or(false),
                household,
                patrol,
                reporter,
                status,
                created,
                submitted,
                updated,
                rec.hlc
            ])?;
    }
    let changed = match local.as_deref() {
        Some(old) => old != status,
        None => !matches!(status, "draft" | "submitted"),
    };
    if changed {
        // The timeline shows what the server did; the id is derived from the revision, so
        // pulling the same revision again (a re-snapshot) adds nothing.
        let at = Stamp::parse(&rec.hlc)
            .map(|s| s.wall_ms)
            .unwrap_or(ms(ctx.now));
        ctx.tx.execute(
            "INSERT OR IGNORE INTO case_events (id, case_id, kind, at, status, note, hlc,
                server_rev, sync_state) VALUES (?1, ?2, 'server_update', ?3, ?4, NULL, ?5, ?6,
                'synced')",
            params![
                format!("srv-{}-{}", rec.id, rec.rev),
                rec.id,
                at,
                status,
                rec.hlc,
                rec.rev
            ],
        )?;
    }
    touch(ctx, "cases", entity::CASE, rec)?;
    Ok(Outcome::Applied)
}

fn apply_task(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    let known = exists(ctx.tx, "tasks", &rec.id)?;
    if known && has_pending(ctx.tx, entity::TASK, &rec.id)? {
        touch(ctx, "tasks", entity::TASK, rec)?;
        return Ok(Outcome::Applied);
    }
    let d = D(&rec.data);
    let kind = d.req_code("kind", TaskKind::as_str)?;
    let title = d.req("title")?;
    let due = d.date("due_on")?.ok_or_else(|| bad("due_on"))?;
    let priority = d.code("priority", Priority::as_str)?.unwrap_or("normal");
    let source = d.code("source", TaskSource::as_str)?.unwrap_or("assigned");
    let status = d.code("status", TaskStatus::as_str)?.unwrap_or("open");
    ctx.tx
        .prepare_cached(
            "INSERT INTO tasks (id, kind, title, target_kind, target_id, due_on, priority, source,
                status, notes, created_at, completed_at, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                target_kind = excluded.target_kind, target_id = excluded.target_id,
                due_on = excluded.due_on, priority = excluded.priority, source = excluded.source,
                status = excluded.status, notes = excluded.notes,
                completed_at = excluded.completed_at, hlc = excluded.hlc",
        )?
        .execute(params![
            rec.id,
            kind,
            title,
            d.s("target_kind")?,
            d.s("target_id")?,
            due,
            priority,
            source,
            status,
            d.s("notes")?,
            d.i("created_at")?.unwrap_or(ms(ctx.now)),
            d.i("completed_at")?,
            rec.hlc
        ])?;
    touch(ctx, "tasks", entity::TASK, rec)?;
    Ok(Outcome::Applied)
}

/// A JSON value as stored in `conflicts.kept_value` / `lost_value`.
pub(crate) fn value_text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_string()),
    }
}

fn apply_conflict(ctx: &mut Tx<'_>, rec: &ServerRecord) -> R<Outcome> {
    let d = D(&rec.data);
    let subject = d.req("entity")?;
    let subject_id = d.req("entity_id")?;
    let field = d.req("field")?;
    let kept_hlc = d.req("kept_hlc")?;
    let lost_hlc = d.req("lost_hlc")?;
    let status = d.s("status")?.unwrap_or_else(|| "open".into());
    if status != "open" && status != "resolved" {
        return Err(bad("status"));
    }
    // A conflict first stored from a push answer has a local id; adopt the server's.
    if !exists(ctx.tx, "conflicts", &rec.id)? {
        ctx.tx.execute(
            "UPDATE conflicts SET id = ?1 WHERE rowid = (
                SELECT rowid FROM conflicts WHERE server_rev IS NULL AND entity = ?2
                  AND entity_id = ?3 AND field = ?4 AND kept_hlc = ?5 AND lost_hlc = ?6 LIMIT 1)",
            params![rec.id, subject, subject_id, field, kept_hlc, lost_hlc],
        )?;
    }
    let known = exists(ctx.tx, "conflicts", &rec.id)?;
    if known && has_pending(ctx.tx, entity::CONFLICT, &rec.id)? {
        touch(ctx, "conflicts", entity::CONFLICT, rec)?;
        return Ok(Outcome::Applied);
    }
    ctx.tx
        .prepare_cached(
            "INSERT INTO conflicts (id, entity, entity_id, field, kept_value, kept_hlc, lost_value,
                lost_hlc, detected_at, status, resolved_at, resolution, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT(id) DO UPDATE SET kept_value = excluded.kept_value,
                kept_hlc = excluded.kept_hlc, lost_value = excluded.lost_value,
                lost_hlc = excluded.lost_hlc, status = excluded.status,
                resolved_at = excluded.resolved_at, resolution = excluded.resolution,
                hlc = excluded.hlc",
        )?
        .execute(params![
            rec.id,
            subject,
            subject_id,
            field,
            value_text(rec.data.get("kept_value")),
            kept_hlc,
            value_text(rec.data.get("lost_value")),
            lost_hlc,
            d.i("detected_at")?.unwrap_or(ms(ctx.now)),
            status,
            d.i("resolved_at")?,
            d.s("resolution")?,
            rec.hlc
        ])?;
    touch(ctx, "conflicts", entity::CONFLICT, rec)?;
    Ok(Outcome::Applied)
}

// ---- pages ------------------------------------------------------------------------------------

fn apply_inner(ctx: &mut Tx<'_>, rec: &ServerRecord, derived: &mut Derived) -> R<Outcome> {
    ctx.observe(&rec.hlc).map_err(|_| bad("hlc"))?;
    for c in rec.clocks.values() {
        let c = c.as_str().ok_or_else(|| bad("clocks"))?;
        ctx.observe(c).map_err(|_| bad("clocks"))?;
    }
    match rec.entity.as_str() {
        entity::HOUSEHOLD | entity::RESIDENT => apply_merged(ctx, rec, derived),
        entity::VISIT => apply_visit(ctx, rec, derived),
        entity::RESIDENT_MOVE => apply_move(ctx, rec),
        entity::CASE_EVENT => apply_case_event(ctx, rec),
        entity::PHOTO => apply_photo(ctx, rec),
        entity::PATROL => apply_patrol(ctx, rec),
        entity::CASE => apply_case(ctx, rec),
        entity::TASK => apply_task(ctx, rec),
        entity::CONFLICT => apply_conflict(ctx, rec),
        other => {
            tracing::warn!(entity = other, "pulled record of an unknown kind skipped");
            Ok(Outcome::Skipped)
        }
    }
}

/// Applies one record inside a savepoint: a malformed record is rolled back alone (with what it
/// asked of the derived tables) and skipped.
fn apply_one(
    ctx: &mut Tx<'_>,
    rec: &ServerRecord,
    derived: &mut Derived,
) -> Result<Outcome, Error> {
    ctx.tx
        .prepare_cached("SAVEPOINT pulled_record")?
        .execute([])?;
    let mark = derived.mark();
    match apply_inner(ctx, rec, derived) {
        Ok(o) => {
            ctx.tx
                .prepare_cached("RELEASE pulled_record")?
                .execute([])?;
            Ok(o)
        }
        Err(ApplyError::Malformed(field)) => {
            derived.rewind(mark);
            ctx.tx
                .prepare_cached("ROLLBACK TO pulled_record")?
                .execute([])?;
            ctx.tx
                .prepare_cached("RELEASE pulled_record")?
                .execute([])?;
            tracing::warn!(entity = %rec.entity, id = %rec.id, field = %field,
                "malformed pulled record skipped");
            Ok(Outcome::Skipped)
        }
        Err(ApplyError::Store(e)) => Err(e),
    }
}

fn parked_key(rec: &ServerRecord) -> String {
    format!("{PARKED_PREFIX}{}:{}", rec.entity, rec.id)
}

/// Number of records waiting for their parent.
pub(crate) fn parked_count(conn: &rusqlite::Connection) -> Result<i64, Error> {
    Ok(conn.query_row(
        "SELECT count(*) FROM meta WHERE key >= ?1 AND key < ?2",
        params![PARKED_PREFIX, "sync_parked;"],
        |r| r.get(0),
    )?)
}

/// What the records of a page ask of the derived tables, done in one pass after the records
/// are written ([`Derived::finish`]): the search index of the households and residents written,
/// the latest contact of the visits inserted, the due days of the households touched.
#[derive(Default)]
pub(crate) struct Derived {
    /// Households and residents that had no row before this page (indexed in bulk).
    new_households: Vec<String>,
    new_residents: Vec<String>,
    /// Existing households and residents whose fields changed (re-indexed one by one).
    changed: Vec<(bool, String)>,
    /// (household, mode, visited_at) of the visits inserted.
    contacts: Vec<(String, VisitMode, i64)>,
    /// Nothing waits in the outbox (an initial pull, most pulls): every record applied is
    /// `synced`, without asking the outbox record by record. Applying never adds to it.
    outbox_empty: bool,
}

/// Lengths of a [`Derived`]'s lists, to forget what a skipped record added.
type Mark = (usize, usize, usize, usize);

impl Derived {
    fn indexed(&mut self, entity_name: &str, id: &str, is_new: bool) {
        let household = entity_name == entity::HOUSEHOLD;
        match (is_new, household) {
            (true, true) => self.new_households.push(id.to_string()),
            (true, false) => self.new_residents.push(id.to_string()),
            (false, _) => self.changed.push((household, id.to_string())),
        }
    }

    fn mark(&self) -> Mark {
        (
            self.new_households.len(),
            self.new_residents.len(),
            self.changed.len(),
            self.contacts.len(),
        )
    }

    fn rewind(&mut self, (h, r, c, v): Mark) {
        self.new_households.truncate(h);
        self.new_residents.truncate(r);
        self.changed.truncate(c);
        self.contacts.truncate(v);
    }

    /// Brings the search index and the visit summary up to date, in the page's transaction.
    fn finish(self, ctx: &Tx<'_>) -> Result<(), Error> {
        search::index_new_households(ctx.tx, &self.new_households)?;
        search::index_new_residents(ctx.tx, &self.new_residents)?;
        for (household, id) in &self.changed {
            if *household {
                search::index_household(ctx.tx, id)?;
            } else {
                search::index_resident(ctx.tx, id)?;
            }
        }
        // One summary write per household and mode, with the page's latest contact.
        let mut latest: HashMap<(String, VisitMode), i64> = HashMap::new();
        for (household, mode, at) in self.contacts {
            let e = latest.entry((household, mode)).or_insert(at);
            *e = (*e).max(at);
        }
        for ((household, mode), at) in &latest {
            visits::note_contact(ctx.tx, household, *mode, *at)?;
        }
        // The due days of the households the page wrote or brought contacts for (due.rs).
        let mut due: Vec<&str> = self.new_households.iter().map(String::as_str).collect();
        due.extend(
            self.changed
                .iter()
                .filter(|(h, _)| *h)
                .map(|(_, id)| id.as_str()),
        );
        due.extend(latest.keys().map(|(h, _)| h.as_str()));
        due.sort_unstable();
        due.dedup();
        due::refresh_many(ctx.tx, &ctx.settings, &due)?;
        Ok(())
    }
}

/// Applies one page of the feed (the caller commits it with the cursor): the records first,
/// parents before children, then the derived tables in one pass.
pub(crate) fn apply_page(ctx: &mut Tx<'_>, records: &[ServerRecord]) -> Result<PageStats, Error> {
    let mut order: Vec<&ServerRecord> = records.iter().collect();
    order.sort_by_key(|r| rank(&r.entity));
    let any_parked = parked_count(ctx.tx)? > 0;
    let mut stats = PageStats::default();
    let mut derived = Derived {
        outbox_empty: !ctx
            .tx
            .prepare_cached("SELECT 1 FROM outbox LIMIT 1")?
            .exists([])?,
        ..Derived::default()
    };
    for rec in order {
        match apply_one(ctx, rec, &mut derived)? {
            Outcome::Applied => {
                stats.applied += 1;
                if any_parked {
                    ctx.tx
                        .prepare_cached("DELETE FROM meta WHERE key = ?1")?
                        .execute([parked_key(rec)])?;
                }
            }
            Outcome::Parked => {
                stats.parked += 1;
                let json = serde_json::to_string(rec)?;
                crate::store::set_meta(ctx.tx, &parked_key(rec), &json)?;
            }
            Outcome::Skipped => stats.skipped += 1,
        }
    }
    if any_parked || stats.parked > 0 {
        stats.unparked = unpark(ctx, &mut derived)?;
    }
    derived.finish(ctx)?;
    Ok(stats)
}

/// Applies parked records whose parents have arrived, until nothing more moves.
fn unpark(ctx: &mut Tx<'_>, derived: &mut Derived) -> Result<usize, Error> {
    let mut done = 0;
    loop {
        let parked: Vec<(String, String)> = {
            let mut stmt = ctx
                .tx
                .prepare("SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2")?;
            let rows = stmt.query_map(params![PARKED_PREFIX, "sync_parked;"], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut recs: Vec<(String, ServerRecord)> = parked
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|r| (k, r)))
            .collect();
        recs.sort_by_key(|(_, r)| rank(&r.entity));
        let mut progress = false;
        for (key, rec) in &recs {
            match apply_one(ctx, rec, derived)? {
                Outcome::Parked => {}
                _ => {
                    ctx.tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
                    done += 1;
                    progress = true;
                }
            }
        }
        if !progress {
            return Ok(done);
        }
    }
}
