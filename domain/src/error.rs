//! Field-level validation errors, shared by the phone and the server.
//!
//! [`ValidationError`] is what a form shows next to a field: the field's name and a
//! machine-readable [`Code`], never the value that was typed (it may be an ID number or a phone).
//! The server answers a refused pushed value with the same field and code, so the phone's "needs
//! attention" list can point the worker at the field to fix.
//!
//! Display strings are Chinese first, English second, because they can reach a worker's screen.

use serde::{Deserialize, Serialize};

/// Machine-readable reason a field was refused. The string form (`as_str`) is stable: apps
/// and scripts match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
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
    /// A number outside its range (coordinates, floors, counts).
    OutOfRange,
    /// Another active record already holds this value (ID number).
    Duplicate,
    /// Not one of the allowed values of an enumeration.
    InvalidValue,
    /// Refers to a record that does not exist on this device.
    UnknownReference,
    /// A value contradicts another one (gender vs ID number, end before start).
    Mismatch,
    /// A file in a format the app cannot read (photos: HEIC, GIF, WebP; JPEG and PNG are read).
    UnsupportedFormat,
    /// A file that claims a supported format but is damaged or truncated.
    Corrupt,
    /// A field this version does not know (a pushed payload from a newer or patched app).
    UnknownField,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Required => "required",
            Code::TooLong => "too_long",
            Code::InvalidFormat => "invalid_format",
            Code::InvalidChecksum => "invalid_checksum",
            Code::InvalidDate => "invalid_date",
            Code::InvalidRegion => "invalid_region",
            Code::FutureDate => "future_date",
            Code::OutOfRange => "out_of_range",
            Code::Duplicate => "duplicate",
            Code::InvalidValue => "invalid_value",
            Code::UnknownReference => "unknown_reference",
            Code::Mismatch => "mismatch",
            Code::UnsupportedFormat => "unsupported_format",
            Code::Corrupt => "corrupt",
            Code::UnknownField => "unknown_field",
        }
    }

    /// Chinese message for a worker's screen.
    pub fn message_zh(self) -> &'static str {
        match self {
            Code::Required => "必填项不能为空",
            Code::TooLong => "内容过长",
            Code::InvalidFormat => "格式不正确",
            Code::InvalidChecksum => "身份证号校验位错误",
            Code::InvalidDate => "日期无效",
            Code::InvalidRegion => "身份证号地区码无效",
            Code::FutureDate => "时间不能晚于当前时间",
            Code::OutOfRange => "数值超出范围",
            Code::Duplicate => "已有在册人员使用该号码",
            Code::InvalidValue => "取值不在允许范围内",
            Code::UnknownReference => "引用的记录不存在",
            Code::Mismatch => "与其他字段矛盾",
            Code::UnsupportedFormat => "不支持的文件格式（照片请使用 JPEG 或 PNG）",
            Code::Corrupt => "文件已损坏或不完整",
            Code::UnknownField => "未知字段（请升级应用）",
        }
    }

    /// English message.
    pub fn message_en(self) -> &'static str {
        match self {
            Code::Required => "required value is missing",
            Code::TooLong => "value is too long",
            Code::InvalidFormat => "invalid format",
            Code::InvalidChecksum => "ID number check digit is wrong",
            Code::InvalidDate => "invalid date",
            Code::InvalidRegion => "ID number region code is invalid",
            Code::FutureDate => "date is in the future",
            Code::OutOfRange => "value out of range",
            Code::Duplicate => "an active resident already has this number",
            Code::InvalidValue => "not an allowed value",
            Code::UnknownReference => "referenced record does not exist",
            Code::Mismatch => "contradicts another field",
            Code::UnsupportedFormat => "unsupported file format (photos: JPEG or PNG)",
            Code::Corrupt => "file is damaged or incomplete",
            Code::UnknownField => "unknown field (update the app)",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused field. Carries the field name (dotted for nested values, e.g. `address.building`),
/// the code, and for [`Code::Duplicate`] the id of the household that already has the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {} / {} [{code}]", code.message_zh(), code.message_en())]
pub struct ValidationError {
    pub field: String,
    pub code: Code,
    /// For duplicates: the household holding the existing record.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub existing_household_id: Option<String>,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, code: Code) -> Self {
        ValidationError {
            field: field.into(),
            code,
            existing_household_id: None,
        }
    }

    pub fn duplicate(field: impl Into<String>, household_id: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            code: Code::Duplicate,
            existing_household_id: Some(household_id.into()),
        }
    }
}
