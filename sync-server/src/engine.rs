//! Applying pushed changes: scope, deduplication, validation, merge — written once against
//! [`RecordTx`], whatever database is underneath.
//!
//! Each change is judged on its own and answered in request order; one bad change never aborts
//! its batch (the device keeps it in "needs attention" and the others go through). Only applied
//! changes are remembered by `change_id`: a change rejected because its parent had not arrived
//! yet is judged afresh when the device retries it.
//!
//! Scope hides existence. A record outside the caller's grids and a record that does not exist
//! get the same answer (`out_of_scope` for the record itself, `parent_unknown` for a parent), so
//! guessing ids reveals nothing.
//!
//! How each kind is applied:
//! - households, residents, tasks, conflicts (and the device fields of a case): field-level merge
//!   with conflict detection ([`gridwalk_protocol::merge`]); every conflict becomes a `conflict`
//!   record in the subject's grid, so it reaches every device and a supervisor can settle it;
//! - visits, resident moves, case events, photo metadata: append-only, created once;
//! - patrols: last writer wins per field (a patrol has one author).
//!
//! Case and task *status* belong to the server's loop ([`crate::cases`]): a device changing a
//! case's status is refused `server_owned`; a task may only go open → done/cancelled.

use gridwalk_domain::entities::{
    self, Entity, Now, EVENT_CALL_BACK, EVENT_SERVER_UPDATE, EVENT_VERIFICATION,
};
use gridwalk_domain::ValidationError;
use gridwalk_protocol::hlc::{self, Stamp};
use gridwalk_protocol::merge::{incoming_from_change, merge_fields, rebase_clocks, FieldConflict};
use gridwalk_protocol::{codes, entity, Change, ChangeResult, Op, Outcome, Reason};
use serde_json::{json, Map, Value};

use crate::cases::{self, Action};
use crate::error::Result;
use crate::storage::{NewRecord, Principal, RecordTx, StoredRecord};

/// A refusal of one change.
pub type Refusal = Reason;

pub fn refuse(code: &str, message: impl Into<String>) -> Refusal {
    Reason::new(code, message)
}

fn out_of_scope() -> Refusal {
    refuse(
        codes::OUT_OF_SCOPE,
        "记录不在您的网格范围内或不存在 / record not in your scope or does not exist",
    )
}

fn parent_unknown(field: &str) -> Refusal {
    let mut r = refuse(
        codes::PARENT_UNKNOWN,
        format!(
            "{field} 指向的记录在服务器上不存在 / the record named by {field} is unknown to the server"
        ),
    );
    // The phone's "needs attention" list shows which reference to fix.
    r.field = Some(field.to_string());
    r
}

pub fn invalid(field: &str) -> Refusal {
    let mut r = refuse(
        codes::INVALID,
        format!("字段 {field} 无效 / invalid field {field}"),
    );
    r.field = Some(field.to_string());
    r
}

/// `invalid`, naming the field and the validation code the phone's own form would show.
pub fn invalid_value(e: &ValidationError) -> Refusal {
    Reason {
        code: codes::INVALID.to_string(),
        message: format!(
            "字段 {f}：{} / field {f}: {}",
            e.code.message_zh(),
            e.code.message_en(),
            f = e.field
        ),
        field: Some(e.field.clone()),
        field_code: Some(e.code.as_str().to_string()),
    }
}

fn clock_ahead() -> Refusal {
    refuse(
        codes::CLOCK_AHEAD,
        "手机时间不正确（比服务器快），请校准手机时间后重新同步，数据不会丢失 / \
         the phone's clock is wrong (ahead of the server); set the time and sync again, nothing is lost",
    )
}

fn server_owned(field: &str) -> Refusal {
    refuse(
        codes::SERVER_OWNED,
        format!("字段 {field} 由平台维护，设备不能修改 / field {field} is owned by the server"),
    )
}

/// What an accepted change did.
struct Done {
    rev: i64,
    conflicts: Vec<FieldConflict>,
    /// The change wrote a new revision whose state is exactly the change over the record's
    /// previous state (every payload field won, nothing added by the server, no conflict).
    exact: bool,
}

