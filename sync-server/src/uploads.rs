//! Photo uploads and downloads, mounted under `/v1/uploads`: resumable and chunked in the shape
//! of tus (create, HEAD for the offset, PATCH chunks with a checksum), content-addressed.
//!
//! Why this shape: a worker's phone uploads from a basement. A photo that restarts from zero
//! after every dropped connection never arrives (ODK Collect's failure mode), so the server keeps
//! what it has and tells the phone where to continue; each chunk carries its own SHA-256 and a
//! bad one is refused before it touches the file, and the whole file is verified against the
//! hash the phone declared before it becomes a blob. The phone deletes its copy only after that
//! confirmation (`Upload-Complete: true`, or `HEAD /blobs/{sha}` = 200).
//!
//! State: none in process memory. Unfinished uploads live in the blob directory
//! ([`crate::Config::blob_root`]), which every instance of a deployment shares, so a PATCH may
//! continue on another instance what a POST started on one: `uploads/<device>/<id>.part` (the
//! bytes so far: its length *is* the offset, appended only with verified chunk data and
//! fsynced per chunk, so after a crash any prefix is still correct) and `<id>.json` (sha256,
//! length, photo id, owner user and device). Appends to one upload are serialised across
//! processes by a file lock on its part (`upload_dir.rs` has the layout and the locking
//! rules). Complete files move into the [`BlobStore`](crate::blobs::BlobStore).
//!
//! Limits: file size ([`UploadConfig::max_file_bytes`]), chunk size, unfinished uploads per
//! device. Abandoned uploads expire after [`UploadConfig::expire_after_secs`] without activity:
//! swept at startup and, at most every [`UploadConfig::sweep_every_secs`], on the next create.
//!
//! Rights ([`crate::photos`]): a completed upload records its user as a *holder* of the hash
//! (before the file becomes a blob); `POST` answers "already complete" only to holders and to
//! callers who can already see the blob, and answers everyone else as for an unknown hash.
//! Downloads: `GET /v1/uploads/blobs/{sha256}?photo_id=` serves a blob only when the photo record
//! `photo_id` is in the caller's scope, carries that hash, and was pushed by a holder of it.
//!
//! Only JPEGs become blobs: the first chunk must start like one and the verified file must pass
//! the header check ([`crate::photos::sniff_file`]), else the upload is dropped (`415
//! not_an_image`).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gridwalk_protocol::uploads::{
    codes as upload_codes, CreateUpload, UploadCreated, CHUNK_CONTENT_TYPE, HEADER_CHECKSUM,
    HEADER_COMPLETE, HEADER_LENGTH, HEADER_OFFSET, STATUS_CHECKSUM_MISMATCH,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blobs::{is_sha256, BlobStore, FsBlobStore};
use crate::error::{ApiError, Error, Result};
use crate::http::{now_ms, WireJson};
use crate::photos::{self, StorageRights};
use crate::storage::Principal;
use crate::upload_dir::{valid_id, LockedUpload, UploadDir, UploadMeta};
use crate::AppState;

/// Who may use a stored blob without sending it, and who proved they hold one. The database
/// answers in the server ([`StorageRights`]); the upload mechanics only ask.
pub trait BlobRights {
    /// The caller may use the stored blob `sha256` without sending its bytes.
    fn may_use(&self, who: &Principal, sha256: &str) -> Result<bool>;
    /// An upload of the caller was verified to hash to `sha256`: they hold those bytes.
    fn grant(&self, who: &Principal, sha256: &str) -> Result<()>;
}

/// Limits and expiry of uploads (part of the server [`crate::Config`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadConfig {
    /// Largest photo file accepted (default and ceiling 20 MiB,
    /// [`photos::MAX_PHOTO_BYTES`]; the phone stores ~0.3-1 MB JPEGs).
    pub max_file_bytes: u64,
    /// Largest PATCH body (default 4 MiB; the phone sends 256 KiB).
    pub max_chunk_bytes: u64,
    /// Unfinished uploads one device may hold (default 64).
    pub max_open_per_device: usize,
    /// An upload without activity for this long is deleted (default 7 days).
    pub expire_after_secs: u64,
    /// Minimum pause between two expiry sweeps (default 1 hour).
    pub sweep_every_secs: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_file_bytes: photos::MAX_PHOTO_BYTES,
            max_chunk_bytes: 4 * 1024 * 1024,
            max_open_per_device: 64,
            expire_after_secs: 7 * 24 * 3600,
            sweep_every_secs: 3600,
        }
    }
}

/// Counters (tests and benchmarks read them to prove what was resent). Per process: each
/// instance counts what it received.
#[derive(Debug, Default)]
pub struct UploadStats {
    /// PATCH body bytes received (accepted or not).
    pub bytes_received: AtomicU64,
    /// Chunk bytes appended to part files.
    pub bytes_appended: AtomicU64,
    /// Chunks refused for a bad checksum.
    pub chunks_refused: AtomicU64,
    /// Files completed (verified and moved into the blob store).
    pub completed: AtomicU64,
}

