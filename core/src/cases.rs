//! Cases (事件): hazards and problems a worker finds, drafted on the phone and submitted into
//! the closed loop (发现上报 → 指挥派遣 → 处置反馈 → 任务核查 → 评价考核 → 结单归档).
//!
//! On the device a case is a draft until the worker submits it; after that its status only
//! changes when the server's state machine says so (sync writes those as timeline events).
//! Every step is kept in a local timeline. Category codes are stable: two digits for the six
//! top-level categories of the domain, two more for the sub-type (documented in
//! `docs/case-categories.md`). Photos go through the pipeline in `photos.rs` (decoded,
//! oriented, downscaled, re-encoded without EXIF, stored under their SHA-256 atomically);
//! this module only decides when a case's photo records ship: with the case, on submit.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::photos::{self, PhotoOwner};
use crate::store::{from_ms, ms, Store, Tx, DIRTY_STATE};
use crate::{org, validate};

pub use gridwalk_domain::taxonomy::{case_type, category_of, CaseType, CASE_TYPES, CATEGORIES};

const SELECT: &str = "SELECT id, category_code, type_code, urgency, description, lat, lng,
    address, grid_code, outside_grid, household_id, patrol_id, reporter, status, created_at,
    submitted_at, updated_at, sync_state FROM cases";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Case> {
    let lat: Option<f64> = r.get(5)?;
    let lng: Option<f64> = r.get(6)?;
    Ok(Case {
        id: r.get(0)?,
        category_code: r.get(1)?,
        type_code: r.get(2)?,
        urgency: r.get(3)?,
        description: r.get(4)?,
        location: lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng }),
        address: r.get(7)?,
        grid_code: r.get(8)?,
        outside_grid: r.get(9)?,
        household_id: r.get(10)?,
        patrol_id: r.get(11)?,
        reporter: r.get(12)?,
        status: r.get(13)?,
        created_at: from_ms(r.get(14)?),
        submitted_at: r.get::<_, Option<i64>>(15)?.map(from_ms),
        updated_at: from_ms(r.get(16)?),
        photos: Vec::new(),
        events: Vec::new(),
        sync_status: r.get(17)?,
    })
}