impl Done {
    fn kept(rev: i64) -> Done {
        Done {
            rev,
            conflicts: Vec::new(),
            exact: false,
        }
    }
}

/// What the pushing device holds, for leaving its own writes out of its pulls ("no echo",
/// `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// The revision of the pull cursor the device sent with its push, when valid.
    pub rev: Option<i64>,
}

/// Applies a pushed batch in order inside the caller's write transaction: the rule every
/// backend's `Storage::push` runs.
pub fn push_batch(
    tx: &mut dyn RecordTx,
    who: &Principal,
    changes: &[Change],
    seen: Seen,
    now_ms: i64,
) -> Result<gridwalk_protocol::PushResponse> {
    prefetch(tx, changes)?;
    let mut results = Vec::with_capacity(changes.len());
    for c in changes {
        results.push(apply_change(tx, who, c, seen, now_ms)?);
    }
    Ok(gridwalk_protocol::PushResponse {
        results,
        server_hlc: tx.clock().current_at(now_ms),
    })
}

/// Tells the backend every record and change id the batch's rules can ask about: each
/// change's own record and every parent its payload names (references, a photo's owner).
/// Keys that turn out unused cost nothing but a row in the answer.
fn prefetch(tx: &mut dyn RecordTx, changes: &[Change]) -> Result<()> {
    let mut records: Vec<(&str, &str)> = Vec::new();
    let mut change_ids: Vec<&str> = Vec::with_capacity(changes.len());
    for c in changes {
        change_ids.push(&c.change_id);
        records.push((&c.entity, &c.entity_id));
        let named = |field: &str| c.payload.get(field).and_then(Value::as_str);
        if let Some(spec) = entities::entity(&c.entity) {
            for field in spec.fields {
                if let (Some(parent), Some(id)) = (field.refers, named(field.name)) {
                    records.push((parent, id));
                }
            }
        }
        for (field, parent) in [
            ("household_id", entity::HOUSEHOLD),
            ("patrol_id", entity::PATROL),
        ] {
            if let Some(id) = named(field) {
                records.push((parent, id));
            }
        }
        if let Some(owner) = named("owner_id") {
            let parent = match named("owner_kind") {
                None | Some("verification") => entity::CASE,
                Some(kind) => entities::photo_owner_entity(kind).unwrap_or(kind),
            };
            records.push((parent, owner));
        }
    }
    records.sort_unstable();
    records.dedup();
    change_ids.sort_unstable();
    change_ids.dedup();
    tx.prefetch(&records, &change_ids)
}

use entities::id_ok;

/// Applies one change inside the caller's transaction and returns its result.
pub fn apply_change(
    tx: &mut dyn RecordTx,
    who: &Principal,
    change: &Change,
    seen: Seen,
    now_ms: i64,
) -> Result<ChangeResult> {
    // The rules read the record and its parents more than once: asked of the backend once.
    let mut memo = crate::memo::Memo::new(tx);
    apply_change_in(&mut memo, who, change, seen, now_ms)
}

