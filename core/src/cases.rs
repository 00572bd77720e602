//! Cases (事件): hazards and problems a worker finds, drafted on the phone and submitted into
//! the closed loop (发现上报 → 指挥派遣 → 处置反馈 → 任务核查 → 评价考核 → 结单归档).
//!
//! On the device a case is a draft until the worker submits it; after that its status only
//! changes when the server's state machine says so (sync writes those as timeline events).
//! Every step is kept in a local timeline.
//!
//! Drafts: a draft without a location takes the GPS position of its first photo that has one
//! (the camera knew where the worker stood, and a draft without a place cannot be submitted);
//! a draft made with photos is saved whole or not at all; a draft can be edited and discarded
//! (it never left the phone, so discarding sends nothing and removes its photo files).
//!
//! Verification (任务核查): when the server sends a case back for on-site verification, the
//! worker's verdict, note and after-photos become the `verification` case event the server
//! applies ([`Store::verify_case`]). Category codes are stable: two digits for the six
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

pub(crate) fn ship_event(ctx: &Tx<'_>, e: &CaseEvent, hlc: &str) -> Result<()> {
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

/// The note of a verification: trimmed, at most 2000 characters, required for a rejection.
fn verification_note(verdict: VerificationVerdict, note: Option<&str>) -> Result<Option<String>> {
    let note = validate::optional_text(note);
    if let Some(n) = &note {
        validate::max_chars("note", n, 2000)?;
    }
    if verdict == VerificationVerdict::Rejected && note.is_none() {
        return Err(Error::invalid("note", Code::Required));
    }
    Ok(note)
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

/// The worker's finding on site (核查): the fix is there, or it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationVerdict {
    /// The problem is fixed (核查通过).
    Verified,
    /// The problem is not fixed (核查未通过): a note must say why; the case goes back to its
    /// handlers.
    Rejected,
}

impl VerificationVerdict {
    /// The case status the server moves the case to.
    pub fn status(self) -> CaseStatus {
        match self {
            VerificationVerdict::Verified => CaseStatus::Verified,
            VerificationVerdict::Rejected => CaseStatus::Rejected,
        }
    }
}

/// Whether a verification of this case is queued or was refused and waits for the worker:
/// a second one must not be queued behind it.
pub(crate) fn verification_unsent(conn: &Connection, case_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM outbox WHERE entity = 'case_event' AND state IN ('pending', 'attention')
               AND json_extract(payload, '$.case_id') = ?1
               AND json_extract(payload, '$.kind') = 'verification'",
        )?
        .exists([case_id])?)
}

/// Writes a verification: after-photos, the `verification` event the server acts on, and the
/// local verification tasks marked done. One transaction: all of it or nothing.
fn verify(
    ctx: &mut Tx<'_>,
    dir: &Path,
    case_id: &str,
    verdict: VerificationVerdict,
    note: Option<String>,
    photos: &[photos::Processed],
) -> Result<Case> {
    let c = get(ctx.tx, case_id)?;
    if c.status != CaseStatus::VerificationRequested {
        return Err(Error::InvalidState {
            entity: "case",
            id: case_id.to_string(),
            state: c.status.as_str().into(),
            action: "verify",
        });
    }
    if verification_unsent(ctx.tx, case_id)? {
        return Err(Error::InvalidState {
            entity: "case",
            id: case_id.to_string(),
            state: "verification_unsent".into(),
            action: "verify again",
        });
    }
    let owner = PhotoOwner::Verification(case_id.to_string());
    for (i, p) in photos.iter().enumerate() {
        photos::store_processed(ctx, dir, &owner, p)
            .map_err(|e| photo_field(e, "after_photos", i))?;
    }
    let hlc = ctx.tick();
    let event = CaseEvent {
        id: new_id(),
        case_id: case_id.to_string(),
        kind: CaseEventKind::Verification,
        at: ctx.now,
        status: Some(verdict.status()),
        note,
    };
    ctx.tx
        .prepare_cached(
            "INSERT INTO case_events (id, case_id, kind, at, status, note, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            event.id,
            case_id,
            event.kind,
            ms(event.at),
            event.status,
            event.note,
            hlc
        ])?;
    ship_event(ctx, &event, &hlc)?;
    // The server completes the open verify_case tasks when it applies the verification
    // (docs/protocol.md), so the device only mirrors that: no task change is queued, and a
    // verification the server refuses never leaves a task done there.
    ctx.tx.execute(
        "UPDATE tasks SET status = 'done', completed_at = ?2
         WHERE kind = 'verify_case' AND target_kind = 'case' AND target_id = ?1
           AND status = 'open'",
        params![case_id, ms(ctx.now)],
    )?;
    get(ctx.tx, case_id)
}

