//! Errors of the core, in two shapes.
//!
//! [`ValidationError`] is what a form shows next to a field: the field's name and a
//! machine-readable [`Code`], never the value that was typed (it may be an ID number or a phone).
//! [`Error`] is everything else a caller can act on. The bindings crate maps [`Error`] to its
//! public FFI error in one place; inside the core, `?` with `#[from]` does the plumbing.
//!
//! Display strings are Chinese first, English second, because they can reach a worker's screen.
//! None of them contains personal data: entity ids and field names only.

use std::path::PathBuf;

pub use gridwalk_domain::error::{Code, ValidationError};

/// Everything the core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("校验失败 / validation failed: {0}")]
    Validation(#[from] ValidationError),

    #[error("未找到记录 / not found: {entity} {id}")]
    NotFound { entity: &'static str, id: String },

    /// The operation is not allowed in the record's current state (e.g. editing a submitted case).
    #[error("当前状态不允许此操作 / {entity} {id} is {state}, cannot {action}")]
    InvalidState {
        entity: &'static str,
        id: String,
        state: String,
        action: &'static str,
    },

    /// The database was written by a newer version of Gridwalk. It was not touched.
    #[error("数据库版本 {found} 高于本程序支持的 {supported}，请升级应用 / database schema {found} is newer than supported {supported}; upgrade the app")]
    SchemaTooNew { found: i64, supported: i64 },

    /// The file is not a readable database. It was moved aside (never deleted).
    #[error("数据库文件已损坏，已移至 {moved_to:?} / database file is corrupt; moved aside to {moved_to:?}")]
    Corrupt { moved_to: PathBuf },

    /// An encryption key was given but this build has no SQLCipher, or the key is wrong.
    #[error("加密不可用或密钥错误 / encryption unavailable or wrong key: {0}")]
    Encryption(String),

    /// A file (CSV, GPX, photo) could not be understood as a whole.
    #[error("文件格式错误 / bad file format ({what}): {detail}")]
    Format { what: &'static str, detail: String },

    #[error("存储错误 / storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("文件读写错误 / I/O error: {0}")]
    Io(#[from] std::io::Error),

    #[error("数据编码错误 / encoding error: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Shorthand for a validation error.
    pub fn invalid(field: impl Into<String>, code: Code) -> Self {
        Error::Validation(ValidationError::new(field, code))
    }

    /// The validation error inside, if this is one.
    pub fn as_validation(&self) -> Option<&ValidationError> {
        match self {
            Error::Validation(v) => Some(v),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