fn apply_change_in(
    tx: &mut dyn RecordTx,
    who: &Principal,
    change: &Change,
    seen: Seen,
    now_ms: i64,
) -> Result<ChangeResult> {
    let rejected = |reason: Refusal| ChangeResult {
        change_id: change.change_id.clone(),
        outcome: Outcome::Rejected,
        rev: None,
        replayed: false,
        reason: Some(reason),
        conflicts: Vec::new(),
    };
    if !id_ok(&change.change_id) {
        return Ok(rejected(invalid("change_id")));
    }
    if let Some((user, mut stored)) = tx.applied(&change.change_id)? {
        if user != who.user_id {
            return Ok(rejected(invalid("change_id")));
        }
        stored.replayed = true;
        return Ok(stored);
    }
    if !id_ok(&change.entity_id) {
        return Ok(rejected(invalid("entity_id")));
    }
    let Ok(stamp) = Stamp::parse(&change.hlc) else {
        return Ok(rejected(invalid("hlc")));
    };
    // A stamp from a phone whose clock runs ahead would win every merge against honest later
    // edits and drag every clock of the grid forward with it: refused before anything else.
    if !hlc::within_bound(&stamp, now_ms) {
        return Ok(rejected(clock_ahead()));
    }
    let Some(spec) = entities::entity(&change.entity) else {
        return Ok(rejected(invalid("entity")));
    };
    // Server-owned fields first: the answer must say *why* a status edit was refused.
    if let Some(f) = server_field(spec, change) {
        return Ok(rejected(server_owned(f)));
    }
    let create = change.op == Op::Create;
    let now = Now::china(now_ms);
    if let Err(e) = entities::check_payload(spec, &change.payload, create, now) {
        return Ok(rejected(invalid_value(&e)));
    }
    if let Some(base) = &change.base {
        if base.iter().any(|(k, v)| {
            spec.field(k).is_none() || v.as_str().is_none_or(|s| Stamp::parse(s).is_err())
        }) {
            return Ok(rejected(invalid("base")));
        }
    }
    // Rules between fields hold for the record as it would be stored: the payload over the
    // stored record (only one the pusher may see: a foreign record answers like a missing one).
    let checked = match tx.get(&change.entity, &change.entity_id)? {
        Some(r) if !create && who.in_scope(&r.grid_code) => {
            let mut merged = r.data;
            merged.extend(change.payload.iter().map(|(k, v)| (k.clone(), v.clone())));
            entities::check_record(spec, &merged)
        }
        _ => entities::check_record(spec, &change.payload),
    };
    if let Err(e) = checked {
        return Ok(rejected(invalid_value(&e)));
    }
    if let Some(refusal) = check_references(tx, who, spec, &change.payload)? {
        return Ok(rejected(refusal));
    }
    // Whether the device holds the record's state before this change (see `Seen`): new, pulled
    // (at or below its cursor) or written by its own earlier echo-marked change.
    let echo_key = who.echo_key();
    let held_before = match seen.rev {
        None => false,
        Some(seen_rev) => match tx.echo_state(&change.entity, &change.entity_id)? {
            None => true,
            Some((rev, mark)) => rev <= seen_rev || mark.as_deref() == Some(echo_key.as_str()),
        },
    };
    // Observe only stamps of changes that passed the checks, so garbage cannot move the clock.
    tx.clock()
        .observe(&change.hlc, now_ms)
        .map_err(|_| crate::error::Error::invalid("hlc", "malformed"))?;
    let outcome = match change.entity.as_str() {
        entity::HOUSEHOLD => household(tx, who, change, now_ms)?,
        entity::RESIDENT => resident(tx, who, change, now_ms)?,
        entity::RESIDENT_MOVE => append_only(tx, who, change, "resident_id", entity::RESIDENT)?,
        entity::VISIT => append_only(tx, who, change, "household_id", entity::HOUSEHOLD)?,
        entity::PHOTO => photo(tx, who, change)?,
        entity::PATROL => patrol(tx, who, change)?,
        entity::CASE => case(tx, who, change, now_ms)?,
        entity::CASE_EVENT => case_event(tx, who, change, now_ms)?,
        entity::TASK => task(tx, who, change, now_ms)?,
        entity::CONFLICT => conflict(tx, who, change, now_ms)?,
        _ => Err(invalid("entity")),
    };
    let result = match outcome {
        Err(reason) => rejected(reason),
        Ok(done) => {
            if held_before && done.exact && done.conflicts.is_empty() {
                tx.mark_echo(&change.entity, &change.entity_id, done.rev, &echo_key)?;
            }
            ChangeResult {
                change_id: change.change_id.clone(),
                outcome: if done.conflicts.is_empty() {
                    Outcome::Applied
                } else {
                    Outcome::Merged
                },
                rev: Some(done.rev),
                replayed: false,
                reason: None,
                conflicts: done.conflicts,
            }
        }
    };
    if result.outcome != Outcome::Rejected {
        tx.remember(&change.change_id, &who.user_id, &result)?;
        if create {
            // Who made the record: the console's per-worker statistics (`console/workers.rs`).
            tx.note_author(
                &change.entity,
                &change.entity_id,
                &who.user_id,
                &who.device_id,
                now_ms,
            )?;
        }
    }
    Ok(result)
}

