//! The folder of unfinished uploads, shared by every server instance of a deployment.
//!
//! Why: behind a load balancer, a phone's `POST /v1/uploads` may reach one instance and its
//! resumed `PATCH` (after a dropped connection, hours later) another. So nothing about an
//! upload lives in process memory: the folder *is* the state, read on every request, and every
//! instance mounts it at the same place ([`crate::Config::blob_dir`], next to the blob store).
//!
//! Layout under `<blob_dir>/uploads/`:
//!
//! - `<owner>/` — one folder per device (`owner` = the first 16 bytes of SHA-256 of the device
//!   id, hex): a device's uploads are found without listing everyone's, and a device id never
//!   reaches a path.
//! - `<owner>/<id>.part` — the bytes so far; its length *is* the offset.
//! - `<owner>/<id>.json` — the sidecar (sha256, length, photo id, user, device, created).
//! - `<owner>/.lock` — held while a create of this device looks at its uploads and adds one
//!   (the per-device limit and "the same upload again" stay exact across instances).
//!
//! An upload exists while both its part and its sidecar exist. Creating writes the part, then
//! the sidecar; finishing moves the part into the blob store, then removes the sidecar; dropping
//! removes the part, then the sidecar. So a sidecar without a part is a finished upload (removed
//! when seen), and a part without a sidecar is a create that died half-way (removed under the
//! device's lock, where no create can be in progress).
//!
//! Concurrency across processes: a PATCH, HEAD, DELETE or expiry holds an exclusive `flock` on
//! the part file ([`UploadDir::lock_upload`]), then checks the part is still the one it opened
//! (same inode) and the sidecar still there: the upload may have completed or been dropped by
//! another instance while it waited. Locks are released by the kernel when a process dies, so a
//! crashed instance blocks nobody. On NFS, Linux emulates `flock` with POSIX byte-range locks
//! (NFSv4 or NLM), which exclude across machines; taking the lock also revalidates the file's
//! cached size, so the offset read under it is the one every instance sees.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blobs::{is_sha256, sync_dir};
use crate::error::Result;

/// The sidecar of an unfinished upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    pub id: String,
    pub sha256: String,
    pub length: u64,
    pub photo_id: Option<String>,
    pub user_id: String,
    pub device_id: String,
    pub created_at: i64,
}

/// Upload ids are server-made (UUID v7, simple form); anything else is nobody's upload.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The folder of a device's uploads: a hash, so no device id reaches a path.
fn owner_key(device_id: &str) -> String {
    Sha256::digest(device_id.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_owner_key(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn exists(path: &Path) -> std::io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes a small file atomically (temp, fsync, rename, fsync dir).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Reads a sidecar. `None` when it is gone; one that does not parse (or names another upload)
/// is moved aside, never deleted silently, and counts as gone.
fn read_meta(path: &Path, id: &str) -> Result<Option<UploadMeta>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match serde_json::from_slice::<UploadMeta>(&bytes) {
        Ok(m) if is_sha256(&m.sha256) && m.id == id && valid_id(&m.id) => Ok(Some(m)),
        _ => {
            tracing::warn!(file = ?path.file_name(), "unreadable upload sidecar moved aside");
            match std::fs::rename(path, path.with_extension("json.bad")) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(None),
            }
        }
    }
}

/// An upload whose part file this process holds locked: the only way to change its bytes.
/// Dropping it releases the lock.
pub(crate) struct LockedUpload {
    pub meta: UploadMeta,
    file: File,
    part: PathBuf,
    sidecar: PathBuf,
}

impl LockedUpload {
    /// The bytes so far (the offset).
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    pub fn part_path(&self) -> &Path {
        &self.part
    }

    /// Writes verified chunk bytes at `offset` and makes them durable.
    pub fn write_at(&mut self, offset: u64, chunk: &[u8]) -> Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(chunk)?;
        self.file.sync_data()?;
        Ok(())
    }

    /// Lowercase hex SHA-256 of the part file.
    pub fn sha256(&mut self) -> Result<String> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Back to offset 0 (the whole file did not verify).
    pub fn restart(&mut self) -> Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        Ok(())
    }

    /// Forgets the upload after its part was moved away (into the blob store).
    pub fn forget_moved(self) -> Result<()> {
        remove_if_exists(&self.sidecar)?;
        Ok(())
    }

    /// Deletes the upload: part first, then sidecar (a sidecar alone counts as gone).
    pub fn remove(self) -> Result<()> {
        remove_if_exists(&self.part)?;
        remove_if_exists(&self.sidecar)?;
        Ok(())
    }
}

/// The device's create lock (`<owner>/.lock`), held while it lives.
pub(crate) struct OwnerLock {
    _file: File,
    dir: PathBuf,
}

/// `<blob_dir>/uploads`.
#[derive(Debug, Clone)]
pub(crate) struct UploadDir {
    root: PathBuf,
}

