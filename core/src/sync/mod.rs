//! Sync: the device side of protocol v1 (`gridwalk-protocol`, `docs/protocol.md`).
//!
//! The core already writes every local change to the outbox in the same transaction as the
//! change; this module ships the outbox to the server and brings the server's records back,
//! without ever dropping what a worker entered:
//!
//! | file | concern |
//! |---|---|
//! | `transport.rs` | the [`Transport`] trait and [`TransportError`] (the seam tests fake) |
//! | `http.rs` | [`HttpTransport`]: JSON over HTTP, zstd bodies, byte counters, uploads' client |
//! | `session.rs` | sign-in, the session in `meta`, token refresh ([`Store::with_access`](crate::Store::with_access)) |
//! | `engine.rs` | [`Store::sync`](crate::Store::sync): push phase (a batch's answers written while the next batch is on its way), pull phase (the next page fetched while one is applied), backoff, cancel, progress |
//! | `clock.rs` | recovering from a phone clock that ran ahead: re-stamping unsent changes |
//! | `apply.rs` | applying pulled records to the local tables (field merge, parking) |
//! | `conflicts.rs` | conflicts, the "needs attention" list, sync counts |
//! | `upload.rs` | [`Store::upload_photos`](crate::Store::upload_photos): photo files, resumable chunked upload |
//!
//! Everything is synchronous: the shells run `sync` off the UI thread and cancel it with a
//! [`CancelToken`].

mod apply;
pub mod clock;
pub mod conflicts;
pub mod engine;
pub mod http;
pub mod session;
pub mod transport;
pub mod upload;

pub use conflicts::{AttentionItem, Conflict, ConflictChoice, EntityCounts};
pub use engine::{
    backoff_delay, cancellable_sleep, CancelToken, SleepFn, SyncOptions, SyncPhase, SyncProgress,
    SyncReport,
};
pub use http::{HttpOptions, HttpTransport, RawResponse};
pub use session::SessionInfo;
pub use transport::{Transport, TransportError};
pub use upload::{UploadOptions, UploadProgress, UploadReport};

/// Why a sync (or sign-in) did not complete. Unsynced changes are kept in every case.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No session: sign in first.
    #[error("尚未登录 / not signed in")]
    NotSignedIn,
    /// Another sync of this store is running; try again when it ends.
    #[error("同步正在进行中 / a sync is already running")]
    AlreadyRunning,
    /// Stopped by the [`CancelToken`]; everything finished before is kept.
    #[error("同步已取消 / sync cancelled")]
    Cancelled,
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl SyncError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            SyncError::NotSignedIn => "not_signed_in",
            SyncError::AlreadyRunning => "already_running",
            SyncError::Cancelled => "cancelled",
            SyncError::Transport(t) => t.code(),
            SyncError::Store(crate::Error::InvalidState { .. }) => "invalid_state",
            SyncError::Store(crate::Error::Validation(_)) => "invalid",
            SyncError::Store(_) => "storage",
        }
    }

    /// The worker must sign in again (session over, or never signed in).
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            SyncError::NotSignedIn
                | SyncError::Transport(TransportError::AuthEnded { .. })
                | SyncError::Transport(TransportError::BadCredentials)
        )
    }
}