fn server_field(spec: &Entity, change: &Change) -> Option<&'static str> {
    spec.server_owned
        .iter()
        .copied()
        .find(|f| match change.payload.get(*f) {
            None => false,
            // A report may say it is submitted; nothing else.
            Some(v) if spec.name == entity::CASE && *f == "status" && change.op == Op::Create => {
                v != "submitted"
            }
            Some(_) => true,
        })
}

/// Every reference a payload carries, on create and on update, must name a record the pusher
/// can see: a case pointed at another grid's household, a photo at another grid's case, a task
/// at a target outside its grid, all answer `parent_unknown` (as if the record did not exist).
fn check_references(
    tx: &mut dyn RecordTx,
    who: &Principal,
    spec: &Entity,
    payload: &Map<String, Value>,
) -> Result<Option<Refusal>> {
    let named = |field: &str| payload.get(field).and_then(Value::as_str);
    for field in spec.fields {
        let (Some(parent), Some(_)) = (field.refers, named(field.name)) else {
            continue;
        };
        if let Err(r) = parent_grid(tx, who, parent, field.name, payload)? {
            return Ok(Some(r));
        }
    }
    if spec.name == entity::PHOTO {
        if let Some(kind) = named("owner_kind") {
            let parent = entities::photo_owner_entity(kind).unwrap_or(entity::CASE);
            if let Err(r) = parent_grid(tx, who, parent, "owner_id", payload)? {
                return Ok(Some(r));
            }
        }
    }
    Ok(None)
}

/// The current record when it exists *and* is in scope; `Err(out_of_scope)` when it exists
/// elsewhere.
fn visible(
    tx: &mut dyn RecordTx,
    who: &Principal,
    entity_name: &str,
    id: &str,
) -> Result<Result<Option<StoredRecord>, Refusal>> {
    Ok(match tx.get(entity_name, id)? {
        Some(r) if who.in_scope(&r.grid_code) => Ok(Some(r)),
        Some(_) => Err(out_of_scope()),
        None => Ok(None),
    })
}

/// The grid of a parent record named by `field`, when it is visible.
fn parent_grid(
    tx: &mut dyn RecordTx,
    who: &Principal,
    parent_entity: &str,
    field: &str,
    payload: &Map<String, Value>,
) -> Result<Result<String, Refusal>> {
    let Some(id) = payload.get(field).and_then(Value::as_str) else {
        return Ok(Err(invalid(field)));
    };
    Ok(match tx.grid_of(parent_entity, id)? {
        Some(g) if who.in_scope(&g) => Ok(g),
        _ => Err(parent_unknown(field)),
    })
}

/// Merges a change into `current` (or a new record) and writes it with its conflicts.
#[allow(clippy::too_many_arguments)]
fn merge_and_write(
    tx: &mut dyn RecordTx,
    change: &Change,
    current: Option<StoredRecord>,
    grid: &str,
    extra: Map<String, Value>,
    detect: bool,
    now_ms: i64,
) -> Result<Done> {
    let (mut data, mut clocks, record_hlc, rev) = match current {
        Some(r) => (r.data, r.clocks, r.hlc, Some(r.rev)),
        None => (Map::new(), Map::new(), change.hlc.clone(), None),
    };
    let result = merge_fields(
        &mut data,
        &mut clocks,
        &record_hlc,
        incoming_from_change(&change.payload, &change.hlc, change.base.as_ref()),
        detect,
    );
    let mut changed = !result.changed.is_empty() || rev.is_none();
    let mut exact = result.conflicts.is_empty()
        && change
            .payload
            .keys()
            .all(|k| result.changed.iter().any(|c| c == k));
    if !extra.is_empty() {
        // Defaults filled in at creation are part of the creating change: stamped with its
        // clock, so the author's later edits (made before it ever synced) still win over them.
        let stamp = if rev.is_none() {
            change.hlc.clone()
        } else {
            tx.clock().tick(now_ms)
        };
        for (k, v) in extra {
            if data.get(&k) != Some(&v) {
                data.insert(k.clone(), v);
                clocks.insert(k, Value::String(stamp.clone()));
                changed = true;
                exact = false;
            }
        }
    }
    let hlc = clocks
        .values()
        .filter_map(Value::as_str)
        .chain([record_hlc.as_str(), change.hlc.as_str()])
        .max()
        .unwrap_or(change.hlc.as_str())
        .to_string();
    if matches!(change.entity.as_str(), entity::HOUSEHOLD | entity::RESIDENT) {
        // Stored compact (`docs/protocol.md`, "Compact records"): only the clocks that differ
        // from the record's stamp; a full-clock pull writes them out again (`http.rs`).
        rebase_clocks(
            &mut clocks,
            data.keys().map(String::as_str),
            &record_hlc,
            &hlc,
        );
    }
    let rev = match rev {
        Some(r) if !changed => {
            exact = false;
            r
        }
        _ => tx.put(NewRecord {
            entity: &change.entity,
            id: &change.entity_id,
            grid_code: grid,
            hlc: &hlc,
            data: &data,
            clocks: &clocks,
        })?,
    };
    for c in &result.conflicts {
        record_conflict(tx, &change.entity, &change.entity_id, grid, c, now_ms)?;
    }
    Ok(Done {
        rev,
        conflicts: result.conflicts,
        exact,
    })
}