/// Unfinished uploads (in the shared folder, [`UploadDir`]) and the blob store behind them.
/// Holds no upload state of its own: any instance on the same folder continues any upload.
pub struct Uploads {
    dir: UploadDir,
    blobs: Arc<dyn BlobStore>,
    config: UploadConfig,
    /// When this instance last swept (each instance sweeps; deleting twice is harmless).
    last_sweep_ms: AtomicI64,
    pub stats: UploadStats,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn sha256_b64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

/// What a PATCH did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored; the new offset.
    Partial(u64),
    /// The last chunk: the whole file verified and now a blob.
    Complete(u64),
    /// The offset was not the server's (409).
    OffsetMismatch(u64),
    /// The chunk did not match its checksum; nothing kept (460).
    ChunkChecksum(u64),
    /// The whole file did not hash to the declared SHA-256; dropped, offset 0 (460).
    FileChecksum,
    /// The file is not a JPEG; the upload was dropped (415).
    NotAnImage,
}

impl Uploads {
    /// Opens the upload folder under `root` (the blob directory, shared by every instance:
    /// [`crate::Config::blob_root`]) and the filesystem blob store next to it, and sweeps
    /// expired and half-created uploads.
    pub fn open(root: &Path, config: UploadConfig) -> Result<Uploads> {
        let blobs = Arc::new(FsBlobStore::open(root.join("blobs"))?);
        Self::with_blob_store(root, config, blobs)
    }

