//! The one public error of the bindings, and the one place core errors are mapped to it.
//!
//! An app acts on the variant (show the message next to `field`, ask the worker to log in
//! again, retry later, offer to upgrade), so variants are the reasons an app can act on, not the
//! core's internal plumbing (SQLite, I/O and JSON errors are all `Storage`). Every variant
//! carries a Chinese and an English message ready for a screen; none contains personal data —
//! only ids, field names and codes — so an app may log them.
//!
//! No field is called `message`: in Kotlin it would clash with `Throwable.message`.

use gridwalk_core::{Code, Error as CoreError};

/// Why a field was refused. Stable: apps switch on it, scripts compare its `code()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ValidationCode {
    /// A required value is missing or blank.
    Required,
    /// Longer than the field allows.
    TooLong,
    /// Characters or shape are wrong (e.g. letters in a phone number).
    InvalidFormat,
    /// The ID number's check digit does not match (GB 11643).
    InvalidChecksum,
    /// Not a real calendar date (or an ID number's embedded birth date is impossible).
    InvalidDate,
    /// The ID number's region code is not a mainland / HK / Macao / Taiwan code.
    InvalidRegion,
    /// A date or time later than now.
    FutureDate,
    /// A number outside its range (coordinates, floors, counts, timestamps).
    OutOfRange,
    /// Another active record already holds this value (ID number).
    Duplicate,
    /// Not one of the allowed values.
    InvalidValue,
    /// Refers to a record that does not exist on this device.
    UnknownReference,
    /// Contradicts another field (gender vs ID number, end before start).
    Mismatch,
    /// A file in a format the app cannot read (photos: HEIC, GIF, WebP; JPEG and PNG are read).
    UnsupportedFormat,
    /// A file that claims a supported format but is damaged or truncated.
    Corrupt,
    /// A field this version does not know (a payload from a newer or patched app).
    UnknownField,
}

impl From<Code> for ValidationCode {
    fn from(c: Code) -> Self {
        match c {
            Code::Required => ValidationCode::Required,
            Code::TooLong => ValidationCode::TooLong,
            Code::InvalidFormat => ValidationCode::InvalidFormat,
            Code::InvalidChecksum => ValidationCode::InvalidChecksum,
            Code::InvalidDate => ValidationCode::InvalidDate,
            Code::InvalidRegion => ValidationCode::InvalidRegion,
            Code::FutureDate => ValidationCode::FutureDate,
            Code::OutOfRange => ValidationCode::OutOfRange,
            Code::Duplicate => ValidationCode::Duplicate,
            Code::InvalidValue => ValidationCode::InvalidValue,
            Code::UnknownReference => ValidationCode::UnknownReference,
            Code::Mismatch => ValidationCode::Mismatch,
            Code::UnsupportedFormat => ValidationCode::UnsupportedFormat,
            Code::Corrupt => ValidationCode::Corrupt,
            Code::UnknownField => ValidationCode::UnknownField,
        }
    }
}

impl From<ValidationCode> for Code {
    fn from(c: ValidationCode) -> Self {
        match c {
            ValidationCode::Required => Code::Required,
            ValidationCode::TooLong => Code::TooLong,
            ValidationCode::InvalidFormat => Code::InvalidFormat,
            ValidationCode::InvalidChecksum => Code::InvalidChecksum,
            ValidationCode::InvalidDate => Code::InvalidDate,
            ValidationCode::InvalidRegion => Code::InvalidRegion,
            ValidationCode::FutureDate => Code::FutureDate,
            ValidationCode::OutOfRange => Code::OutOfRange,
            ValidationCode::Duplicate => Code::Duplicate,
            ValidationCode::InvalidValue => Code::InvalidValue,
            ValidationCode::UnknownReference => Code::UnknownReference,
            ValidationCode::Mismatch => Code::Mismatch,
            ValidationCode::UnsupportedFormat => Code::UnsupportedFormat,
            ValidationCode::Corrupt => Code::Corrupt,
            ValidationCode::UnknownField => Code::UnknownField,
        }
    }
}