/// Writes a `conflict` record for a field one side never saw overwritten.
pub fn record_conflict(
    tx: &mut dyn RecordTx,
    subject_entity: &str,
    subject_id: &str,
    grid: &str,
    c: &FieldConflict,
    now_ms: i64,
) -> Result<i64> {
    let stamp = tx.clock().tick(now_ms);
    let id = uuid::Uuid::now_v7().to_string();
    let data = obj(json!({
        "entity": subject_entity, "entity_id": subject_id, "field": c.field,
        "kept_value": c.kept, "kept_hlc": c.kept_hlc, "lost_value": c.lost,
        "lost_hlc": c.lost_hlc, "detected_at": now_ms, "status": "open",
        "resolved_at": null, "resolution": null,
    }));
    let clocks = stamp_all(&data, &stamp);
    tx.put(NewRecord {
        entity: entity::CONFLICT,
        id: &id,
        grid_code: grid,
        hlc: &stamp,
        data: &data,
        clocks: &clocks,
    })
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Clocks stamping every field of `data` with `stamp`.
pub fn stamp_all(data: &Map<String, Value>, stamp: &str) -> Map<String, Value> {
    data.keys()
        .map(|k| (k.clone(), Value::String(stamp.to_string())))
        .collect()
}

type Step = Result<Result<Done, Refusal>>;

macro_rules! try_refuse {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return Ok(Err(r)),
        }
    };
}

fn household(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    let current = try_refuse!(visible(tx, who, entity::HOUSEHOLD, &change.entity_id)?);
    let grid = match &current {
        Some(r) => {
            // Moving a household between grids is an office task, not a field edit.
            if let Some(g) = change.payload.get("grid_code") {
                if g.as_str() != Some(r.grid_code.as_str()) {
                    return Ok(Err(invalid("grid_code")));
                }
            }
            r.grid_code.clone()
        }
        None if change.op == Op::Update => return Ok(Err(out_of_scope())),
        None => {
            let g = change
                .payload
                .get("grid_code")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !who.in_scope(g) {
                return Ok(Err(out_of_scope()));
            }
            g.to_string()
        }
    };
    Ok(Ok(merge_and_write(
        tx,
        change,
        current,
        &grid,
        Map::new(),
        true,
        now_ms,
    )?))
}

fn resident(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    let current = try_refuse!(visible(tx, who, entity::RESIDENT, &change.entity_id)?);
    if current.is_none() && change.op == Op::Update {
        return Ok(Err(out_of_scope()));
    }
    // A resident lives in the grid of their household; a transfer names the new household.
    let grid = if change.payload.contains_key("household_id") {
        try_refuse!(parent_grid(
            tx,
            who,
            entity::HOUSEHOLD,
            "household_id",
            &change.payload
        )?)
    } else {
        match &current {
            Some(r) => r.grid_code.clone(),
            None => return Ok(Err(invalid("household_id"))),
        }
    };
    Ok(Ok(merge_and_write(
        tx,
        change,
        current,
        &grid,
        Map::new(),
        true,
        now_ms,
    )?))
}

