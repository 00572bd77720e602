//! Residents (人口信息) and their move history.
//!
//! An ID number is checked where it is typed (GB 11643) and gender and birth date are derived
//! from it, so the same fact is never entered twice. No two *active* residents may hold the same
//! ID number on this device; the error names the household that already holds it so the worker
//! can go and look (people move between flats without telling anyone). Moving out keeps the
//! record and writes a history line; nothing is deleted.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result, ValidationError};
use crate::model::*;
use crate::store::{date_str, from_ms, ms, parse_date, Store, Tx, DIRTY_STATE};
use crate::{search, validate};

const SELECT: &str = "SELECT id, household_id, name, id_number, phone, gender, birth_date,
    relation, residency, special_groups, moved_in_on, moved_out_on, status, notes, created_at,
    updated_at, sync_state FROM residents";

pub(crate) fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Resident> {
    let groups: String = r.get(9)?;
    let birth: Option<String> = r.get(6)?;
    let moved_in: Option<String> = r.get(10)?;
    let moved_out: Option<String> = r.get(11)?;
    Ok(Resident {
        id: r.get(0)?,
        household_id: r.get(1)?,
        name: r.get(2)?,
        id_number: r.get(3)?,
        phone: r.get(4)?,
        gender: r.get(5)?,
        birth_date: birth.as_deref().and_then(parse_date),
        relation: r.get(7)?,
        residency: r.get(8)?,
        special_groups: serde_json::from_str(&groups).unwrap_or_default(),
        moved_in_on: moved_in.as_deref().and_then(parse_date),
        moved_out_on: moved_out.as_deref().and_then(parse_date),
        status: r.get(12)?,
        notes: r.get(13)?,
        created_at: from_ms(r.get(14)?),
        updated_at: from_ms(r.get(15)?),
        sync_status: r.get(16)?,
    })
}

pub(crate) fn fields(p: &Resident) -> Map<String, Value> {
    let v = json!({
        "household_id": p.household_id,
        "name": p.name,
        "id_number": p.id_number,
        "phone": p.phone,
        "gender": p.gender.map(|g| g.as_str()),
        "birth_date": p.birth_date.map(date_str),
        "relation": p.relation.as_str(),
        "residency": p.residency.as_str(),
        "special_groups": p.special_groups.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "moved_in_on": p.moved_in_on.map(date_str),
        "moved_out_on": p.moved_out_on.map(date_str),
        "status": p.status.as_str(),
        "notes": p.notes,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The household of an active resident other than `except` holding `id_number`, if any.
fn holder_of(conn: &Connection, id_number: &str, except: Option<&str>) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT household_id FROM residents
             WHERE id_number = ?1 AND status = 'active' AND id IS NOT ?2 LIMIT 1",
        )?
        .query_row(params![id_number, except], |r| r.get(0))
        .optional()?)
}

/// Validates identity fields together; returns (id_number, gender, birth_date).
fn check_identity(
    ctx: &Tx<'_>,
    id_number: Option<&str>,
    gender: Option<Gender>,
    birth_date: Option<NaiveDate>,
    except: Option<&str>,
) -> Result<(Option<String>, Option<Gender>, Option<NaiveDate>)> {
    let today = ctx.today();
    let raw = validate::optional_text(id_number);
    let Some(raw) = raw else {
        if let Some(b) = birth_date {
            validate::date_not_future("birth_date", b, today)?;
        }
        return Ok((None, gender, birth_date));
    };
    let (normal, info) = validate::id_number("id_number", &raw, today)?;
    if gender.is_some_and(|g| g != info.gender) {
        return Err(Error::invalid("gender", Code::Mismatch));
    }
    if birth_date.is_some_and(|b| b != info.birth_date) {
        return Err(Error::invalid("birth_date", Code::Mismatch));
    }
    if let Some(household) = holder_of(ctx.tx, &normal, except)? {
        return Err(ValidationError::duplicate("id_number", household).into());
    }
    Ok((Some(normal), Some(info.gender), Some(info.birth_date)))
}