#[uniffi::export]
impl ValidationCode {
    /// The stable snake_case code, e.g. `invalid_checksum`.
    pub fn code(&self) -> String {
        Code::from(*self).as_str().to_string()
    }

    /// Chinese text for a worker's screen, e.g. `身份证号校验位错误`.
    pub fn message_zh(&self) -> String {
        Code::from(*self).message_zh().to_string()
    }

    /// English text.
    pub fn message_en(&self) -> String {
        Code::from(*self).message_en().to_string()
    }
}

/// Everything a Gridwalk call can fail with. Thrown as an exception in Kotlin, Swift and Python.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum GridwalkError {
    /// A field was refused: show `message_zh` next to `field` (dotted for nested values, e.g.
    /// `address.building`, `units[0].code`). The typed value is never echoed back.
    #[error("{field}: {message_zh} / {message_en} [{}]", code.code())]
    Validation {
        field: String,
        code: ValidationCode,
        /// For `Duplicate`: the household already holding the value.
        existing_household_id: Option<String>,
        message_zh: String,
        message_en: String,
    },

    /// No record with this id on the device (`entity` is e.g. `household`, `case`).
    #[error("{message_zh} / {message_en}")]
    NotFound {
        entity: String,
        id: String,
        message_zh: String,
        message_en: String,
    },

    /// The record's state forbids the action (e.g. editing a submitted case, starting a second
    /// patrol). `state` and `action` are machine-readable.
    #[error("{message_zh} / {message_en}")]
    InvalidState {
        entity: String,
        id: String,
        state: String,
        action: String,
        message_zh: String,
        message_en: String,
    },

    /// Not signed in, the session ended, or the credentials were refused: ask the worker to
    /// sign in again. `code` is machine-readable: `not_signed_in`, `bad_credentials`,
    /// `session_ended`, `user_disabled`, `device_revoked`. Local data is untouched.
    #[error("{message_zh} / {message_en} [{code}]")]
    Auth {
        code: String,
        message_zh: String,
        message_en: String,
    },

    /// The server could not be reached or answered badly. `retryable`: a later attempt may
    /// succeed (no signal, server busy); otherwise the server refused the request as a whole.
    /// `code` is machine-readable (`network`, `server_error`, `protocol`, or the server's
    /// code). Local data is untouched: nothing unsynced is lost.
    #[error("{message_zh} / {message_en} [{code}]")]
    Network {
        code: String,
        retryable: bool,
        message_zh: String,
        message_en: String,
    },

    /// The call was cancelled through its `CancelHandle`. What finished before the
    /// cancel is kept.
    #[error("{message_zh} / {message_en}")]
    Cancelled {
        message_zh: String,
        message_en: String,
    },

    /// The database was written by a newer app version and was not touched: ask to upgrade.
    #[error("{message_zh} / {message_en}")]
    SchemaTooNew {
        found: i64,
        supported: i64,
        message_zh: String,
        message_en: String,
    },

    /// The file is a Gridwalk store that failed its checks (truncated, damaged pages). It was
    /// moved aside to `moved_to` (never deleted) and a fresh store can be opened at the
    /// original path; `moved_to` is absent when it was opened read-only (left in place).
    #[error("{message_zh} / {message_en}")]
    Corrupt {
        moved_to: Option<String>,
        message_zh: String,
        message_en: String,
    },

    /// The file at the path is not a Gridwalk store (a spreadsheet, another app's database,
    /// an empty file) and was not touched. `reason` is machine-readable: `empty_file`,
    /// `not_sqlite`, `other_database`, `not_a_file`. Ask for another path.
    #[error("{message_zh} / {message_en} [{reason}]")]
    NotAStore {
        path: String,
        reason: String,
        message_zh: String,
        message_en: String,
    },

    /// The store can only be read: its file is read-only or it was opened with
    /// `openReadOnly`. `needs_upgrade`: written by an older app version, it must be opened
    /// read-write once (to upgrade) before it can be read.
    #[error("{message_zh} / {message_en}")]
    ReadOnly {
        path: String,
        needs_upgrade: bool,
        message_zh: String,
        message_en: String,
    },

    /// Another program kept writing to the store for longer than a write waits (minutes).
    /// Nothing was written; try again later.
    #[error("{message_zh} / {message_en}")]
    Busy {
        waited_s: u64,
        message_zh: String,
        message_en: String,
    },

    /// Encryption is unavailable in this build, or the key is wrong.
    #[error("{message_zh} / {message_en}")]
    Encryption {
        message_zh: String,
        message_en: String,
    },

    /// A file handed in (ledger, GPX, photo) could not be understood as a whole. `what` names
    /// the kind of file.
    #[error("{message_zh} / {message_en}")]
    Format {
        what: String,
        message_zh: String,
        message_en: String,
    },

    /// The app's own callback (a `LocationSource`, a listener) threw something other than a
    /// `GridwalkError`. `detail` is the foreign exception's text, for developers' logs.
    #[error("{message_zh} / {message_en}: {detail}")]
    Platform {
        detail: String,
        message_zh: String,
        message_en: String,
    },

    /// The store was closed with `GridwalkStore.closeStore()`; open a new one.
    #[error("{message_zh} / {message_en}")]
    Closed {
        message_zh: String,
        message_en: String,
    },

    /// Reading or writing the device's storage failed (disk full, permissions, SQLite error).
    /// `detail` is for developers' logs.
    #[error("{message_zh} / {message_en}: {detail}")]
    Storage {
        detail: String,
        message_zh: String,
        message_en: String,
    },
}