/// Writes an append-only record once; a second create of the same id is a quiet no-op.
fn write_once(
    tx: &mut dyn RecordTx,
    who: &Principal,
    change: &Change,
    grid: &str,
    data: &Map<String, Value>,
) -> Step {
    if change.op != Op::Create {
        return Ok(Err(refuse(
            codes::INVALID,
            "此类记录只能新增，不能修改 / this kind of record is append-only",
        )));
    }
    if let Some(r) = try_refuse!(visible(tx, who, &change.entity, &change.entity_id)?) {
        return Ok(Ok(Done::kept(r.rev)));
    }
    let rev = tx.put(NewRecord {
        entity: &change.entity,
        id: &change.entity_id,
        grid_code: grid,
        hlc: &change.hlc,
        data,
        clocks: &Map::new(),
    })?;
    // Written as sent: the device holds exactly this.
    Ok(Ok(Done {
        rev,
        conflicts: Vec::new(),
        exact: true,
    }))
}

fn append_only(
    tx: &mut dyn RecordTx,
    who: &Principal,
    change: &Change,
    parent_field: &str,
    parent_entity: &str,
) -> Step {
    if change.op != Op::Create {
        return write_once(tx, who, change, "", &change.payload);
    }
    let grid = try_refuse!(parent_grid(
        tx,
        who,
        parent_entity,
        parent_field,
        &change.payload
    )?);
    if change.entity == entity::RESIDENT_MOVE {
        // The household a resident moved to or from must be visible too.
        try_refuse!(parent_grid(
            tx,
            who,
            entity::HOUSEHOLD,
            "household_id",
            &change.payload
        )?);
    }
    write_once(tx, who, change, &grid, &change.payload)
}

fn photo(tx: &mut dyn RecordTx, who: &Principal, change: &Change) -> Step {
    if change.op != Op::Create {
        return write_once(tx, who, change, "", &change.payload);
    }
    let owner_entity = match change.payload.get("owner_kind").and_then(Value::as_str) {
        // After-evidence on a case: its owner id is the case id.
        None | Some("verification") => entity::CASE,
        Some(kind) => kind,
    }
    .to_string();
    let grid = try_refuse!(parent_grid(
        tx,
        who,
        &owner_entity,
        "owner_id",
        &change.payload
    )?);
    // The record serves its file only once its pusher proved to hold the bytes (photos.rs).
    crate::photos::claim(tx, who, change)?;
    write_once(tx, who, change, &grid, &change.payload)
}

fn patrol(tx: &mut dyn RecordTx, who: &Principal, change: &Change) -> Step {
    let current = try_refuse!(visible(tx, who, entity::PATROL, &change.entity_id)?);
    let grid = match &current {
        Some(r) => r.grid_code.clone(),
        None if change.op == Op::Update => return Ok(Err(out_of_scope())),
        None => {
            let g = change
                .payload
                .get("grid_code")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !who.in_scope(g) {
                return Ok(Err(out_of_scope()));
            }
            g.to_string()
        }
    };
    if let (Some(r), Some(g)) = (&current, change.payload.get("grid_code")) {
        if g.as_str() != Some(r.grid_code.as_str()) {
            return Ok(Err(invalid("grid_code")));
        }
    }
    // One author per patrol: plain last-writer-wins, no conflict records.
    Ok(Ok(merge_and_write(
        tx,
        change,
        current,
        &grid,
        Map::new(),
        false,
        0,
    )?))
}

