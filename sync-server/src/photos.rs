//! Photo records and the bytes they point at: who may see which blob, and what a blob must be.
//!
//! A photo record names its file by SHA-256, and records are pushed *before* their file is
//! uploaded (the phone syncs, then uploads). So a hash in a record proves nothing: anyone who
//! learnt the hash of a photo in another grid could push a record of their own naming it and
//! download the bytes through it. The rule that closes this:
//!
//! - **Holders.** A user *holds* a blob once an upload of theirs (any of their devices)
//!   completed with bytes that hash to it — proof of possession. `POST /v1/uploads` answering
//!   "already complete" is not proof: for a blob the caller does not hold it answers exactly as
//!   for an unknown hash (a new upload), and the caller sends the bytes like anyone else.
//! - **Linked records.** A photo record is *linked* when its pusher holds its hash. Only a linked
//!   record serves bytes (`GET /v1/uploads/blobs/{sha}?photo_id=`, for callers who see the
//!   record). A record naming a hash its pusher never uploaded is stored like any other — the
//!   push answer must not tell whether a foreign hash exists — and simply serves nothing.
//! - **Seeing is holding.** A caller who can already download a blob (a linked record carrying
//!   it is in their scope) gains nothing by sending it again: their `POST` answers "complete" and
//!   records them as holders, so a colleague attaching the same picture uploads nothing.
//!
//! Photo records are append-only (an update is refused), so a record's hash never changes after
//! its claim is recorded. Records written before schema version 2 were grandfathered as linked
//! (`sql/schema_v2.sql`).
//!
//! Blobs must be JPEGs: the phone re-encodes every photo to JPEG without EXIF (core
//! `photos.rs`, `STORED_MIME`). An upload is checked by its magic bytes on the first chunk and by
//! a cheap header walk (SOF dimensions, end marker) once its hash is verified — no decoding, no
//! image library on the server. Downloads carry the sniffed type and `nosniff`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use gridwalk_protocol::{entity, Change};
use serde_json::Value;

use crate::error::Result;
use crate::storage::{Principal, RecordTx, Storage};
use crate::uploads::BlobRights;

/// The one type the phone stores photos as.
pub use gridwalk_domain::entities::PHOTO_MIME;
/// Largest photo file, bytes: the ceiling of `uploads.max_file_bytes` and of a record's
/// `byte_len` (the domain table's bound). The phone's files are 0.3-1 MB.
pub const MAX_PHOTO_BYTES: u64 = gridwalk_domain::entities::MAX_PHOTO_BYTES as u64;
/// How far into a file the JPEG header walk looks for the frame header.
const HEAD_BYTES: usize = 64 * 1024;
const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const JPEG_END: &[u8] = &[0xFF, 0xD9];

// ---------------------------------------------------------------------------------------------
// Pushed photo records
// ---------------------------------------------------------------------------------------------

/// Records who pushed a new photo record (the user whose upload links it to its bytes). Call
/// after the record's checks, just before it is written; a record that exists already keeps its
/// claim.
pub fn claim(tx: &mut dyn RecordTx, who: &Principal, change: &Change) -> Result<()> {
    if tx.grid_of(entity::PHOTO, &change.entity_id)?.is_some() {
        return Ok(());
    }
    let Some(sha) = change.payload.get("sha256").and_then(Value::as_str) else {
        return Ok(());
    };
    tx.claim_photo(&change.entity_id, sha, &who.user_id)
}

// ---------------------------------------------------------------------------------------------
// Rights on blobs
// ---------------------------------------------------------------------------------------------

/// What a caller may do with a stored blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobRight {
    /// Their own upload of it completed.
    Holder,
    /// A linked photo record carrying it is in their scope (they may download it anyway).
    InScope,
    /// Neither: the blob is, to them, unknown.
    None,
}

/// [`BlobRights`] of the upload endpoints, backed by the database.
pub struct StorageRights<'a> {
    pub storage: &'a dyn Storage,
    pub now_ms: i64,
}

impl BlobRights for StorageRights<'_> {
    fn may_use(&self, who: &Principal, sha256: &str) -> Result<bool> {
        Ok(match self.storage.blob_right(who, sha256)? {
            BlobRight::Holder => true,
            BlobRight::InScope => {
                self.grant(who, sha256)?;
                true
            }
            BlobRight::None => false,
        })
    }

    fn grant(&self, who: &Principal, sha256: &str) -> Result<()> {
        self.storage
            .grant_blob(sha256, &who.user_id, &who.device_id, self.now_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// What a blob is
// ---------------------------------------------------------------------------------------------

/// A recognised image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub mime: &'static str,
    pub width: u16,
    pub height: u16,
}

/// Whether the first bytes of a file may start a JPEG (checked on an upload's first chunk).
pub fn starts_like_jpeg(first: &[u8]) -> bool {
    first.len() < JPEG_MAGIC.len() || first.starts_with(JPEG_MAGIC)
}

/// Recognises a baseline or progressive JPEG from its first bytes (`head`, up to 64 KiB) and its
/// end (`tail`): SOI, a walk over the marker segments to the frame header (SOF) with non-zero
/// dimensions before any scan, and the EOI marker at the very end. No pixel is decoded.
pub fn sniff_jpeg(head: &[u8], tail: &[u8]) -> Option<ImageInfo> {
    if !head.starts_with(JPEG_MAGIC) || !tail.ends_with(JPEG_END) {
        return None;
    }
    let byte = |i: usize| head.get(i).copied();
    let mut i = 2;
    loop {
        if byte(i)? != 0xFF {
            return None;
        }
        while byte(i)? == 0xFF {
            i += 1;
        }
        let code = byte(i)?;
        i += 1;
        match code {
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            // Stuffing, a second SOI, the end or a scan before any frame header: not a photo.
            0x00 | 0xD8 | 0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([byte(i)?, byte(i + 1)?]));
        if len < 2 {
            return None;
        }
        // SOF0-15 except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC) {
            if len < 8 {
                return None;
            }
            let height = u16::from_be_bytes([byte(i + 3)?, byte(i + 4)?]);
            let width = u16::from_be_bytes([byte(i + 5)?, byte(i + 6)?]);
            if width == 0 || height == 0 {
                return None;
            }
            return Some(ImageInfo {
                mime: PHOTO_MIME,
                width,
                height,
            });
        }
        i += len;
    }
}

