//! Cases (事件) and photos on `GridwalkStore`.
//!
//! A case is a draft on the phone until the worker submits (or discards) it; once the server
//! sends it back for on-site verification, the worker verifies it here. Photos go through the
//! core's pipeline (decoded, turned upright, downscaled, re-encoded as JPEG without EXIF)
//! before anything is stored, so the app hands over the camera's bytes as they are. JPEG and
//! PNG are read; anything else fails with `Validation(field = "photo", code =
//! UnsupportedFormat)`.

use gridwalk_core as core;
use gridwalk_core::photos::PhotoOwner as CoreOwner;

use crate::enums::{CaseStatus, PhotoFileState, PhotoUploadState};
use crate::error::Result;
use crate::records::*;
use crate::store::GridwalkStore;
use crate::time::{from_ms, to_ms};

/// What a photo is attached to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoOwner {
    /// A draft case (its photos ship when the case is submitted).
    Case { id: String },
    /// A visit.
    Visit { id: String },
    /// A patrol.
    Patrol { id: String },
    /// "After" evidence on a submitted case (核查); `id` is the case id.
    Verification { id: String },
}

impl From<PhotoOwner> for CoreOwner {
    fn from(o: PhotoOwner) -> Self {
        match o {
            PhotoOwner::Case { id } => CoreOwner::Case(id),
            PhotoOwner::Visit { id } => CoreOwner::Visit(id),
            PhotoOwner::Patrol { id } => CoreOwner::Patrol(id),
            PhotoOwner::Verification { id } => CoreOwner::Verification(id),
        }
    }
}

/// The worker's finding when verifying a case on site (核查).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerificationVerdict {
    /// The problem is fixed (核查通过).
    Verified,
    /// The problem is not fixed (核查未通过): the note must say why.
    Rejected,
}

impl From<VerificationVerdict> for core::cases::VerificationVerdict {
    fn from(v: VerificationVerdict) -> Self {
        match v {
            VerificationVerdict::Verified => core::cases::VerificationVerdict::Verified,
            VerificationVerdict::Rejected => core::cases::VerificationVerdict::Rejected,
        }
    }
}

/// A photo attached to a record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoMeta {
    pub id: String,
    /// `case`, `visit`, `patrol` or `verification`.
    pub owner_kind: String,
    pub owner_id: String,
    /// SHA-256 of the stored JPEG, hex (its content id on the server too).
    pub sha256: String,
    /// Absolute path of the full-size JPEG, while it is on the device.
    pub path: Option<String>,
    /// Absolute path of the thumbnail (kept after the full-size file is released).
    pub thumb_path: Option<String>,
    pub byte_len: i64,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Where the photo was taken (from the camera's EXIF; the stored file has none).
    pub location: Option<GeoPoint>,
    pub taken_at_ms: Option<i64>,
    pub added_at_ms: i64,
    pub upload_state: PhotoUploadState,
    pub file_state: PhotoFileState,
}

impl PhotoMeta {
    pub(crate) fn from_core(p: core::PhotoMeta, store: &core::Store) -> Self {
        let path = store
            .photo_file(&p)
            .map(|f| f.to_string_lossy().into_owned());
        let thumb_path = store
            .photo_thumb(&p)
            .map(|f| f.to_string_lossy().into_owned());
        PhotoMeta {
            path,
            thumb_path,
            id: p.id,
            owner_kind: p.owner_kind,
            owner_id: p.owner_id,
            sha256: p.sha256,
            byte_len: p.byte_len,
            mime: p.mime,
            width: p.width,
            height: p.height,
            location: p.location.map(Into::into),
            taken_at_ms: p.taken_at.map(to_ms),
            added_at_ms: to_ms(p.added_at),
            upload_state: p.upload_state.into(),
            file_state: p.file_state.into(),
        }
    }
}

/// A case (事件) with its photos and timeline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Case {
    pub id: String,
    /// Top-level category code (`01` … `06`).
    pub category_code: String,
    pub type_code: String,
    pub urgency: crate::enums::Urgency,
    pub description: String,
    pub location: Option<GeoPoint>,
    pub address: Option<String>,
    pub grid_code: String,
    /// The location lies outside the grid's boundary (flagged, not refused).
    pub outside_grid: bool,
    pub household_id: Option<String>,
    pub patrol_id: Option<String>,
    pub reporter: String,
    pub status: CaseStatus,
    pub created_at_ms: i64,
    pub submitted_at_ms: Option<i64>,
    pub updated_at_ms: i64,
    pub photos: Vec<PhotoMeta>,
    pub events: Vec<CaseEvent>,
    pub sync_status: crate::enums::SyncStatus,
}