fn case(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    let current = try_refuse!(visible(tx, who, entity::CASE, &change.entity_id)?);
    match current {
        None if change.op == Op::Update => Ok(Err(out_of_scope())),
        None => {
            let grid = change
                .payload
                .get("grid_code")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !who.in_scope(grid) {
                return Ok(Err(out_of_scope()));
            }
            // A case may name the household and patrol it was found on: they must be records
            // the server holds in the reporter's scope, or every device would wait forever for
            // a parent that never comes.
            for (field, parent) in [
                ("household_id", entity::HOUSEHOLD),
                ("patrol_id", entity::PATROL),
            ] {
                if change.payload.get(field).is_some_and(|v| !v.is_null()) {
                    try_refuse!(parent_grid(tx, who, parent, field, &change.payload)?);
                }
            }
            let grid = grid.to_string();
            let mut payload = change.payload.clone();
            payload.remove("status");
            if !payload.contains_key("category_code") {
                let cat = payload
                    .get("type_code")
                    .and_then(Value::as_str)
                    .and_then(|t| t.get(0..2))
                    .unwrap_or("")
                    .to_string();
                payload.insert("category_code".into(), Value::String(cat));
            }
            let stamp = tx.clock().tick(now_ms);
            let mut clocks = stamp_all(&payload, &change.hlc);
            let mut data = payload;
            let server = cases::new_case_fields(&who.user_id, now_ms);
            for (k, v) in server {
                clocks.insert(k.clone(), Value::String(stamp.clone()));
                data.insert(k, v);
            }
            let rev = tx.put(NewRecord {
                entity: entity::CASE,
                id: &change.entity_id,
                grid_code: &grid,
                hlc: &stamp,
                data: &data,
                clocks: &clocks,
            })?;
            // The server added the status, reporter and deadlines: the device needs them.
            Ok(Ok(Done::kept(rev)))
        }
        // A second report of the same case (another change id) changes nothing.
        Some(r) if change.op == Op::Create => Ok(Ok(Done::kept(r.rev))),
        Some(r) => {
            if change
                .payload
                .get("grid_code")
                .is_some_and(|g| g.as_str() != Some(&r.grid_code))
            {
                return Ok(Err(invalid("grid_code")));
            }
            let grid = r.grid_code.clone();
            Ok(Ok(merge_and_write(
                tx,
                change,
                Some(r),
                &grid,
                Map::new(),
                true,
                now_ms,
            )?))
        }
    }
}

fn case_event(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    if change.op != Op::Create {
        return write_once(tx, who, change, "", &change.payload);
    }
    let kind = change
        .payload
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind == EVENT_SERVER_UPDATE {
        return Ok(Err(server_owned("kind")));
    }
    let case_id = change
        .payload
        .get("case_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let case = match tx.get(entity::CASE, case_id)? {
        Some(c) if who.in_scope(&c.grid_code) => c,
        _ => return Ok(Err(parent_unknown("case_id"))),
    };
    if let Some(existing) = try_refuse!(visible(tx, who, entity::CASE_EVENT, &change.entity_id)?) {
        return Ok(Ok(Done::kept(existing.rev)));
    }
    let grid = case.grid_code.clone();
    match kind {
        EVENT_VERIFICATION => {
            let action = match change.payload.get("status").and_then(Value::as_str) {
                Some("verified") => Action::Verify,
                Some("rejected") => Action::Reject,
                _ => return Ok(Err(invalid("status"))),
            };
            let note = change.payload.get("note").and_then(Value::as_str);
            let req = cases::ActionInput {
                action,
                reason: note,
                ..cases::ActionInput::default()
            };
            if let Err(r) = cases::apply_action(tx, &who.user_id, case, &req, now_ms)? {
                return Ok(Err(r));
            }
            cases::finish_tasks(tx, &grid, case_id, "verify_case", now_ms)?;
        }
        EVENT_CALL_BACK => {
            cases::finish_tasks(tx, &grid, case_id, "call_back", now_ms)?;
        }
        _ => {}
    }
    write_once(tx, who, change, &grid, &change.payload)
}