    /// Same, with another blob store (object storage later; tests).
    pub fn with_blob_store(
        root: &Path,
        config: UploadConfig,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Uploads> {
        if config.max_file_bytes == 0
            || config.max_file_bytes > photos::MAX_PHOTO_BYTES
            || config.max_chunk_bytes == 0
        {
            return Err(Error::invalid("uploads", "out_of_range"));
        }
        let uploads = Uploads {
            dir: UploadDir::open(root.join("uploads"))?,
            blobs,
            config,
            last_sweep_ms: AtomicI64::new(0),
            stats: UploadStats::default(),
        };
        let (expired, stray) = uploads.sweep(now_ms())?;
        if expired + stray > 0 {
            tracing::info!(expired, stray, "upload folder swept at startup");
        }
        Ok(uploads)
    }

    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Number of unfinished uploads (of every instance on the folder).
    pub fn open_count(&self) -> Result<usize> {
        let mut n = 0;
        self.dir.for_each_owner(|_, uploads, _| {
            n += uploads.len();
            Ok(())
        })?;
        Ok(n)
    }

    /// Deletes uploads idle for longer than the expiry, and leftovers of creates that died
    /// half-way. Returns (expired uploads, leftovers). An upload being appended right now (its
    /// lock held here or by another instance) is not abandoned and stays.
    pub fn sweep(&self, now: i64) -> Result<(usize, usize)> {
        self.last_sweep_ms.store(now, Ordering::Relaxed);
        let max_idle = i64::try_from(self.config.expire_after_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let (mut n_expired, mut stray) = (0, 0);
        self.dir.for_each_owner(|_owner, uploads, leftovers| {
            stray += leftovers;
            for m in uploads {
                if now.saturating_sub(self.dir.touched_ms(&m)) <= max_idle {
                    continue;
                }
                if let Some(held) = self.dir.try_lock_upload(&m.device_id, &m.id)? {
                    held.remove()?;
                    n_expired += 1;
                }
            }
            Ok(())
        })?;
        Ok((n_expired, stray))
    }

    fn maybe_sweep(&self, now: i64) {
        let every = i64::try_from(self.config.sweep_every_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        if now.saturating_sub(self.last_sweep_ms.load(Ordering::Relaxed)) >= every {
            match self.sweep(now) {
                Ok((e, s)) if e + s > 0 => tracing::info!(expired = e, stray = s, "uploads swept"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "upload sweep failed"),
            }
        }
    }

    /// Starts (or resumes) an upload. `Ok(None)` means the blob is already complete *for this
    /// caller*: a stored blob the caller may not use is answered like an unknown one.
    pub fn create(
        &self,
        who: &Principal,
        req: &CreateUpload,
        now: i64,
        rights: &dyn BlobRights,
    ) -> Result<Result<Option<(String, u64)>, ApiError>> {
        self.maybe_sweep(now);
        if !is_sha256(&req.sha256) {
            return Ok(Err(ApiError::bad_request(
                "sha256 须为 64 位小写十六进制 / sha256 must be 64 lowercase hex digits",
            )));
        }
        if req.photo_id.as_ref().is_some_and(|p| p.len() > 64) {
            return Ok(Err(ApiError::bad_request(
                "photo_id 过长 / photo_id too long",
            )));
        }
        if req.length == 0 {
            return Ok(Err(ApiError::bad_request(
                "length 须大于 0 / length must be > 0",
            )));
        }
        if req.length > self.config.max_file_bytes {
            return Ok(Err(ApiError::too_large(format!(
                "照片文件超过 {} 字节 / photo file larger than {} bytes",
                self.config.max_file_bytes, self.config.max_file_bytes
            ))));
        }
        if self.blobs.len(&req.sha256)? == Some(req.length) && rights.may_use(who, &req.sha256)? {
            return Ok(Ok(None));
        }
        // The device's lock: its uploads and the limit stay exact when two instances take two
        // of its requests at once.
        let owner = self.dir.lock_owner(&who.device_id)?;
        let open = self.dir.list(&owner)?;
        // The same device asking again (killed before it saved the location): same upload.
        if let Some(m) = open
            .iter()
            .find(|m| m.sha256 == req.sha256 && m.user_id == who.user_id && m.length == req.length)
        {
            let offset = self.dir.part_len(m)?;
            return Ok(Ok(Some((m.id.clone(), offset))));
        }
        if open.len() >= self.config.max_open_per_device {
            return Ok(Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                upload_codes::TOO_MANY_UPLOADS,
                "未完成的上传过多，请稍后重试 / too many unfinished uploads; retry later",
            )));
        }
        let meta = UploadMeta {
            id: uuid::Uuid::now_v7().simple().to_string(),
            sha256: req.sha256.clone(),
            length: req.length,
            photo_id: req.photo_id.clone(),
            user_id: who.user_id.clone(),
            device_id: who.device_id.clone(),
            created_at: now,
        };
        self.dir.create(&owner, &meta)?;
        tracing::info!(upload = %meta.id, user = %who.user_id, "upload created");
        Ok(Ok(Some((meta.id, 0))))
    }

    /// The caller's upload `id`, locked for changing its bytes (waits for a request of this or
    /// another instance holding it).
    fn lock_owned(&self, who: &Principal, id: &str) -> Result<Option<LockedUpload>> {
        Ok(self
            .dir
            .lock_upload(&who.device_id, id)?
            .filter(|u| u.meta.user_id == who.user_id))
    }

    /// (offset, length, complete) of an upload of the caller. An upload whose bytes are all
    /// there but unverified (a server died between the last append and the check) is
    /// finished here.
    pub fn offset(
        &self,
        who: &Principal,
        id: &str,
        rights: &dyn BlobRights,
    ) -> Result<Option<(u64, u64, bool)>> {
        let Some(m) = self
            .dir
            .meta(&who.device_id, id)?
            .filter(|m| m.user_id == who.user_id)
        else {
            return Ok(None);
        };
        let at = self.dir.part_len(&m)?;
        if at < m.length {
            return Ok(Some((at, m.length, false)));
        }
        let Some(mut held) = self.lock_owned(who, id)? else {
            return Ok(None);
        };
        let at = held.len()?;
        if at < m.length {
            return Ok(Some((at, m.length, false)));
        }
        let length = held.meta.length;
        Ok(match self.finish(who, &mut held, rights)? {
            Finished::Complete => {
                held.forget_moved()?;
                Some((length, length, true))
            }
            Finished::NotAnImage => {
                self.drop_not_an_image(held)?;
                None
            }
            Finished::Restarted => Some((0, length, false)),
        })
    }

    /// Verifies a full part file and moves it into the blob store (or restarts it at 0, or
    /// tells it is not a JPEG). The caller is recorded as holding the bytes before they become
    /// a blob, so a failure there leaves a full part file the next HEAD finishes again.
    fn finish(
        &self,
        who: &Principal,
        held: &mut LockedUpload,
        rights: &dyn BlobRights,
    ) -> Result<Finished> {
        let id = held.meta.id.clone();
        if held.len()? != held.meta.length || held.sha256()? != held.meta.sha256 {
            tracing::warn!(upload = %id, "whole-file checksum mismatch; upload restarted");
            held.restart()?;
            return Ok(Finished::Restarted);
        }
        if photos::sniff_file(held.part_path())?.is_none() {
            return Ok(Finished::NotAnImage);
        }
        rights.grant(who, &held.meta.sha256)?;
        self.blobs.put_file(&held.meta.sha256, held.part_path())?;
        self.stats.completed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(upload = %id, bytes = held.meta.length, "upload complete");
        Ok(Finished::Complete)
    }

    /// Drops an upload whose bytes are not a photo.
    fn drop_not_an_image(&self, held: LockedUpload) -> Result<Appended> {
        tracing::warn!(upload = %held.meta.id, "upload is not a JPEG; dropped");
        held.remove()?;
        Ok(Appended::NotAnImage)
    }

    /// Appends one chunk at `offset` after checking it against `checksum` (base64 SHA-256).
    pub fn append(
        &self,
        who: &Principal,
        id: &str,
        offset: u64,
        checksum: &str,
        chunk: &[u8],
        rights: &dyn BlobRights,
    ) -> Result<Option<Appended>> {
        self.stats
            .bytes_received
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        // Under the lock: a concurrent PATCH (a retry, here or on another instance) may have
        // appended or completed it meanwhile; the offset is read after waiting.
        let Some(mut held) = self.lock_owned(who, id)? else {
            return Ok(None);
        };
        let current = held.len()?;
        if offset != current {
            return Ok(Some(Appended::OffsetMismatch(current)));
        }
        let length = held.meta.length;
        if offset + chunk.len() as u64 > length {
            return Err(Error::invalid("upload-offset", "out_of_range"));
        }
        if sha256_b64(chunk) != checksum {
            self.stats.chunks_refused.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Appended::ChunkChecksum(current)));
        }
        if offset == 0 && !photos::starts_like_jpeg(chunk) {
            // Not worth receiving the rest.
            return self.drop_not_an_image(held).map(Some);
        }
        held.write_at(offset, chunk)?;
        self.stats
            .bytes_appended
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let now_at = offset + chunk.len() as u64;
        if now_at < length {
            return Ok(Some(Appended::Partial(now_at)));
        }
        Ok(Some(match self.finish(who, &mut held, rights)? {
            Finished::Complete => {
                held.forget_moved()?;
                Appended::Complete(length)
            }
            Finished::NotAnImage => self.drop_not_an_image(held)?,
            Finished::Restarted => Appended::FileChecksum,
        }))
    }

    /// Abandons an upload of the caller.
    pub fn abort(&self, who: &Principal, id: &str) -> Result<bool> {
        let Some(held) = self.lock_owned(who, id)? else {
            return Ok(false);
        };
        held.remove()?;
        Ok(true)
    }
}

