//! What can go wrong in a command, how it is shown, and which exit code it gives.
//!
//! One type, [`CliError`], wraps the core's [`Error`] plus the few failures only the command line
//! has (no store yet, a file that cannot be read, no running patrol). It is rendered in exactly
//! one place ([`report`]), so every command prints errors the same way:
//!
//! - human: `错误 / error: <field>: <zh> / <en> [<code>]` for a refused value, the core's bilingual
//!   message otherwise;
//! - `--json`: `{"error": {"kind", "field", "code", "message"}}` on stderr.
//!
//! A refused value exits with 2 (like a command line clap cannot parse), an import that refused
//! some of its rows with 3 (after printing its report), anything else with 1.
//! Messages never contain what was typed into a field: the core's errors carry field names and
//! codes only, and the errors made here follow the same rule (an ID number or a phone must not
//! end up in a terminal scroll-back or a bug report).

use std::path::PathBuf;

use gridwalk_core::{Error, ValidationError};
use serde_json::{json, Value};

/// Exit code for a refused value.
pub const EXIT_VALIDATION: u8 = 2;
/// Exit code for every other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of an import that refused some rows (the others were imported).
pub const EXIT_ROWS_REFUSED: u8 = 3;

#[derive(Debug)]
pub enum CliError {
    /// An error of the core library.
    Core(Error),
    /// The store file does not exist (and this command does not create one).
    NoStore(PathBuf),
    /// An input or output file named on the command line could not be read or written.
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The command cannot run in the current state (e.g. no patrol is running).
    State { zh: String, en: String },
    /// A value outside a vocabulary, with the values that would have been accepted.
    Invalid {
        v: ValidationError,
        allowed_zh: String,
        allowed_en: String,
    },
    /// An import refused some rows (its report is already printed).
    RowsRefused { rows: usize, file: Option<PathBuf> },
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Core(e)
    }
}

impl From<ValidationError> for CliError {
    fn from(v: ValidationError) -> Self {
        CliError::Core(Error::Validation(v))
    }
}

impl CliError {
    /// A state error with a Chinese and an English explanation.
    pub fn state(zh: impl Into<String>, en: impl Into<String>) -> Self {
        CliError::State {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::File {
            path: path.into(),
            source,
        }
    }

    /// The refused field, if this is a validation error.
    pub fn validation(&self) -> Option<&ValidationError> {
        match self {
            CliError::Core(e) => e.as_validation(),
            CliError::Invalid { v, .. } => Some(v),
            _ => None,
        }
    }

    pub fn exit_code(&self) -> u8 {
        if matches!(self, CliError::RowsRefused { .. }) {
            EXIT_ROWS_REFUSED
        } else if self.validation().is_some() {
            EXIT_VALIDATION
        } else {
            EXIT_FAILURE
        }
    }

    /// Stable machine name of the kind of failure.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Core(e) => match e {
                Error::Validation(_) => "validation",
                Error::NotFound { .. } => "not_found",
                Error::InvalidState { .. } => "invalid_state",
                Error::SchemaTooNew { .. } => "schema_too_new",
                Error::Corrupt { .. } => "corrupt",
                Error::NotAStore { .. } => "not_a_store",
                Error::ReadOnly { .. } => "read_only",
                Error::Busy { .. } => "busy",
                Error::Encryption(_) => "encryption",
                Error::Format { .. } => "format",
                Error::Sqlite(_) => "storage",
                Error::Io(_) => "io",
                Error::Json(_) => "json",
            },
            CliError::Invalid { .. } => "validation",
            CliError::NoStore(_) => "no_store",
            CliError::File { .. } => "io",
            CliError::State { .. } => "invalid_state",
            CliError::RowsRefused { .. } => "rows_refused",
        }
    }

    /// The message without the `错误 / error:` prefix.
    pub fn message(&self) -> String {
        match self {
            CliError::Core(Error::Validation(v)) => validation_message(v),
            CliError::Core(e) => e.to_string(),
            CliError::Invalid {
                v,
                allowed_zh,
                allowed_en,
            } => format!(
                "{}\n  可填 / allowed: {allowed_zh} / {allowed_en}",
                validation_message(v)
            ),
            CliError::NoStore(p) => format!(
                "找不到数据库 {}，请先运行 `gridwalk init` 或 `gridwalk demo` / no store at {}; run `gridwalk init` (or `gridwalk demo`) first",
                p.display(),
                p.display()
            ),
            CliError::File { path, source } => format!(
                "无法读写文件 {} / cannot read or write {}: {}",
                path.display(),
                path.display(),
                io_reason(source)
            ),
            CliError::State { zh, en } => format!("{zh} / {en}"),
            CliError::RowsRefused { rows, file } => {
                let mut m = format!("{rows} 行被退回，均未保存 / {rows} rows refused, nothing of them saved");
                if let Some(f) = file {
                    m.push_str(&format!(
                        "；退回行见 {} / rejected rows in {}",
                        f.display(),
                        f.display()
                    ));
                }
                m
            }
        }
    }

    pub fn to_json(&self) -> Value {
        let v = self.validation();
        let mut body = json!({
            "kind": self.kind(),
            "field": v.map(|v| v.field.clone()),
            "code": v.map(|v| v.code.as_str()),
            "message": match v {
                Some(v) => format!("{} / {}", v.code.message_zh(), v.code.message_en()),
                None => self.message(),
            },
        });
        if let (Some(v), Some(obj)) = (v, body.as_object_mut()) {
            if let Some(h) = &v.existing_household_id {
                obj.insert("existing_household_id".into(), json!(h));
            }
        }
        if let (
            CliError::Invalid {
                allowed_zh,
                allowed_en,
                ..
            },
            Some(obj),
        ) = (self, body.as_object_mut())
        {
            obj.insert("allowed_zh".into(), json!(allowed_zh));
            obj.insert("allowed".into(), json!(allowed_en));
        }
        if let (CliError::Core(Error::NotAStore { reason, .. }), Some(obj)) =
            (self, body.as_object_mut())
        {
            obj.insert("code".into(), json!(reason.code()));
        }
        json!({ "error": body })
    }
}