/// A validation error of the i-th photo of a list names it: `<list>[i]`.
fn photo_field(e: Error, list: &str, i: usize) -> Error {
    match e {
        Error::Validation(mut v) if v.field == photos::FIELD => {
            v.field = format!("{list}[{i}]");
            Error::Validation(v)
        }
        other => other,
    }
}

/// Gives a draft without a location the GPS position of a photo just attached to it (the
/// camera knew where the worker stood; a draft without a place cannot be submitted).
pub(crate) fn locate_from_photo(ctx: &mut Tx<'_>, case_id: &str, at: GeoPoint) -> Result<()> {
    let row: Option<(String, Option<f64>)> = ctx
        .tx
        .prepare_cached("SELECT grid_code, lat FROM cases WHERE id = ?1 AND status = 'draft'")?
        .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((grid, None)) = row else {
        return Ok(());
    };
    let outside = org::outside_grid(ctx, &grid, Some(at))?;
    ctx.tx.execute(
        "UPDATE cases SET lat = ?2, lng = ?3, outside_grid = ?4 WHERE id = ?1",
        params![case_id, at.lat, at.lng, outside],
    )?;
    Ok(())
}

/// The GPS position of a draft's first photo that has one.
fn first_photo_location(conn: &Connection, case_id: &str) -> Result<Option<GeoPoint>> {
    Ok(photos_of(conn, "case", case_id)?
        .into_iter()
        .find_map(|p| p.location))
}

/// Removes a draft that never left the phone: its row, timeline and photo rows; returns the
/// photo files no other row names (deleted by the caller after the commit).
fn discard(ctx: &mut Tx<'_>, id: &str) -> Result<Vec<String>> {
    let c = get(ctx.tx, id)?;
    require_draft(&c, "discard")?;
    // A draft ships nothing until it is submitted; anything queued means it is not a draft.
    let queued = ctx
        .tx
        .prepare_cached("SELECT 1 FROM outbox WHERE entity_id = ?1")?
        .exists([id])?;
    if queued {
        return Err(Error::InvalidState {
            entity: "case",
            id: id.to_string(),
            state: "queued".into(),
            action: "discard",
        });
    }
    let mut names = Vec::new();
    for p in &c.photos {
        names.push(p.file_name.clone());
        names.extend(p.thumb_file.clone());
    }
    ctx.tx.execute(
        "DELETE FROM photos WHERE owner_kind = 'case' AND owner_id = ?1",
        [id],
    )?;
    ctx.tx
        .execute("DELETE FROM case_events WHERE case_id = ?1", [id])?;
    ctx.tx.execute("DELETE FROM cases WHERE id = ?1", [id])?;
    let mut unused = Vec::new();
    for name in names {
        let named = ctx
            .tx
            .prepare_cached("SELECT 1 FROM photos WHERE file_name = ?1 OR thumb_file = ?1 LIMIT 1")?
            .exists([&name])?;
        if !named && !unused.contains(&name) {
            unused.push(name);
        }
    }
    Ok(unused)
}

impl Store {
    /// Verifies a case on site (任务核查): the worker's verdict, a note (required for a
    /// rejection: what is still wrong) and after-photos of the fix (`verification` photos,
    /// through the photo pipeline). Queues the `case_event` of kind `verification` the server
    /// applies (`verify` or `reject`), marks the local `verify_case` task(s) of the case done,
    /// and adds the line to the case's timeline — all in one transaction, so a photo that
    /// cannot be read leaves nothing behind. The case's status stays the server's until the
    /// next sync brings it back.
    ///
    /// Refused with `InvalidState` unless the case awaits verification, and while an earlier
    /// verification of it has not reached the server.
    pub fn verify_case(
        &self,
        case_id: &str,
        verdict: VerificationVerdict,
        note: Option<&str>,
        after_photos: &[Vec<u8>],
    ) -> Result<Case> {
        let note = verification_note(verdict, note)?;
        let processed = after_photos
            .iter()
            .enumerate()
            .map(|(i, b)| {
                self.process_photo(b, Some(self.now()))
                    .map_err(|e| photo_field(e, "after_photos", i))
            })
            .collect::<Result<Vec<_>>>()?;
        self.finish_verification(case_id, verdict, note, &processed)
    }

