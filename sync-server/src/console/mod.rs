//! The supervisors' web console, served by the sync server itself.
//!
//! This half holds the console's data: warnings (红黄绿预警) and their rules, the map
//! (一图一表), work statistics, ledgers (台账) with masking, reveals and the hash-chained audit
//! log, and ledger exports. Rules and computations are pure modules (`warnings`, `workers`,
//! `mask`, `audit`, `geo`), the scope's rows come through [`data_store::ConsoleData`], and `api`
//! serves them as JSON/CSV/xlsx. `README.md` maps the files.

pub mod api;
pub mod audit;
pub mod data_store;
pub mod geo;
pub mod ledger_export;
pub mod ledgers;
pub mod map_data;
pub mod mask;
pub mod scope;
pub mod warning_data;
pub mod warning_rules;
pub mod warnings;
pub mod workers;