/// [`sniff_jpeg`] on a whole buffer.
pub fn sniff(bytes: &[u8]) -> Option<ImageInfo> {
    sniff_jpeg(&bytes[..bytes.len().min(HEAD_BYTES)], bytes)
}

/// [`sniff_jpeg`] on a file, reading only its head and its last two bytes.
pub fn sniff_file(path: &Path) -> std::io::Result<Option<ImageInfo>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut f).take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let mut tail = [0u8; 2];
    if len < 2 {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(len - 2))?;
    f.read_exact(&mut tail)?;
    Ok(sniff_jpeg(&head, &tail))
}

/// A minimal JPEG of `len` bytes (at least 80) for tests: SOI, APP0, a DQT stub, SOF0
/// (`w` x `h`), SOS, filler scan data, EOI. Only the header walk would find it valid.
#[cfg(test)]
pub(crate) fn test_jpeg(w: u16, h: u16, len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8];
    b.extend([0xFF, 0xE0, 0x00, 0x10]);
    b.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend([0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01]);
    b.extend([0xFF, 0xC0, 0x00, 0x0B, 0x08]);
    b.extend(h.to_be_bytes());
    b.extend(w.to_be_bytes());
    b.extend([0x01, 0x01, 0x11, 0x00]);
    b.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    let mut i = 0u8;
    while b.len() + 2 < len {
        b.push(i % 200);
        i = i.wrapping_add(37);
    }
    b.extend([0xFF, 0xD9]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_jpeg(w: u16, h: u16) -> Vec<u8> {
        test_jpeg(w, h, 80)
    }

    #[test]
    fn jpegs_are_recognised_by_their_header_and_nothing_else_is() {
        let j = tiny_jpeg(640, 480);
        assert_eq!(
            sniff(&j),
            Some(ImageInfo {
                mime: "image/jpeg",
                width: 640,
                height: 480
            })
        );
        assert_eq!(sniff(&j[..j.len() - 1]), None, "cut off: no end marker");
        assert_eq!(sniff(&tiny_jpeg(0, 480)), None, "no pixels");
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png), None);
        assert_eq!(sniff(b"<html><script>alert(1)</script></html>"), None);
        // A JPEG magic on an HTML page, with the right end: no frame header, refused.
        let mut fake = JPEG_MAGIC.to_vec();
        fake.extend(b"<html>");
        fake.extend(JPEG_END);
        assert_eq!(sniff(&fake), None);
        // A scan before the frame header.
        let mut early = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02];
        early.extend(JPEG_END);
        assert_eq!(sniff(&early), None);
        assert!(starts_like_jpeg(&j[..2]) && starts_like_jpeg(&j) && !starts_like_jpeg(png));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, &j).unwrap();
        assert_eq!(sniff_file(&p).unwrap(), sniff(&j));
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(sniff_file(&p).unwrap(), None);
    }

    #[test]
    fn a_version_1_database_keeps_serving_its_photos_after_the_upgrade() {
        use crate::sqlite::{SqliteStorage, SCHEMA_VERSION};
        use gridwalk_protocol::Role;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gridwalk.db");
        let sha = "ab".repeat(32);
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(include_str!("../sql/schema_v1.sql"))
                .unwrap();
            c.execute_batch(&format!(
                "INSERT INTO meta (key, value) VALUES ('epoch', 'e1');
                 INSERT INTO records (entity, id, grid_code, rev, hlc, data, clocks) VALUES
                   ('photo', 'p1', 'g1', 1, 'h', '{{\"sha256\": \"{sha}\"}}', '{{}}');
                 PRAGMA user_version = 1;"
            ))
            .unwrap();
        }
        let s = SqliteStorage::open(&path, 1).unwrap();
        let who = |user: &str, grid: &str| Principal {
            user_id: user.into(),
            role: Role::GridWorker,
            org_code: grid.into(),
            grids: vec![grid.into()],
            device_id: "d".into(),
            session_id: "s".into(),
        };
        assert!(s.photo_serves_blob(&who("u1", "g1"), "p1", &sha).unwrap());
        assert!(!s.photo_serves_blob(&who("u2", "g2"), "p1", &sha).unwrap());
        assert_eq!(
            s.blob_right(&who("u1", "g1"), &sha).unwrap(),
            BlobRight::InScope
        );
        assert_eq!(
            s.blob_right(&who("u2", "g2"), &sha).unwrap(),
            BlobRight::None
        );
        s.grant_blob(&sha, "u2", "d", 1).unwrap();
        assert_eq!(
            s.blob_right(&who("u2", "g2"), &sha).unwrap(),
            BlobRight::Holder
        );
        drop(s);
        let c = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // Opening again does not run the upgrade twice.
        drop(SqliteStorage::open(&path, 1).unwrap());
    }
}