pub(crate) fn photos_of(conn: &Connection, kind: &str, owner: &str) -> Result<Vec<PhotoMeta>> {
    photos::list_for(conn, kind, owner)
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Case> {
    let mut c = conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_row)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "case",
            id: id.to_string(),
        })?;
    c.photos = photos_of(conn, "case", id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, case_id, kind, at, status, note FROM case_events WHERE case_id = ?1
         ORDER BY at, id",
    )?;
    c.events = stmt
        .query_map([id], |r| {
            Ok(CaseEvent {
                id: r.get(0)?,
                case_id: r.get(1)?,
                kind: r.get(2)?,
                at: from_ms(r.get(3)?),
                status: r.get(4)?,
                note: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(c)
}

/// Adds a timeline event. Events of a draft stay local; they ship when the case is submitted.
pub(crate) fn add_event(
    ctx: &mut Tx<'_>,
    case_id: &str,
    kind: CaseEventKind,
    status: Option<CaseStatus>,
    ship: bool,
) -> Result<()> {
    let hlc = ctx.tick();
    let id = new_id();
    ctx.tx
        .prepare_cached(
            "INSERT INTO case_events (id, case_id, kind, at, status, note, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
        )?
        .execute(params![id, case_id, kind, ms(ctx.now), status, hlc])?;
    if ship {
        let e = CaseEvent {
            id,
            case_id: case_id.to_string(),
            kind,
            at: ctx.now,
            status,
            note: None,
        };
        ship_event(ctx, &e, &hlc)?;
    }
    Ok(())
}

fn ship_event(ctx: &Tx<'_>, e: &CaseEvent, hlc: &str) -> Result<()> {
    let payload = json!({
        "case_id": e.case_id, "kind": e.kind.as_str(), "at": ms(e.at),
        "status": e.status.map(|s| s.as_str()), "note": e.note,
    });
    changes::record(ctx, entity::CASE_EVENT, &e.id, op::CREATE, &payload, hlc)
}

struct Clean {
    type_code: &'static str,
    description: String,
    address: Option<String>,
}

fn clean(ctx: &Tx<'_>, input: &CaseInput) -> Result<Clean> {
    let t = case_type(&input.type_code)
        .ok_or_else(|| Error::invalid("type_code", Code::InvalidValue))?;
    org::require_unit(ctx.tx, "grid_code", &input.grid_code)?;
    let description = input.description.trim().to_string();
    validate::max_chars("description", &description, 2000)?;
    if let Some(p) = input.location {
        validate::coordinates("location", p)?;
    }
    let address = validate::optional_text(input.address.as_deref());
    if let Some(a) = &address {
        validate::max_chars("address", a, 200)?;
    }
    if let Some(h) = &input.household_id {
        if !ctx
            .tx
            .prepare_cached("SELECT 1 FROM households WHERE id = ?1")?
            .exists([h])?
        {
            return Err(Error::invalid("household_id", Code::UnknownReference));
        }
    }
    if let Some(p) = &input.patrol_id {
        if !ctx
            .tx
            .prepare_cached("SELECT 1 FROM patrols WHERE id = ?1")?
            .exists([p])?
        {
            return Err(Error::invalid("patrol_id", Code::UnknownReference));
        }
    }
    Ok(Clean {
        type_code: t.code,
        description,
        address,
    })
}

fn draft(ctx: &mut Tx<'_>, input: &CaseInput) -> Result<Case> {
    let c = clean(ctx, input)?;
    let outside = org::outside_grid(ctx, &input.grid_code, input.location)?;
    let hlc = ctx.tick();
    let id = new_id();
    let reporter = ctx.settings.reporter.clone();
    ctx.tx.execute(
        "INSERT INTO cases (id, category_code, type_code, urgency, description, lat, lng, address,
            grid_code, outside_grid, household_id, patrol_id, reporter, status, created_at,
            updated_at, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'draft', ?14, ?14, ?15)",
        params![
            id,
            &c.type_code[0..2],
            c.type_code,
            input.urgency,
            c.description,
            input.location.map(|p| p.lat),
            input.location.map(|p| p.lng),
            c.address,
            input.grid_code.trim(),
            outside,
            input.household_id,
            input.patrol_id,
            reporter,
            ms(ctx.now),
            hlc
        ],
    )?;
    add_event(
        ctx,
        &id,
        CaseEventKind::Created,
        Some(CaseStatus::Draft),
        false,
    )?;
    get(ctx.tx, &id)
}

fn require_draft(c: &Case, action: &'static str) -> Result<()> {
    if c.status != CaseStatus::Draft {
        return Err(Error::InvalidState {
            entity: "case",
            id: c.id.clone(),
            state: c.status.as_str().into(),
            action,
        });
    }
    Ok(())
}

fn case_payload(c: &Case) -> serde_json::Value {
    json!({
        "category_code": c.category_code, "type_code": c.type_code,
        "urgency": c.urgency.as_str(), "description": c.description,
        "lat": c.location.map(|p| p.lat), "lng": c.location.map(|p| p.lng),
        "address": c.address, "grid_code": c.grid_code, "outside_grid": c.outside_grid,
        "household_id": c.household_id, "patrol_id": c.patrol_id, "reporter": c.reporter,
        "created_at": ms(c.created_at), "submitted_at": c.submitted_at.map(ms),
        "photos": c.photos.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
    })
}

impl Store {
    /// Starts a draft case. Nothing is required yet but a valid type and grid: a worker in a
    /// stairwell saves first and completes later.
    pub fn draft_case(&self, input: &CaseInput) -> Result<Case> {
        self.write(|ctx| draft(ctx, input))
    }

    /// Replaces the content of a draft.
    pub fn update_draft(&self, id: &str, input: &CaseInput) -> Result<Case> {
        self.write(|ctx| {
            let old = get(ctx.tx, id)?;
            require_draft(&old, "edit")?;
            let c = clean(ctx, input)?;
            let outside = org::outside_grid(ctx, &input.grid_code, input.location)?;
            let hlc = ctx.tick();
            ctx.tx.execute(
                &format!(
                    "UPDATE cases SET category_code = ?2, type_code = ?3, urgency = ?4,
                        description = ?5, lat = ?6, lng = ?7, address = ?8, grid_code = ?9,
                        outside_grid = ?10, household_id = ?11, patrol_id = ?12, updated_at = ?13,
                        hlc = ?14, sync_state = {DIRTY_STATE}
                     WHERE id = ?1"
                ),
                params![
                    id,
                    &c.type_code[0..2],
                    c.type_code,
                    input.urgency,
                    c.description,
                    input.location.map(|p| p.lat),
                    input.location.map(|p| p.lng),
                    c.address,
                    input.grid_code.trim(),
                    outside,
                    input.household_id,
                    input.patrol_id,
                    ms(ctx.now),
                    hlc
                ],
            )?;
            add_event(ctx, id, CaseEventKind::Edited, None, false)?;
            get(ctx.tx, id)
        })
    }

    /// Attaches a photo file to a draft case (see [`Store::add_photo_file`]).
    pub fn attach_photo(&self, case_id: &str, file: &Path) -> Result<PhotoMeta> {
        self.add_photo_file(&PhotoOwner::Case(case_id.to_string()), file)
    }

    /// Attaches photo bytes (what a camera hands the shell) to a draft case (see
    /// [`Store::add_photo`]). The content decides the format: `file_name` and `mime` are only
    /// what the camera called it and are not trusted; `taken_at` is used when the image has
    /// no EXIF capture time.
    pub fn attach_photo_bytes(
        &self,
        case_id: &str,
        file_name: &str,
        mime: &str,
        bytes: &[u8],
        taken_at: Option<DateTime<Utc>>,
    ) -> Result<PhotoMeta> {
        let _ = (file_name, mime);
        self.add_photo(&PhotoOwner::Case(case_id.to_string()), bytes, taken_at)
    }

    /// Submits a draft: checks it is complete and queues it for the server.
    pub fn submit_case(&self, id: &str) -> Result<Case> {
        self.write(|ctx| {
            let c = get(ctx.tx, id)?;
            require_draft(&c, "submit")?;
            if c.description.is_empty() {
                return Err(Error::invalid("description", Code::Required));
            }
            if c.location.is_none() && c.address.is_none() {
                return Err(Error::invalid("location", Code::Required));
            }
            let hlc = ctx.tick();
            ctx.tx.execute(
                &format!(
                    "UPDATE cases SET status = 'submitted', submitted_at = ?2, updated_at = ?2,
                        hlc = ?3, sync_state = {DIRTY_STATE} WHERE id = ?1"
                ),
                params![id, ms(ctx.now), hlc],
            )?;
            // The case, then its photos and local timeline, in the order the server needs them.
            let submitted = get(ctx.tx, id)?;
            changes::record(
                ctx,
                entity::CASE,
                id,
                op::CREATE,
                &case_payload(&submitted),
                &hlc,
            )?;
            for p in &submitted.photos {
                photos::ship(ctx, p, &hlc)?;
            }
            for e in &submitted.events {
                ship_event(ctx, e, &hlc)?;
            }
            add_event(
                ctx,
                id,
                CaseEventKind::Submitted,
                Some(CaseStatus::Submitted),
                true,
            )?;
            get(ctx.tx, id)
        })
    }

    pub fn case(&self, id: &str) -> Result<Case> {
        self.read(|c| get(c, id))
    }

    /// Cases, newest first, optionally with one status.
    pub fn list_cases(&self, status: Option<CaseStatus>) -> Result<Vec<Case>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "{SELECT} WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at DESC"
            ))?;
            let ids: Vec<Case> = stmt
                .query_map(params![status], map_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.into_iter().map(|k| get(c, &k.id)).collect()
        })
    }
}
