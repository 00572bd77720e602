//! The bodies of Gridwalk's fuzz targets, as plain functions of `&[u8]`.
//!
//! They live in a normal workspace crate (not in the cargo-fuzz crate under `fuzz/`) so the very
//! same code runs two ways: under libFuzzer (`scripts/fuzz.sh`, nightly, one binary per target in
//! `fuzz/fuzz_targets/`) and in a plain `cargo test` on stable (`tests/corpus.rs` replays every
//! file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`). A crash the fuzzer finds is
//! copied into `fuzz/regressions/<target>/`; once fixed, the regression test keeps it fixed.
//!
//! A target fails by panicking: on a panic in the code under test, or on one of its own
//! `assert!`s, which check properties that must hold for *any* input (a decoded request
//! re-encodes to the same request, an applied change is readable by its author, a processed
//! photo is a JPEG no larger than the settings allow, ...). Inputs that are merely invalid must
//! be refused with an error, never a panic. `fuzz/README.md` lists the targets.

pub mod ledger;
pub mod media;
pub mod server;
pub mod wire;
mod zip;

pub use ledger::{ledger, ledger_xlsx};
pub use media::{gpx, photo};
pub use server::{server_http, server_push};
pub use wire::{cursor, hlc, pull_decode, push_decode};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target: its name (the cargo-fuzz binary, `fuzz/corpus/<name>/`,
/// `fuzz/regressions/<name>/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("push_decode", push_decode),
    ("pull_decode", pull_decode),
    ("server_push", server_push),
    ("server_http", server_http),
    ("cursor", cursor),
    ("hlc", hlc),
    ("ledger", ledger),
    ("ledger_xlsx", ledger_xlsx),
    ("gpx", gpx),
    ("photo", photo),
];

/// The body of the target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
