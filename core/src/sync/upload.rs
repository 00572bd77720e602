//! [`Store::upload_photos`]: photo files to the server, resumable and chunked (tus-shaped).
//!
//! Records and files travel separately. A case's text (and its photo records, which carry each
//! photo's SHA-256) goes with the outbox in [`Store::sync`]; the files follow here, and the
//! server links them to their records by hash. Uploads go by hash, not by row: the same image
//! attached to two owners is sent once, and a hash the server already has is not sent at all.
//!
//! The exchange (`docs/protocol.md`, "Photo uploads"):
//! 1. `POST /v1/uploads {sha256, length, photo_id}`: `200` + `Upload-Complete: true` when the
//!    server already has the blob (done, nothing sent), else `201` + `Location`. The location is
//!    saved in `photos.upload_url` at once, so a killed app resumes instead of starting over
//!    (and a create repeated after a kill before that save returns the same upload).
//! 2. `HEAD {location}`: `Upload-Offset`, the server's truth, asked when resuming a saved
//!    location and after any failure (the server may have stored a chunk whose answer was lost).
//! 3. `PATCH {location}` with `Upload-Offset` and `Upload-Checksum: sha256 <base64>` per chunk
//!    (default 256 KiB): `204` + the new offset, saved in `photos.upload_offset` after each
//!    acknowledged chunk; `409` → HEAD and continue; `460` → the chunk was damaged on the way and
//!    is resent; after the last chunk the server verifies the whole file and answers
//!    `Upload-Complete: true`.
//!
//! Only then is the photo marked `upload_state = 'done'` — the one condition under which
//! `release_uploaded_photos` may delete the local file. After a dropped connection at most the
//! chunk in flight is sent again. Photos of a draft case wait for the case to be submitted.

use std::io::{Read, Seek, SeekFrom};

use gridwalk_protocol::uploads::{
    codes as upload_codes, CreateUpload, UploadCreated, CHUNK_CONTENT_TYPE, DEFAULT_CHUNK_BYTES,
    HEADER_CHECKSUM, HEADER_COMPLETE, HEADER_OFFSET, STATUS_CHECKSUM_MISMATCH,
};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{backoff_delay, CancelToken, SyncOptions};
use super::http::{HttpTransport, RawResponse};
use super::transport::TransportError;
use super::SyncError;
use crate::photos::sha256_file;
use crate::store::{ms, Store};

/// Knobs of an upload run.
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// Bytes per PATCH (default 256 KiB): the most a dropped connection makes us send again.
    pub chunk_size: usize,
    /// Retry and backoff of transient failures (attempts, pauses, the sleep function), shared
    /// with sync.
    pub retry: SyncOptions,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            chunk_size: DEFAULT_CHUNK_BYTES,
            retry: SyncOptions::default(),
        }
    }
}

/// Reported after every acknowledged chunk and every finished photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadProgress {
    pub photos_done: u64,
    pub photos_total: u64,
    /// File bytes the server has acknowledged (including what it had before this run).
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// Photos (distinct files) whose upload completed in this run.
    pub uploaded: usize,
    /// Photos the server already had (same hash): nothing sent.
    pub already_on_server: usize,
    /// Photos that could not be sent (local file damaged or refused by the server); kept, with
    /// their rows, for the worker to see. The run goes on with the others.
    pub failed: usize,
    /// Photos resumed from an upload started earlier (by a killed app or a failed run).
    pub resumed: usize,
    /// PATCH requests sent and their body bytes (every attempt counts, sent again or not).
    pub chunks_sent: u64,
    pub bytes_sent: u64,
    /// Chunks the server refused for a bad checksum (then resent).
    pub chunks_refused: u64,
    /// Transient failures (network, 5xx) retried.
    pub retries: usize,
}

