//! SQLite side of the console: its session rows, the case queue's derived rows and the page
//! queries (`console::store::ConsoleStorage`).
//!
//! The queue rows (`case_queue`, schema v4) and the counts per grid × status × category ×
//! urgency (`case_counts`) are written by [`put_queue_row`] inside the same transaction as every
//! case record write, from [`crate::cases::queue_fields`], so the queue can never disagree with
//! the records. Queue pages are keyset pages on `(sort_key, id)`; the SQL is
//! assembled from fixed fragments for the filters present (values are always bound), so SQLite
//! can pick the index of the narrowest filter.

use std::collections::HashMap;

use gridwalk_protocol::{entity, Role};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use serde_json::{Map, Value};

use super::{get_record, grids_json, parse_obj, scope_grids, SqliteStorage};
use crate::console::store::{
    CaseDetail, CasePhoto, ConsoleSession, ConsoleStorage, ConsoleUser, Deadline, PageAt,
    QueueFilter, QueuePage, QueueRow, ScopeUnit, TaskFilter, TaskRow, Worker,
};
use crate::error::Result;
use crate::storage::{Principal, StoredRecord};

/// Adds `delta` to the count of one grid × status × category × urgency.
fn count(
    tx: &Transaction<'_>,
    (grid, status, category, urgency): (&str, &str, &str, &str),
    delta: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO case_counts (grid_code, status, category_code, urgency, n)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (grid_code, status, category_code, urgency) DO UPDATE SET n = n + excluded.n",
    )?
    .execute(params![grid, status, category, urgency, delta])?;
    Ok(())
}

/// Writes the queue row of a case record and moves its count (called by every case write).
pub(super) fn put_queue_row(
    tx: &Transaction<'_>,
    id: &str,
    grid_code: &str,
    data: &Map<String, Value>,
) -> Result<()> {
    let q = crate::cases::queue_fields(data);
    let old: Option<(String, String, String, String)> = tx
        .prepare_cached(
            "SELECT grid_code, status, category_code, urgency FROM case_queue WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get("grid_code")?,
                r.get("status")?,
                r.get("category_code")?,
                r.get("urgency")?,
            ))
        })
        .optional()?;
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
    tx.prepare_cached(
        "INSERT INTO case_queue (id, grid_code, status, category_code, type_code, urgency,
            reporter_user, received_at, start_at, due_at, sort_key, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET grid_code = excluded.grid_code,
            status = excluded.status, category_code = excluded.category_code,
            type_code = excluded.type_code, urgency = excluded.urgency,
            reporter_user = excluded.reporter_user, received_at = excluded.received_at,
            start_at = excluded.start_at, due_at = excluded.due_at,
            sort_key = excluded.sort_key, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id,
        grid_code,
        q.status,
        q.category_code,
        q.type_code,
        q.urgency,
        q.reporter_user,
        q.received_at,
        q.start_at,
        q.due_at,
        q.sort_key,
        q.updated_at
    ])?;
    Ok(())
}

/// Fills `case_queue` from the case records already stored (the v4 upgrade's Rust step).
pub(super) fn rebuild_case_queue(tx: &Transaction<'_>) -> Result<()> {
    let rows: Vec<(String, String, String)> = tx
        .prepare("SELECT id, grid_code, data FROM records WHERE entity = 'case'")?
        .query_map([], |r| {
            Ok((r.get("id")?, r.get("grid_code")?, r.get("data")?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, grid, data) in rows {
        put_queue_row(tx, &id, &grid, &parse_obj(&data)?)?;
    }
    Ok(())
}

/// The WHERE clause of the queue's filters (scope first), with its bound values.
///
/// The scope test is written `+q.grid_code` (no index on it): a scope is usually a large share
/// of the cases, so walking the order index and testing the scope beats gathering every case of
/// the scope and sorting them; a single grid (`filter.grid`) has its own index.
fn queue_where(
    who: &Principal,
    filter: &QueueFilter,
    now_ms: i64,
    for_page: bool,
) -> Result<(String, Vec<SqlValue>)> {
    let mut sql = String::from("+q.grid_code IN (SELECT value FROM json_each(?))");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(grids_json(&who.grids)?)];
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND q.{col} = ?"));
            args.push(SqlValue::Text(v.clone()));
        }
    };
    // Counts are per status: their status filter is the grouping.
    if for_page {
        eq("status", &filter.status);
    }
    eq("category_code", &filter.category);
    eq("grid_code", &filter.grid);
    eq("urgency", &filter.urgency);
    eq("reporter_user", &filter.reporter);
    if filter.overdue {
        // Past due. Stopped rows have keys above every time. A page walks the order index up to
        // now; the counts (`for_page` false) name the statuses with a clock, so they walk
        // the status index's overdue ranges instead of sorting.
        if !for_page {
            sql.push_str(" AND q.status IN (SELECT value FROM json_each(?))");
            args.push(SqlValue::Text(serde_json::to_string(crate::cases::OPEN)?));
        }
        sql.push_str(" AND q.sort_key < ?");
        args.push(SqlValue::Integer(now_ms));
    }
    Ok((sql, args))
}

