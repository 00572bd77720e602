//! The protected sheet writers (CSV and .xlsx) live in `gridwalk-sheet`, shared with the sync
//! server's console; this module re-exports them so the exports and the ledger parser keep one
//! path (`crate::sheet`).

pub use gridwalk_sheet::*;

impl From<gridwalk_sheet::Error> for crate::error::Error {
    fn from(e: gridwalk_sheet::Error) -> Self {
        match e {
            gridwalk_sheet::Error::Io(io) => crate::error::Error::Io(io),
            gridwalk_sheet::Error::Format { what, detail } => {
                crate::error::Error::Format { what, detail }
            }
        }
    }
}
