//! Content-addressed photo blob storage.
//!
//! A blob is the complete, verified bytes of one photo, named by its SHA-256: the phone links a
//! photo record to its file by that hash, the same photo attached twice is stored once, and a
//! blob can never be half-written under its final name. [`BlobStore`] is the seam: the
//! filesystem ([`FsBlobStore`], `blobs/ab/cd/<sha256>` under the data folder) is the default,
//! object storage can implement the trait later. Only complete files whose whole-file hash was
//! verified enter a blob store; unfinished uploads live in `uploads.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where complete photo files live.
pub trait BlobStore: Send + Sync + 'static {
    /// Size of the blob, when the store has it.
    fn len(&self, sha256: &str) -> Result<Option<u64>>;

    /// Moves a local file, already verified to hash to `sha256`, into the store. If the blob
    /// is already there, the file is removed and the existing blob kept.
    fn put_file(&self, sha256: &str, file: &Path) -> Result<()>;

    /// Opens a blob for reading, with its size.
    fn open(&self, sha256: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>>;
}

/// Lowercase hex SHA-256 (the only names a blob store accepts: nothing else reaches a path).
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Blobs as files: `<root>/ab/cd/<sha256>`. Two levels of fan-out keep directories small.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<FsBlobStore> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(FsBlobStore { root })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(Error::invalid("sha256", "invalid_format"));
        }
        Ok(self
            .root
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }
}

/// fsyncs a directory so a rename in it survives power loss (no-op where unsupported).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) => Ok(()),
    }
}

impl BlobStore for FsBlobStore {
    fn len(&self, sha256: &str) -> Result<Option<u64>> {
        match std::fs::metadata(self.path(sha256)?) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn put_file(&self, sha256: &str, file: &Path) -> Result<()> {
        let target = self.path(sha256)?;
        if target.is_file() {
            std::fs::remove_file(file)?;
            return Ok(());
        }
        let dir = target
            .parent()
            .ok_or_else(|| Error::invalid("sha256", "invalid_format"))?;
        std::fs::create_dir_all(dir)?;
        std::fs::File::open(file)?.sync_all()?;
        std::fs::rename(file, &target)?;
        sync_dir(dir)?;
        Ok(())
    }

    fn open(&self, sha256: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>> {
        match std::fs::File::open(self.path(sha256)?) {
            Ok(f) => {
                let len = f.metadata()?.len();
                Ok(Some((Box::new(f), len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path().join("blobs")).unwrap();
        let sha = "ab".repeat(32);
        assert_eq!(store.len(&sha).unwrap(), None);
        let f = dir.path().join("x.part");
        std::fs::write(&f, b"hello").unwrap();
        store.put_file(&sha, &f).unwrap();
        assert!(!f.exists());
        assert_eq!(store.len(&sha).unwrap(), Some(5));
        assert!(dir.path().join("blobs/ab/ab").join(&sha).is_file());
        std::fs::write(&f, b"again").unwrap();
        store.put_file(&sha, &f).unwrap();
        let (mut r, n) = store.open(&sha).unwrap().unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((s.as_str(), n), ("hello", 5), "the first blob is kept");
        assert!(store.len("../../etc/passwd").is_err());
    }
}