/// `<field>: <zh> / <en> [<code>]`, plus where a duplicate is already registered.
pub fn validation_message(v: &ValidationError) -> String {
    let mut s = format!(
        "{}: {} / {} [{}]",
        v.field,
        v.code.message_zh(),
        v.code.message_en(),
        v.code.as_str()
    );
    if let Some(h) = &v.existing_household_id {
        s.push_str(&format!(
            "\n  已在住户 {h} 登记 / already registered in household {h}"
        ));
    }
    s
}

/// The line a human sees for a refused value (also used by the demo).
pub fn validation_line(v: &ValidationError) -> String {
    format!("错误 / error: {}", validation_message(v))
}

/// The kind of an I/O failure, without the OS text (which can be localised oddly).
fn io_reason(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "文件不存在 / not found",
        K::PermissionDenied => "没有权限 / permission denied",
        K::AlreadyExists => "已存在 / already exists",
        K::IsADirectory => "是目录 / is a directory",
        _ => "读写失败 / I/O failure",
    }
}

/// Prints the error on stderr, as JSON or for a human.
pub fn report(e: &CliError, json: bool) {
    if json {
        eprintln!("{}", e.to_json());
    } else {
        eprintln!("错误 / error: {}", e.message());
    }
}

/// Handles a command line clap could not parse: help and version go to stdout with exit 0;
/// anything else is a usage error (exit 2), printed as JSON when `--json` was given.
pub fn clap_failure(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args().any(|a| a == "--json");
    let info = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if info || !json {
        e.exit();
    }
    let message = e
        .kind()
        .as_str()
        .unwrap_or("invalid command line")
        .to_string();
    eprintln!(
        "{}",
        json!({"error": {"kind": "usage", "field": null, "code": null, "message": message}})
    );
    std::process::ExitCode::from(EXIT_VALIDATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwalk_core::Code;

    #[test]
    fn validation_errors_exit_2_and_render_field_and_code() {
        let e: CliError = ValidationError::new("id_number", Code::InvalidChecksum).into();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.kind(), "validation");
        let j = e.to_json();
        assert_eq!(j["error"]["field"], "id_number");
        assert_eq!(j["error"]["code"], "invalid_checksum");
        assert_eq!(
            validation_line(&ValidationError::new("id_number", Code::InvalidChecksum)),
            "错误 / error: id_number: 身份证号校验位错误 / ID number check digit is wrong [invalid_checksum]"
        );
    }

    #[test]
    fn other_errors_exit_1() {
        let e = CliError::NoStore("x.db".into());
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.to_json()["error"]["kind"], "no_store");
        assert!(e.to_json()["error"]["field"].is_null());
        let e: CliError = Error::NotFound {
            entity: "household",
            id: "h1".into(),
        }
        .into();
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.kind(), "not_found");
    }
}