fn clean_phone(phone: Option<&str>) -> Result<Option<String>> {
    match validate::optional_text(phone) {
        Some(p) => Ok(Some(validate::phone("phone", &p)?)),
        None => Ok(None),
    }
}

fn clean_groups(groups: &[SpecialGroup]) -> Vec<SpecialGroup> {
    let mut g = groups.to_vec();
    g.sort();
    g.dedup();
    g
}

fn clean_notes(notes: Option<&str>) -> Result<Option<String>> {
    let n = validate::optional_text(notes);
    if let Some(n) = &n {
        validate::max_chars("notes", n, 1000)?;
    }
    Ok(n)
}

/// Refuses a household that does not exist or is not active (reads its status only).
fn require_active_household(conn: &Connection, id: &str) -> Result<()> {
    let status: Option<RecordStatus> = conn
        .prepare_cached("SELECT status FROM households WHERE id = ?1")?
        .query_row([id], |r| r.get("status"))
        .optional()?;
    match status {
        Some(RecordStatus::Active) => Ok(()),
        Some(_) => Err(Error::invalid("household_id", Code::InvalidValue)),
        None => Err(Error::invalid("household_id", Code::UnknownReference)),
    }
}

/// Registers a resident inside `ctx`.
pub fn insert(ctx: &mut Tx<'_>, input: &ResidentInput) -> Result<Resident> {
    require_active_household(ctx.tx, &input.household_id)?;
    let name = validate::person_name("name", &input.name)?;
    let (id_number, gender, birth_date) = check_identity(
        ctx,
        input.id_number.as_deref(),
        input.gender,
        input.birth_date,
        None,
    )?;
    let phone = clean_phone(input.phone.as_deref())?;
    if let Some(d) = input.moved_in_on {
        validate::date_not_future("moved_in_on", d, ctx.today())?;
    }
    let notes = clean_notes(input.notes.as_deref())?;
    let hlc = ctx.tick();
    let p = Resident {
        id: new_id(),
        household_id: input.household_id.clone(),
        name,
        id_number,
        phone,
        gender,
        birth_date,
        relation: input.relation,
        residency: input.residency,
        special_groups: clean_groups(&input.special_groups),
        moved_in_on: input.moved_in_on,
        moved_out_on: None,
        status: RecordStatus::Active,
        notes,
        created_at: ctx.now,
        updated_at: ctx.now,
        sync_status: SyncStatus::LocalOnly,
    };
    let f = fields(&p);
    write_row(ctx, &p, &hlc, changes::NEW_RECORD_CLOCKS, true)?;
    changes::record(
        ctx,
        entity::RESIDENT,
        &p.id,
        op::CREATE,
        &Value::Object(f),
        &hlc,
    )?;
    if let Some(on) = p.moved_in_on {
        record_move(ctx, &p.id, MoveKind::MoveIn, &p.household_id, on, None)?;
    }
    search::resident_added(ctx, &p.id)?;
    Ok(p)
}

fn write_row(ctx: &Tx<'_>, p: &Resident, hlc: &str, clocks: &str, new: bool) -> Result<()> {
    let groups = serde_json::to_string(&p.special_groups)?;
    let sql = if new {
        "INSERT INTO residents (id, household_id, name, id_number, phone, gender, birth_date,
            relation, residency, special_groups, moved_in_on, moved_out_on, status, notes,
            created_at, updated_at, hlc, clocks)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            .to_string()
    } else {
        format!(
            "UPDATE residents SET household_id = ?2, name = ?3, id_number = ?4, phone = ?5,
                gender = ?6, birth_date = ?7, relation = ?8, residency = ?9, special_groups = ?10,
                moved_in_on = ?11, moved_out_on = ?12, status = ?13, notes = ?14,
                created_at = ?15, updated_at = ?16, hlc = ?17, clocks = ?18,
                sync_state = {DIRTY_STATE}
             WHERE id = ?1"
        )
    };
    ctx.tx.prepare_cached(&sql)?.execute(params![
        p.id,
        p.household_id,
        p.name,
        p.id_number,
        p.phone,
        p.gender,
        p.birth_date.map(date_str),
        p.relation,
        p.residency,
        groups,
        p.moved_in_on.map(date_str),
        p.moved_out_on.map(date_str),
        p.status,
        p.notes,
        ms(p.created_at),
        ms(p.updated_at),
        hlc,
        clocks
    ])?;
    Ok(())
}

