//! PostgreSQL side of the console's data (`console::data_store::ConsoleData`), the counterpart
//! of `sqlite/console_data.rs`: scoped records with authors, latest contacts, workers,
//! settings, the hash-chained audit log, warning tasks. Plain scoped queries, nothing decided
//! here.
//!
//! Written differently from SQLite, on purpose:
//! - **the audit log's append** locks the table (`SHARE ROW EXCLUSIVE`: reads go on, a second
//!   appender waits) before reading the last entry: two instances appending at once would
//!   otherwise both chain to the same previous hash (SQLite's one writer serialises them);
//! - the `since` filter compares JSONB values (`data->'field' >= to_jsonb(ms)`), which never
//!   fails on a value that is not a number, where a cast would fail the whole page;
//! - a worker's grids are `array_agg` (SQLite: `json_group_array`), names ordered in byte order
//!   (`COLLATE "C"`, SQLite's BINARY).

use gridwalk_protocol::Reason;

use super::{record_from_row, PgStorage};
use crate::cases::TaskRequest;
use crate::console::data_store::{
    AuditDraft, AuditRow, AuthoredRecord, ConsoleData, Seal, UnitRow, WarningTaskRow, WorkerRow,
};
use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

/// Where the audit log's head (seq:hash) is kept, so a removed tail shows too.
const AUDIT_HEAD: &str = "audit_head";

