//! Gridwalk core: the offline field store of a grid worker (网格员).
//!
//! Everything a worker records — households, residents, visits, patrols with GPS tracks, draft
//! cases with photos, tasks — lives in one SQLite file owned by [`Store`]. Every write happens in
//! one transaction together with its change-tracking row (the outbox), so the sync engine ships
//! exactly what the worker entered, even if the phone dies between two taps.
//!
//! This crate is plain Rust: no FFI. The `bindings` crate wraps it for Kotlin, Swift and Python.

pub mod cases;
pub mod changes;
mod due;
pub mod error;
pub mod export;
pub mod geometry;
pub mod hlc;
pub mod households;
pub mod import;
pub mod ledger;
pub mod org;
pub mod patrols;
pub mod photos;
pub mod residents;
pub mod schema;
pub mod search;
pub mod sheet;
pub mod stats;
pub mod store;
mod storefile;
pub mod sync;
pub mod tasks;
pub mod visits;

pub use gridwalk_domain::{entities, model, synonyms, taxonomy, validate};

pub use error::{Code, Error, NotAStoreReason, Result, ValidationError};
pub use model::*;
pub use photos::{PhotoOwner, PhotoSettings, PhotoStorageReport, RetentionPolicy};
pub use store::Store;