/// Shorthand used by the wrappers.
pub type Result<T, E = GridwalkError> = std::result::Result<T, E>;

impl GridwalkError {
    /// A validation error raised by the bindings themselves (e.g. a date string or a timestamp
    /// that does not parse), shaped exactly like the core's.
    pub fn invalid(field: impl Into<String>, code: Code) -> Self {
        GridwalkError::Validation {
            field: field.into(),
            code: code.into(),
            existing_household_id: None,
            message_zh: code.message_zh().to_string(),
            message_en: code.message_en().to_string(),
        }
    }

    pub(crate) fn closed() -> Self {
        GridwalkError::Closed {
            message_zh: "数据库已关闭".into(),
            message_en: "the store is closed".into(),
        }
    }

    pub(crate) fn cancelled() -> Self {
        GridwalkError::Cancelled {
            message_zh: "操作已取消".into(),
            message_en: "cancelled".into(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for GridwalkError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        GridwalkError::Platform {
            detail: e.reason,
            message_zh: "应用回调出错".into(),
            message_en: "an app callback failed".into(),
        }
    }
}

/// Splits the core's bilingual `"中文 / English"` display into its two halves.
fn split_display(text: &str) -> (String, String) {
    match text.split_once(" / ") {
        Some((zh, en)) => (zh.to_string(), en.to_string()),
        None => (text.to_string(), text.to_string()),
    }
}

impl From<CoreError> for GridwalkError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Validation(v) => GridwalkError::Validation {
                message_zh: v.code.message_zh().to_string(),
                message_en: v.code.message_en().to_string(),
                field: v.field,
                code: v.code.into(),
                existing_household_id: v.existing_household_id,
            },
            CoreError::NotFound { entity, id } => GridwalkError::NotFound {
                message_zh: format!("未找到记录：{entity} {id}"),
                message_en: format!("not found: {entity} {id}"),
                entity: entity.to_string(),
                id,
            },
            CoreError::InvalidState {
                entity,
                id,
                state,
                action,
            } => GridwalkError::InvalidState {
                message_zh: format!("当前状态（{state}）不允许此操作：{entity} {id}"),
                message_en: format!("{entity} {id} is {state}, cannot {action}"),
                entity: entity.to_string(),
                id,
                state,
                action: action.to_string(),
            },
            CoreError::SchemaTooNew { found, supported } => GridwalkError::SchemaTooNew {
                message_zh: format!("数据库版本 {found} 高于本程序支持的 {supported}，请升级应用"),
                message_en: format!(
                    "database schema {found} is newer than supported {supported}; upgrade the app"
                ),
                found,
                supported,
            },
            CoreError::Corrupt { moved_to } => GridwalkError::Corrupt {
                message_zh: match moved_to {
                    Some(_) => "数据库文件已损坏，已移至别处保存".into(),
                    None => "数据库文件已损坏（只读打开，未移动）".into(),
                },
                message_en: match moved_to {
                    Some(_) => "database file is corrupt; it was moved aside".into(),
                    None => "database file is corrupt (opened read-only, left in place)".into(),
                },
                moved_to: moved_to.map(|p| p.to_string_lossy().into_owned()),
            },
            CoreError::NotAStore { path, reason } => GridwalkError::NotAStore {
                message_zh: format!(
                    "该文件不是 Gridwalk 数据库，未做任何改动（{}）",
                    reason.label_zh()
                ),
                message_en: format!(
                    "not a Gridwalk store, left untouched ({})",
                    reason.label_en()
                ),
                path: path.to_string_lossy().into_owned(),
                reason: reason.code().to_string(),
            },
            CoreError::ReadOnly {
                path,
                needs_upgrade,
            } => GridwalkError::ReadOnly {
                message_zh: if needs_upgrade {
                    "数据库需先升级才能读取，升级须有写权限".into()
                } else {
                    "数据库只能读取，不能写入".into()
                },
                message_en: if needs_upgrade {
                    "the store must be upgraded before it can be read, which needs write access"
                        .into()
                } else {
                    "the store is read-only".into()
                },
                path: path.to_string_lossy().into_owned(),
                needs_upgrade,
            },
            CoreError::Busy { waited_s } => GridwalkError::Busy {
                message_zh: format!("数据库正被另一程序写入，已等待 {waited_s} 秒，请稍后重试"),
                message_en: format!(
                    "the store is busy with another write; gave up after {waited_s} s"
                ),
                waited_s,
            },
            CoreError::Encryption(_) => GridwalkError::Encryption {
                message_zh: "加密不可用或密钥错误".into(),
                message_en: "encryption unavailable or wrong key".into(),
            },
            CoreError::Format { what, detail } => GridwalkError::Format {
                message_zh: format!("文件格式错误（{what}）"),
                message_en: format!("bad file format ({what}): {detail}"),
                what: what.to_string(),
            },
            other @ (CoreError::Sqlite(_) | CoreError::Io(_) | CoreError::Json(_)) => {
                let (zh, en) = split_display(&other.to_string());
                GridwalkError::Storage {
                    detail: en,
                    message_zh: zh,
                    message_en: "storage error".into(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_validation_keeps_field_code_and_household() {
        let core = CoreError::Validation(gridwalk_core::ValidationError::duplicate(
            "id_number",
            "h-1",
        ));
        match GridwalkError::from(core) {
            GridwalkError::Validation {
                field,
                code,
                existing_household_id,
                message_zh,
                ..
            } => {
                assert_eq!(field, "id_number");
                assert_eq!(code, ValidationCode::Duplicate);
                assert_eq!(code.code(), "duplicate");
                assert_eq!(existing_household_id.as_deref(), Some("h-1"));
                assert_eq!(message_zh, "已有在册人员使用该号码");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn codes_round_trip() {
        for code in [
            Code::Required,
            Code::TooLong,
            Code::InvalidFormat,
            Code::InvalidChecksum,
            Code::InvalidDate,
            Code::InvalidRegion,
            Code::FutureDate,
            Code::OutOfRange,
            Code::Duplicate,
            Code::InvalidValue,
            Code::UnknownReference,
            Code::Mismatch,
            Code::UnsupportedFormat,
            Code::Corrupt,
        ] {
            assert_eq!(Code::from(ValidationCode::from(code)), code);
            assert_eq!(ValidationCode::from(code).code(), code.as_str());
        }
    }

    #[test]
    fn storage_errors_are_bilingual() {
        let e = GridwalkError::from(CoreError::Io(std::io::Error::other("disk full")));
        match e {
            GridwalkError::Storage {
                detail, message_zh, ..
            } => {
                assert_eq!(message_zh, "文件读写错误");
                assert!(detail.contains("disk full"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
