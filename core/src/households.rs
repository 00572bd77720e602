//! Households: the door-to-door census unit (一户一档).
//!
//! Creates and edits go through one path ([`insert`], [`apply_patch`]) that validates, flags a
//! location outside the grid, stamps per-field clocks, writes the outbox row and refreshes the
//! search index — all in the caller's transaction. The ledger importer uses the same path, so
//! an imported row and a typed one are indistinguishable to sync.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::store::{from_ms, ms, Store, Tx, DIRTY_STATE};
use crate::{due, org, search, validate};

const SELECT: &str = "SELECT id, grid_code, community, building, unit, floor, room, address_text,
    housing_type, care_tier, tags, lat, lng, notes, status, outside_grid, created_at, updated_at,
    sync_state FROM households";

pub(crate) fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Household> {
    let tags: String = r.get(10)?;
    let lat: Option<f64> = r.get(11)?;
    let lng: Option<f64> = r.get(12)?;
    Ok(Household {
        id: r.get(0)?,
        grid_code: r.get(1)?,
        address: Address {
            community: r.get(2)?,
            building: r.get(3)?,
            unit: r.get(4)?,
            floor: r.get(5)?,
            room: r.get(6)?,
            text: r.get(7)?,
        },
        housing_type: r.get(8)?,
        care_tier: r.get(9)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        location: lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng }),
        notes: r.get(13)?,
        status: r.get(14)?,
        outside_grid: r.get(15)?,
        created_at: from_ms(r.get(16)?),
        updated_at: from_ms(r.get(17)?),
        sync_status: r.get(18)?,
    })
}

/// The syncable fields of a household as a flat JSON object (the wire and merge shape).
pub(crate) fn fields(h: &Household) -> Map<String, Value> {
    let v = json!({
        "grid_code": h.grid_code,
        "community": h.address.community,
        "building": h.address.building,
        "unit": h.address.unit,
        "floor": h.address.floor,
        "room": h.address.room,
        "address_text": h.address.text,
        "housing_type": h.housing_type.as_str(),
        "care_tier": h.care_tier.as_str(),
        "tags": h.tags,
        "lat": h.location.map(|p| p.lat),
        "lng": h.location.map(|p| p.lng),
        "notes": h.notes,
        "status": h.status.as_str(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn clean_address(a: &Address) -> Result<Address> {
    let community = validate::required("address.community", &a.community)?;
    let building = validate::required("address.building", &a.building)?;
    validate::max_chars("address.community", &community, 50)?;
    validate::max_chars("address.building", &building, 30)?;
    let unit = validate::optional_text(a.unit.as_deref());
    let room = validate::optional_text(a.room.as_deref());
    let text = validate::optional_text(a.text.as_deref());
    if let Some(u) = &unit {
        validate::max_chars("address.unit", u, 20)?;
    }
    if let Some(r) = &room {
        validate::max_chars("address.room", r, 20)?;
    }
    if let Some(t) = &text {
        validate::max_chars("address.text", t, 200)?;
    }
    if let Some(f) = a.floor {
        if !(-10..=200).contains(&f) {
            return Err(Error::invalid("address.floor", Code::OutOfRange));
        }
    }
    Ok(Address {
        community,
        building,
        unit,
        floor: a.floor,
        room,
        text,
    })
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        validate::max_chars("tags", t, 20)?;
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > 20 {
        return Err(Error::invalid("tags", Code::TooLong));
    }
    Ok(out)
}

fn clean_notes(field: &str, notes: Option<&str>) -> Result<Option<String>> {
    let n = validate::optional_text(notes);
    if let Some(n) = &n {
        validate::max_chars(field, n, 1000)?;
    }
    Ok(n)
}

/// Creates a household inside `ctx`.
pub fn insert(ctx: &mut Tx<'_>, input: &HouseholdInput) -> Result<Household> {
    org::require_unit(ctx.tx, "grid_code", &input.grid_code)?;
    let address = clean_address(&input.address)?;
    if let Some(p) = input.location {
        validate::coordinates("location", p)?;
    }
    let tags = clean_tags(&input.tags)?;
    let notes = clean_notes("notes", input.notes.as_deref())?;
    let outside_grid = org::outside_grid(ctx, &input.grid_code, input.location)?;
    let hlc = ctx.tick();
    let h = Household {
        id: new_id(),
        grid_code: input.grid_code.trim().to_string(),
        address,
        housing_type: input.housing_type,
        care_tier: input.care_tier,
        tags,
        location: input.location,
        notes,
        status: RecordStatus::Active,
        outside_grid,
        created_at: ctx.now,
        updated_at: ctx.now,
        sync_status: SyncStatus::LocalOnly,
    };
    let f = fields(&h);
    write_row(ctx, &h, &hlc, changes::NEW_RECORD_CLOCKS, true)?;
    changes::record(
        ctx,
        entity::HOUSEHOLD,
        &h.id,
        op::CREATE,
        &Value::Object(f),
        &hlc,
    )?;
    search::household_added(ctx, &h.id)?;
    due::household_added(ctx.tx, &ctx.settings, &h.id, h.care_tier, ms(h.created_at))?;
    Ok(h)
}

fn write_row(ctx: &Tx<'_>, h: &Household, hlc: &str, clocks: &str, new: bool) -> Result<()> {
    let tags = serde_json::to_string(&h.tags)?;
    let sql = if new {
        "INSERT INTO households (id, grid_code, community, building, unit, floor, room,
            address_text, housing_type, care_tier, tags, lat, lng, notes, status, outside_grid,
            created_at, updated_at, hlc, clocks)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20)"
            .to_string()
    } else {
        format!(
            "UPDATE households SET grid_code = ?2, community = ?3, building = ?4, unit = ?5,
                floor = ?6, room = ?7, address_text = ?8, housing_type = ?9, care_tier = ?10,
                tags = ?11, lat = ?12, lng = ?13, notes = ?14, status = ?15, outside_grid = ?16,
                created_at = ?17, updated_at = ?18, hlc = ?19, clocks = ?20,
                sync_state = {DIRTY_STATE}
             WHERE id = ?1"
        )
    };
    ctx.tx.prepare_cached(&sql)?.execute(params![
        h.id,
        h.grid_code,
        h.address.community,
        h.address.building,
        h.address.unit,
        h.address.floor,
        h.address.room,
        h.address.text,
        h.housing_type,
        h.care_tier,
        tags,
        h.location.map(|p| p.lat),
        h.location.map(|p| p.lng),
        h.notes,
        h.status,
        h.outside_grid,
        ms(h.created_at),
        ms(h.updated_at),
        hlc,
        clocks
    ])?;
    Ok(())
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Household> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_row)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "household",
            id: id.to_string(),
        })
}

