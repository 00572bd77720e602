//! Gridwalk's one native library for the phone shells: uniffi bindings of `gridwalk-core`
//! for Kotlin (Android), Swift (iOS) and Python (scripts, data work).
//!
//! Why a thin wrapper of its own rather than uniffi derives in the core: the core is plain
//! Rust shared with the CLI and the server, and its types use what the FFI cannot carry well
//! (`chrono` types, `Option<Option<T>>`, `BTreeMap`, `usize`). Here every record is restated
//! with the FFI's conventions and converted in one place, so the contract the shells see is
//! explicit, documented (doc comments become KDoc and Swift docs) and reviewed on its own.
//!
//! Conventions, the same in every language:
//! * **Ids** are strings (UUIDv7 made on the device).
//! * **Instants** are `i64` milliseconds since the Unix epoch, UTC, in `*_ms` fields;
//!   **calendar days** are `"YYYY-MM-DD"` strings in the worker's local calendar (`time.rs`).
//! * **Errors**: every call throws one type, `GridwalkError`, whose variants an app acts on
//!   (`error.rs`). Nothing panics across the boundary: inputs are validated into typed errors.
//! * **Threads**: every call is synchronous and thread-safe; call from a background thread.
//!
//! Entry point: `GridwalkStore.open(path)` (`store.rs`; `openReadOnly` to read without writing;
//! a file that is not a Gridwalk store is refused untouched, `NotAStore`); sign in and sync with
//! `login` / `sync` / `uploadPhotos` (`sync.rs`). The file map is in `src/README.md`.

// `GridwalkError` carries its bilingual messages by value because that is the shape uniffi
// hands to Kotlin, Swift and Python; a bigger `Result` on the Rust side of a call that is about
// to be serialised anyway costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

uniffi::setup_scaffolding!();

mod cases;
mod enums;
mod error;
mod patrols;
mod people;
mod records;
mod store;
mod sync;
mod tasks;
mod time;

pub use cases::{case_types, Case, PhotoMeta, PhotoOwner, PhotoStorageReport, VerificationVerdict};
pub use enums::*;
pub use error::{GridwalkError, Result, ValidationCode};
pub use patrols::{LocationSource, PatrolRecorder};
pub use records::*;
pub use store::{cipher_version, GridWarning, GridwalkStore};
pub use sync::{
    AttentionItem, CancelHandle, Conflict, ConflictChoice, EntityCounts, SessionInfo, SyncPhase,
    SyncProgress, SyncProgressListener, SyncReport, UploadReport,
};