impl UploadDir {
    /// Opens (creates) the folder and moves uploads of the older flat layout
    /// (`uploads/<id>.part|json`) into their device's folder.
    pub fn open(root: PathBuf) -> Result<UploadDir> {
        std::fs::create_dir_all(&root)?;
        let dir = UploadDir { root };
        dir.migrate_flat()?;
        Ok(dir)
    }

    fn owner_dir(&self, device_id: &str) -> PathBuf {
        self.root.join(owner_key(device_id))
    }

    fn paths(&self, device_id: &str, id: &str) -> (PathBuf, PathBuf) {
        let d = self.owner_dir(device_id);
        (d.join(format!("{id}.part")), d.join(format!("{id}.json")))
    }

    /// Before uploads were shared, the folder was flat and one process owned it.
    fn migrate_flat(&self) -> Result<()> {
        let mut moved = false;
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if !path.is_file() || path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let Some(m) = read_meta(&path, &id)? else {
                continue;
            };
            let (part, sidecar) = self.paths(&m.device_id, &m.id);
            if let Some(d) = part.parent() {
                std::fs::create_dir_all(d)?;
            }
            let old_part = path.with_extension("part");
            if exists(&old_part)? {
                std::fs::rename(&old_part, &part)?;
            }
            std::fs::rename(&path, &sidecar)?;
            moved = true;
        }
        // What is left at the top is a create that died half-way under the old layout.
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            let ext = path.extension().and_then(|e| e.to_str());
            if path.is_file() && matches!(ext, Some("part") | Some("tmp")) {
                remove_if_exists(&path)?;
                moved = true;
            }
        }
        if moved {
            sync_dir(&self.root)?;
        }
        Ok(())
    }

    /// Takes the device's create lock (waits for another instance's create of this device).
    pub fn lock_owner(&self, device_id: &str) -> Result<OwnerLock> {
        let dir = self.owner_dir(device_id);
        std::fs::create_dir_all(&dir)?;
        Self::lock_owner_dir(dir)
    }

    fn lock_owner_dir(dir: PathBuf) -> Result<OwnerLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(".lock"))?;
        flock(&file, FlockOperation::LockExclusive).map_err(std::io::Error::from)?;
        Ok(OwnerLock { _file: file, dir })
    }

    /// The device's unfinished uploads, under its lock. Sidecars of finished uploads and parts
    /// without a sidecar (a create that died half-way) are removed on the way.
    pub fn list(&self, owner: &OwnerLock) -> Result<Vec<UploadMeta>> {
        Ok(self.list_counted(owner)?.0)
    }

    /// [`Self::list`], with the number of leftover files it removed.
    fn list_counted(&self, owner: &OwnerLock) -> Result<(Vec<UploadMeta>, usize)> {
        let mut out = Vec::new();
        let mut removed = 0;
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(&owner.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(id) = name.strip_suffix(".json") {
                if !valid_id(id) {
                    continue;
                }
                let part = path.with_extension("part");
                if !exists(&part)? {
                    remove_if_exists(&path)?;
                    removed += 1;
                    continue;
                }
                if let Some(m) = read_meta(&path, id)? {
                    out.push(m);
                }
            } else if let Some(id) = name.strip_suffix(".part") {
                parts.push((id.to_string(), path));
            } else if name.ends_with(".tmp") {
                remove_if_exists(&path)?;
                removed += 1;
            }
        }
        for (id, part) in parts {
            if !out.iter().any(|m| m.id == id) && !exists(&part.with_extension("json"))? {
                tracing::info!(upload = %id, "part file without sidecar removed");
                remove_if_exists(&part)?;
                removed += 1;
            }
        }
        Ok((out, removed))
    }

    /// Adds an upload (under the device's lock): an empty part, then the sidecar.
    pub fn create(&self, owner: &OwnerLock, meta: &UploadMeta) -> Result<()> {
        let part = owner.dir.join(format!("{}.part", meta.id));
        let sidecar = owner.dir.join(format!("{}.json", meta.id));
        File::create(&part)?.sync_all()?;
        write_atomic(&sidecar, &serde_json::to_vec(meta)?)?;
        Ok(())
    }

    /// The bytes so far of an upload (without its lock: a HEAD's answer may be a chunk behind
    /// a PATCH in flight, which is what the phone sees anyway).
    pub fn part_len(&self, meta: &UploadMeta) -> Result<u64> {
        let (part, _) = self.paths(&meta.device_id, &meta.id);
        match std::fs::metadata(part) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The sidecar of upload `id` of `device_id`, when it exists.
    pub fn meta(&self, device_id: &str, id: &str) -> Result<Option<UploadMeta>> {
        if !valid_id(id) {
            return Ok(None);
        }
        let (part, sidecar) = self.paths(device_id, id);
        let Some(m) = read_meta(&sidecar, id)? else {
            return Ok(None);
        };
        if m.device_id != device_id || !exists(&part)? {
            return Ok(None);
        }
        Ok(Some(m))
    }

    /// Locks upload `id` of `device_id` for changing its bytes; waits while another request
    /// (of this or another instance) holds it. `None` when it does not exist (any more).
    pub fn lock_upload(&self, device_id: &str, id: &str) -> Result<Option<LockedUpload>> {
        self.lock_inner(device_id, id, true)
    }

    /// [`Self::lock_upload`] without waiting: `None` also when someone holds it.
    pub fn try_lock_upload(&self, device_id: &str, id: &str) -> Result<Option<LockedUpload>> {
        self.lock_inner(device_id, id, false)
    }

    fn lock_inner(&self, device_id: &str, id: &str, wait: bool) -> Result<Option<LockedUpload>> {
        if !valid_id(id) {
            return Ok(None);
        }
        let (part, sidecar) = self.paths(device_id, id);
        let file = match OpenOptions::new().read(true).write(true).open(&part) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if wait {
            flock(&file, FlockOperation::LockExclusive).map_err(std::io::Error::from)?;
        } else {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Ok(None),
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
        // Held. While we waited, the upload may have completed (its part moved into the blob
        // store) or been dropped: then the path no longer names the file we hold.
        let held = file.metadata()?;
        let same = match std::fs::metadata(&part) {
            Ok(m) => m.ino() == held.ino() && m.dev() == held.dev(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        if !same {
            return Ok(None);
        }
        let Some(meta) = read_meta(&sidecar, id)? else {
            return Ok(None);
        };
        if meta.device_id != device_id {
            return Ok(None);
        }
        Ok(Some(LockedUpload {
            meta,
            file,
            part,
            sidecar,
        }))
    }

    /// Every device folder, each under its lock in turn, with its uploads and the number of
    /// leftovers listing it removed.
    pub fn for_each_owner(
        &self,
        mut f: impl FnMut(&OwnerLock, Vec<UploadMeta>, usize) -> Result<()>,
    ) -> Result<()> {
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_owner_key(name) || !entry.file_type()?.is_dir() {
                continue;
            }
            let owner = Self::lock_owner_dir(entry.path())?;
            let (uploads, removed) = self.list_counted(&owner)?;
            f(&owner, uploads, removed)?;
        }
        Ok(())
    }

    /// When an upload last changed (its part's modification time, or its creation).
    pub fn touched_ms(&self, meta: &UploadMeta) -> i64 {
        let (part, _) = self.paths(&meta.device_id, &meta.id);
        std::fs::metadata(part)
            .and_then(|md| md.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
            .max(meta.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, device: &str) -> UploadMeta {
        UploadMeta {
            id: id.into(),
            sha256: "ab".repeat(32),
            length: 10,
            photo_id: None,
            user_id: "u".into(),
            device_id: device.into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_lock_waits_and_then_sees_a_finished_upload_as_gone() {
        let dir = tempfile::tempdir().unwrap();
        // Two handles on one folder: two instances.
        let a = UploadDir::open(dir.path().join("uploads")).unwrap();
        let b = UploadDir::open(dir.path().join("uploads")).unwrap();
        {
            let o = a.lock_owner("d1").unwrap();
            a.create(&o, &meta("u1", "d1")).unwrap();
        }
        let held = a.lock_upload("d1", "u1").unwrap().unwrap();
        assert!(
            b.try_lock_upload("d1", "u1").unwrap().is_none(),
            "held elsewhere"
        );
        let waiter = std::thread::spawn(move || b.lock_upload("d1", "u1").unwrap().is_none());
        std::thread::sleep(std::time::Duration::from_millis(50));
        // The holder completes it: the part moves away, then the sidecar goes.
        let moved = dir.path().join("moved");
        std::fs::rename(held.part_path(), &moved).unwrap();
        held.forget_moved().unwrap();
        assert!(waiter.join().unwrap(), "the waiter finds it gone");
        assert!(a.meta("d1", "u1").unwrap().is_none());
        // Another device's id names nothing.
        assert!(a.meta("d2", "u1").unwrap().is_none());
    }

    #[test]
    fn listing_removes_half_made_and_finished_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let a = UploadDir::open(dir.path().join("uploads")).unwrap();
        let o = a.lock_owner("d1").unwrap();
        a.create(&o, &meta("keep", "d1")).unwrap();
        a.create(&o, &meta("done", "d1")).unwrap();
        std::fs::remove_file(o.dir.join("done.part")).unwrap();
        std::fs::write(o.dir.join("halfway.part"), b"x").unwrap();
        std::fs::write(o.dir.join("bad.json"), b"{").unwrap();
        std::fs::write(o.dir.join("bad.part"), b"").unwrap();
        let ids: Vec<_> = a.list(&o).unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, vec!["keep".to_string()]);
        assert!(!o.dir.join("done.json").exists());
        assert!(!o.dir.join("halfway.part").exists());
        assert!(o.dir.join("bad.json.bad").exists(), "kept aside");
    }
}