/// Writes `next` over the stored household, recording only the fields that changed.
pub(crate) fn save_changed(
    ctx: &mut Tx<'_>,
    old: &Household,
    mut next: Household,
) -> Result<Household> {
    let changed = changes::diff_fields(&fields(old), &fields(&next));
    if changed.is_empty() {
        return Ok(old.clone());
    }
    let hlc = ctx.tick();
    let (clocks, row_hlc): (String, String) = ctx.tx.query_row(
        "SELECT clocks, hlc FROM households WHERE id = ?1",
        [&old.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let base = changes::base_clocks(&clocks, &changed, &row_hlc);
    let clocks = changes::bump_clocks(entity::HOUSEHOLD, &clocks, &row_hlc, &changed, &hlc)?;
    next.updated_at = ctx.now;
    write_row(ctx, &next, &hlc, &clocks, false)?;
    changes::record_with_base(
        ctx,
        entity::HOUSEHOLD,
        &next.id,
        op::UPDATE,
        &Value::Object(changed),
        &hlc,
        Some(&base),
    )?;
    search::household_changed(ctx, &next.id)?;
    if old.status != next.status || old.care_tier != next.care_tier {
        due::refresh(ctx.tx, &ctx.settings, &next.id)?;
    }
    get(ctx.tx, &next.id)
}

/// Applies a patch inside `ctx`.
pub fn apply_patch(ctx: &mut Tx<'_>, id: &str, patch: &HouseholdPatch) -> Result<Household> {
    let old = get(ctx.tx, id)?;
    let mut next = old.clone();
    if let Some(a) = &patch.address {
        next.address = clean_address(a)?;
    }
    if let Some(t) = patch.housing_type {
        next.housing_type = t;
    }
    if let Some(t) = patch.care_tier {
        next.care_tier = t;
    }
    if let Some(tags) = &patch.tags {
        next.tags = clean_tags(tags)?;
    }
    if let Some(loc) = patch.location {
        if let Some(p) = loc {
            validate::coordinates("location", p)?;
        }
        next.location = loc;
    }
    if let Some(n) = &patch.notes {
        next.notes = clean_notes("notes", n.as_deref())?;
    }
    next.outside_grid = org::outside_grid(ctx, &next.grid_code, next.location)?;
    save_changed(ctx, &old, next)
}

/// Filters for [`Store::list_households`].
#[derive(Debug, Clone, Default)]
pub struct HouseholdFilter {
    pub grid_code: Option<String>,
    pub care_tier: Option<CareTier>,
    /// Include moved-out and archived households.
    pub include_inactive: bool,
}

impl Store {
    /// Registers a new household.
    pub fn add_household(&self, input: &HouseholdInput) -> Result<Household> {
        self.write(|ctx| insert(ctx, input))
    }

    /// Edits some fields of a household.
    pub fn update_household(&self, id: &str, patch: &HouseholdPatch) -> Result<Household> {
        self.write(|ctx| apply_patch(ctx, id, patch))
    }

    /// Marks a household moved out (the whole family left) or archived. Never deletes.
    pub fn set_household_status(&self, id: &str, status: RecordStatus) -> Result<Household> {
        self.write(|ctx| {
            let old = get(ctx.tx, id)?;
            let mut next = old.clone();
            next.status = status;
            save_changed(ctx, &old, next)
        })
    }

    pub fn household(&self, id: &str) -> Result<Household> {
        self.read(|c| get(c, id))
    }

    /// Households ordered by address.
    pub fn list_households(&self, filter: &HouseholdFilter) -> Result<Vec<Household>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "{SELECT} WHERE (?1 IS NULL OR grid_code = ?1) AND (?2 IS NULL OR care_tier = ?2)
                   AND (?3 OR status = 'active')
                 ORDER BY community, building, unit, floor, room"
            ))?;
            let rows = stmt.query_map(
                params![filter.grid_code, filter.care_tier, filter.include_inactive],
                map_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
