//! Photo uploads (`/v1/uploads`): resumable, chunked, in the shape of the tus protocol.
//!
//! Shared by the phone's uploader (`core/src/sync/upload.rs`) and the server
//! (`sync-server/src/uploads.rs`) so header names, status codes and limits cannot drift.
//! `docs/protocol.md` ("Photo uploads") describes the exchange.

use serde::{Deserialize, Serialize};

/// Request and answer header: the byte offset a PATCH starts at / the server has reached.
pub const HEADER_OFFSET: &str = "upload-offset";
/// Answer header of `HEAD /v1/uploads/{id}`: the declared file length.
pub const HEADER_LENGTH: &str = "upload-length";
/// Request header of a PATCH: `sha256 <base64 of the chunk's SHA-256>`.
pub const HEADER_CHECKSUM: &str = "upload-checksum";
/// Answer header `true` once the whole file is stored and its SHA-256 verified.
pub const HEADER_COMPLETE: &str = "upload-complete";
/// Content type of a PATCH body.
pub const CHUNK_CONTENT_TYPE: &str = "application/offset+octet-stream";

/// Status of a PATCH whose chunk (or, after the last chunk, whole file) failed its checksum.
/// Nothing of the chunk was kept; the client resends it (tus uses 460 too).
pub const STATUS_CHECKSUM_MISMATCH: u16 = 460;

/// Default chunk size of the phone's uploader.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// Error codes of the upload endpoints (in `ErrorBody`).
pub mod codes {
    /// 409: the PATCH offset is not the server's; HEAD and continue from `Upload-Offset`.
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    /// 460: the chunk's checksum did not match; resend the chunk.
    pub const CHECKSUM_MISMATCH: &str = "checksum_mismatch";
    /// 460 after the last chunk: the whole file did not hash to its declared SHA-256; the
    /// server dropped what it had (offset 0).
    pub const FILE_CHECKSUM_MISMATCH: &str = "file_checksum_mismatch";
    /// 429: too many unfinished uploads for this device; finish or wait for expiry.
    pub const TOO_MANY_UPLOADS: &str = "too_many_uploads";
    /// 415 after the last chunk (or on the first): the file is not a JPEG, the only format the
    /// phone stores; the server dropped the upload.
    pub const NOT_AN_IMAGE: &str = "not_an_image";
}

/// `POST /v1/uploads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUpload {
    /// SHA-256 of the complete file, lowercase hex.
    pub sha256: String,
    /// File length in bytes.
    pub length: u64,
    /// The photo record the file belongs to (informational: the server links by hash).
    #[serde(default)]
    pub photo_id: Option<String>,
}

/// Answer of `POST /v1/uploads` (also in the `Location` and `Upload-Offset` headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCreated {
    /// `/v1/uploads/{id}`; absent when `complete` (the server already had the file).
    #[serde(default)]
    pub location: Option<String>,
    pub offset: u64,
    pub complete: bool,
}
