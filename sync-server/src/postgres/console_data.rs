//! PostgreSQL side of the console's data (`console::data_store::ConsoleData`), the counterpart
//! of `sqlite/console_data.rs`: scoped records with authors, latest contacts, workers,
//! settings, the hash-chained audit log, warning tasks.
//!
//! The methods below are placeholders so the crate builds while the queries are written; they
//! panic (answered as a 500 by the catch-panic layer).

use gridwalk_protocol::Reason;

use super::PgStorage;
use crate::cases::TaskRequest;
use crate::console::data_store::{
    AuditDraft, AuditRow, AuthoredRecord, ConsoleData, Seal, UnitRow, WarningTaskRow, WorkerRow,
};
use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

impl ConsoleData for PgStorage {
    fn records_in(
        &self,
        _grids: &[String],
        _entity: &str,
        _since: Option<(&str, i64)>,
    ) -> Result<Vec<AuthoredRecord>> {
        unimplemented!("postgres console: pgcon")
    }

    fn latest_contacts(&self, _grids: &[String]) -> Result<Vec<(String, String, i64)>> {
        unimplemented!("postgres console: pgcon")
    }

    fn units_in_scope(&self, _grids: &[String]) -> Result<Vec<UnitRow>> {
        unimplemented!("postgres console: pgcon")
    }

    fn workers_in(&self, _grids: &[String]) -> Result<Vec<WorkerRow>> {
        unimplemented!("postgres console: pgcon")
    }

    fn console_setting(&self, _key: &str) -> Result<Option<String>> {
        unimplemented!("postgres console: pgcon")
    }

    fn put_console_setting(&self, _key: &str, _json: &str, _by: &str, _now_ms: i64) -> Result<()> {
        unimplemented!("postgres console: pgcon")
    }

    fn append_audit(&self, _draft: &AuditDraft, _seal: Seal) -> Result<AuditRow> {
        unimplemented!("postgres console: pgcon")
    }

    fn audit_rows(&self, _after_seq: i64, _limit: usize) -> Result<Vec<AuditRow>> {
        unimplemented!("postgres console: pgcon")
    }

    fn audit_head(&self) -> Result<Option<(i64, String)>> {
        unimplemented!("postgres console: pgcon")
    }

    fn warning_tasks(&self, _grids: &[String]) -> Result<Vec<WarningTaskRow>> {
        unimplemented!("postgres console: pgcon")
    }

    fn create_warning_task(
        &self,
        _who: &Principal,
        _warning_key: &str,
        _req: &TaskRequest,
        _now_ms: i64,
    ) -> Result<std::result::Result<StoredRecord, Reason>> {
        unimplemented!("postgres console: pgcon")
    }
}
