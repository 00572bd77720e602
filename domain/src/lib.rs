//! Gridwalk's shared domain: what the phone and the server must agree on about the *values* of
//! a grid worker's records, with no I/O.
//!
//! The phone validates what a worker types; the server validates what a phone pushes. Both read
//! the same vocabularies ([`model`]) and the words desks write for them ([`synonyms`]), the same
//! case taxonomy ([`taxonomy`]), the same care rules (visit policy and due days, which patrols count: [`policy`]), the same validators ([`validate`]) and the same table of
//! syncable entities and their fields ([`entities`]), so a patched app, an old app version or a
//! bug on one phone cannot write a value into the grid that the phone itself would have refused. The wire format (how records travel) is
//! `gridwalk-protocol`'s concern; this crate says what a record may hold.

pub mod boundary;
pub mod entities;
pub mod error;
pub mod model;
pub mod policy;
pub mod synonyms;
pub mod taxonomy;
pub mod validate;

pub use error::{Code, ValidationError};