/// How verifying a full part file ended.
enum Finished {
    /// Now a blob: the caller forgets the upload.
    Complete,
    /// Not a JPEG: the caller drops the upload.
    NotAnImage,
    /// The whole file did not hash to the declared SHA-256: back to offset 0.
    Restarted,
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Routes under `/v1/uploads`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", post(create))
        .route("/blobs/{sha}", get(download).head(blob_head))
        .route(
            "/{id}",
            axum::routing::head(head).patch(patch).delete(abort),
        )
}

/// Runs blocking upload work off the async runtime, with the database's [`BlobRights`].
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Uploads, &StorageRights<'_>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let uploads = state.uploads.clone();
    let storage = state.storage.clone();
    let run = move || {
        let rights = StorageRights {
            storage: &*storage,
            now_ms: now_ms(),
        };
        f(&uploads, &rights)
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(panicked = e.is_panic(), "upload task failed");
            Err(ApiError::internal())
        }
    }
}

fn header_u64(v: u64) -> HeaderValue {
    HeaderValue::from(v)
}

fn with_headers(status: StatusCode, headers: &[(&'static str, HeaderValue)]) -> Response {
    let mut res = status.into_response();
    for (k, v) in headers {
        res.headers_mut().insert(*k, v.clone());
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn error_with_offset(err: ApiError, offset: u64) -> Response {
    let mut res = err.into_response();
    res.headers_mut().insert(HEADER_OFFSET, header_u64(offset));
    res
}

fn checksum_status() -> StatusCode {
    StatusCode::from_u16(STATUS_CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST)
}

/// `200` only for a blob the caller may use (they hold it, or a linked record in their scope
/// carries it); any other hash is `404`, stored or not.
async fn blob_head(
    State(state): State<AppState>,
    who: Principal,
    UrlPath(sha): UrlPath<String>,
) -> Result<Response, ApiError> {
    if !is_sha256(&sha) {
        return Err(ApiError::not_found());
    }
    let len = blocking(&state, move |u, rights| {
        let Some(n) = u.blobs.len(&sha)? else {
            return Ok(None);
        };
        let right = rights.storage.blob_right(&who, &sha)?;
        Ok((right != photos::BlobRight::None).then_some(n))
    })
    .await?;
    match len {
        Some(n) => Ok(with_headers(
            StatusCode::OK,
            &[
                (HEADER_LENGTH, header_u64(n)),
                (HEADER_COMPLETE, HeaderValue::from_static("true")),
            ],
        )),
        None => Err(ApiError::not_found()),
    }
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    WireJson(req): WireJson<CreateUpload>,
) -> Result<Response, ApiError> {
    let r = blocking(&state, move |u, rights| {
        u.create(&who, &req, now_ms(), rights)
            .map_err(ApiError::from)
    })
    .await??;
    Ok(match r {
        None => {
            let body = UploadCreated {
                location: None,
                offset: 0,
                complete: true,
            };
            let mut res = (StatusCode::OK, axum::Json(body)).into_response();
            res.headers_mut()
                .insert(HEADER_COMPLETE, HeaderValue::from_static("true"));
            res
        }
        Some((id, offset)) => {
            let location = format!("/v1/uploads/{id}");
            let body = UploadCreated {
                location: Some(location.clone()),
                offset,
                complete: false,
            };
            let mut res = (StatusCode::CREATED, axum::Json(body)).into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            h.insert(HEADER_OFFSET, header_u64(offset));
            res
        }
    })
}

async fn head(
    State(state): State<AppState>,
    who: Principal,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::not_found());
    }
    let r = blocking(&state, move |u, rights| {
        u.offset(&who, &id, rights).map_err(ApiError::from)
    })
    .await?;
    match r {
        Some((offset, length, complete)) => {
            let mut h = vec![
                (HEADER_OFFSET, header_u64(offset)),
                (HEADER_LENGTH, header_u64(length)),
            ];
            if complete {
                h.push((HEADER_COMPLETE, HeaderValue::from_static("true")));
            }
            Ok(with_headers(StatusCode::OK, &h))
        }
        None => Err(ApiError::not_found()),
    }
}

async fn patch(
    State(state): State<AppState>,
    who: Principal,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::not_found());
    }
    let content_type_ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(CHUNK_CONTENT_TYPE));
    if !content_type_ok {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            gridwalk_protocol::codes::BAD_REQUEST,
            format!(
                "内容类型须为 {CHUNK_CONTENT_TYPE} / content type must be {CHUNK_CONTENT_TYPE}"
            ),
        ));
    }
    let offset = headers
        .get(HEADER_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::bad_request("缺少或无效的 Upload-Offset / missing or invalid Upload-Offset")
        })?;
    let checksum = headers
        .get(HEADER_CHECKSUM)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256 ").map(|s| s.trim().to_string()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "缺少 Upload-Checksum（sha256 <base64>）/ missing Upload-Checksum (sha256 <base64>)",
            )
        })?;
    if body.len() as u64 > state.uploads.config.max_chunk_bytes {
        return Err(ApiError::too_large(format!(
            "分块超过 {} 字节 / chunk larger than {} bytes",
            state.uploads.config.max_chunk_bytes, state.uploads.config.max_chunk_bytes
        )));
    }
    let r = blocking(&state, move |u, rights| {
        u.append(&who, &id, offset, &checksum, &body, rights)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(match r {
        None => return Err(ApiError::not_found()),
        Some(Appended::Partial(at)) => {
            with_headers(StatusCode::NO_CONTENT, &[(HEADER_OFFSET, header_u64(at))])
        }
        Some(Appended::Complete(at)) => with_headers(
            StatusCode::NO_CONTENT,
            &[
                (HEADER_OFFSET, header_u64(at)),
                (HEADER_COMPLETE, HeaderValue::from_static("true")),
            ],
        ),
        Some(Appended::OffsetMismatch(at)) => error_with_offset(
            ApiError::new(
                StatusCode::CONFLICT,
                upload_codes::OFFSET_MISMATCH,
                "上传位置不一致，请查询后继续 / offset mismatch: HEAD and continue",
            ),
            at,
        ),
        Some(Appended::ChunkChecksum(at)) => error_with_offset(
            ApiError::new(
                checksum_status(),
                upload_codes::CHECKSUM_MISMATCH,
                "分块校验失败，请重发 / chunk checksum mismatch: resend the chunk",
            ),
            at,
        ),
        Some(Appended::FileChecksum) => error_with_offset(
            ApiError::new(
                checksum_status(),
                upload_codes::FILE_CHECKSUM_MISMATCH,
                "文件校验失败，已从头开始 / whole-file checksum mismatch: upload restarted",
            ),
            0,
        ),
        Some(Appended::NotAnImage) => return Err(not_an_image()),
    })
}

async fn abort(
    State(state): State<AppState>,
    who: Principal,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::not_found());
    }
    let gone = blocking(&state, move |u, _| {
        u.abort(&who, &id).map_err(ApiError::from)
    })
    .await?;
    if gone {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    photo_id: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    who: Principal,
    UrlPath(sha): UrlPath<String>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if !is_sha256(&sha) {
        return Err(ApiError::not_found());
    }
    let Query(q) = query.map_err(|_| ApiError::bad_request("查询参数无效 / malformed query"))?;
    let photo_id = q
        .photo_id
        .filter(|p| !p.is_empty() && p.len() <= 64)
        .ok_or_else(|| ApiError::bad_request("须指明 photo_id / photo_id is required"))?;
    serve_blob(&state, who, sha, photo_id).await
}

