//! Sign-in, sync, photo upload, conflicts and the "needs attention" list on `GridwalkStore`.
//!
//! Sync and upload are the long calls: they block until done (seconds on a good network,
//! minutes on a bad one), so apps run them on a background thread or worker (WorkManager,
//! BGTaskScheduler). Each takes an optional [`SyncProgressListener`] called after every request
//! and an optional [`CancelHandle`] that stops the run at the next safe point with
//! `GridwalkError.Cancelled`. Whatever happens — cancel, no signal, session over — nothing the
//! worker entered is lost: unsent changes stay queued, refused ones wait in `attention()`.
//!
//! Sync errors map onto the one public error: `Auth` (sign in again), `Network` (`retryable`
//! says whether to try later), `Cancelled`, `InvalidState` (a sync is already running).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use gridwalk_core as core;
use gridwalk_core::sync::{
    CancelToken, ConflictChoice as CoreChoice, HttpTransport, SyncError, SyncOptions,
    TransportError, UploadOptions,
};
use gridwalk_core::Code;

use crate::enums::SyncStatus;
use crate::error::{GridwalkError, Result};
use crate::records::count;
use crate::store::GridwalkStore;
use crate::time::to_ms;

/// Asks a running `sync` or `uploadPhotos` to stop at the next safe point. Create one per run
/// (or share one to stop several); cancelling before the call starts stops it at once.
#[derive(uniffi::Object)]
pub struct CancelHandle {
    token: CancelToken,
}

#[uniffi::export]
impl CancelHandle {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(CancelHandle {
            token: CancelToken::new(),
        })
    }

    /// Requests the stop. Safe from any thread, any number of times.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Which part of a run a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Sending local changes (`done` of `total` changes).
    Push,
    /// Receiving records (`done` so far; `total` unknown).
    Pull,
    /// Sending photo files (`done` of `total` photos; `bytes` of `bytes_total`).
    Upload,
    /// Finished.
    Done,
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    pub done: u64,
    /// Unknown while pulling.
    pub total: Option<u64>,
    /// Bytes on the wire so far (sync: sent + received, compressed; upload: file bytes the
    /// server acknowledged).
    pub bytes: u64,
    /// Upload only: file bytes to send in all.
    pub bytes_total: Option<u64>,
}

/// Receives progress of a long call, on the thread running it. Keep it quick (post to the UI
/// thread); whatever it throws is logged and ignored, never failing the sync.
#[uniffi::export(with_foreign)]
pub trait SyncProgressListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress);
}

fn tell(listener: &Option<Arc<dyn SyncProgressListener>>, p: SyncProgress) {
    if let Some(l) = listener {
        // A listener that fails must not fail the sync (uniffi turns a foreign exception in a
        // callback without a result type into a panic): contain it here.
        if catch_unwind(AssertUnwindSafe(|| l.on_progress(p))).is_err() {
            tracing::warn!("sync progress listener failed");
        }
    }
}

/// Who is signed in on this store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    pub server_url: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `grid_worker`, `grid_leader`, `community`, `street` or `district`.
    pub role: String,
    pub org_code: String,
    /// Codes of the worker's grids (their org units are in `myGrids()`).
    pub grids: Vec<String>,
    pub access_expires_at_ms: i64,
    /// After this the worker must sign in again (sync refreshes access until then).
    pub refresh_expires_at_ms: i64,
}

