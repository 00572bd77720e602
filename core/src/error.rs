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

    #[error("未找到{} {id} / {entity} {id} not found", entity_zh(.entity))]
    NotFound { entity: &'static str, id: String },

    /// The operation is not allowed in the record's current state (e.g. editing a submitted case).
    #[error("{} {id} 当前为 {state}，不能 {action} / {entity} {id} is {state}, cannot {action}", entity_zh(.entity))]
    InvalidState {
        entity: &'static str,
        id: String,
        state: String,
        action: &'static str,
    },

    /// The database was written by a newer version of Gridwalk. It was not touched.
    #[error("数据库版本 {found} 高于本程序支持的 {supported}，请升级应用 / database schema {found} is newer than supported {supported}; upgrade the app")]
    SchemaTooNew { found: i64, supported: i64 },

    /// The file is a Gridwalk store that failed its checks at open (truncated, malformed pages).
    /// It was moved aside to `moved_to` (never deleted) so a fresh store can be opened at the
    /// path; `None` when it was opened read-only and so left where it is.
    #[error("数据库文件已损坏，{} / database file is corrupt; {}", corrupt_zh(.moved_to), corrupt_en(.moved_to))]
    Corrupt { moved_to: Option<PathBuf> },

    /// The file at the store's path is not a Gridwalk store (a spreadsheet, another app's
    /// database, an empty file). It was not touched in any way.
    #[error("该文件不是 Gridwalk 数据库，未做任何改动（{}）：{path:?} / not a Gridwalk store, left untouched ({}): {path:?}", .reason.label_zh(), .reason.label_en())]
    NotAStore {
        path: PathBuf,
        reason: NotAStoreReason,
    },

    /// The store can only be read: its file is read-only, it was opened with
    /// [`crate::Store::open_read_only`], or (`needs_upgrade`) it was written by an older
    /// version and must be upgraded, which needs write access.
    #[error("数据库只能读取，不能写入{} / the store is read-only{}: {path:?}", if *.needs_upgrade { "（需先升级，须有写权限）" } else { "" }, if *.needs_upgrade { " (it must be upgraded first, which needs write access)" } else { "" })]
    ReadOnly { path: PathBuf, needs_upgrade: bool },

    /// Another program kept writing to the store for longer than the write waits
    /// ([`crate::store::BUSY_WAIT_MAX`]). Nothing was written; try again.
    #[error("数据库正被另一程序写入，已等待 {waited_s} 秒仍未完成，请稍后重试 / the store is busy with another write; gave up after {waited_s} s, try again later")]
    Busy { waited_s: u64 },

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

/// Why a file is not taken for a Gridwalk store. Stable codes: apps and scripts switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotAStoreReason {
    /// The file has no bytes at all. Gridwalk never leaves one behind (a new store is built
    /// under a temporary name and moved into place whole), so it is someone else's file.
    Empty,
    /// The file does not start like an SQLite database (a spreadsheet, a CSV, a photo…).
    NotSqlite,
    /// An SQLite database of another application (another `application_id`, or none and
    /// without the store's tables).
    OtherDatabase,
    /// A directory, a device or anything else that is not a plain file.
    NotAFile,
}

impl NotAStoreReason {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            NotAStoreReason::Empty => "empty_file",
            NotAStoreReason::NotSqlite => "not_sqlite",
            NotAStoreReason::OtherDatabase => "other_database",
            NotAStoreReason::NotAFile => "not_a_file",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            NotAStoreReason::Empty => "空文件",
            NotAStoreReason::NotSqlite => "不是 SQLite 数据库，可能是表格或其他文件",
            NotAStoreReason::OtherDatabase => "其他应用的数据库",
            NotAStoreReason::NotAFile => "不是普通文件",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            NotAStoreReason::Empty => "empty file",
            NotAStoreReason::NotSqlite => "not an SQLite database; a spreadsheet or another file",
            NotAStoreReason::OtherDatabase => "another application's database",
            NotAStoreReason::NotAFile => "not a plain file",
        }
    }
}

/// The Chinese name of a record kind named in [`Error::NotFound`] and [`Error::InvalidState`].
pub fn entity_zh(entity: &str) -> &'static str {
    match entity {
        "household" => "住户",
        "resident" => "居民",
        "case" => "事件",
        "patrol" => "巡查",
        "task" => "任务",
        "photo" => "照片",
        "org_unit" => "网格",
        "import" => "导入记录",
        "conflict" => "冲突",
        "attention" => "待处理变更",
        "session" => "登录",
        _ => "记录",
    }
}

fn corrupt_zh(moved_to: &Option<PathBuf>) -> String {
    match moved_to {
        Some(p) => format!("已移至 {p:?}"),
        None => "以只读方式打开，未移动".into(),
    }
}

fn corrupt_en(moved_to: &Option<PathBuf>) -> String {
    match moved_to {
        Some(p) => format!("moved aside to {p:?}"),
        None => "opened read-only, left in place".into(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