/// The bytes of blob `sha` through photo record `photo_id`, for `who`: the one rule of every
/// photo download (the phones' `GET /v1/uploads/blobs/{sha}` and the console's photos).
pub async fn serve_blob(
    state: &AppState,
    who: Principal,
    sha: String,
    photo_id: String,
) -> Result<Response, ApiError> {
    if !is_sha256(&sha) || photo_id.is_empty() || photo_id.len() > 64 {
        return Err(ApiError::not_found());
    }
    // The photo record must be in the caller's scope, name this hash and be linked (its pusher
    // uploaded these bytes); anything else is answered like a missing blob, so hashes and ids
    // cannot be probed.
    let sha2 = sha.clone();
    let allowed = crate::http::blocking(state, move |storage| {
        storage.photo_serves_blob(&who, &photo_id, &sha2)
    })
    .await?;
    if !allowed {
        return Err(ApiError::not_found());
    }
    let bytes = blocking(state, move |u, _| {
        let Some((mut r, len)) = u.blobs.open(&sha).map_err(ApiError::from)? else {
            return Ok(None);
        };
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        r.read_to_end(&mut buf)
            .map_err(|e| ApiError::from(Error::Io(e)))?;
        Ok(Some(buf))
    })
    .await?
    .ok_or_else(ApiError::not_found)?;
    // The type comes from the bytes, never from a record; a file from before the image check
    // that is not one is offered as a download, not rendered.
    let (mime, disposition) = match photos::sniff(&bytes) {
        Some(info) => (info.mime, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(res)
}

fn not_an_image() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        upload_codes::NOT_AN_IMAGE,
        "文件不是 JPEG 照片，已丢弃 / the file is not a JPEG photo; upload dropped",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photos::test_jpeg;
    use gridwalk_protocol::Role;
    use std::sync::Mutex;

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn who(device: &str) -> Principal {
        Principal {
            user_id: "u1".into(),
            role: Role::GridWorker,
            org_code: "g".into(),
            grids: vec!["g".into()],
            device_id: device.into(),
            session_id: "s".into(),
        }
    }

    /// Rights as the database would keep them: users holding hashes.
    #[derive(Default)]
    struct Rights(Mutex<Vec<(String, String)>>);

    impl BlobRights for Rights {
        fn may_use(&self, who: &Principal, sha256: &str) -> Result<bool> {
            Ok(lock(&self.0)
                .iter()
                .any(|(u, s)| *u == who.user_id && s == sha256))
        }

        fn grant(&self, who: &Principal, sha256: &str) -> Result<()> {
            lock(&self.0).push((who.user_id.clone(), sha256.to_string()));
            Ok(())
        }
    }

    fn sha_hex(b: &[u8]) -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    fn req(data: &[u8]) -> CreateUpload {
        CreateUpload {
            sha256: sha_hex(data),
            length: data.len() as u64,
            photo_id: Some("p1".into()),
        }
    }

    fn created(u: &Uploads, w: &Principal, data: &[u8], r: &Rights) -> String {
        match u.create(w, &req(data), now_ms(), r).unwrap() {
            Ok(Some((id, 0))) => id,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chunks_are_checked_offsets_enforced_and_the_file_verified() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        let r = Rights::default();
        let w = who("d1");
        let data = test_jpeg(40, 30, 1000);
        assert_eq!(data.len(), 1000);
        let id = created(&u, &w, &data, &r);
        // Asking again (the phone was killed before saving the location): the same upload.
        assert_eq!(created(&u, &w, &data, &r), id);
        // Another device does not see it.
        assert_eq!(u.offset(&who("d2"), &id, &r).unwrap(), None);

        let (a, b) = data.split_at(600);
        assert_eq!(
            u.append(&w, &id, 0, "bad", a, &r).unwrap(),
            Some(Appended::ChunkChecksum(0))
        );
        assert_eq!(
            u.append(&w, &id, 0, &sha256_b64(a), a, &r).unwrap(),
            Some(Appended::Partial(600))
        );
        assert_eq!(
            u.append(&w, &id, 0, &sha256_b64(a), a, &r).unwrap(),
            Some(Appended::OffsetMismatch(600)),
            "a chunk sent twice is not appended twice"
        );
        assert_eq!(u.offset(&w, &id, &r).unwrap(), Some((600, 1000, false)));
        assert!(
            lock(&r.0).is_empty(),
            "no right before the file is verified"
        );
        assert_eq!(
            u.append(&w, &id, 600, &sha256_b64(b), b, &r).unwrap(),
            Some(Appended::Complete(1000))
        );
        assert_eq!(u.blobs().len(&sha_hex(&data)).unwrap(), Some(1000));
        assert_eq!(
            *lock(&r.0),
            vec![("u1".to_string(), sha_hex(&data))],
            "the uploader holds it"
        );
        assert_eq!(
            u.offset(&w, &id, &r).unwrap(),
            None,
            "finished uploads are gone"
        );
        // Known blob, and the caller holds it: nothing to send.
        assert_eq!(u.create(&w, &req(&data), now_ms(), &r).unwrap(), Ok(None));

        // A declared hash the bytes do not have: dropped at the end, offset 0.
        let bytes = test_jpeg(8, 8, 200);
        let mut lie = req(&bytes);
        lie.sha256 = sha_hex(b"something else");
        let Ok(Some((id2, _))) = u.create(&w, &lie, now_ms(), &r).unwrap() else {
            panic!()
        };
        assert_eq!(
            u.append(&w, &id2, 0, &sha256_b64(&bytes), &bytes, &r)
                .unwrap(),
            Some(Appended::FileChecksum)
        );
        assert_eq!(u.offset(&w, &id2, &r).unwrap(), Some((0, 200, false)));
        assert_eq!(u.stats.chunks_refused.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_stored_blob_the_caller_does_not_hold_is_uploaded_like_an_unknown_one() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        let r = Rights::default();
        let data = test_jpeg(16, 16, 300);
        let mine = who("d1");
        let id = created(&u, &mine, &data, &r);
        u.append(&mine, &id, 0, &sha256_b64(&data), &data, &r)
            .unwrap();
        let stranger = Principal {
            user_id: "u2".into(),
            ..who("d9")
        };
        // Stored, but not theirs: a new upload, exactly as for a hash the server never saw.
        let id2 = created(&u, &stranger, &data, &r);
        assert_eq!(
            u.append(&stranger, &id2, 0, &sha256_b64(&data), &data, &r)
                .unwrap(),
            Some(Appended::Complete(300)),
            "the same bytes again: accepted, the first blob kept"
        );
        assert!(r.may_use(&stranger, &sha_hex(&data)).unwrap());
        assert_eq!(u.blobs().len(&sha_hex(&data)).unwrap(), Some(300));
    }

    #[test]
    fn files_that_are_not_jpegs_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        let r = Rights::default();
        let w = who("d1");
        // Refused on the first chunk.
        let html = b"<html><script>alert(1)</script></html>".to_vec();
        let id = created(&u, &w, &html, &r);
        assert_eq!(
            u.append(&w, &id, 0, &sha256_b64(&html), &html, &r).unwrap(),
            Some(Appended::NotAnImage)
        );
        assert_eq!(u.offset(&w, &id, &r).unwrap(), None, "dropped");
        // A JPEG start with something else behind it: refused once the file is verified.
        let mut fake = test_jpeg(8, 8, 100)[..20].to_vec();
        fake.extend([b'x'; 80]);
        let id = created(&u, &w, &fake, &r);
        let (a, b) = fake.split_at(50);
        u.append(&w, &id, 0, &sha256_b64(a), a, &r).unwrap();
        assert_eq!(
            u.append(&w, &id, 50, &sha256_b64(b), b, &r).unwrap(),
            Some(Appended::NotAnImage)
        );
        assert_eq!(u.blobs().len(&sha_hex(&fake)).unwrap(), None);
        assert!(lock(&r.0).is_empty(), "no right for a refused file");
        assert_eq!(u.open_count().unwrap(), 0);
    }

    #[test]
    fn limits_refuse_large_files_and_too_many_open_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let config = UploadConfig {
            max_file_bytes: 100,
            max_open_per_device: 2,
            ..UploadConfig::default()
        };
        let u = Uploads::open(dir.path(), config).unwrap();
        let r = Rights::default();
        let w = who("d1");
        let big = req(&[1u8; 101]);
        assert_eq!(
            u.create(&w, &big, now_ms(), &r)
                .unwrap()
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        created(&u, &w, b"a", &r);
        created(&u, &w, b"b", &r);
        let e = u.create(&w, &req(b"c"), now_ms(), &r).unwrap().unwrap_err();
        assert_eq!(e.code, upload_codes::TOO_MANY_UPLOADS);
        // Another device has its own allowance.
        created(&u, &who("d2"), b"c", &r);
        let mut bad = req(b"x");
        bad.sha256 = "../../etc".into();
        assert!(u.create(&w, &bad, now_ms(), &r).unwrap().is_err());
        // The configured limit cannot pass the ceiling photo records are checked against.
        let over = UploadConfig {
            max_file_bytes: photos::MAX_PHOTO_BYTES + 1,
            ..UploadConfig::default()
        };
        assert!(Uploads::open(dir.path(), over).is_err());
    }

    #[test]
    fn abandoned_uploads_expire_and_survive_a_restart_until_then() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rights::default();
        let w = who("d1");
        let data = test_jpeg(8, 8, 100);
        let id = {
            let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
            let id = created(&u, &w, &data, &r);
            u.append(&w, &id, 0, &sha256_b64(&data[..5]), &data[..5], &r)
                .unwrap();
            id
        };
        // A restart keeps it, with its offset; a stray part file is swept.
        std::fs::write(dir.path().join("uploads/deadbeef.part"), b"x").unwrap();
        let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        assert_eq!(u.offset(&w, &id, &r).unwrap(), Some((5, 100, false)));
        assert!(!dir.path().join("uploads/deadbeef.part").exists());
        // Eight days later it has expired.
        let later = now_ms() + 8 * 24 * 3600 * 1000;
        assert_eq!(u.sweep(later).unwrap(), (1, 0));
        assert_eq!(u.offset(&w, &id, &r).unwrap(), None);
        assert_eq!(u.open_count().unwrap(), 0);
    }

    #[test]
    fn an_upload_started_on_one_instance_finishes_on_another() {
        let dir = tempfile::tempdir().unwrap();
        // Two instances on one shared folder; rights live in the database, shared too.
        let a = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        let b = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        let r = Rights::default();
        let w = who("d1");
        let data = test_jpeg(30, 20, 900);
        let id = created(&a, &w, &data, &r);
        // The phone asks again on the other instance: the same upload, not a second one.
        assert_eq!(created(&b, &w, &data, &r), id);
        let (x, y) = data.split_at(400);
        assert_eq!(
            a.append(&w, &id, 0, &sha256_b64(x), x, &r).unwrap(),
            Some(Appended::Partial(400))
        );
        // The other instance knows the offset and refuses a chunk sent twice.
        assert_eq!(b.offset(&w, &id, &r).unwrap(), Some((400, 900, false)));
        assert_eq!(
            b.append(&w, &id, 0, &sha256_b64(x), x, &r).unwrap(),
            Some(Appended::OffsetMismatch(400))
        );
        assert_eq!(
            b.append(&w, &id, 400, &sha256_b64(y), y, &r).unwrap(),
            Some(Appended::Complete(900))
        );
        assert_eq!(a.blobs().len(&sha_hex(&data)).unwrap(), Some(900));
        assert_eq!(a.offset(&w, &id, &r).unwrap(), None, "gone on both");
        assert_eq!(a.open_count().unwrap(), 0);
        assert_eq!(a.create(&w, &req(&data), now_ms(), &r).unwrap(), Ok(None));
    }

    #[test]
    fn the_same_chunk_racing_on_two_instances_is_appended_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Arc::new(Uploads::open(dir.path(), UploadConfig::default()).unwrap());
        let b = Arc::new(Uploads::open(dir.path(), UploadConfig::default()).unwrap());
        let r = Arc::new(Rights::default());
        let data = test_jpeg(30, 20, 128 * 1024);
        let id = created(&a, &who("d1"), &data, &r);
        for round in 0..16 {
            let chunk = &data[round * 8192..(round + 1) * 8192];
            let offset = (round * 8192) as u64;
            let start = Arc::new(std::sync::Barrier::new(6));
            let threads: Vec<_> = [
                a.clone(),
                b.clone(),
                a.clone(),
                b.clone(),
                a.clone(),
                b.clone(),
            ]
            .into_iter()
            .map(|u| {
                let (r, id, chunk) = (r.clone(), id.clone(), chunk.to_vec());
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    u.append(&who("d1"), &id, offset, &sha256_b64(&chunk), &chunk, &*r)
                        .unwrap()
                })
            })
            .collect();
            let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let done = outcomes
                .iter()
                .filter(|o| matches!(o, Some(Appended::Partial(_) | Appended::Complete(_))))
                .count();
            assert_eq!(done, 1, "round {round}: {outcomes:?}");
        }
        assert_eq!(a.blobs().len(&sha_hex(&data)).unwrap(), Some(128 * 1024));
        let (mut f, _) = a.blobs().open(&sha_hex(&data)).unwrap().unwrap();
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn uploads_of_the_older_flat_layout_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rights::default();
        let w = who("d1");
        let data = test_jpeg(8, 8, 100);
        let up = dir.path().join("uploads");
        std::fs::create_dir_all(&up).unwrap();
        let meta = UploadMeta {
            id: "0190aaaabbbbcccc".into(),
            sha256: sha_hex(&data),
            length: 100,
            photo_id: None,
            user_id: "u1".into(),
            device_id: "d1".into(),
            created_at: now_ms(),
        };
        std::fs::write(up.join("0190aaaabbbbcccc.part"), &data[..30]).unwrap();
        std::fs::write(
            up.join("0190aaaabbbbcccc.json"),
            serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        let u = Uploads::open(dir.path(), UploadConfig::default()).unwrap();
        assert_eq!(
            u.offset(&w, "0190aaaabbbbcccc", &r).unwrap(),
            Some((30, 100, false))
        );
        assert_eq!(
            u.append(
                &w,
                "0190aaaabbbbcccc",
                30,
                &sha256_b64(&data[30..]),
                &data[30..],
                &r
            )
            .unwrap(),
            Some(Appended::Complete(100))
        );
    }
}
