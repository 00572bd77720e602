//! Errors: one internal type for storage and admin work ([`Error`]) and one HTTP answer type
//! ([`ApiError`]), with a single mapping point between them.
//!
//! Every HTTP error leaves the server as a `protocol::ErrorBody` with a machine-readable code and
//! a message in Chinese, then English. Messages never carry request values: a malformed resident
//! payload must not echo a name or an ID number into a log line or a response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gridwalk_protocol::{codes, ErrorBody, Reason};

/// Internal errors (storage, admin commands, configuration).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", crate::postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Bad input to an admin command or endpoint: `field` names what is wrong, `code` is
    /// machine-readable.
    #[error("invalid {field}: {code}")]
    Invalid { field: String, code: &'static str },
    /// A named thing does not exist (user, device, org unit).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The database was written by a newer server.
    #[error("database schema version {found} is newer than this server ({supported})")]
    NewerSchema { found: i64, supported: i64 },
    #[error("password hashing failed")]
    Hash,
    #[error("a background task failed")]
    Join,
}

impl Error {
    pub fn invalid(field: impl Into<String>, code: &'static str) -> Error {
        Error::Invalid {
            field: field.into(),
            code,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    pub fn token_expired() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_EXPIRED,
            "登录已过期，请刷新 / access token missing, invalid or expired",
        )
    }

    pub fn session_ended() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::SESSION_ENDED,
            "会话已结束，请重新登录 / session ended: log in again",
        )
    }

    pub fn bad_credentials() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::BAD_CREDENTIALS,
            "用户名或密码错误 / wrong user name or password",
        )
    }

    pub fn user_disabled() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            codes::USER_DISABLED,
            "账号已停用 / the user is disabled",
        )
    }

    pub fn device_revoked() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            codes::DEVICE_REVOKED,
            "此设备已被注销 / this device was revoked",
        )
    }

    pub fn device_in_use() -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            codes::DEVICE_IN_USE,
            "此设备已由其他用户使用，确认交接后再登录 / this device belongs to another user: confirm the hand-over to sign in",
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "超出权限范围 / outside your scope",
        )
    }

    /// Not found and not visible answer the same, so ids cannot be probed.
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            NOT_FOUND,
            "未找到 / not found (or not in your scope)",
        )
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL,
            "服务器内部错误 / internal server error",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: Reason::new(self.code, self.message.clone()),
        }
    }
}

/// 404 for an unknown route or a record outside the caller's scope.
pub const NOT_FOUND: &str = "not_found";
/// 405 for a known route with the wrong method.
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
/// 500: a bug or a storage failure; details are in the server log only.
pub const INTERNAL: &str = "internal";
/// 409/422-style answer of the case endpoints: the action is not allowed in the case's status.
pub const INVALID_TRANSITION: &str = codes::INVALID_TRANSITION;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Invalid { field, code } => ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                format!("字段 {field} 无效（{code}）/ invalid field {field} ({code})"),
            ),
            Error::NotFound { .. } => ApiError::not_found(),
            other => {
                // Internal errors name tables and SQL at most, never request values.
                tracing::error!(error = %other, "request failed");
                ApiError::internal()
            }
        }
    }
}
