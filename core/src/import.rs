//! Ledger import through the store: matching, updating, dry runs, and undo.
//!
//! [`crate::ledger`] turns a desk's CSV/GBK/xlsx file into checked rows; this module writes them
//! through the same insert and patch paths as the forms (so validation, duplicate ID checks,
//! change tracking and the search index are identical). The whole file is one transaction: a
//! row that fails is rolled back alone (a savepoint when it writes two records; a single write
//! checks everything before it changes anything) and reported with every reason; a storage
//! failure rolls back the whole import, so an import never half-happens. What makes it fast
//! (`benches/store.rs`, "ledger import"): statements prepared once and reused, savepoints only
//! where a row writes two records, and the search index written once per record at the end
//! (`search::defer`) instead of inside every row — FTS5 flushes its pending terms at each
//! savepoint it is part of.
//!
//! What a clerk can rely on:
//!
//! - **Re-import is idempotent and updating.** A row joins the household already on the device
//!   at the same address ([`ledger::household_key`]: community, building, unit, floor, room) and
//!   the resident already there — by ID number, or, without one, by household + name + birth
//!   date. What the sheet says differently becomes an *edit* (one outbox update with only the
//!   changed fields); what it says the same changes nothing; a blank cell never clears a saved
//!   value; notes are appended, never replaced. Importing the same file twice changes nothing.
//! - **Dry run.** [`ImportOptions::dry_run`] does everything inside a savepoint and rolls it
//!   back: the report is exact, the store unchanged.
//! - **Undo.** Every import that changed something gets an id; the rows it created and the
//!   values it replaced are journalled (local tables `ledger_imports`, `ledger_import_items`,
//!   never synced). [`Store::undo_import`] removes what it created (rows, search entries and
//!   their outbox rows) and restores what it edited — but only while none of its changes has
//!   left the device (its outbox rows are all still pending and unsent) and nothing recorded
//!   later builds on them; otherwise it refuses and changes nothing. The journal tables are
//!   part of the store's schema (version 4, `sql/upgrade_004.sql`, which keeps the journal a
//!   version-3 build created on its first import).
//! - **Rejected rows as a file** ([`ImportOutcome::rejected_file`]): the refused rows in the
//!   original's format with a reason column, to fix and import again.

use std::collections::{HashMap, HashSet};

use rusqlite::config::DbConfig;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::changes::entity;
use crate::error::{Code, Error, Result, ValidationError};
use crate::ledger::{self, FieldHint, LedgerContext, LedgerHousehold, LedgerResident, RowError};
use crate::model::*;
use crate::store::{from_ms, ms, Store, Tx};
use crate::{due, households, residents, search};

/// How to import a ledger.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Target grid: rows go here unless a 网格 column names another known grid.
    pub grid_code: String,
    /// Report what would happen without changing the store.
    #[serde(default)]
    pub dry_run: bool,
    /// Area code for 7-8 digit local landlines (`0953`); without it they are refused.
    #[serde(default)]
    pub area_code: Option<String>,
    /// Community for a sheet without a 社区 column; default: the target grid's community.
    #[serde(default)]
    pub community: Option<String>,
    /// The file's name, kept with the import for the list of imports.
    #[serde(default)]
    pub file_name: Option<String>,
}

impl ImportOptions {
    pub fn new(grid_code: &str) -> ImportOptions {
        ImportOptions {
            grid_code: grid_code.to_owned(),
            ..Default::default()
        }
    }
}

/// What an import did (or, in a dry run, would do), row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Text encoding detected (`utf-8`, `gbk`, or `xlsx`).
    pub encoding: String,
    /// Data rows read (blank rows not counted).
    pub rows_total: usize,
    /// Rows imported: created, updated or already up to date.
    #[serde(default)]
    pub rows_accepted: usize,
    pub households_created: usize,
    /// Households already on the device (same address) that rows joined.
    pub households_matched: usize,
    /// Households already on the device whose fields the sheet changed.
    #[serde(default)]
    pub households_updated: usize,
    pub residents_created: usize,
    /// Residents already on the device whose fields the sheet changed (an edit each).
    #[serde(default)]
    pub residents_updated: usize,
    /// Residents already on the device exactly as the sheet says.
    #[serde(default)]
    pub residents_unchanged: usize,
    /// Rejected rows with every reason (field + code, and hints); nothing of them was saved.
    pub rejected: Vec<RejectedRow>,
    /// Column headers that were not understood.
    pub ignored_columns: Vec<String>,
    /// Blank cells filled from the row above (merged cells).
    #[serde(default)]
    pub filled_cells: usize,
    /// 15-digit ID numbers converted to 18 digits.
    #[serde(default)]
    pub ids_converted: usize,
    /// Rows whose notes got what has no field of its own (desk words, more phones, month-only
    /// dates).
    #[serde(default)]
    pub rows_with_notes: usize,
    /// Nothing was written.
    #[serde(default)]
    pub dry_run: bool,
    /// Id to undo this import with; `None` when nothing changed (or in a dry run).
    #[serde(default)]
    pub import_id: Option<String>,
}