fn queue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueRow> {
    Ok(QueueRow {
        id: r.get("id")?,
        grid_code: r.get("grid_code")?,
        grid_name: r.get::<_, Option<String>>("grid_name")?.unwrap_or_default(),
        status: r.get("status")?,
        category_code: r.get("category_code")?,
        type_code: r.get("type_code")?,
        urgency: r.get("urgency")?,
        reporter_name: r.get("reporter_name")?,
        address: r.get("address")?,
        received_at: r.get("received_at")?,
        start_at: r.get("start_at")?,
        due_at: r.get("due_at")?,
        sort_key: r.get("sort_key")?,
    })
}

fn session_user(
    c: &Connection,
    cookie_hash: &str,
    now_ms: i64,
) -> Result<Option<(String, String, ConsoleUser, String)>> {
    let row = c
        .prepare_cached(
            "SELECT s.csrf, s.expires_at, u.id, u.username, u.display_name, u.role,
                    u.org_code, u.disabled
             FROM console_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?1",
        )?
        .query_row([cookie_hash], |r| {
            Ok((
                r.get::<_, String>("csrf")?,
                r.get::<_, i64>("expires_at")?,
                r.get::<_, String>("id")?,
                r.get::<_, String>("username")?,
                r.get::<_, String>("display_name")?,
                r.get::<_, String>("role")?,
                r.get::<_, String>("org_code")?,
                r.get::<_, bool>("disabled")?,
            ))
        })
        .optional()?;
    let Some((csrf, expires, id, username, display_name, role, org, disabled)) = row else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&role).filter(|r| r.is_supervisor()) else {
        return Ok(None);
    };
    if disabled || expires < now_ms {
        return Ok(None);
    }
    Ok(Some((
        id,
        org,
        ConsoleUser {
            username,
            display_name,
            role,
        },
        csrf,
    )))
}

