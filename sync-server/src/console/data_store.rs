//! What the console's data pages ask of the database, as a synchronous trait beside
//! [`crate::storage::Storage`] (which requires it, so every backend provides both).
//!
//! The reads are deliberately plain — records of some grids, the latest contact per household
//! and mode, the org units and workers of a scope — and every rule (warnings, statistics,
//! masking, the audit chain's hashing) lives above them in the console's modules, so a second
//! backend only has to store. Every method takes the caller's grids: a backend never returns a
//! record outside them.

use gridwalk_protocol::Reason;

use crate::cases::TaskRequest;
use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

/// A record with the user whose push created it (none for records older than schema v5 or
/// made by the server).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthoredRecord {
    pub record: StoredRecord,
    pub author: Option<String>,
}

/// An org unit of a scope (grids and their ancestors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    /// GeoJSON geometry text (grids).
    pub boundary: Option<String>,
}

/// A grid worker of a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// The worker's grids inside the asked scope, sorted.
    pub grids: Vec<String>,
    /// Latest sign-in, token refresh or push of any of the worker's devices (ms).
    pub last_seen: Option<i64>,
    pub disabled: bool,
    /// When the account was made (ms): no patrol quota is owed for the days before.
    pub created_at: i64,
}

/// One audit entry before it is sealed: what the log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: i64,
    pub user_id: String,
    pub username: String,
    pub action: String,
    pub entity: String,
    pub record_id: String,
    pub field: String,
    pub reason: String,
}

/// One sealed audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub draft: AuditDraft,
    pub prev_hash: String,
    pub hash: String,
}

/// Computes an entry's hash from the previous entry's hash, its sequence number and its
/// content (`console::audit::entry_hash`: the rule lives above storage).
pub type Seal = fn(prev_hash: &str, seq: i64, draft: &AuditDraft) -> String;

/// A warning turned into a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningTaskRow {
    pub task_id: String,
    pub warning_key: String,
    pub grid_code: String,
    pub created_by: String,
    pub created_at: i64,
}

/// The console's storage: scoped reads, settings, the audit log, warning tasks.
pub trait ConsoleData {
    /// Records of `entity` in `grids`, with their authors; `since` = (JSON field, ms): only
    /// records whose field is at least that instant.
    fn records_in(
        &self,
        grids: &[String],
        entity: &str,
        since: Option<(&str, i64)>,
    ) -> Result<Vec<AuthoredRecord>>;
    /// (household id, visit mode, latest `visited_at`) for every household of `grids` with a
    /// visit in that mode.
    fn latest_contacts(&self, grids: &[String]) -> Result<Vec<(String, String, i64)>>;
    /// The grids of the list that exist, and all their ancestors.
    fn units_in_scope(&self, grids: &[String]) -> Result<Vec<UnitRow>>;
    /// Enabled or disabled grid workers with at least one grid in `grids`.
    fn workers_in(&self, grids: &[String]) -> Result<Vec<WorkerRow>>;
    /// A console setting (JSON text).
    fn console_setting(&self, key: &str) -> Result<Option<String>>;
    fn put_console_setting(&self, key: &str, json: &str, by: &str, now_ms: i64) -> Result<()>;
    /// Appends an entry to the audit log, chained to the last one, in one transaction.
    fn append_audit(&self, draft: &AuditDraft, seal: Seal) -> Result<AuditRow>;
    /// Entries after `after_seq`, in order, at most `limit`.
    fn audit_rows(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>>;
    /// The (seq, hash) the log's head was left at by the last append.
    fn audit_head(&self) -> Result<Option<(i64, String)>>;
    /// Warning tasks of `grids`.
    fn warning_tasks(&self, grids: &[String]) -> Result<Vec<WarningTaskRow>>;
    /// Creates the supervisor task for a warning (the case loop's task rules) and links it, in
    /// one transaction.
    fn create_warning_task(
        &self,
        who: &Principal,
        warning_key: &str,
        req: &TaskRequest,
        now_ms: i64,
    ) -> Result<std::result::Result<StoredRecord, Reason>>;
}