fn record_move(
    ctx: &mut Tx<'_>,
    resident_id: &str,
    kind: MoveKind,
    household_id: &str,
    on: NaiveDate,
    note: Option<&str>,
) -> Result<()> {
    let hlc = ctx.tick();
    let id = new_id();
    ctx.tx
        .prepare_cached(
            "INSERT INTO resident_moves (id, resident_id, kind, household_id, on_date, note,
                created_at, hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            id,
            resident_id,
            kind,
            household_id,
            date_str(on),
            note,
            ms(ctx.now),
            hlc
        ])?;
    let payload = json!({
        "resident_id": resident_id, "kind": kind.as_str(), "household_id": household_id,
        "on": date_str(on), "note": note,
    });
    changes::record(ctx, entity::RESIDENT_MOVE, &id, op::CREATE, &payload, &hlc)
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Resident> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_row)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "resident",
            id: id.to_string(),
        })
}

fn save_changed(ctx: &mut Tx<'_>, old: &Resident, mut next: Resident) -> Result<Resident> {
    let changed = changes::diff_fields(&fields(old), &fields(&next));
    if changed.is_empty() {
        return Ok(old.clone());
    }
    let hlc = ctx.tick();
    let (clocks, row_hlc): (String, String) = ctx.tx.query_row(
        "SELECT clocks, hlc FROM residents WHERE id = ?1",
        [&old.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let base = changes::base_clocks(&clocks, &changed, &row_hlc);
    let clocks = changes::bump_clocks(entity::RESIDENT, &clocks, &row_hlc, &changed, &hlc)?;
    next.updated_at = ctx.now;
    write_row(ctx, &next, &hlc, &clocks, false)?;
    changes::record_with_base(
        ctx,
        entity::RESIDENT,
        &next.id,
        op::UPDATE,
        &Value::Object(changed),
        &hlc,
        Some(&base),
    )?;
    search::resident_changed(ctx, &next.id)?;
    get(ctx.tx, &next.id)
}

/// Applies a patch inside `ctx`.
pub fn apply_patch(ctx: &mut Tx<'_>, id: &str, patch: &ResidentPatch) -> Result<Resident> {
    let old = get(ctx.tx, id)?;
    let mut next = old.clone();
    if let Some(n) = &patch.name {
        next.name = validate::person_name("name", n)?;
    }
    let id_number = match &patch.id_number {
        Some(v) => v.clone(),
        None => old.id_number.clone(),
    };
    let id_changed = patch.id_number.is_some();
    let gender = patch
        .gender
        .unwrap_or(if id_changed { None } else { old.gender });
    let birth = patch
        .birth_date
        .unwrap_or(if id_changed { None } else { old.birth_date });
    let except = Some(old.id.as_str());
    let (id_number, gender, birth) =
        check_identity(ctx, id_number.as_deref(), gender, birth, except)?;
    next.id_number = id_number;
    next.gender = gender;
    next.birth_date = birth;
    if let Some(p) = &patch.phone {
        next.phone = clean_phone(p.as_deref())?;
    }
    if let Some(r) = patch.relation {
        next.relation = r;
    }
    if let Some(r) = patch.residency {
        next.residency = r;
    }
    if let Some(g) = &patch.special_groups {
        next.special_groups = clean_groups(g);
    }
    if let Some(n) = &patch.notes {
        next.notes = clean_notes(n.as_deref())?;
    }
    save_changed(ctx, &old, next)
}

impl Store {
    /// Registers a resident in an active household.
    pub fn add_resident(&self, input: &ResidentInput) -> Result<Resident> {
        self.write(|ctx| insert(ctx, input))
    }

    /// Edits some fields of a resident.
    pub fn update_resident(&self, id: &str, patch: &ResidentPatch) -> Result<Resident> {
        self.write(|ctx| apply_patch(ctx, id, patch))
    }

    pub fn resident(&self, id: &str) -> Result<Resident> {
        self.read(|c| get(c, id))
    }

    /// Residents of a household, head first.
    pub fn residents_of(
        &self,
        household_id: &str,
        include_inactive: bool,
    ) -> Result<Vec<Resident>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT} WHERE household_id = ?1 AND (?2 OR status = 'active')
                 ORDER BY relation != 'head', birth_date"
            ))?;
            let rows = stmt.query_map(params![household_id, include_inactive], map_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Records that a resident moved out on `on`. The record stays, marked moved out.
    pub fn move_out_resident(
        &self,
        id: &str,
        on: NaiveDate,
        note: Option<&str>,
    ) -> Result<Resident> {
        self.write(|ctx| {
            let old = get(ctx.tx, id)?;
            if old.status != RecordStatus::Active {
                return Err(Error::InvalidState {
                    entity: "resident",
                    id: id.to_string(),
                    state: old.status.as_str().into(),
                    action: "move out",
                });
            }
            validate::date_not_future("on", on, ctx.today())?;
            if old.moved_in_on.is_some_and(|m| on < m) {
                return Err(Error::invalid("on", Code::Mismatch));
            }
            let mut next = old.clone();
            next.status = RecordStatus::MovedOut;
            next.moved_out_on = Some(on);
            let household = old.household_id.clone();
            let saved = save_changed(ctx, &old, next)?;
            record_move(ctx, id, MoveKind::MoveOut, &household, on, note)?;
            Ok(saved)
        })
    }

    /// Records that a resident moved into `household_id` on `on` (a new arrival of a known
    /// person, or a move between households of the grid). Re-checks the ID number for duplicates.
    pub fn move_in_resident(
        &self,
        id: &str,
        household_id: &str,
        on: NaiveDate,
        note: Option<&str>,
    ) -> Result<Resident> {
        self.write(|ctx| {
            let old = get(ctx.tx, id)?;
            require_active_household(ctx.tx, household_id)?;
            validate::date_not_future("on", on, ctx.today())?;
            if let Some(n) = &old.id_number {
                if let Some(h) = holder_of(ctx.tx, n, Some(id))? {
                    return Err(ValidationError::duplicate("id_number", h).into());
                }
            }
            let kind = if old.status == RecordStatus::Active {
                MoveKind::Transfer
            } else {
                MoveKind::MoveIn
            };
            let mut next = old.clone();
            next.household_id = household_id.to_string();
            next.status = RecordStatus::Active;
            next.moved_in_on = Some(on);
            next.moved_out_on = None;
            let saved = save_changed(ctx, &old, next)?;
            record_move(ctx, id, kind, household_id, on, note)?;
            Ok(saved)
        })
    }

    /// Move history of a resident, oldest first.
    pub fn resident_moves(&self, resident_id: &str) -> Result<Vec<ResidentMove>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, resident_id, kind, household_id, on_date, note, created_at
                 FROM resident_moves WHERE resident_id = ?1 ORDER BY on_date, created_at",
            )?;
            let rows = stmt.query_map([resident_id], |r| {
                let on: String = r.get(4)?;
                Ok(ResidentMove {
                    id: r.get(0)?,
                    resident_id: r.get(1)?,
                    kind: r.get(2)?,
                    household_id: r.get(3)?,
                    on: parse_date(&on).unwrap_or_default(),
                    note: r.get(5)?,
                    recorded_at: from_ms(r.get(6)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