impl ConsoleStorage for SqliteStorage {
    fn console_start_session(
        &self,
        user_id: &str,
        cookie_hash: &str,
        csrf: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.write(|w| {
            w.tx.prepare_cached("DELETE FROM console_sessions WHERE expires_at < ?1")?
                .execute([now_ms])?;
            w.tx.prepare_cached(
                "INSERT INTO console_sessions (hash, user_id, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![cookie_hash, user_id, csrf, now_ms, expires_at])?;
            Ok(())
        })
    }

    fn console_session(&self, cookie_hash: &str, now_ms: i64) -> Result<Option<ConsoleSession>> {
        self.read(|c| {
            let Some((user_id, org, user, csrf)) = session_user(c, cookie_hash, now_ms)? else {
                return Ok(None);
            };
            let grids = scope_grids(c, &user_id, &org)?;
            Ok(Some(ConsoleSession {
                principal: Principal {
                    user_id,
                    role: user.role,
                    org_code: org,
                    grids,
                    // Console sessions have no device; the label shows in logs only.
                    device_id: "console".into(),
                    session_id: cookie_hash.get(..16).unwrap_or(cookie_hash).to_string(),
                },
                user,
                csrf,
            }))
        })
    }

    fn console_end_session(&self, cookie_hash: &str) -> Result<()> {
        self.write(|w| {
            w.tx.prepare_cached("DELETE FROM console_sessions WHERE hash = ?1")?
                .execute([cookie_hash])?;
            Ok(())
        })
    }

    fn case_queue(
        &self,
        who: &Principal,
        filter: &QueueFilter,
        at: &PageAt,
        limit: usize,
        now_ms: i64,
    ) -> Result<QueuePage> {
        let limit = limit.clamp(1, 500);
        self.read(|c| {
            let (mut wh, mut args) = queue_where(who, filter, now_ms, true)?;
            let backwards = matches!(at, PageAt::Before(..));
            match at {
                PageAt::First => {}
                PageAt::After(k, id) => {
                    wh.push_str(" AND (q.sort_key, q.id) > (?, ?)");
                    args.push(SqlValue::Integer(*k));
                    args.push(SqlValue::Text(id.clone()));
                }
                PageAt::Before(k, id) => {
                    wh.push_str(" AND (q.sort_key, q.id) < (?, ?)");
                    args.push(SqlValue::Integer(*k));
                    args.push(SqlValue::Text(id.clone()));
                }
            }
            let order = if backwards {
                "q.sort_key DESC, q.id DESC"
            } else {
                "q.sort_key, q.id"
            };
            // One row more than the page tells whether another page follows.
            args.push(SqlValue::Integer(limit as i64 + 1));
            let sql = format!(
                "SELECT q.id, q.grid_code, q.status, q.category_code, q.type_code, q.urgency,
                        q.received_at, q.start_at, q.due_at, q.sort_key,
                        o.name AS grid_name, u.display_name AS reporter_name,
                        json_extract(r.data, '$.address') AS address
                 FROM (SELECT * FROM case_queue q WHERE {wh} ORDER BY {order} LIMIT ?) q
                 LEFT JOIN org_units o ON o.code = q.grid_code
                 LEFT JOIN users u ON u.id = q.reporter_user
                 LEFT JOIN records r ON r.entity = 'case' AND r.id = q.id
                 ORDER BY {order}"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows: Vec<QueueRow> = stmt
                .query_map(params_from_iter(args.iter()), queue_row)?
                .collect::<rusqlite::Result<_>>()?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            if backwards {
                rows.reverse();
            }
            let key = |r: &QueueRow| (r.sort_key, r.id.clone());
            let (next, prev) = if backwards {
                // Came from a later page: one follows for sure; one precedes if more rows.
                (rows.last().map(key), rows.first().filter(|_| more).map(key))
            } else {
                let prev = match at {
                    PageAt::First => None,
                    _ => rows.first().map(key),
                };
                (rows.last().filter(|_| more).map(key), prev)
            };
            Ok(QueuePage { rows, next, prev })
        })
    }

    fn case_counts(
        &self,
        who: &Principal,
        filter: &QueueFilter,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let (sql, args) = if filter.overdue || filter.reporter.is_some() {
                // Time-dependent or per-reporter: counted from the queue rows (through the
                // order index's overdue range or the reporter index).
                let (wh, args) = queue_where(who, filter, now_ms, false)?;
                (
                    format!(
                        "SELECT q.status AS status, count(*) AS n FROM case_queue q WHERE {wh}
                         GROUP BY q.status"
                    ),
                    args,
                )
            } else {
                let mut wh = String::from("k.grid_code IN (SELECT value FROM json_each(?))");
                let mut args: Vec<SqlValue> = vec![SqlValue::Text(grids_json(&who.grids)?)];
                for (col, v) in [
                    ("category_code", &filter.category),
                    ("grid_code", &filter.grid),
                    ("urgency", &filter.urgency),
                ] {
                    if let Some(v) = v {
                        wh.push_str(&format!(" AND k.{col} = ?"));
                        args.push(SqlValue::Text(v.clone()));
                    }
                }
                (
                    format!(
                        "SELECT k.status AS status, sum(k.n) AS n FROM case_counts k WHERE {wh}
                         GROUP BY k.status HAVING sum(k.n) > 0"
                    ),
                    args,
                )
            };
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok((r.get("status")?, r.get("n")?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn case_detail(&self, who: &Principal, case_id: &str) -> Result<Option<CaseDetail>> {
        self.read(|c| {
            let Some(case) =
                get_record(c, entity::CASE, case_id)?.filter(|r| who.in_scope(&r.grid_code))
            else {
                return Ok(None);
            };
            let (grid_name, boundary): (String, Option<String>) = c
                .prepare_cached("SELECT name, boundary FROM org_units WHERE code = ?1")?
                .query_row([&case.grid_code], |r| {
                    Ok((r.get("name")?, r.get("boundary")?))
                })
                .optional()?
                .unwrap_or_default();
            let boundary = boundary
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok());
            // Events and photos of the case live in its grid (the engine derives their grid from
            // the case), so the scope check of the case covers them.
            let mut events: Vec<Map<String, Value>> = c
                .prepare_cached(
                    "SELECT data FROM records WHERE entity = 'case_event'
                       AND json_extract(data, '$.case_id') = ?1 AND grid_code = ?2",
                )?
                .query_map(params![case_id, case.grid_code], |r| {
                    r.get::<_, String>("data")
                })?
                .map(|d| parse_obj(&d?))
                .collect::<Result<_>>()?;
            events.sort_by_key(|e| e.get("at").and_then(Value::as_i64).unwrap_or(0));
            let photos = c
                .prepare_cached(
                    "SELECT r.id, json_extract(r.data, '$.sha256') AS sha256,
                            json_extract(r.data, '$.owner_kind') AS owner_kind,
                            json_extract(r.data, '$.taken_at') AS taken_at,
                            EXISTS (SELECT 1 FROM photo_claims p JOIN blob_holders h
                                ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                                WHERE p.photo_id = r.id
                                  AND p.sha256 = json_extract(r.data, '$.sha256')) AS served
                     FROM records r WHERE r.entity = 'photo'
                       AND json_extract(r.data, '$.owner_id') = ?1 AND r.grid_code = ?2
                     ORDER BY r.rev",
                )?
                .query_map(params![case_id, case.grid_code], |r| {
                    Ok(CasePhoto {
                        id: r.get("id")?,
                        sha256: r.get::<_, Option<String>>("sha256")?.unwrap_or_default(),
                        owner_kind: r
                            .get::<_, Option<String>>("owner_kind")?
                            .unwrap_or_default(),
                        taken_at: r.get("taken_at")?,
                        served: r.get("served")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let task_ids: Vec<String> = c
                .prepare_cached(
                    "SELECT id FROM records WHERE entity = 'task' AND grid_code = ?2
                       AND json_extract(data, '$.target_id') = ?1 ORDER BY rev",
                )?
                .query_map(params![case_id, case.grid_code], |r| r.get("id"))?
                .collect::<rusqlite::Result<_>>()?;
            let mut tasks = Vec::with_capacity(task_ids.len());
            for id in task_ids {
                if let Some(t) = get_record(c, entity::TASK, &id)? {
                    tasks.push(t);
                }
            }
            // Names of every user the page mentions.
            let mut ids: Vec<String> = Vec::new();
            let mut add = |m: &Map<String, Value>, k: &str| {
                if let Some(v) = m.get(k).and_then(Value::as_str) {
                    ids.push(v.to_string());
                }
            };
            for k in ["reporter_user", "evaluated_by", "callback_by"] {
                add(&case.data, k);
            }
            for e in &events {
                add(e, "actor");
            }
            for t in &tasks {
                add(&t.data, "assignee");
                add(&t.data, "created_by");
            }
            let mut names = HashMap::new();
            let mut stmt = c.prepare_cached("SELECT display_name FROM users WHERE id = ?1")?;
            for id in ids {
                if let Some(n) = stmt
                    .query_row([&id], |r| r.get::<_, String>("display_name"))
                    .optional()?
                {
                    names.insert(id, n);
                }
            }
            Ok(Some(CaseDetail {
                case,
                grid_name,
                boundary,
                events,
                photos,
                tasks,
                names,
            }))
        })
    }

    fn scope_units(&self, who: &Principal) -> Result<Vec<ScopeUnit>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "WITH RECURSIVE up(code) AS (
                     SELECT value FROM json_each(?1)
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code FROM org_units
                 WHERE code IN (SELECT code FROM up)
                 ORDER BY CASE level WHEN 'district' THEN 0 WHEN 'street' THEN 1
                     WHEN 'community' THEN 2 ELSE 3 END, code",
            )?;
            let rows = stmt
                .query_map([grids_json(&who.grids)?], |r| {
                    Ok(ScopeUnit {
                        code: r.get("code")?,
                        name: r.get("name")?,
                        level: r.get("level")?,
                        parent_code: r.get("parent_code")?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn scope_workers(&self, who: &Principal) -> Result<Vec<Worker>> {
        self.read(|c| {
            // A worker's grids are the grid they are attached to plus their extra grids; only
            // a worker attached to a larger unit needs the subtree walk. One query for the
            // common case keeps the page fast with a thousand workers in a district.
            let rows: Vec<(String, String, String, String, Option<String>)> = c
                .prepare_cached(
                    "SELECT u.id AS id, u.username AS username, u.display_name AS display_name,
                            u.org_code AS org_code, o.level AS level
                     FROM users u LEFT JOIN org_units o ON o.code = u.org_code
                     WHERE u.role = 'grid_worker' AND u.disabled = 0
                       AND (o.level IS NOT 'grid'
                            OR u.org_code IN (SELECT value FROM json_each(?1))
                            OR EXISTS (SELECT 1 FROM user_grids g WHERE g.user_id = u.id
                                       AND g.grid_code IN (SELECT value FROM json_each(?1))))
                     ORDER BY u.username",
                )?
                .query_map([grids_json(&who.grids)?], |r| {
                    Ok((
                        r.get("id")?,
                        r.get("username")?,
                        r.get("display_name")?,
                        r.get("org_code")?,
                        r.get("level")?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for (id, username, display_name, org, level) in rows {
                let all = if level.as_deref() == Some("grid") {
                    let mut g: Vec<String> = c
                        .prepare_cached("SELECT grid_code FROM user_grids WHERE user_id = ?1")?
                        .query_map([&id], |r| r.get("grid_code"))?
                        .collect::<rusqlite::Result<_>>()?;
                    g.push(org);
                    g
                } else {
                    scope_grids(c, &id, &org)?
                };
                let mut grids: Vec<String> = all.into_iter().filter(|g| who.in_scope(g)).collect();
                grids.sort();
                grids.dedup();
                if !grids.is_empty() {
                    out.push(Worker {
                        id,
                        username,
                        display_name,
                        grids,
                    });
                }
            }
            Ok(out)
        })
    }

    fn scope_tasks(
        &self,
        who: &Principal,
        filter: &TaskFilter,
        limit: usize,
    ) -> Result<Vec<TaskRow>> {
        let limit = limit.clamp(1, 500);
        self.read(|c| {
            let mut sql = String::from(
                "SELECT r.id AS id, r.grid_code AS grid_code, r.rev AS rev, r.hlc AS hlc,
                        r.data AS data, r.clocks AS clocks, o.name AS grid_name,
                        ua.display_name AS assignee_name, uc.display_name AS creator_name
                 FROM records r
                 LEFT JOIN org_units o ON o.code = r.grid_code
                 LEFT JOIN users ua ON ua.id = json_extract(r.data, '$.assignee')
                 LEFT JOIN users uc ON uc.id = json_extract(r.data, '$.created_by')
                 WHERE r.entity = 'task' AND r.grid_code IN (SELECT value FROM json_each(?))",
            );
            let mut args: Vec<SqlValue> = vec![SqlValue::Text(grids_json(&who.grids)?)];
            for (field, v) in [
                ("status", &filter.status),
                ("kind", &filter.kind),
                ("assignee", &filter.assignee),
            ] {
                if let Some(v) = v {
                    sql.push_str(&format!(" AND json_extract(r.data, '$.{field}') = ?"));
                    args.push(SqlValue::Text(v.clone()));
                }
            }
            if let Some(b) = filter.before_rev {
                sql.push_str(" AND r.rev < ?");
                args.push(SqlValue::Integer(b));
            }
            sql.push_str(" ORDER BY r.rev DESC LIMIT ?");
            args.push(SqlValue::Integer(limit as i64));
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(args.iter()))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(TaskRow {
                    task: StoredRecord {
                        entity: entity::TASK.into(),
                        id: r.get("id")?,
                        grid_code: r.get("grid_code")?,
                        rev: r.get("rev")?,
                        hlc: r.get("hlc")?,
                        data: parse_obj(&r.get::<_, String>("data")?)?,
                        clocks: parse_obj(&r.get::<_, String>("clocks")?)?,
                    },
                    grid_name: r.get::<_, Option<String>>("grid_name")?.unwrap_or_default(),
                    assignee_name: r.get("assignee_name")?,
                    creator_name: r.get("creator_name")?,
                });
            }
            Ok(out)
        })
    }

    fn case_deadlines(&self) -> Result<Vec<Deadline>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT category_code, urgency, hours FROM case_deadlines
                     ORDER BY category_code, urgency",
                )?
                .query_map([], |r| {
                    Ok(Deadline {
                        category_code: r.get("category_code")?,
                        urgency: r.get("urgency")?,
                        hours: r.get("hours")?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }
}