impl Case {
    pub(crate) fn from_core(c: core::Case, store: &core::Store) -> Self {
        Case {
            id: c.id,
            category_code: c.category_code,
            type_code: c.type_code,
            urgency: c.urgency.into(),
            description: c.description,
            location: c.location.map(Into::into),
            address: c.address,
            grid_code: c.grid_code,
            outside_grid: c.outside_grid,
            household_id: c.household_id,
            patrol_id: c.patrol_id,
            reporter: c.reporter,
            status: c.status.into(),
            created_at_ms: to_ms(c.created_at),
            submitted_at_ms: c.submitted_at.map(to_ms),
            updated_at_ms: to_ms(c.updated_at),
            photos: c
                .photos
                .into_iter()
                .map(|p| PhotoMeta::from_core(p, store))
                .collect(),
            events: c.events.into_iter().map(Into::into).collect(),
            sync_status: c.sync_status.into(),
        }
    }
}

/// Room taken by photos and what is still to upload.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoStorageReport {
    /// Photo records (one per owner a photo is attached to).
    pub photo_count: u64,
    /// Full-size files on the device.
    pub file_count: u64,
    /// Bytes of every file in the photo folder.
    pub bytes: u64,
    /// Distinct photos not uploaded yet, and their bytes.
    pub pending_upload_count: u64,
    pub pending_upload_bytes: u64,
    /// Bytes of uploaded full-size files that `releaseUploadedPhotos` could free.
    pub releasable_bytes: u64,
    pub quota_bytes: u64,
    /// The folder is over its quota: warn the worker (photos are never refused for it).
    pub over_quota: bool,
}

impl From<core::PhotoStorageReport> for PhotoStorageReport {
    fn from(r: core::PhotoStorageReport) -> Self {
        PhotoStorageReport {
            photo_count: r.photo_count,
            file_count: r.file_count,
            bytes: r.bytes,
            pending_upload_count: r.pending_upload_count,
            pending_upload_bytes: r.pending_upload_bytes,
            releasable_bytes: r.releasable_bytes,
            quota_bytes: r.quota_bytes,
            over_quota: r.over_quota,
        }
    }
}

/// The six case categories and all their sub-types, categories first, by code.
#[uniffi::export]
pub fn case_types() -> Vec<CaseType> {
    let categories = core::cases::CATEGORIES
        .iter()
        .map(|(code, zh, en)| CaseType {
            code: code.to_string(),
            category_code: code.to_string(),
            label_zh: zh.to_string(),
            label_en: en.to_string(),
        });
    let types = core::cases::CASE_TYPES.iter().map(|t| CaseType {
        code: t.code.to_string(),
        category_code: t.code.get(0..2).unwrap_or_default().to_string(),
        label_zh: t.zh.to_string(),
        label_en: t.en.to_string(),
    });
    categories.chain(types).collect()
}

#[uniffi::export]
impl GridwalkStore {
    /// Starts a draft case. Only a valid type and grid are required yet: a worker in a
    /// stairwell saves first and completes later.
    pub fn draft_case(&self, input: CaseInput) -> Result<Case> {
        let store = self.store()?;
        let c = store.draft_case(&input.into())?;
        Ok(Case::from_core(c, &store))
    }

    /// Starts a draft case together with its photos (the camera's bytes), all or nothing: a
    /// photo that cannot be read (`Validation(field = "photos[i]")`) leaves no draft behind.
    /// Without a location the draft takes the GPS position of its first photo that has one.
    pub fn draft_case_with_photos(&self, input: CaseInput, photos: Vec<Vec<u8>>) -> Result<Case> {
        let store = self.store()?;
        let c = store.draft_case_with_photos(&input.into(), &photos)?;
        Ok(Case::from_core(c, &store))
    }

    /// Throws a draft away with its photos and their files. A draft never left the phone, so
    /// nothing is sent; `InvalidState` once submitted.
    pub fn discard_draft(&self, id: String) -> Result<()> {
        Ok(self.store()?.discard_draft(&id)?)
    }