/// One file to send: a distinct hash not yet confirmed by the server.
#[derive(Debug, Clone)]
struct Pending {
    sha256: String,
    file_name: String,
    length: u64,
    photo_id: String,
    upload_url: Option<String>,
    /// Offset the server last acknowledged (saved after each chunk).
    offset: u64,
}

/// Distinct files still to upload, oldest first. Photos of draft cases wait for their case.
fn pending(store: &Store) -> crate::Result<Vec<Pending>> {
    store.read(|c| {
        let mut stmt = c.prepare(
            "SELECT p.sha256, min(p.file_name), max(p.byte_len), min(p.id), max(p.upload_url),
                    max(p.upload_offset)
             FROM photos p
             WHERE p.upload_state != 'done' AND p.file_state = 'present'
               AND NOT (p.owner_kind = 'case' AND EXISTS (
                   SELECT 1 FROM cases c WHERE c.id = p.owner_id AND c.status = 'draft'))
             GROUP BY p.sha256 ORDER BY min(p.added_at)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Pending {
                sha256: r.get(0)?,
                file_name: r.get(1)?,
                length: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                photo_id: r.get(3)?,
                upload_url: r.get(4)?,
                offset: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

fn save_location(store: &Store, sha: &str, url: &str, offset: u64) -> crate::Result<()> {
    store.write(|ctx| {
        ctx.tx
            .prepare_cached(
                "UPDATE photos SET upload_state = 'uploading', upload_url = ?2, upload_offset = ?3
                 WHERE sha256 = ?1 AND upload_state != 'done'",
            )?
            .execute(params![sha, url, offset as i64])?;
        Ok(())
    })
}

fn save_offset(store: &Store, sha: &str, offset: u64) -> crate::Result<()> {
    store.write(|ctx| {
        ctx.tx
            .prepare_cached(
                "UPDATE photos SET upload_offset = ?2 WHERE sha256 = ?1 AND upload_state != 'done'",
            )?
            .execute(params![sha, offset as i64])?;
        Ok(())
    })
}

fn forget_location(store: &Store, sha: &str) -> crate::Result<()> {
    store.write(|ctx| {
        ctx.tx
            .prepare_cached(
                "UPDATE photos SET upload_state = 'pending', upload_url = NULL, upload_offset = 0
                 WHERE sha256 = ?1 AND upload_state != 'done'",
            )?
            .execute([sha])?;
        Ok(())
    })
}

/// The server confirmed the complete file with this hash: the one way to `done`.
fn mark_done(store: &Store, sha: &str) -> crate::Result<()> {
    store.write(|ctx| {
        let now = ms(ctx.now);
        ctx.tx
            .prepare_cached(
                "UPDATE photos SET upload_state = 'done', uploaded_at = ?2,
                    upload_offset = byte_len, upload_url = NULL
                 WHERE sha256 = ?1 AND upload_state != 'done'",
            )?
            .execute(params![sha, now])?;
        Ok(())
    })
}

fn header_u64(r: &RawResponse, name: &str) -> Option<u64> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn is_complete(r: &RawResponse) -> bool {
    r.headers
        .get(HEADER_COMPLETE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn b64_sha256(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// How one request ended, for the upload state machine.
enum Reply {
    Ok(RawResponse),
    /// A refusal the uploader acts on: status and code.
    Refused(u16, String),
    /// Network or 5xx: pause and re-ask the server where we are.
    Transient(TransportError),
}

/// Why a photo stopped.
enum PhotoEnd {
    Uploaded,
    AlreadyThere,
    Failed,
}

struct Run<'a> {
    store: &'a Store,
    t: &'a HttpTransport,
    opts: &'a UploadOptions,
    cancel: &'a CancelToken,
    report: UploadReport,
    progress: UploadProgress,
    /// Acknowledged bytes per pending photo (progress is their sum).
    acked: Vec<u64>,
    current: usize,
}

impl Run<'_> {
    fn send(&self, build: impl Fn(&Client, &str) -> RequestBuilder) -> Result<Reply, SyncError> {
        match self.t.send_authorized(self.store, build) {
            Ok(r) => Ok(Reply::Ok(r)),
            Err(SyncError::Transport(e)) if e.is_transient() => Ok(Reply::Transient(e)),
            Err(SyncError::Transport(TransportError::Rejected { status, code, .. })) => {
                Ok(Reply::Refused(status, code))
            }
            Err(e) => Err(e),
        }
    }

    /// Pauses after transient failure number `attempt` (0-based); gives up after the limit.
    fn pause(&mut self, attempt: &mut u32, e: TransportError) -> Result<(), SyncError> {
        *attempt += 1;
        if *attempt >= self.opts.retry.max_attempts.max(1) {
            return Err(e.into());
        }
        self.report.retries += 1;
        let d = backoff_delay(&self.opts.retry, *attempt - 1);
        (self.opts.retry.sleep)(d, self.cancel);
        self.check_cancel()
    }

    fn check_cancel(&self) -> Result<(), SyncError> {
        if self.cancel.is_cancelled() {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The URL of an upload location. Absolute locations are followed only on the configured
    /// server: the bearer token never goes anywhere else.
    fn url(&self, location: &str) -> String {
        let base = self.t.url("");
        if location.starts_with("http://") || location.starts_with("https://") {
            if location.starts_with(base.trim_end_matches('/')) {
                return location.to_string();
            }
            // Another origin: keep only the path, on our server.
            let path = location
                .splitn(4, '/')
                .nth(3)
                .map(|p| format!("/{p}"))
                .unwrap_or_default();
            return self.t.url(&path);
        }
        self.t.url(location)
    }

    /// `POST /v1/uploads`: `None` when the server already has the file, else (location,
    /// offset).
    fn create(
        &mut self,
        p: &Pending,
    ) -> Result<Result<Option<(String, u64)>, PhotoEnd>, SyncError> {
        let body = serde_json::to_vec(&CreateUpload {
            sha256: p.sha256.clone(),
            length: p.length,
            photo_id: Some(p.photo_id.clone()),
        })
        .map_err(crate::Error::from)?;
        let url = self.t.url("/v1/uploads");
        let mut attempt = 0;
        loop {
            self.t.count_sent(body.len() as u64);
            let reply = self.send(|c, token| {
                c.post(&url)
                    .header(AUTHORIZATION, format!("Bearer {token}"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })?;
            match reply {
                Reply::Ok(r) => {
                    let created: UploadCreated = serde_json::from_slice(&r.body).map_err(|e| {
                        TransportError::Protocol(format!("unexpected upload answer: {e}"))
                    })?;
                    if created.complete || is_complete(&r) {
                        return Ok(Ok(None));
                    }
                    let location = created.location.ok_or_else(|| {
                        TransportError::Protocol("upload without location".into())
                    })?;
                    return Ok(Ok(Some((location, created.offset))));
                }
                Reply::Transient(e) => self.pause(&mut attempt, e)?,
                Reply::Refused(status, code) => {
                    tracing::warn!(photo = %p.photo_id, status, %code, "photo upload refused");
                    return Ok(Err(PhotoEnd::Failed));
                }
            }
        }
    }

    /// `HEAD {location}`: the server's offset, or `None` when the upload is gone (expired or
    /// completed); `Some(length)` with complete = true when it finished.
    fn head(&mut self, location: &str) -> Result<Option<(u64, bool)>, SyncError> {
        let url = self.url(location);
        let mut attempt = 0;
        loop {
            let reply = self.send(|c, token| {
                c.head(&url)
                    .header(AUTHORIZATION, format!("Bearer {token}"))
            })?;
            match reply {
                Reply::Ok(r) => {
                    let offset = header_u64(&r, HEADER_OFFSET).ok_or_else(|| {
                        TransportError::Protocol("HEAD without Upload-Offset".into())
                    })?;
                    return Ok(Some((offset, is_complete(&r))));
                }
                Reply::Refused(404, _) => return Ok(None),
                Reply::Refused(status, code) => {
                    return Err(TransportError::Rejected {
                        status,
                        code,
                        message: String::new(),
                    }
                    .into())
                }
                Reply::Transient(e) => self.pause(&mut attempt, e)?,
            }
        }
    }

    fn acknowledge(&mut self, offset: u64) {
        if let Some(a) = self.acked.get_mut(self.current) {
            *a = offset;
        }
        self.progress.bytes_done = self.acked.iter().sum();
    }

    fn report_progress(&self, progress: &mut dyn FnMut(&UploadProgress)) {
        progress(&self.progress);
    }

    fn upload_one(
        &mut self,
        p: &Pending,
        progress: &mut dyn FnMut(&UploadProgress),
    ) -> Result<PhotoEnd, SyncError> {
        let path = self.store.photo_dir().join(&p.file_name);
        // Never send bytes that are not the photo: a damaged local file stays, reported.
        match sha256_file(&path) {
            Ok(h) if h == p.sha256 => {}
            _ => {
                tracing::warn!(photo = %p.photo_id, "local photo file missing or damaged; not uploaded");
                return Ok(PhotoEnd::Failed);
            }
        }
        let mut location = p.upload_url.clone();
        let mut offset: Option<u64> = None;
        if location.is_some() {
            self.report.resumed += 1;
        }
        let mut file = std::fs::File::open(&path).map_err(crate::Error::from)?;
        let mut chunk = Vec::with_capacity(self.opts.chunk_size);
        let mut transient = 0u32;
        let mut refused_in_a_row = 0u32;
        let mut restarts = 0u32;
        loop {
            self.check_cancel()?;
            // A server that keeps moving the ground (offsets, vanished uploads) is not followed
            // forever: the photo stays pending for the next run.
            if restarts > 10 {
                tracing::warn!(photo = %p.photo_id, "upload keeps restarting; left for later");
                return Ok(PhotoEnd::Failed);
            }
            let loc = match &location {
                Some(l) => l.clone(),
                None => match self.create(p)? {
                    Err(end) => return Ok(end),
                    Ok(None) => return Ok(PhotoEnd::AlreadyThere),
                    Ok(Some((l, at))) => {
                        save_location(self.store, &p.sha256, &l, at)?;
                        offset = Some(at);
                        location = Some(l.clone());
                        l
                    }
                },
            };
            let at = match offset {
                Some(at) => at,
                None => match self.head(&loc)? {
                    // Gone: expired, or completed before we heard the answer. Creating again
                    // tells which (the server answers "complete" for a blob it has).
                    None => {
                        forget_location(self.store, &p.sha256)?;
                        location = None;
                        continue;
                    }
                    Some((at, true)) if at >= p.length => return Ok(PhotoEnd::Uploaded),
                    Some((at, _)) => {
                        save_offset(self.store, &p.sha256, at)?;
                        self.acknowledge(at);
                        at
                    }
                },
            };
            offset = Some(at);
            if at >= p.length {
                // Full but not confirmed: ask again (the server finishes it on HEAD).
                offset = None;
                restarts += 1;
                continue;
            }
            let want = (p.length - at).min(self.opts.chunk_size as u64) as usize;
            chunk.resize(want, 0);
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut chunk))
                .map_err(crate::Error::from)?;
            let checksum = format!("sha256 {}", b64_sha256(&chunk));
            let url = self.url(&loc);
            self.report.chunks_sent += 1;
            self.report.bytes_sent += chunk.len() as u64;
            self.t.count_sent(chunk.len() as u64);
            let reply = self.send(|c, token| {
                c.patch(&url)
                    .header(AUTHORIZATION, format!("Bearer {token}"))
                    .header(CONTENT_TYPE, CHUNK_CONTENT_TYPE)
                    .header(HEADER_OFFSET, at)
                    .header(HEADER_CHECKSUM, &checksum)
                    .body(chunk.clone())
            })?;
            match reply {
                Reply::Ok(r) => {
                    transient = 0;
                    refused_in_a_row = 0;
                    let new = header_u64(&r, HEADER_OFFSET).unwrap_or(at + want as u64);
                    self.acknowledge(new);
                    if is_complete(&r) {
                        return Ok(PhotoEnd::Uploaded);
                    }
                    save_offset(self.store, &p.sha256, new)?;
                    offset = Some(new);
                    self.report_progress(progress);
                }
                Reply::Refused(409, _) => {
                    offset = None;
                    restarts += 1;
                }
                Reply::Refused(404, _) => {
                    forget_location(self.store, &p.sha256)?;
                    location = None;
                    offset = None;
                    restarts += 1;
                }
                Reply::Refused(STATUS_CHECKSUM_MISMATCH, code) => {
                    self.report.chunks_refused += 1;
                    refused_in_a_row += 1;
                    if refused_in_a_row > 5 {
                        tracing::warn!(photo = %p.photo_id, "chunk refused five times; giving up for now");
                        return Ok(PhotoEnd::Failed);
                    }
                    if code == upload_codes::FILE_CHECKSUM_MISMATCH {
                        // The server dropped what it had; the local file was verified above.
                        self.acknowledge(0);
                        offset = Some(0);
                    }
                    // Otherwise resend the same chunk from the same offset.
                }
                Reply::Refused(status, code) => {
                    tracing::warn!(photo = %p.photo_id, status, %code, "photo chunk refused");
                    return Ok(PhotoEnd::Failed);
                }
                Reply::Transient(e) => {
                    // The chunk may or may not have landed: pause, then ask (HEAD).
                    self.pause(&mut transient, e)?;
                    offset = None;
                }
            }
        }
    }
}

impl Store {
    /// Uploads every photo file the server does not have yet (see the module docs). Returns
    /// after all were tried; a network that stays down ends the run with a transient error,
    /// keeping everything sent so far. Progress is reported after each chunk and photo;
    /// `cancel` stops at the next chunk boundary.
    pub fn upload_photos(
        &self,
        transport: &HttpTransport,
        opts: &UploadOptions,
        progress: &mut dyn FnMut(&UploadProgress),
        cancel: &CancelToken,
    ) -> Result<UploadReport, SyncError> {
        if opts.chunk_size == 0 {
            return Err(crate::Error::invalid("chunk_size", crate::Code::OutOfRange).into());
        }
        let todo = pending(self)?;
        let acked: Vec<u64> = todo.iter().map(|p| p.offset.min(p.length)).collect();
        let mut run = Run {
            store: self,
            t: transport,
            opts,
            cancel,
            report: UploadReport::default(),
            progress: UploadProgress {
                photos_done: 0,
                photos_total: todo.len() as u64,
                bytes_done: acked.iter().sum(),
                bytes_total: todo.iter().map(|p| p.length).sum(),
            },
            acked,
            current: 0,
        };
        for (i, p) in todo.iter().enumerate() {
            run.check_cancel()?;
            run.current = i;
            match run.upload_one(p, progress)? {
                PhotoEnd::Uploaded => {
                    mark_done(self, &p.sha256)?;
                    run.report.uploaded += 1;
                }
                PhotoEnd::AlreadyThere => {
                    mark_done(self, &p.sha256)?;
                    run.report.already_on_server += 1;
                }
                PhotoEnd::Failed => {
                    run.report.failed += 1;
                    continue;
                }
            }
            run.acknowledge(p.length);
            run.progress.photos_done += 1;
            run.report_progress(progress);
            tracing::debug!(photo = %p.photo_id, "photo file uploaded");
        }
        Ok(run.report)
    }
}
