//! Hybrid logical clocks: the implementation lives in `gridwalk-protocol` because the server
//! stamps its own changes (case status, assigned tasks) with the same clock and the same order.

pub use gridwalk_protocol::hlc::{HlcClock, HlcError, Stamp};

impl From<HlcError> for crate::error::Error {
    fn from(_: HlcError) -> Self {
        crate::error::Error::Format {
            what: "hlc",
            detail: "expected <ms>.<counter>.<node>".into(),
        }
    }
}