    /// Replaces the content of a draft (`InvalidState` once submitted). Without a location
    /// the draft keeps (or takes) the GPS position of its first photo that has one.
    pub fn update_draft(&self, id: String, input: CaseInput) -> Result<Case> {
        let store = self.store()?;
        let c = store.update_draft(&id, &input.into())?;
        Ok(Case::from_core(c, &store))
    }

    /// Submits a draft: checks it is complete (description; location or address) and queues
    /// it, with its photos and timeline, for the server.
    pub fn submit_case(&self, id: String) -> Result<Case> {
        let store = self.store()?;
        let c = store.submit_case(&id)?;
        Ok(Case::from_core(c, &store))
    }

    /// Verifies a case on site (任务核查) when a `VerifyCase` task (or the daily list) asks for
    /// it: the verdict, a note (required for `Rejected`: `Validation(field = "note",
    /// code = Required)`) and after-photos of the fix as the camera's bytes (through the photo
    /// pipeline; a bad one is `Validation(field = "after_photos[i]")`). Queues the
    /// verification for the server, marks the local verification task done and adds the line
    /// to the case's timeline, all or nothing. The case's status follows at the next sync.
    /// `InvalidState` unless the case awaits verification, or while an earlier verification
    /// of it waits to sync.
    #[uniffi::method(default(note = None, after_photos = []))]
    pub fn verify_case(
        &self,
        case_id: String,
        verdict: VerificationVerdict,
        note: Option<String>,
        after_photos: Vec<Vec<u8>>,
    ) -> Result<Case> {
        let store = self.store()?;
        let c = store.verify_case(&case_id, verdict.into(), note.as_deref(), &after_photos)?;
        Ok(Case::from_core(c, &store))
    }

    /// One case with its photos and timeline.
    pub fn get_case(&self, id: String) -> Result<Case> {
        let store = self.store()?;
        let c = store.case(&id)?;
        Ok(Case::from_core(c, &store))
    }

    /// Cases, newest first, optionally only those with `status`.
    #[uniffi::method(default(status = None))]
    pub fn list_cases(&self, status: Option<CaseStatus>) -> Result<Vec<Case>> {
        let store = self.store()?;
        let cases = store.list_cases(status.map(Into::into))?;
        Ok(cases
            .into_iter()
            .map(|c| Case::from_core(c, &store))
            .collect())
    }

    /// Adds a photo from the camera's bytes (JPEG or PNG). `fallback_taken_at_ms` is used when
    /// the image carries no capture time. The same image on the same owner returns the
    /// existing photo.
    #[uniffi::method(default(fallback_taken_at_ms = None))]
    pub fn add_photo(
        &self,
        owner: PhotoOwner,
        bytes: Vec<u8>,
        fallback_taken_at_ms: Option<i64>,
    ) -> Result<PhotoMeta> {
        let taken = fallback_taken_at_ms
            .map(|ms| from_ms("fallback_taken_at_ms", ms))
            .transpose()?;
        let store = self.store()?;
        let p = store.add_photo(&owner.into(), &bytes, taken)?;
        Ok(PhotoMeta::from_core(p, &store))
    }

    /// Adds a photo from a file the app saved (e.g. the camera's output file).
    pub fn add_photo_file(&self, owner: PhotoOwner, path: String) -> Result<PhotoMeta> {
        let store = self.store()?;
        let p = store.add_photo_file(&owner.into(), std::path::Path::new(&path))?;
        Ok(PhotoMeta::from_core(p, &store))
    }

    /// Photos of one record, oldest first.
    pub fn photos_of(&self, owner: PhotoOwner) -> Result<Vec<PhotoMeta>> {
        let store = self.store()?;
        let photos = store.photos_of(&owner.into())?;
        Ok(photos
            .into_iter()
            .map(|p| PhotoMeta::from_core(p, &store))
            .collect())
    }

    /// One photo.
    pub fn get_photo(&self, id: String) -> Result<PhotoMeta> {
        let store = self.store()?;
        let p = store.photo(&id)?;
        Ok(PhotoMeta::from_core(p, &store))
    }

    /// Room taken by photos, what is still to upload, and whether the quota is passed.
    pub fn photo_storage_report(&self) -> Result<PhotoStorageReport> {
        Ok(self.store()?.photo_storage_report()?.into())
    }
}