/// A ledger row that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Line (CSV) or row (xlsx) number in the file; the header is line 1.
    pub line: usize,
    pub errors: Vec<ValidationError>,
    /// Allowed values or what to do, per field (fixed texts, no cell values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<FieldHint>,
}

impl From<RowError> for RejectedRow {
    fn from(r: RowError) -> Self {
        RejectedRow {
            line: r.line,
            errors: r.errors,
            hints: r.hints,
        }
    }
}

impl RejectedRow {
    /// Every reason as one line, Chinese first (no cell values).
    pub fn reason(&self) -> String {
        ledger::reason_text(&self.errors, &self.hints)
    }
}

/// The report and, when rows were refused, the file of refused rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    pub report: ImportReport,
    pub rejected_file: Option<ledger::RejectedFile>,
}

/// One import in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerImport {
    pub id: String,
    pub grid_code: String,
    pub file_name: Option<String>,
    pub imported_at: chrono::DateTime<chrono::Utc>,
    pub rows_accepted: usize,
    pub rows_rejected: usize,
    /// Records created / edited.
    pub created: usize,
    pub updated: usize,
    pub undone_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoReport {
    pub import_id: String,
    pub households_removed: usize,
    pub residents_removed: usize,
    pub households_restored: usize,
    pub residents_restored: usize,
    /// Outbox rows removed (the changes that will now never be sent).
    pub changes_withdrawn: usize,
}

/// Households of one place, for matching: exact key → id, and key without floor → (floor, id).
#[derive(Default)]
struct Places {
    exact: HashMap<String, String>,
    loose: HashMap<String, Vec<(Option<i32>, String)>>,
}

impl Places {
    fn add(&mut self, a: &Address, id: &str) {
        self.exact
            .entry(ledger::household_key(a))
            .or_insert_with(|| id.to_owned());
        self.loose
            .entry(ledger::household_key_without_floor(a))
            .or_default()
            .push((a.floor, id.to_owned()));
    }

    /// Forgets a household created by a row that was rolled back.
    fn remove(&mut self, id: &str) {
        self.exact.retain(|_, v| v != id);
        for list in self.loose.values_mut() {
            list.retain(|(_, v)| v != id);
        }
    }

    /// The household at this address: the same key; or, with a room, the only household at the
    /// same place whose floor is unknown on one side.
    fn find(&self, a: &Address) -> Option<String> {
        if let Some(id) = self.exact.get(&ledger::household_key(a)) {
            return Some(id.clone());
        }
        if a.room.as_deref().is_none_or(str::is_empty) {
            return None;
        }
        let same_place = self.loose.get(&ledger::household_key_without_floor(a))?;
        let candidates: Vec<&String> = same_place
            .iter()
            .filter(|(floor, _)| a.floor.is_none() || floor.is_none())
            .map(|(_, id)| id)
            .collect();
        match (candidates.as_slice(), same_place.len()) {
            ([only], 1) => Some((*only).clone()),
            _ => None,
        }
    }
}

fn load_places(ctx: &Tx<'_>) -> Result<Places> {
    let mut stmt = ctx.tx.prepare_cached(
        "SELECT id, community, building, unit, floor, room FROM households
         WHERE status = 'active' ORDER BY created_at",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Address {
                community: r.get(1)?,
                building: r.get(2)?,
                unit: r.get(3)?,
                floor: r.get(4)?,
                room: r.get(5)?,
                text: None,
            },
        ))
    })?;
    let mut places = Places::default();
    for row in rows {
        let (id, a) = row?;
        places.add(&a, &id);
    }
    Ok(places)
}

/// What one row did.
#[derive(Default, Clone, Copy)]
struct RowOutcome {
    household_created: bool,
    household_matched: bool,
    household_updated: bool,
    resident_created: bool,
    resident_updated: bool,
    resident_unchanged: bool,
}

/// The running import: journal and per-file state.
struct Run {
    import_id: String,
    /// Households of this file by [`ledger::ParsedRow::group`], with the first row's fields.
    groups: HashMap<String, (String, LedgerHousehold)>,
    places: Places,
    /// Records journalled in this import (created or snapshotted before their first edit).
    journalled: HashSet<String>,
}