fn audit_row(r: &tokio_postgres::Row) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        draft: AuditDraft {
            at: r.try_get("at")?,
            user_id: r.try_get("user_id")?,
            username: r.try_get("username")?,
            action: r.try_get("action")?,
            entity: r.try_get("entity")?,
            record_id: r.try_get("record_id")?,
            field: r.try_get("field")?,
            reason: r.try_get("reason")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

impl ConsoleData for PgStorage {
    fn records_in(
        &self,
        grids: &[String],
        entity: &str,
        since: Option<(&str, i64)>,
    ) -> Result<Vec<AuthoredRecord>> {
        self.read(|tx| {
            let rows = match since {
                None => tx.query(
                    "SELECT r.id, r.grid_code, r.rev, r.hlc, r.data::text AS data,
                            r.clocks::text AS clocks, a.user_id AS author
                     FROM records r
                     LEFT JOIN record_authors a ON a.entity = r.entity AND a.id = r.id
                     WHERE r.entity = $1 AND r.grid_code = ANY($2)",
                    &[&entity, &grids],
                )?,
                Some((field, ms)) => tx.query(
                    "SELECT r.id, r.grid_code, r.rev, r.hlc, r.data::text AS data,
                            r.clocks::text AS clocks, a.user_id AS author
                     FROM records r
                     LEFT JOIN record_authors a ON a.entity = r.entity AND a.id = r.id
                     WHERE r.entity = $1 AND r.grid_code = ANY($2)
                       AND r.data -> ($3::text) >= to_jsonb($4::bigint)",
                    &[&entity, &grids, &field, &ms],
                )?,
            };
            rows.iter()
                .map(|r| {
                    Ok(AuthoredRecord {
                        record: record_from_row(entity, r.try_get("id")?, r)?,
                        author: r.try_get("author")?,
                    })
                })
                .collect()
        })
    }

    fn latest_contacts(&self, grids: &[String]) -> Result<Vec<(String, String, i64)>> {
        self.read(|tx| {
            tx.query(
                "SELECT data->>'household_id' AS household, data->>'mode' AS mode,
                        max(CASE WHEN jsonb_typeof(data->'visited_at') = 'number'
                                 THEN (data->'visited_at')::numeric END)::bigint AS last_at
                 FROM records
                 WHERE entity = 'visit' AND grid_code = ANY($1)
                   AND data->>'household_id' IS NOT NULL AND data->>'mode' IS NOT NULL
                 GROUP BY 1, 2
                 HAVING max(CASE WHEN jsonb_typeof(data->'visited_at') = 'number'
                                 THEN (data->'visited_at')::numeric END) IS NOT NULL",
                &[&grids],
            )?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("household")?,
                    r.try_get("mode")?,
                    r.try_get("last_at")?,
                ))
            })
            .collect()
        })
    }

    fn units_in_scope(&self, grids: &[String]) -> Result<Vec<UnitRow>> {
        self.read(|tx| {
            tx.query(
                "WITH RECURSIVE up(code) AS (
                     SELECT unnest($1::text[])
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code, boundary FROM org_units
                 WHERE code IN (SELECT code FROM up) ORDER BY code COLLATE \"C\"",
                &[&grids],
            )?
            .iter()
            .map(|r| {
                Ok(UnitRow {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    level: r.try_get("level")?,
                    parent_code: r.try_get("parent_code")?,
                    boundary: r.try_get("boundary")?,
                })
            })
            .collect()
        })
    }

    fn workers_in(&self, grids: &[String]) -> Result<Vec<WorkerRow>> {
        self.read(|tx| {
            tx.query(
                "WITH wg(user_id, grid) AS (
                     SELECT id, org_code FROM users WHERE role = 'grid_worker'
                     UNION SELECT g.user_id, g.grid_code FROM user_grids g
                     JOIN users u ON u.id = g.user_id AND u.role = 'grid_worker')
                 SELECT u.id, u.username, u.display_name, u.disabled, u.created_at,
                        (SELECT max(last_seen) FROM devices d WHERE d.user_id = u.id) AS last_seen,
                        array_agg(wg.grid) AS grids
                 FROM wg JOIN users u ON u.id = wg.user_id
                 WHERE wg.grid = ANY($1)
                 GROUP BY u.id ORDER BY u.username COLLATE \"C\"",
                &[&grids],
            )?
            .iter()
            .map(|r| {
                let mut grids: Vec<String> = r.try_get("grids")?;
                grids.sort();
                grids.dedup();
                Ok(WorkerRow {
                    user_id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    grids,
                    last_seen: r.try_get("last_seen")?,
                    disabled: r.try_get("disabled")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
        })
    }

    fn console_setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|tx| {
            match tx.query_opt("SELECT value FROM console_settings WHERE key = $1", &[&key])? {
                Some(r) => Ok(Some(r.try_get("value")?)),
                None => Ok(None),
            }
        })
    }

    fn put_console_setting(&self, key: &str, json: &str, by: &str, now_ms: i64) -> Result<()> {
        self.write_plain(|tx| {
            tx.execute(
                "INSERT INTO console_settings (key, value, updated_by, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                &[&key, &json, &by, &now_ms],
            )?;
            Ok(())
        })
    }

    fn append_audit(&self, draft: &AuditDraft, seal: Seal) -> Result<AuditRow> {
        self.write_plain(|tx| {
            // One appender at a time across every instance; readers are not blocked. The lock
            // is taken before the last entry is read (READ COMMITTED: the next statement sees
            // the previous appender's commit).
            tx.batch("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")?;
            let last = tx.query_opt(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )?;
            let (seq, prev_hash) = match last {
                Some(r) => (r.try_get::<_, i64>("seq")? + 1, r.try_get("hash")?),
                None => (1, crate::console::audit::GENESIS.to_string()),
            };
            let hash = seal(&prev_hash, seq, draft);
            tx.execute(
                "INSERT INTO audit_log (seq, at, user_id, username, action, entity, record_id,
                    field, reason, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &seq,
                    &draft.at,
                    &draft.user_id,
                    &draft.username,
                    &draft.action,
                    &draft.entity,
                    &draft.record_id,
                    &draft.field,
                    &draft.reason,
                    &prev_hash,
                    &hash,
                ],
            )?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&AUDIT_HEAD, &format!("{seq}:{hash}")],
            )?;
            Ok(AuditRow {
                seq,
                draft: draft.clone(),
                prev_hash,
                hash,
            })
        })
    }

    fn audit_rows(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|tx| {
            tx.query(
                "SELECT seq, at, user_id, username, action, entity, record_id, field, reason,
                        prev_hash, hash
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &limit],
            )?
            .iter()
            .map(audit_row)
            .collect()
        })
    }

    fn audit_head(&self) -> Result<Option<(i64, String)>> {
        self.read(|tx| {
            let v: Option<String> =
                match tx.query_opt("SELECT value FROM meta WHERE key = $1", &[&AUDIT_HEAD])? {
                    Some(r) => Some(r.try_get("value")?),
                    None => None,
                };
            Ok(v.and_then(|v| {
                let (seq, hash) = v.split_once(':')?;
                Some((seq.parse().ok()?, hash.to_string()))
            }))
        })
    }

    fn warning_tasks(&self, grids: &[String]) -> Result<Vec<WarningTaskRow>> {
        self.read(|tx| {
            tx.query(
                "SELECT task_id, warning_key, grid_code, created_by, created_at FROM warning_tasks
                 WHERE grid_code = ANY($1) ORDER BY created_at",
                &[&grids],
            )?
            .iter()
            .map(|r| {
                Ok(WarningTaskRow {
                    task_id: r.try_get("task_id")?,
                    warning_key: r.try_get("warning_key")?,
                    grid_code: r.try_get("grid_code")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
        })
    }

    fn create_warning_task(
        &self,
        who: &Principal,
        warning_key: &str,
        req: &TaskRequest,
        now_ms: i64,
    ) -> Result<std::result::Result<StoredRecord, Reason>> {
        self.write(|w| {
            let task = match crate::cases::create_task(w, who, req, now_ms)? {
                Ok(t) => t,
                Err(reason) => return Ok(Err(reason)),
            };
            w.tx()?.execute(
                "INSERT INTO warning_tasks (task_id, warning_key, grid_code, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &task.id,
                    &warning_key,
                    &task.grid_code,
                    &who.user_id,
                    &now_ms,
                ],
            )?;
            Ok(Ok(task))
        })
    }
}
