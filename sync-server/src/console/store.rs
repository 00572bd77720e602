//! What the console asks of the database, as one synchronous trait beside [`crate::Storage`].
//!
//! The console's reads are shaped for pages (a queue page with names joined in, a case with its
//! timeline and photos), so they are their own trait rather than more methods on the sync
//! storage; `Storage` requires it, so `AppState.storage` answers both and a new backend cannot
//! forget it. Every method that returns records takes the caller's [`Principal`] and filters by
//! its grids in the query itself: scope is never left to the page.

use std::collections::HashMap;

use gridwalk_protocol::Role;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

/// A signed-in console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// A live browser session: who, and the synchronizer token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub principal: Principal,
    pub user: ConsoleUser,
    pub csrf: String,
}

/// Filters of the case queue (all optional; `None` = any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub category: Option<String>,
    pub grid: Option<String>,
    pub urgency: Option<String>,
    /// The reporter's user id.
    pub reporter: Option<String>,
    /// Only cases past their due time (red).
    pub overdue: bool,
}

/// Where a queue page starts: keyset paging on `(sort_key, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageAt {
    First,
    /// The page after this row.
    After(i64, String),
    /// The page before this row.
    Before(i64, String),
}

/// One row of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub id: String,
    pub grid_code: String,
    pub grid_name: String,
    pub status: String,
    pub category_code: String,
    pub type_code: String,
    pub urgency: String,
    pub reporter_name: Option<String>,
    pub address: Option<String>,
    pub received_at: i64,
    pub start_at: Option<i64>,
    pub due_at: Option<i64>,
    pub sort_key: i64,
}

/// A page of the queue, with the keys of the pages around it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    pub next: Option<(i64, String)>,
    pub prev: Option<(i64, String)>,
}

/// A photo of a case (before: `owner_kind` `case`; after: `verification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePhoto {
    pub id: String,
    pub sha256: String,
    pub owner_kind: String,
    pub taken_at: Option<i64>,
    /// Whether its bytes are on the server and linked (else the page says "not uploaded yet").
    pub served: bool,
}

/// Everything the case page shows, read in one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    pub case: StoredRecord,
    pub grid_name: String,
    /// The grid's GeoJSON boundary, when known.
    pub boundary: Option<Value>,
    /// Timeline lines (case events' data), oldest first.
    pub events: Vec<Map<String, Value>>,
    pub photos: Vec<CasePhoto>,
    /// Tasks about the case (verification, call-back, assigned ones).
    pub tasks: Vec<StoredRecord>,
    /// Display names of the users the page mentions (reporter, actors, assignees).
    pub names: HashMap<String, String>,
}

/// An org unit in the caller's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeUnit {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
}

/// A grid worker in the caller's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// The worker's grids that are in the caller's scope.
    pub grids: Vec<String>,
}

/// Filters of the tasks page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// The assignee's user id.
    pub assignee: Option<String>,
    /// Only tasks with a revision below this (paging, newest first).
    pub before_rev: Option<i64>,
}

/// One task row.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub task: StoredRecord,
    pub grid_name: String,
    pub assignee_name: Option<String>,
    pub creator_name: Option<String>,
}

/// One configured deadline (hours from acceptance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub category_code: String,
    pub urgency: String,
    pub hours: i64,
}

/// The console's reads and its session rows. Synchronous: call through `http::blocking`.
pub trait ConsoleStorage {
    /// Stores a new browser session (the cookie's hash) and forgets expired ones.
    fn console_start_session(
        &self,
        user_id: &str,
        cookie_hash: &str,
        csrf: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The live session of a cookie hash: unexpired, its user enabled and a supervisor.
    fn console_session(&self, cookie_hash: &str, now_ms: i64) -> Result<Option<ConsoleSession>>;
    /// Ends a session (sign-out).
    fn console_end_session(&self, cookie_hash: &str) -> Result<()>;

    /// A page of the case queue in the caller's scope, sorted by time left.
    fn case_queue(
        &self,
        who: &Principal,
        filter: &QueueFilter,
        at: &PageAt,
        limit: usize,
        now_ms: i64,
    ) -> Result<QueuePage>;
    /// Cases per status in the caller's scope under `filter` (its status ignored).
    fn case_counts(
        &self,
        who: &Principal,
        filter: &QueueFilter,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>>;
    /// A case with its timeline, photos and tasks, when it exists and is in scope.
    fn case_detail(&self, who: &Principal, case_id: &str) -> Result<Option<CaseDetail>>;

    /// The org units of the caller's scope (its grids and their ancestors), parents first.
    fn scope_units(&self, who: &Principal) -> Result<Vec<ScopeUnit>>;
    /// Enabled grid workers with at least one grid in the caller's scope.
    fn scope_workers(&self, who: &Principal) -> Result<Vec<Worker>>;
    /// Tasks of the caller's scope, newest first.
    fn scope_tasks(
        &self,
        who: &Principal,
        filter: &TaskFilter,
        limit: usize,
    ) -> Result<Vec<TaskRow>>;
    /// Every configured deadline.
    fn case_deadlines(&self) -> Result<Vec<Deadline>>;
}