impl Run {
    /// The row of a record as it is before this import first edits it (`None` when this import
    /// already journalled it). Read before the edit, written by [`Run::journal`] after it, so
    /// an edit that is refused leaves no journal line behind.
    fn before_edit(&self, ctx: &Tx<'_>, kind: &str, id: &str) -> Result<Option<String>> {
        if self.journalled.contains(id) {
            return Ok(None);
        }
        Ok(Some(serde_json::to_string(&snapshot(
            ctx,
            table_of(kind),
            id,
        )?)?))
    }

    /// Journals a record this import created (`before` = `None`) or edited for the first time.
    fn journal(
        &mut self,
        ctx: &Tx<'_>,
        kind: &str,
        id: &str,
        before: Option<String>,
        touched: &mut Vec<String>,
    ) -> Result<()> {
        if self.journalled.contains(id) {
            return Ok(());
        }
        let action = if before.is_some() { "update" } else { "create" };
        ctx.tx
            .prepare_cached(
                "INSERT INTO ledger_import_items (import_id, entity, entity_id, action, before)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![self.import_id, kind, id, action, before])?;
        self.journalled.insert(id.to_owned());
        touched.push(id.to_owned());
        Ok(())
    }

    /// Imports one row (inside the caller's savepoint when it writes two records).
    fn row(
        &mut self,
        ctx: &mut Tx<'_>,
        row: &ledger::ParsedRow,
        touched: &mut Vec<String>,
        new_groups: &mut Vec<String>,
        new_places: &mut Vec<String>,
    ) -> Result<RowOutcome> {
        let mut out = RowOutcome::default();
        let lh = &row.household;
        let hid = match self.groups.get(&row.group) {
            Some((id, first)) => {
                conflicts_with_first(first, lh)?;
                id.clone()
            }
            None => {
                let id = match self.places.find(&lh.address) {
                    Some(id) => {
                        out.household_matched = true;
                        out.household_updated = self.update_household(ctx, &id, lh, touched)?;
                        id
                    }
                    None => {
                        let h = households::insert(ctx, &lh.to_input())?;
                        self.journal(ctx, entity::HOUSEHOLD, &h.id, None, touched)?;
                        self.places.add(&h.address, &h.id);
                        new_places.push(h.id.clone());
                        out.household_created = true;
                        h.id
                    }
                };
                self.groups
                    .insert(row.group.clone(), (id.clone(), lh.clone()));
                new_groups.push(row.group.clone());
                id
            }
        };
        if let Some(lr) = &row.resident {
            match find_resident(ctx, &hid, lr)? {
                Some(old) => {
                    let patch = resident_patch(&old, lr);
                    if patch == ResidentPatch::default() {
                        out.resident_unchanged = true;
                    } else {
                        let before = self.before_edit(ctx, entity::RESIDENT, &old.id)?;
                        residents::apply_patch(ctx, &old.id, &patch)?;
                        self.journal(ctx, entity::RESIDENT, &old.id, before, touched)?;
                        out.resident_updated = true;
                    }
                }
                None => {
                    let r = residents::insert(ctx, &lr.to_input(&hid))?;
                    self.journal(ctx, entity::RESIDENT, &r.id, None, touched)?;
                    out.resident_created = true;
                }
            }
        }
        Ok(out)
    }

    /// Applies what the sheet says differently about a household already on the device.
    fn update_household(
        &mut self,
        ctx: &mut Tx<'_>,
        id: &str,
        lh: &LedgerHousehold,
        touched: &mut Vec<String>,
    ) -> Result<bool> {
        let old = households::get(ctx.tx, id)?;
        let mut patch = HouseholdPatch::default();
        let mut address = old.address.clone();
        if address.floor.is_none() && lh.address.floor.is_some() {
            address.floor = lh.address.floor;
        }
        if lh.address.text.is_some() && lh.address.text != address.text {
            address.text.clone_from(&lh.address.text);
        }
        if address != old.address {
            patch.address = Some(address);
        }
        if let Some(t) = lh.housing_type.filter(|t| *t != old.housing_type) {
            patch.housing_type = Some(t);
        }
        if let Some(t) = lh.care_tier.filter(|t| *t != old.care_tier) {
            patch.care_tier = Some(t);
        }
        if !lh.tags.is_empty() && !same_set(&lh.tags, &old.tags) {
            patch.tags = Some(lh.tags.clone());
        }
        if lh.location.is_some() && lh.location != old.location {
            patch.location = Some(lh.location);
        }
        if let Some(n) = appended(old.notes.as_deref(), lh.notes.as_deref()) {
            patch.notes = Some(Some(n));
        }
        if patch == HouseholdPatch::default() {
            return Ok(false);
        }
        let before = self.before_edit(ctx, entity::HOUSEHOLD, id)?;
        households::apply_patch(ctx, id, &patch)?;
        self.journal(ctx, entity::HOUSEHOLD, id, before, touched)?;
        Ok(true)
    }
}

/// A later row of the same household may repeat its fields, not contradict them.
fn conflicts_with_first(first: &LedgerHousehold, lh: &LedgerHousehold) -> Result<()> {
    let differs = |a: Option<String>, b: Option<String>| a.is_some() && b.is_some() && a != b;
    let checks = [
        (
            "housing_type",
            differs(
                first.housing_type.map(|t| t.as_str().to_owned()),
                lh.housing_type.map(|t| t.as_str().to_owned()),
            ),
        ),
        (
            "care_tier",
            differs(
                first.care_tier.map(|t| t.as_str().to_owned()),
                lh.care_tier.map(|t| t.as_str().to_owned()),
            ),
        ),
        (
            "location.lat",
            differs(
                first.location.map(|p| format!("{p:?}")),
                lh.location.map(|p| format!("{p:?}")),
            ),
        ),
    ];
    match checks.iter().find(|(_, bad)| *bad) {
        Some((field, _)) => Err(Error::invalid(*field, Code::Mismatch)),
        None => Ok(()),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: HashSet<&String> = a.iter().collect();
    let b: HashSet<&String> = b.iter().collect();
    a == b
}

/// Notes after an import: the saved notes with the sheet's appended, unless already there.
fn appended(saved: Option<&str>, sheet: Option<&str>) -> Option<String> {
    let sheet = sheet.map(str::trim).filter(|s| !s.is_empty())?;
    match saved.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.contains(sheet) => None,
        Some(s) => Some(format!("{s}；{sheet}")),
        None => Some(sheet.to_owned()),
    }
}

fn norm_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The resident a row names: by ID number (in this household; in another one it is a
/// duplicate), else by name in this household with a compatible birth date.
fn find_resident(ctx: &Tx<'_>, hid: &str, lr: &LedgerResident) -> Result<Option<Resident>> {
    if let Some(number) = &lr.id_number {
        let holder: Option<(String, String)> = ctx
            .tx
            .prepare_cached(
                "SELECT id, household_id FROM residents
                 WHERE id_number = ?1 AND status = 'active' LIMIT 1",
            )?
            .query_row([number], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match holder {
            Some((id, h)) if h == hid => return Ok(Some(residents::get(ctx.tx, &id)?)),
            Some((_, h)) => return Err(ValidationError::duplicate("id_number", h).into()),
            None => {}
        }
    }
    let mut stmt = ctx.tx.prepare_cached(
        "SELECT id, name, id_number, birth_date FROM residents
         WHERE household_id = ?1 AND status = 'active' ORDER BY created_at",
    )?;
    let rows = stmt
        .query_map([hid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?.is_some(),
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let name = norm_name(&lr.name);
    let mut same_name = Vec::new();
    for (id, rname, has_id, birth) in rows {
        // Someone with another ID number is another person of the same name.
        if norm_name(&rname) != name || (lr.id_number.is_some() && has_id) {
            continue;
        }
        let birth = birth.as_deref().and_then(crate::store::parse_date);
        let birth_ok = match (lr.birth_date, birth) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if birth_ok {
            same_name.push(residents::get(ctx.tx, &id)?);
        }
    }
    match same_name.len() {
        0 => Ok(None),
        1 => Ok(same_name.pop()),
        _ => {
            // Prefer the one whose birth date the sheet names exactly.
            let exact: Vec<Resident> = same_name
                .into_iter()
                .filter(|r| lr.birth_date.is_some() && r.birth_date == lr.birth_date)
                .collect();
            match <[Resident; 1]>::try_from(exact) {
                Ok([one]) => Ok(Some(one)),
                Err(_) => Err(Error::invalid("name", Code::Duplicate)),
            }
        }
    }
}

/// What the sheet says differently about a resident (blank cells change nothing).
fn resident_patch(old: &Resident, lr: &LedgerResident) -> ResidentPatch {
    let mut p = ResidentPatch::default();
    if lr.id_number.is_some() && old.id_number.is_none() {
        p.id_number = Some(lr.id_number.clone());
    }
    if lr.phone.is_some() && lr.phone != old.phone {
        p.phone = Some(lr.phone.clone());
    }
    if old.id_number.is_none() && lr.id_number.is_none() {
        if lr.gender.is_some() && lr.gender != old.gender {
            p.gender = Some(lr.gender);
        }
        if lr.birth_date.is_some() && lr.birth_date != old.birth_date {
            p.birth_date = Some(lr.birth_date);
        }
    }
    if let Some(r) = lr.relation.filter(|r| *r != old.relation) {
        p.relation = Some(r);
    }
    if let Some(r) = lr.residency.filter(|r| *r != old.residency) {
        p.residency = Some(r);
    }
    if let Some(g) = &lr.special_groups {
        let mut g = g.clone();
        g.sort();
        g.dedup();
        let mut o = old.special_groups.clone();
        o.sort();
        if g != o && !g.is_empty() {
            p.special_groups = Some(g);
        }
    }
    if let Some(n) = appended(old.notes.as_deref(), lr.notes.as_deref()) {
        p.notes = Some(Some(n));
    }
    p
}

fn table_of(kind: &str) -> &'static str {
    match kind {
        entity::HOUSEHOLD => "households",
        _ => "residents",
    }
}

/// Every column of a row, as JSON (`{"column": value}`), to restore on undo.
fn snapshot(ctx: &Tx<'_>, table: &str, id: &str) -> Result<Map<String, Value>> {
    let mut stmt = ctx
        .tx
        .prepare_cached(&format!("SELECT * FROM {table} WHERE id = ?1"))?;
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let row = stmt
        .query_row([id], |r| {
            let mut m = Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match r.get::<_, SqlValue>(i)? {
                    SqlValue::Null => Value::Null,
                    SqlValue::Integer(n) => Value::from(n),
                    SqlValue::Real(f) => serde_json::json!({ "real": f }),
                    SqlValue::Text(s) => Value::String(s),
                    SqlValue::Blob(b) => serde_json::json!({ "blob": b }),
                };
                m.insert(name.clone(), v);
            }
            Ok(m)
        })
        .optional()?;
    row.ok_or_else(|| Error::NotFound {
        entity: "record",
        id: id.to_owned(),
    })
}

fn restore(ctx: &Tx<'_>, table: &str, id: &str, before: &Map<String, Value>) -> Result<()> {
    let mut sets = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    for (name, v) in before {
        if name == "id" || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = match v {
            Value::Null => SqlValue::Null,
            Value::Number(n) => SqlValue::Integer(n.as_i64().unwrap_or_default()),
            Value::String(s) => SqlValue::Text(s.clone()),
            Value::Object(o) => match (o.get("real"), o.get("blob")) {
                (Some(f), _) => SqlValue::Real(f.as_f64().unwrap_or_default()),
                (_, Some(b)) => SqlValue::Blob(serde_json::from_value(b.clone())?),
                _ => SqlValue::Null,
            },
            _ => SqlValue::Null,
        };
        values.push(value);
        sets.push(format!("{name} = ?{}", values.len()));
    }
    values.push(SqlValue::Text(id.to_owned()));
    let sql = format!(
        "UPDATE {table} SET {} WHERE id = ?{}",
        sets.join(", "),
        values.len()
    );
    ctx.tx.execute(&sql, params_from_iter(values))?;
    Ok(())
}

fn max_outbox_seq(ctx: &Tx<'_>) -> Result<i64> {
    Ok(ctx
        .tx
        .query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?)
}

impl Store {
    /// Imports a household ledger (CSV in UTF-8 or GBK, or .xlsx) into `grid_code`.
    pub fn import_ledger(&self, bytes: &[u8], grid_code: &str) -> Result<ImportReport> {
        Ok(self
            .import_ledger_with(bytes, &ImportOptions::new(grid_code))?
            .report)
    }

    /// The community of a grid (its parent in the org tree), else read from its name
    /// (`幸福社区第1网格` → `幸福社区`).
    fn community_of_grid(&self, grid_code: &str) -> Result<Option<String>> {
        let unit = self.org_unit(grid_code)?;
        if let Some(parent) = &unit.parent_code {
            if let Ok(p) = self.org_unit(parent) {
                if p.level == GridLevel::Community && !p.name.trim().is_empty() {
                    return Ok(Some(p.name));
                }
            }
        }
        Ok(["社区", "村"].iter().find_map(|m| {
            unit.name
                .find(m)
                .map(|i| unit.name[..i + m.len()].to_string())
                .filter(|c| c.chars().count() > m.chars().count())
        }))
    }

    /// Imports a ledger with options: dry run, area code, community; returns the report and
    /// the file of refused rows.
    pub fn import_ledger_with(&self, bytes: &[u8], opts: &ImportOptions) -> Result<ImportOutcome> {
        if let Some(area) = &opts.area_code {
            let ok = area.starts_with('0')
                && (3..=4).contains(&area.len())
                && area.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return Err(Error::invalid("area_code", Code::InvalidFormat));
            }
        }
        self.read(|c| crate::org::require_unit(c, "grid_code", &opts.grid_code))?;
        let community = match &opts.community {
            Some(c) if !c.trim().is_empty() => Some(c.trim().to_owned()),
            _ => self.community_of_grid(&opts.grid_code)?,
        };
        let grids = self
            .org_units()?
            .into_iter()
            .filter(|u| u.level == GridLevel::Grid)
            .map(|u| (u.code, u.name))
            .collect();
        let today = self.settings()?.local_date(self.now());
        let ctx = LedgerContext {
            grid_code: opts.grid_code.clone(),
            community,
            grids,
            area_code: opts.area_code.clone(),
            today,
        };
        let parsed = ledger::parse_ledger(bytes, &ctx)?;
        let rows_total = parsed.rows.len() + parsed.rejected.len();
        let mut rejected: Vec<RejectedRow> =
            parsed.rejected.iter().cloned().map(Into::into).collect();

        // For the import's duration, then as they were: savepoints journal the pages they
        // change in memory (a few hundred KB) instead of a temporary file (≈17 writes a row);
        // the query planner keeps its plans (QPSG), since SQLite otherwise prepares some
        // statements again for every new bound value (the household's residents, per row).
        let (temp_store, qpsg) = self.read(|c| {
            let temp: i64 = c.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
            let qpsg = c.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?;
            c.pragma_update(None, "temp_store", "MEMORY")?;
            c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
            Ok((temp, qpsg))
        })?;
        let written = self.write(|tx| {
            tx.tx.execute_batch("SAVEPOINT ledger_import")?;
            search::defer(tx);
            let outbox_from = max_outbox_seq(tx)?;
            let mut run = Run {
                import_id: new_id(),
                groups: HashMap::new(),
                places: load_places(tx)?,
                journalled: HashSet::new(),
            };
            let mut counts = [0usize; 6];
            let mut accepted = 0usize;
            for row in &parsed.rows {
                // A row writes at most two records: its household (the first row of a group)
                // and its resident. Each write checks everything before it changes anything, so
                // only a row that writes both needs a savepoint to take the first back when the
                // second is refused; the others either write one record or nothing.
                let savepoint = row.resident.is_some() && !run.groups.contains_key(&row.group);
                if savepoint {
                    tx.tx.prepare_cached("SAVEPOINT import_row")?.execute([])?;
                }
                let mut touched = Vec::new();
                let mut new_groups = Vec::new();
                let mut new_places = Vec::new();
                match run.row(tx, row, &mut touched, &mut new_groups, &mut new_places) {
                    Ok(o) => {
                        if savepoint {
                            tx.tx.prepare_cached("RELEASE import_row")?.execute([])?;
                        }
                        accepted += 1;
                        for (i, flag) in [
                            o.household_created,
                            o.household_matched,
                            o.household_updated,
                            o.resident_created,
                            o.resident_updated,
                            o.resident_unchanged,
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            counts[i] += usize::from(flag);
                        }
                    }
                    Err(Error::Validation(v)) => {
                        if savepoint {
                            tx.tx.prepare_cached("ROLLBACK TO import_row")?.execute([])?;
                            tx.tx.prepare_cached("RELEASE import_row")?.execute([])?;
                        }
                        // Forget what the rolled-back row added to the run.
                        for id in &touched {
                            run.journalled.remove(id);
                        }
                        for g in &new_groups {
                            run.groups.remove(g);
                        }
                        for id in &new_places {
                            run.places.remove(id);
                        }
                        let hints = match v.code {
                            Code::Duplicate if v.field == "id_number" => vec![FieldHint {
                                field: v.field.clone(),
                                zh: "另一户已登记此身份证号：人已搬家请先在原户迁出".into(),
                                en: "another household holds this ID number: move the person out there first".into(),
                            }],
                            Code::Duplicate => vec![FieldHint {
                                field: v.field.clone(),
                                zh: "本户有多名同名居民：请填写身份证号或出生日期以区分".into(),
                                en: "several residents of this household share the name: give the ID number or birth date".into(),
                            }],
                            _ => Vec::new(),
                        };
                        rejected.push(RejectedRow {
                            line: row.line,
                            errors: vec![v],
                            hints,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            // The search entries of every record written, once each, inside the import's
            // savepoint (a dry run takes them back with the rest).
            search::flush_deferred(tx)?;
            let outbox_to = max_outbox_seq(tx)?;
            let outbox_rows: i64 = tx.tx.query_row(
                "SELECT count(*) FROM outbox WHERE seq > ?1 AND seq <= ?2",
                params![outbox_from, outbox_to],
                |r| r.get(0),
            )?;
            rejected.sort_by_key(|r| r.line);
            let changed = !run.journalled.is_empty();
            let import_id = (changed && !opts.dry_run).then(|| run.import_id.clone());
            if let Some(id) = &import_id {
                tx.tx.execute(
                    "INSERT INTO ledger_imports (id, grid_code, file_name, imported_at,
                        rows_accepted, rows_rejected, outbox_from, outbox_to, outbox_rows)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        id,
                        opts.grid_code,
                        opts.file_name,
                        ms(tx.now),
                        accepted as i64,
                        rejected.len() as i64,
                        outbox_from,
                        outbox_to,
                        outbox_rows
                    ],
                )?;
            }
            if opts.dry_run {
                tx.tx
                    .execute_batch("ROLLBACK TO ledger_import; RELEASE ledger_import")?;
            } else {
                tx.tx.execute_batch("RELEASE ledger_import")?;
            }
            Ok(ImportReport {
                encoding: parsed.encoding.to_string(),
                rows_total,
                rows_accepted: accepted,
                households_created: counts[0],
                households_matched: counts[1],
                households_updated: counts[2],
                residents_created: counts[3],
                residents_updated: counts[4],
                residents_unchanged: counts[5],
                rejected: rejected.clone(),
                ignored_columns: parsed.ignored_columns.clone(),
                filled_cells: parsed.filled_cells,
                ids_converted: parsed.ids_converted,
                rows_with_notes: parsed.rows_with_notes,
                dry_run: opts.dry_run,
                import_id,
            })
        });
        self.read(|c| {
            c.pragma_update(None, "temp_store", temp_store)?;
            c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, qpsg)?;
            Ok(())
        })?;
        let report = written?;
        let rejected_file = (!report.rejected.is_empty()).then(|| {
            let reasons: Vec<(usize, String)> = report
                .rejected
                .iter()
                .map(|r| (r.line, r.reason()))
                .collect();
            ledger::rejected_file(&parsed, &reasons)
        });
        Ok(ImportOutcome {
            report,
            rejected_file,
        })
    }

    /// The journal of imports, newest first.
    pub fn ledger_imports(&self) -> Result<Vec<LedgerImport>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT i.id, i.grid_code, i.file_name, i.imported_at, i.rows_accepted,
                        i.rows_rejected, i.undone_at,
                        (SELECT count(*) FROM ledger_import_items t
                          WHERE t.import_id = i.id AND t.action = 'create'),
                        (SELECT count(*) FROM ledger_import_items t
                          WHERE t.import_id = i.id AND t.action = 'update')
                 FROM ledger_imports i ORDER BY i.imported_at DESC, i.id DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                let count = |i: usize| r.get::<_, i64>(i).map(|n| usize::try_from(n).unwrap_or(0));
                Ok(LedgerImport {
                    id: r.get(0)?,
                    grid_code: r.get(1)?,
                    file_name: r.get(2)?,
                    imported_at: from_ms(r.get(3)?),
                    rows_accepted: count(4)?,
                    rows_rejected: count(5)?,
                    undone_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
                    created: count(7)?,
                    updated: count(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Undoes an import while none of its changes has left the device: removes the records it
    /// created and restores the ones it edited. Refuses ([`Error::InvalidState`]) once any of
    /// its changes was sent (or acknowledged), or when later work builds on what it created or
    /// edited; then nothing is changed.
    pub fn undo_import(&self, import_id: &str) -> Result<UndoReport> {
        self.write(|ctx| {
            let refuse = |state: &str| Error::InvalidState {
                entity: "import",
                id: import_id.to_owned(),
                state: state.to_owned(),
                action: "undo",
            };
            let found: Option<(i64, i64, i64, Option<i64>)> = ctx
                .tx
                .query_row(
                    "SELECT outbox_from, outbox_to, outbox_rows, undone_at FROM ledger_imports
                     WHERE id = ?1",
                    [import_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((from, to, rows, undone)) = found else {
                return Err(Error::NotFound {
                    entity: "import",
                    id: import_id.to_owned(),
                });
            };
            if undone.is_some() {
                return Err(refuse("已撤销 / already undone"));
            }
            // Every change of the import is still in the outbox, never sent, never refused.
            let unsent: i64 = ctx.tx.query_row(
                "SELECT count(*) FROM outbox WHERE seq > ?1 AND seq <= ?2
                   AND state = 'pending' AND attempts = 0",
                params![from, to],
                |r| r.get(0),
            )?;
            if unsent != rows {
                return Err(refuse("已开始同步 / its changes have been sent"));
            }

            let items: Vec<(String, String, String, Option<String>)> = {
                let mut stmt = ctx.tx.prepare(
                    "SELECT entity, entity_id, action, before FROM ledger_import_items
                     WHERE import_id = ?1",
                )?;
                let rows = stmt.query_map([import_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            ctx.tx.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS undo_ids (id TEXT PRIMARY KEY, kind TEXT NOT NULL);
                 DELETE FROM temp.undo_ids;",
            )?;
            for (kind, id, action, _) in &items {
                let k = format!("{kind}:{action}");
                ctx.tx.execute(
                    "INSERT OR IGNORE INTO temp.undo_ids (id, kind) VALUES (?1, ?2)",
                    params![id, k],
                )?;
            }
            // The moves the import recorded for the residents it created (in its outbox range).
            ctx.tx.execute(
                "INSERT OR IGNORE INTO temp.undo_ids (id, kind)
                 SELECT entity_id, 'resident_move:create' FROM outbox
                 WHERE seq > ?1 AND seq <= ?2 AND entity = 'resident_move'",
                params![from, to],
            )?;
            // Nothing recorded later may build on what the import touched.
            let later: i64 = ctx.tx.query_row(
                "SELECT
                   (SELECT count(*) FROM outbox WHERE seq > ?1
                      AND entity_id IN (SELECT id FROM temp.undo_ids))
                 + (SELECT count(*) FROM residents WHERE household_id IN
                      (SELECT id FROM temp.undo_ids WHERE kind = 'household:create')
                      AND id NOT IN (SELECT id FROM temp.undo_ids))
                 + (SELECT count(*) FROM visits WHERE household_id IN
                      (SELECT id FROM temp.undo_ids WHERE kind = 'household:create'))
                 + (SELECT count(*) FROM cases WHERE household_id IN
                      (SELECT id FROM temp.undo_ids WHERE kind = 'household:create'))
                 + (SELECT count(*) FROM tasks WHERE target_id IN
                      (SELECT id FROM temp.undo_ids WHERE kind LIKE '%:create'))
                 + (SELECT count(*) FROM resident_moves WHERE resident_id IN
                      (SELECT id FROM temp.undo_ids WHERE kind = 'resident:create')
                      AND id NOT IN (SELECT id FROM temp.undo_ids))",
                [to],
                |r| r.get(0),
            )?;
            if later > 0 {
                return Err(refuse("之后已有新的记录或修改 / later work builds on it"));
            }

            let withdrawn = ctx.tx.execute(
                "DELETE FROM outbox WHERE seq > ?1 AND seq <= ?2",
                params![from, to],
            )?;
            ctx.tx.execute(
                "DELETE FROM resident_moves WHERE id IN
                   (SELECT id FROM temp.undo_ids WHERE kind = 'resident_move:create')",
                [],
            )?;
            let mut report = UndoReport {
                import_id: import_id.to_owned(),
                households_removed: 0,
                residents_removed: 0,
                households_restored: 0,
                residents_restored: 0,
                changes_withdrawn: withdrawn,
            };
            // Residents before households (they point at them).
            let mut ordered: Vec<&(String, String, String, Option<String>)> =
                items.iter().collect();
            ordered.sort_by_key(|(kind, _, _, _)| kind != entity::RESIDENT);
            for (kind, id, action, before) in ordered {
                let table = table_of(kind);
                match (action.as_str(), before) {
                    ("create", _) => {
                        search::unindex(ctx.tx, id)?;
                        ctx.tx
                            .execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
                        if kind == entity::HOUSEHOLD {
                            due::refresh(ctx.tx, &ctx.settings, id)?;
                            report.households_removed += 1;
                        } else {
                            report.residents_removed += 1;
                        }
                    }
                    (_, Some(before)) => {
                        let before: Map<String, Value> = serde_json::from_str(before)?;
                        restore(ctx, table, id, &before)?;
                        if kind == entity::HOUSEHOLD {
                            search::index_household(ctx.tx, id)?;
                            due::refresh(ctx.tx, &ctx.settings, id)?;
                            report.households_restored += 1;
                        } else {
                            search::index_resident(ctx.tx, id)?;
                            report.residents_restored += 1;
                        }
                    }
                    _ => {}
                }
            }
            ctx.tx.execute(
                "UPDATE ledger_imports SET undone_at = ?2 WHERE id = ?1",
                params![import_id, ms(ctx.now)],
            )?;
            ctx.tx.execute_batch("DELETE FROM temp.undo_ids")?;
            Ok(report)
        })
    }
}
