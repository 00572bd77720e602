//! PostgreSQL side of the console: its session rows, the case queue's derived rows and the page
//! queries (`console::store::ConsoleStorage`), the counterpart of `sqlite/console.rs`.
//!
//! [`put_queue_row`] is called by every case record write inside the sync write transaction
//! (`record_tx.rs`), so the queue and its counts never disagree with the records.
//!
//! The `ConsoleStorage` methods below are placeholders so the crate builds while the console's
//! PostgreSQL queries are written; they panic (answered as a 500 by the catch-panic layer).

use serde_json::{Map, Value};

use super::{PgStorage, Tx};
use crate::console::store::{
    CaseDetail, ConsoleSession, ConsoleStorage, Deadline, PageAt, QueueFilter, QueuePage,
    ScopeUnit, TaskFilter, TaskRow, Worker,
};
use crate::error::Result;
use crate::storage::Principal;

/// Adds `delta` to the count of one grid × status × category × urgency.
fn count(
    tx: &mut Tx<'_>,
    (grid, status, category, urgency): (&str, &str, &str, &str),
    delta: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO case_counts (grid_code, status, category_code, urgency, n)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (grid_code, status, category_code, urgency)
         DO UPDATE SET n = case_counts.n + excluded.n",
        &[&grid, &status, &category, &urgency, &delta],
    )?;
    Ok(())
}

/// Writes the queue row of a case record and moves its count (called by every case write).
pub(super) fn put_queue_row(
    tx: &mut Tx<'_>,
    id: &str,
    grid_code: &str,
    data: &Map<String, Value>,
) -> Result<()> {
    let q = crate::cases::queue_fields(data);
    let old = tx.query_opt(
        "SELECT grid_code, status, category_code, urgency FROM case_queue WHERE id = $1",
        &[&id],
    )?;
    let old: Option<(String, String, String, String)> = match old {
        None => None,
        Some(r) => Some((
            r.try_get("grid_code")?,
            r.try_get("status")?,
            r.try_get("category_code")?,
            r.try_get("urgency")?,
        )),
    };
    let new = (
        grid_code,
        q.status.as_str(),
        q.category_code.as_str(),
        q.urgency.as_str(),
    );
    match &old {
        Some((g, s, c, u)) if (g.as_str(), s.as_str(), c.as_str(), u.as_str()) == new => {}
        Some((g, s, c, u)) => {
            count(tx, (g, s, c, u), -1)?;
            count(tx, new, 1)?;
        }
        None => count(tx, new, 1)?,
    }
    tx.execute(
        "INSERT INTO case_queue (id, grid_code, status, category_code, type_code, urgency,
            reporter_user, received_at, start_at, due_at, sort_key, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO UPDATE SET grid_code = excluded.grid_code,
            status = excluded.status, category_code = excluded.category_code,
            type_code = excluded.type_code, urgency = excluded.urgency,
            reporter_user = excluded.reporter_user, received_at = excluded.received_at,
            start_at = excluded.start_at, due_at = excluded.due_at,
            sort_key = excluded.sort_key, updated_at = excluded.updated_at",
        &[
            &id,
            &grid_code,
            &q.status,
            &q.category_code,
            &q.type_code,
            &q.urgency,
            &q.reporter_user,
            &q.received_at,
            &q.start_at,
            &q.due_at,
            &q.sort_key,
            &q.updated_at,
        ],
    )?;
    Ok(())
}

impl ConsoleStorage for PgStorage {
    fn console_start_session(
        &self,
        _user_id: &str,
        _cookie_hash: &str,
        _csrf: &str,
        _now_ms: i64,
        _expires_at: i64,
    ) -> Result<()> {
        unimplemented!("postgres console: pgcon")
    }

    fn console_session(&self, _cookie_hash: &str, _now_ms: i64) -> Result<Option<ConsoleSession>> {
        unimplemented!("postgres console: pgcon")
    }

    fn console_end_session(&self, _cookie_hash: &str) -> Result<()> {
        unimplemented!("postgres console: pgcon")
    }

    fn case_queue(
        &self,
        _who: &Principal,
        _filter: &QueueFilter,
        _at: &PageAt,
        _limit: usize,
        _now_ms: i64,
    ) -> Result<QueuePage> {
        unimplemented!("postgres console: pgcon")
    }

    fn case_counts(
        &self,
        _who: &Principal,
        _filter: &QueueFilter,
        _now_ms: i64,
    ) -> Result<Vec<(String, i64)>> {
        unimplemented!("postgres console: pgcon")
    }

    fn case_detail(&self, _who: &Principal, _case_id: &str) -> Result<Option<CaseDetail>> {
        unimplemented!("postgres console: pgcon")
    }

    fn scope_units(&self, _who: &Principal) -> Result<Vec<ScopeUnit>> {
        unimplemented!("postgres console: pgcon")
    }

    fn scope_workers(&self, _who: &Principal) -> Result<Vec<Worker>> {
        unimplemented!("postgres console: pgcon")
    }

    fn scope_tasks(
        &self,
        _who: &Principal,
        _filter: &TaskFilter,
        _limit: usize,
    ) -> Result<Vec<TaskRow>> {
        unimplemented!("postgres console: pgcon")
    }

    fn case_deadlines(&self) -> Result<Vec<Deadline>> {
        unimplemented!("postgres console: pgcon")
    }
}