impl From<core::sync::SessionInfo> for SessionInfo {
    fn from(s: core::sync::SessionInfo) -> Self {
        SessionInfo {
            server_url: s.server_url,
            user_id: s.user_id,
            username: s.username,
            display_name: s.display_name,
            role: s.role.as_str().to_string(),
            org_code: s.org_code,
            grids: s.grids,
            access_expires_at_ms: s.access_expires_at,
            refresh_expires_at_ms: s.refresh_expires_at,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Changes the server acknowledged.
    pub pushed: u32,
    /// Changes the server refused (now in `attention()`).
    pub rejected: u32,
    /// Field conflicts the server reported (see `conflicts()`).
    pub conflicts: u32,
    /// Changes the server did not answer (sent again next time).
    pub unacknowledged: u32,
    /// Records received and applied.
    pub pulled: u32,
    /// Malformed or unknown records skipped.
    pub skipped: u32,
    /// Records waiting for a parent not received yet.
    pub parked: u32,
    /// The server could not continue from our position and sent a fresh snapshot.
    pub resnapshot: bool,
    /// Transient failures retried.
    pub retries: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl From<core::sync::SyncReport> for SyncReport {
    fn from(r: core::sync::SyncReport) -> Self {
        SyncReport {
            pushed: count(r.pushed),
            rejected: count(r.rejected),
            conflicts: count(r.conflicts),
            unacknowledged: count(r.unacknowledged),
            pulled: count(r.pulled),
            skipped: count(r.skipped),
            parked: count(r.parked),
            resnapshot: r.resnapshot,
            retries: count(r.retries),
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
        }
    }
}

/// What one photo upload run did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadReport {
    /// Photos whose upload completed in this run.
    pub uploaded: u32,
    /// Photos the server already had (nothing sent).
    pub already_on_server: u32,
    /// Photos that could not be sent (kept for the worker to see); the run went on.
    pub failed: u32,
    /// Photos resumed from an upload started earlier.
    pub resumed: u32,
    pub chunks_sent: u64,
    pub bytes_sent: u64,
    pub retries: u32,
}

impl From<core::sync::UploadReport> for UploadReport {
    fn from(r: core::sync::UploadReport) -> Self {
        UploadReport {
            uploaded: count(r.uploaded),
            already_on_server: count(r.already_on_server),
            failed: count(r.failed),
            resumed: count(r.resumed),
            chunks_sent: r.chunks_sent,
            bytes_sent: r.bytes_sent,
            retries: count(r.retries),
        }
    }
}

/// A field both this device and someone else changed; the newer write (by hybrid logical
/// clock) was kept and the other value is shown here so the worker can decide.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    pub id: String,
    /// `household`, `resident`, …
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    /// The value the record holds, as JSON.
    pub kept_value_json: String,
    /// The value that was overwritten, as JSON.
    pub lost_value_json: String,
    /// The kept value for display (a JSON string unquoted; other values as JSON).
    pub kept_value_text: String,
    /// The lost value for display.
    pub lost_value_text: String,
    pub detected_at_ms: i64,
    /// Still waiting for the worker (false once resolved).
    pub open: bool,
    pub resolved_at_ms: Option<i64>,
    /// `keep`, `take_lost` or `custom`, once resolved.
    pub resolution: Option<String>,
    pub sync_status: SyncStatus,
}

fn display(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl From<core::sync::Conflict> for Conflict {
    fn from(c: core::sync::Conflict) -> Self {
        Conflict {
            kept_value_text: display(&c.kept_value),
            lost_value_text: display(&c.lost_value),
            kept_value_json: c.kept_value.to_string(),
            lost_value_json: c.lost_value.to_string(),
            id: c.id,
            entity: c.entity,
            entity_id: c.entity_id,
            field: c.field,
            detected_at_ms: to_ms(c.detected_at),
            open: c.status == "open",
            resolved_at_ms: c.resolved_at.map(to_ms),
            resolution: c.resolution,
            sync_status: c.sync_status.into(),
        }
    }
}

/// How the worker settles a conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictChoice {
    /// Keep the value the record holds.
    Keep,
    /// Put back the value that was overwritten.
    TakeLost,
    /// A value the worker typed, as JSON (e.g. `"\"5栋\""`); checked like any edit.
    Custom { value_json: String },
}

impl TryFrom<ConflictChoice> for CoreChoice {
    type Error = GridwalkError;
    fn try_from(c: ConflictChoice) -> Result<Self> {
        Ok(match c {
            ConflictChoice::Keep => CoreChoice::Keep,
            ConflictChoice::TakeLost => CoreChoice::TakeLost,
            ConflictChoice::Custom { value_json } => CoreChoice::Custom(
                serde_json::from_str(&value_json)
                    .map_err(|_| GridwalkError::invalid("value_json", Code::InvalidFormat))?,
            ),
        })
    }
}

/// A change the server refused, waiting for the worker (retry it or discard it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttentionItem {
    pub change_id: String,
    pub entity: String,
    pub entity_id: String,
    /// `create` or `update`.
    pub op: String,
    /// The server's machine-readable reason (`out_of_scope`, `invalid`, …).
    pub code: String,
    /// The server's explanation (Chinese first, then English).
    pub server_message: String,
    pub attempts: i64,
    pub created_at_ms: i64,
    /// For `invalid`: the field the server refused (the form field to fix), never its value.
    pub field: Option<String>,
    /// For `invalid`: that field's validation code (as `ValidationCode::code`).
    pub field_code: Option<String>,
}

