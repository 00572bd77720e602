//! The console's reads and audit log on SQLite ([`ConsoleData`] for
//! [`crate::sqlite::SqliteStorage`]): plain scoped queries, nothing decided here.

use rusqlite::{params, OptionalExtension};

use gridwalk_protocol::Reason;

use super::{grids_json, parse_obj, SqliteStorage};
use crate::cases::TaskRequest;
use crate::console::data_store::{
    AuditDraft, AuditRow, AuthoredRecord, ConsoleData, Seal, UnitRow, WarningTaskRow, WorkerRow,
};
use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

/// Where the audit log's head (seq:hash) is kept, so a removed tail shows too.
const AUDIT_HEAD: &str = "audit_head";

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get("seq")?,
        draft: AuditDraft {
            at: r.get("at")?,
            user_id: r.get("user_id")?,
            username: r.get("username")?,
            action: r.get("action")?,
            entity: r.get("entity")?,
            record_id: r.get("record_id")?,
            field: r.get("field")?,
            reason: r.get("reason")?,
        },
        prev_hash: r.get("prev_hash")?,
        hash: r.get("hash")?,
    })
}

impl ConsoleData for SqliteStorage {
    fn records_in(
        &self,
        grids: &[String],
        entity: &str,
        since: Option<(&str, i64)>,
    ) -> Result<Vec<AuthoredRecord>> {
        self.read(|c| {
            let (path, from) = match since {
                Some((field, ms)) => (Some(format!("$.{field}")), ms),
                None => (None, 0),
            };
            let mut stmt = c.prepare_cached(
                "SELECT r.id, r.grid_code, r.rev, r.hlc, r.data, r.clocks, a.user_id AS author
                 FROM records r
                 LEFT JOIN record_authors a ON a.entity = r.entity AND a.id = r.id
                 WHERE r.entity = ?1 AND r.grid_code IN (SELECT value FROM json_each(?2))
                   AND (?3 IS NULL OR json_extract(r.data, ?3) >= ?4)",
            )?;
            let mut rows = stmt.query(params![entity, grids_json(grids)?, path, from])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(AuthoredRecord {
                    record: StoredRecord {
                        entity: entity.to_string(),
                        id: r.get("id")?,
                        grid_code: r.get("grid_code")?,
                        rev: r.get("rev")?,
                        hlc: r.get("hlc")?,
                        data: parse_obj(&r.get::<_, String>("data")?)?,
                        clocks: parse_obj(&r.get::<_, String>("clocks")?)?,
                    },
                    author: r.get("author")?,
                });
            }
            Ok(out)
        })
    }

    fn latest_contacts(&self, grids: &[String]) -> Result<Vec<(String, String, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT json_extract(data, '$.household_id') AS household,
                        json_extract(data, '$.mode') AS mode,
                        max(json_extract(data, '$.visited_at')) AS last_at
                 FROM records
                 WHERE entity = 'visit' AND grid_code IN (SELECT value FROM json_each(?1))
                 GROUP BY household, mode",
            )?;
            let rows = stmt.query_map([grids_json(grids)?], |r| {
                Ok((r.get("household")?, r.get("mode")?, r.get("last_at")?))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn units_in_scope(&self, grids: &[String]) -> Result<Vec<UnitRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "WITH RECURSIVE up(code) AS (
                     SELECT value FROM json_each(?1)
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code, boundary FROM org_units
                 WHERE code IN (SELECT code FROM up) ORDER BY code",
            )?;
            let rows = stmt.query_map([grids_json(grids)?], |r| {
                Ok(UnitRow {
                    code: r.get("code")?,
                    name: r.get("name")?,
                    level: r.get("level")?,
                    parent_code: r.get("parent_code")?,
                    boundary: r.get("boundary")?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn workers_in(&self, grids: &[String]) -> Result<Vec<WorkerRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "WITH wg(user_id, grid) AS (
                     SELECT id, org_code FROM users WHERE role = 'grid_worker'
                     UNION SELECT g.user_id, g.grid_code FROM user_grids g
                     JOIN users u ON u.id = g.user_id AND u.role = 'grid_worker')
                 SELECT u.id, u.username, u.display_name, u.disabled, u.created_at,
                        (SELECT max(last_seen) FROM devices d WHERE d.user_id = u.id) AS last_seen,
                        json_group_array(wg.grid) AS grids
                 FROM wg JOIN users u ON u.id = wg.user_id
                 WHERE wg.grid IN (SELECT value FROM json_each(?1))
                 GROUP BY u.id ORDER BY u.username",
            )?;
            let rows = stmt.query_map([grids_json(grids)?], |r| {
                Ok((
                    WorkerRow {
                        user_id: r.get("id")?,
                        username: r.get("username")?,
                        display_name: r.get("display_name")?,
                        grids: Vec::new(),
                        last_seen: r.get("last_seen")?,
                        disabled: r.get("disabled")?,
                        created_at: r.get("created_at")?,
                    },
                    r.get::<_, String>("grids")?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (mut w, grids) = row?;
                w.grids = serde_json::from_str(&grids)?;
                w.grids.sort();
                w.grids.dedup();
                out.push(w);
            }
            Ok(out)
        })
    }

    fn console_setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM console_settings WHERE key = ?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn put_console_setting(&self, key: &str, json: &str, by: &str, now_ms: i64) -> Result<()> {
        self.write(|w| {
            w.tx.prepare_cached(
                "INSERT INTO console_settings (key, value, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            )?
            .execute(params![key, json, by, now_ms])?;
            Ok(())
        })
    }

    fn append_audit(&self, draft: &AuditDraft, seal: Seal) -> Result<AuditRow> {
        self.write(|w| {
            let last: Option<(i64, String)> =
                w.tx.prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
                    .query_row([], |r| Ok((r.get("seq")?, r.get("hash")?)))
                    .optional()?;
            let (seq, prev_hash) = match last {
                Some((s, h)) => (s + 1, h),
                None => (1, crate::console::audit::GENESIS.to_string()),
            };
            let hash = seal(&prev_hash, seq, draft);
            w.tx.prepare_cached(
                "INSERT INTO audit_log (seq, at, user_id, username, action, entity, record_id,
                    field, reason, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                seq,
                draft.at,
                draft.user_id,
                draft.username,
                draft.action,
                draft.entity,
                draft.record_id,
                draft.field,
                draft.reason,
                prev_hash,
                hash
            ])?;
            w.tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![AUDIT_HEAD, format!("{seq}:{hash}")])?;
            Ok(AuditRow {
                seq,
                draft: draft.clone(),
                prev_hash,
                hash,
            })
        })
    }

    fn audit_rows(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, at, user_id, username, action, entity, record_id, field, reason,
                        prev_hash, hash
                 FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_seq, limit as i64], audit_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn audit_head(&self) -> Result<Option<(i64, String)>> {
        self.read(|c| {
            let v: Option<String> = c
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([AUDIT_HEAD], |r| r.get(0))
                .optional()?;
            Ok(v.and_then(|v| {
                let (seq, hash) = v.split_once(':')?;
                Some((seq.parse().ok()?, hash.to_string()))
            }))
        })
    }

    fn warning_tasks(&self, grids: &[String]) -> Result<Vec<WarningTaskRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT task_id, warning_key, grid_code, created_by, created_at FROM warning_tasks
                 WHERE grid_code IN (SELECT value FROM json_each(?1)) ORDER BY created_at",
            )?;
            let rows = stmt.query_map([grids_json(grids)?], |r| {
                Ok(WarningTaskRow {
                    task_id: r.get("task_id")?,
                    warning_key: r.get("warning_key")?,
                    grid_code: r.get("grid_code")?,
                    created_by: r.get("created_by")?,
                    created_at: r.get("created_at")?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
            w.tx.prepare_cached(
                "INSERT INTO warning_tasks (task_id, warning_key, grid_code, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                task.id,
                warning_key,
                task.grid_code,
                who.user_id,
                now_ms
            ])?;
            Ok(Ok(task))
        })
    }
}
