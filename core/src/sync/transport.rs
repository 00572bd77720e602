//! The seam between the sync engine and the network.
//!
//! The engine speaks to the server only through [`Transport`], so the same engine runs against
//! the real HTTP server ([`super::http::HttpTransport`]) and against an in-process fake in the
//! tests (which can fail on demand: drop connections, answer 5xx, expire cursors). Every failure
//! is a [`TransportError`] the engine can act on without parsing strings: retry (transient),
//! refresh the access token, ask the worker to sign in again, re-snapshot, or report.
//!
//! Tokens are not kept by a transport: the store holds the session (see `session.rs`) and hands
//! the access token to each call, so a rotated refresh token is persisted before anything else
//! happens and two users of one transport can never mix sessions.

use gridwalk_protocol::{
    LoginRequest, PullResponse, PushRequest, PushResponse, RefreshRequest, Session,
};

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer: connection refused or reset, DNS failure, timeout, a body cut short.
    /// Transient: retried with backoff.
    #[error("网络不可用 / network unavailable ({kind})")]
    Network {
        /// `connect` | `timeout` | `io`.
        kind: &'static str,
    },
    /// 401 `token_expired`: refresh the access token and retry once.
    #[error("登录已过期 / access token expired")]
    AuthExpired,
    /// 401 `bad_credentials`: wrong user name or password.
    #[error("用户名或密码错误 / wrong user name or password")]
    BadCredentials,
    /// The session is over (`session_ended`, `user_disabled`, `device_revoked`): sign in again
    /// (or see an administrator). Unsynced changes stay on the device.
    #[error("会话已结束，请重新登录 / session ended, sign in again [{code}]")]
    AuthEnded { code: String },
    /// 410 `cursor_expired`: the feed cannot continue from our cursor; take a new snapshot.
    #[error("同步位置已失效 / sync cursor expired")]
    CursorExpired,
    /// Any other 4xx: the server refused the request as a whole.
    #[error("服务器拒绝请求 / request refused ({status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// 5xx (and 429): the server failed; transient.
    #[error("服务器错误 / server error ({status} {code})")]
    Server { status: u16, code: String },
    /// An answer that is not what the protocol says (bad JSON, wrong shape, too large).
    #[error("服务器应答无法解析 / malformed server answer: {0}")]
    Protocol(String),
}

impl TransportError {
    /// Worth retrying after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Network { .. } | TransportError::Server { .. }
        )
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            TransportError::Network { .. } => "network",
            TransportError::AuthExpired => gridwalk_protocol::codes::TOKEN_EXPIRED,
            TransportError::BadCredentials => gridwalk_protocol::codes::BAD_CREDENTIALS,
            TransportError::AuthEnded { code } => code,
            TransportError::CursorExpired => gridwalk_protocol::codes::CURSOR_EXPIRED,
            TransportError::Rejected { code, .. } => code,
            TransportError::Server { .. } => "server_error",
            TransportError::Protocol(_) => "protocol",
        }
    }

    /// Maps an error answer (status + `ErrorBody` code) to the variant the engine acts on.
    pub fn from_status(status: u16, code: &str, message: &str) -> TransportError {
        use gridwalk_protocol::codes as c;
        match (status, code) {
            (401, c::TOKEN_EXPIRED) => TransportError::AuthExpired,
            (401, c::BAD_CREDENTIALS) => TransportError::BadCredentials,
            (_, c::SESSION_ENDED | c::USER_DISABLED | c::DEVICE_REVOKED) => {
                TransportError::AuthEnded { code: code.into() }
            }
            (401, _) => TransportError::AuthExpired,
            (410, _) => TransportError::CursorExpired,
            (429, _) | (500..=599, _) => TransportError::Server {
                status,
                code: code.into(),
            },
            _ => TransportError::Rejected {
                status,
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The four calls of protocol v1. Implementations are synchronous and thread-safe.
pub trait Transport: Send + Sync {
    /// Where this transport sends requests (kept in the session so `sync` can rebuild it).
    fn endpoint(&self) -> String;

    /// `POST /v1/auth/login`.
    fn login(&self, req: &LoginRequest) -> Result<Session, TransportError>;

    /// `POST /v1/auth/refresh`. The refresh token rotates: persist the answer at once.
    fn refresh(&self, req: &RefreshRequest) -> Result<Session, TransportError>;

    /// `POST /v1/auth/logout` with a bearer access token: the server ends this session (its
    /// access and refresh tokens).
    fn logout(&self, access_token: &str) -> Result<(), TransportError>;

    /// `POST /v1/sync/push` with a bearer access token.
    fn push(&self, access_token: &str, req: &PushRequest) -> Result<PushResponse, TransportError>;

    /// `GET /v1/sync/pull?cursor=&limit=`; `None` starts a snapshot from the beginning.
    fn pull(
        &self,
        access_token: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PullResponse, TransportError>;

    /// Body bytes (sent, received) on the wire so far, compressed as transmitted. Transports
    /// that do not count return zeros.
    fn wire_bytes(&self) -> (u64, u64) {
        (0, 0)
    }
}