impl From<core::sync::AttentionItem> for AttentionItem {
    fn from(a: core::sync::AttentionItem) -> Self {
        AttentionItem {
            change_id: a.change_id,
            entity: a.entity,
            entity_id: a.entity_id,
            op: a.op,
            code: a.code,
            server_message: a.message,
            attempts: a.attempts,
            created_at_ms: to_ms(a.created_at),
            field: a.field,
            field_code: a.field_code,
        }
    }
}

/// How many records of one kind are in each sync state (for a sync screen).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntityCounts {
    pub entity: String,
    pub local: i64,
    pub pending: i64,
    pub synced: i64,
    pub attention: i64,
}

impl From<core::sync::EntityCounts> for EntityCounts {
    fn from(c: core::sync::EntityCounts) -> Self {
        EntityCounts {
            entity: c.entity,
            local: c.local,
            pending: c.pending,
            synced: c.synced,
            attention: c.attention,
        }
    }
}

impl From<TransportError> for GridwalkError {
    fn from(e: TransportError) -> Self {
        let (zh, en) = match e.to_string().split_once(" / ") {
            Some((zh, en)) => (zh.to_string(), en.to_string()),
            None => (e.to_string(), e.to_string()),
        };
        let code = e.code().to_string();
        match e {
            TransportError::BadCredentials
            | TransportError::AuthExpired
            | TransportError::AuthEnded { .. } => GridwalkError::Auth {
                code,
                message_zh: zh,
                message_en: en,
            },
            TransportError::Rejected { ref code, .. } if code == "invalid_url" => {
                GridwalkError::invalid("server_url", Code::InvalidFormat)
            }
            _ => GridwalkError::Network {
                retryable: e.is_transient() || matches!(e, TransportError::CursorExpired),
                code,
                message_zh: zh,
                message_en: en,
            },
        }
    }
}

impl From<SyncError> for GridwalkError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NotSignedIn => GridwalkError::Auth {
                code: "not_signed_in".into(),
                message_zh: "尚未登录".into(),
                message_en: "not signed in".into(),
            },
            SyncError::AlreadyRunning => GridwalkError::InvalidState {
                entity: "sync".into(),
                id: String::new(),
                state: "running".into(),
                action: "sync".into(),
                message_zh: "同步正在进行中".into(),
                message_en: "a sync is already running".into(),
            },
            SyncError::Cancelled => GridwalkError::cancelled(),
            SyncError::Transport(t) => t.into(),
            SyncError::Store(s) => s.into(),
        }
    }
}

#[uniffi::export]
impl GridwalkStore {
    /// Signs in to the server at `server_url` (e.g. `https://gridwalk.example.cn`) and keeps
    /// the session in the store; the worker's organisation and grids arrive with it. Wrong
    /// credentials: `Auth(code = "bad_credentials")`; no network: `Network(retryable = true)`.
    #[uniffi::method(default(device_name = None))]
    pub fn login(
        &self,
        server_url: String,
        username: String,
        password: String,
        device_name: Option<String>,
    ) -> Result<SessionInfo> {
        let store = self.store()?;
        let transport = HttpTransport::new(&server_url)?;
        Ok(store
            .login(&transport, &username, &password, device_name.as_deref())?
            .into())
    }

    /// Signs in on a phone that belonged to another worker, after she confirmed taking it over
    /// (the plain sign-in answered `device_in_use`): the server ends the previous worker's
    /// sessions on this device and records the hand-over. Refused while the device holds the
    /// previous worker's unsent changes (they must sync first).
    pub fn login_handing_over(
        &self,
        server_url: String,
        username: String,
        password: String,
        device_name: Option<String>,
    ) -> Result<SessionInfo> {
        let store = self.store()?;
        let transport = HttpTransport::new(&server_url)?;
        Ok(store
            .login_handing_over(&transport, &username, &password, device_name.as_deref())?
            .into())
    }

    /// Forgets the session. Unsynced changes stay on the device for the next sign-in.
    pub fn logout(&self) -> Result<()> {
        Ok(self.store()?.logout()?)
    }