    /// [`Store::verify_case`] with after-photos from files (the CLI; a shell that saved the
    /// camera's output). A file's modification time stands in for a missing capture time.
    pub fn verify_case_files(
        &self,
        case_id: &str,
        verdict: VerificationVerdict,
        note: Option<&str>,
        after_photos: &[&Path],
    ) -> Result<Case> {
        let note = verification_note(verdict, note)?;
        let processed = after_photos
            .iter()
            .enumerate()
            .map(|(i, f)| {
                self.process_photo_file(f)
                    .map_err(|e| photo_field(e, "after_photos", i))
            })
            .collect::<Result<Vec<_>>>()?;
        self.finish_verification(case_id, verdict, note, &processed)
    }

    fn finish_verification(
        &self,
        case_id: &str,
        verdict: VerificationVerdict,
        note: Option<String>,
        processed: &[photos::Processed],
    ) -> Result<Case> {
        let dir = self.photo_dir().to_path_buf();
        let c = self.write(|ctx| verify(ctx, &dir, case_id, verdict, note, processed))?;
        if !processed.is_empty() {
            self.warn_if_over_quota();
        }
        tracing::info!(case = %case_id, ?verdict, "case verified on site");
        Ok(c)
    }

    /// Starts a draft case. Nothing is required yet but a valid type and grid: a worker in a
    /// stairwell saves first and completes later. A photo attached later gives a draft
    /// without a location the photo's GPS position.
    pub fn draft_case(&self, input: &CaseInput) -> Result<Case> {
        self.write(|ctx| draft(ctx, input))
    }

    /// Starts a draft case with its photos (the camera's bytes), all or nothing: the photos go
    /// through the pipeline first, and a photo that cannot be read (field `photos[i]`) leaves
    /// no draft behind. Without a location the draft takes the GPS position of its first
    /// photo that has one.
    pub fn draft_case_with_photos(&self, input: &CaseInput, photos: &[Vec<u8>]) -> Result<Case> {
        let processed = photos
            .iter()
            .enumerate()
            .map(|(i, b)| {
                self.process_photo(b, Some(self.now()))
                    .map_err(|e| photo_field(e, "photos", i))
            })
            .collect::<Result<Vec<_>>>()?;
        self.draft_processed(input, &processed)
    }

    /// [`Store::draft_case_with_photos`] with photo files (the CLI's `case new --photo`).
    pub fn draft_case_with_photo_files(&self, input: &CaseInput, files: &[&Path]) -> Result<Case> {
        let processed = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                self.process_photo_file(f)
                    .map_err(|e| photo_field(e, "photos", i))
            })
            .collect::<Result<Vec<_>>>()?;
        self.draft_processed(input, &processed)
    }

    fn draft_processed(&self, input: &CaseInput, processed: &[photos::Processed]) -> Result<Case> {
        let dir = self.photo_dir().to_path_buf();
        let c = self.write(|ctx| {
            let c = draft(ctx, input)?;
            let owner = PhotoOwner::Case(c.id.clone());
            for (i, p) in processed.iter().enumerate() {
                photos::store_processed(ctx, &dir, &owner, p)
                    .map_err(|e| photo_field(e, "photos", i))?;
            }
            get(ctx.tx, &c.id)
        })?;
        if !processed.is_empty() {
            self.warn_if_over_quota();
        }
        Ok(c)
    }

    /// Throws a draft away: the case, its local timeline, its photo records and the photo
    /// files no other record uses. A draft never left the phone (drafts ship when they are
    /// submitted), so nothing is sent and nothing the server knows is lost; a submitted case
    /// is refused (`InvalidState`). Files go after the commit; a kill in between leaves files
    /// no row names, which the next open sweeps.
    pub fn discard_draft(&self, id: &str) -> Result<()> {
        let dir = self.photo_dir().to_path_buf();
        let unused = self.write(|ctx| discard(ctx, id))?;
        for name in &unused {
            match std::fs::remove_file(dir.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(error = %e, "photo file of a discarded draft not removed"),
            }
        }
        tracing::info!(case = %id, files = unused.len(), "draft discarded");
        Ok(())
    }

    /// Replaces the content of a draft. Without a location the draft keeps (or takes) the GPS
    /// position of its first photo that has one.
    pub fn update_draft(&self, id: &str, input: &CaseInput) -> Result<Case> {
        self.write(|ctx| {
            let old = get(ctx.tx, id)?;
            require_draft(&old, "edit")?;
            let c = clean(ctx, input)?;
            let location = match input.location {
                Some(p) => Some(p),
                None => first_photo_location(ctx.tx, id)?,
            };
            let outside = org::outside_grid(ctx, &input.grid_code, location)?;
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
                    location.map(|p| p.lat),
                    location.map(|p| p.lng),
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