fn task(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    let current = try_refuse!(visible(tx, who, entity::TASK, &change.entity_id)?);
    match current {
        None if change.op == Op::Update => Ok(Err(out_of_scope())),
        None => {
            let grid = try_refuse!(task_grid(tx, who, &change.payload)?);
            let mut extra = Map::new();
            extra.insert("grid_code".into(), Value::String(grid.clone()));
            if !change.payload.contains_key("assignee") {
                extra.insert("assignee".into(), Value::String(who.user_id.clone()));
            }
            if !change.payload.contains_key("status") {
                extra.insert("status".into(), Value::String("open".into()));
            }
            extra.insert("created_by".into(), Value::String(who.user_id.clone()));
            if let Some(a) = change.payload.get("assignee").and_then(Value::as_str) {
                if tx.user_in_grid(a, &grid)?.is_none() {
                    return Ok(Err(invalid("assignee")));
                }
            }
            Ok(Ok(merge_and_write(
                tx, change, None, &grid, extra, true, now_ms,
            )?))
        }
        Some(r) => {
            if change.op == Op::Update {
                if let Some(f) = spec_fixed(entity::TASK).find(|f| change.payload.contains_key(**f))
                {
                    return Ok(Err(server_owned(f)));
                }
            }
            if let Some(next) = change.payload.get("status").and_then(Value::as_str) {
                let now = r.str_field("status").unwrap_or("open");
                let ok = now == next || (now == "open" && matches!(next, "done" | "cancelled"));
                if !ok {
                    return Ok(Err(refuse(
                        codes::INVALID_TRANSITION,
                        format!(
                            "任务状态不能从 {now} 改为 {next} / task status cannot go from {now} to {next}"
                        ),
                    )));
                }
            }
            let grid = r.grid_code.clone();
            // The state machine has just checked that open → done/cancelled follows the status
            // the server holds, so the step is sequential: its base is the server's clock of
            // those fields, whatever the device sent (its base is the task row's last stamp,
            // which differs when another field changed later), and no conflict is recorded.
            let mut change = change.clone();
            if change.payload.contains_key("status") {
                let base = change.base.get_or_insert_with(Map::new);
                for f in ["status", "completed_at"] {
                    if let Some(c) = r.clocks.get(f) {
                        base.insert(f.to_string(), c.clone());
                    }
                }
            }
            Ok(Ok(merge_and_write(
                tx,
                &change,
                Some(r),
                &grid,
                Map::new(),
                true,
                now_ms,
            )?))
        }
    }
}

fn spec_fixed(name: &str) -> impl Iterator<Item = &'static &'static str> {
    entities::entity(name)
        .map(|e| e.fixed)
        .unwrap_or_default()
        .iter()
}

/// The grid a new task belongs to: its `grid_code`, else its target's grid, else the pusher's
/// own grid.
fn task_grid(
    tx: &mut dyn RecordTx,
    who: &Principal,
    payload: &Map<String, Value>,
) -> Result<Result<String, Refusal>> {
    let explicit = payload.get("grid_code").and_then(Value::as_str);
    if explicit.is_some_and(|g| !who.in_scope(g)) {
        return Ok(Err(out_of_scope()));
    }
    let target_id = payload.get("target_id").and_then(Value::as_str);
    let target_grid = match (
        payload.get("target_kind").and_then(Value::as_str),
        target_id,
    ) {
        (Some("grid"), Some(g)) if who.in_scope(g) => Some(g.to_string()),
        (Some("grid"), Some(_)) => return Ok(Err(parent_unknown("target_id"))),
        (Some(kind), Some(_)) => Some(try_refuse!(parent_grid(
            tx,
            who,
            kind,
            "target_id",
            payload
        )?)),
        _ => None,
    };
    // A task's target lies in the task's grid: whoever works the grid can see it.
    if let (Some(g), Some(t)) = (explicit, &target_grid) {
        if g != t {
            return Ok(Err(parent_unknown("target_id")));
        }
    }
    if let Some(g) = explicit.map(str::to_string).or(target_grid) {
        return Ok(Ok(g));
    }
    Ok(if who.in_scope(&who.org_code) {
        Ok(who.org_code.clone())
    } else {
        who.grids.first().cloned().ok_or_else(out_of_scope)
    })
}

fn conflict(tx: &mut dyn RecordTx, who: &Principal, change: &Change, now_ms: i64) -> Step {
    if change.op == Op::Create {
        return Ok(Err(refuse(
            codes::INVALID,
            "冲突记录由服务器生成 / conflict records are made by the server",
        )));
    }
    let Some(current) = try_refuse!(visible(tx, who, entity::CONFLICT, &change.entity_id)?) else {
        return Ok(Err(out_of_scope()));
    };
    let grid = current.grid_code.clone();
    Ok(Ok(merge_and_write(
        tx,
        change,
        Some(current),
        &grid,
        Map::new(),
        true,
        now_ms,
    )?))
}