    /// Signs out on the server too (the session's tokens stop working there), then forgets the
    /// session here. Offline, the local sign-out still happens; returns whether the server was
    /// told. Unsynced changes stay on the device.
    pub fn logout_everywhere(&self) -> Result<bool> {
        let store = self.store()?;
        let Some(session) = store.session()? else {
            return Ok(true);
        };
        let transport = HttpTransport::new(&session.server_url)?;
        Ok(store.logout_everywhere(&transport)?)
    }

    /// The session, if signed in.
    pub fn session(&self) -> Result<Option<SessionInfo>> {
        Ok(self.store()?.session()?.map(Into::into))
    }

    /// Pushes every pending change, then pulls what changed on the server. Blocks until done:
    /// call it from a background thread. Transient failures are retried with backoff first.
    #[uniffi::method(default(listener = None, cancel = None))]
    pub fn sync(
        &self,
        listener: Option<Arc<dyn SyncProgressListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<SyncReport> {
        let store = self.store()?;
        let transport = HttpTransport::for_store(&store)?;
        let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
        let mut progress = |p: &core::sync::SyncProgress| {
            let phase = match p.phase {
                core::sync::SyncPhase::Push => SyncPhase::Push,
                core::sync::SyncPhase::Pull => SyncPhase::Pull,
                core::sync::SyncPhase::Done => SyncPhase::Done,
            };
            tell(
                &listener,
                SyncProgress {
                    phase,
                    done: p.done,
                    total: p.total,
                    bytes: p.bytes,
                    bytes_total: None,
                },
            );
        };
        let report = store.sync(&transport, &SyncOptions::default(), &mut progress, &token)?;
        Ok(report.into())
    }

    /// Sends every photo file the server does not have yet, in resumable chunks (a dropped
    /// connection costs at most one chunk). Blocks until done: call it from a background
    /// thread. Photo records travel with `sync`; this sends their files.
    #[uniffi::method(default(listener = None, cancel = None))]
    pub fn upload_photos(
        &self,
        listener: Option<Arc<dyn SyncProgressListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<UploadReport> {
        let store = self.store()?;
        let transport = HttpTransport::for_store(&store)?;
        let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
        let mut progress = |p: &core::sync::UploadProgress| {
            tell(
                &listener,
                SyncProgress {
                    phase: SyncPhase::Upload,
                    done: p.photos_done,
                    total: Some(p.photos_total),
                    bytes: p.bytes_done,
                    bytes_total: Some(p.bytes_total),
                },
            );
        };
        let report =
            store.upload_photos(&transport, &UploadOptions::default(), &mut progress, &token)?;
        Ok(report.into())
    }

    /// Field conflicts, newest first; only unresolved ones when `open_only`.
    #[uniffi::method(default(open_only = true))]
    pub fn conflicts(&self, open_only: bool) -> Result<Vec<Conflict>> {
        Ok(self
            .store()?
            .conflicts(open_only)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Settles an open conflict; the decision syncs like any edit.
    pub fn resolve_conflict(&self, id: String, choice: ConflictChoice) -> Result<Conflict> {
        let choice = choice.try_into()?;
        Ok(self.store()?.resolve_conflict(&id, &choice)?.into())
    }

    /// Changes the server refused, oldest first (the "needs attention" list).
    pub fn attention(&self) -> Result<Vec<AttentionItem>> {
        Ok(self
            .store()?
            .attention()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Queues a refused change again (after the worker fixed the record).
    pub fn retry_attention(&self, change_id: String) -> Result<()> {
        Ok(self.store()?.retry_attention(&change_id)?)
    }

    /// Drops a refused change at the worker's explicit request; the local record keeps its
    /// value, it is simply never sent.
    pub fn discard_attention(&self, change_id: String) -> Result<()> {
        Ok(self.store()?.discard_attention(&change_id)?)
    }

    /// When the last complete sync finished (UTC ms), or `None` if this store never synced:
    /// the sync screen's "last sync".
    pub fn last_sync_ms(&self) -> Result<Option<i64>> {
        Ok(self.store()?.last_sync_at()?.map(to_ms))
    }

    /// Records per sync state for each kind of record.
    pub fn sync_status_counts(&self) -> Result<Vec<EntityCounts>> {
        Ok(self
            .store()?
            .sync_status_counts()?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
