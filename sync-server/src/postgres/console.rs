//! PostgreSQL side of the console: its session rows, the case queue's derived rows and the page
//! queries (`console::store::ConsoleStorage`), the counterpart of `sqlite/console.rs` with the
//! same answers.
//!
//! [`put_queue_row`] is called by every case record write inside the sync write transaction
//! (`record_tx.rs`), so the queue and its counts never disagree with the records; those writes
//! hold the `sync_state` row, so two instances never move one case's count at once.
//!
//! Written differently from SQLite, on purpose:
//! - scope is `grid_code = ANY($n)` with a `text[]` parameter (SQLite: `json_each`), and SQLite's
//!   `+q.grid_code` planner hint has no PostgreSQL equivalent (its planner weighs the order
//!   index against the grid index itself);
//! - JSON fields are `data->>'field'` on JSONB; numbers are read only when `jsonb_typeof` says
//!   they are numbers (a cast of anything else would fail the whole page);
//! - `sum()` of BIGINT is NUMERIC in PostgreSQL: cast back to BIGINT;
//! - orderings of names and codes say `COLLATE "C"` (byte order, like SQLite's BINARY), so both
//!   backends list workers, units and deadlines in the same order whatever the database's
//!   locale (the queue's keyset keeps the column's collation, so it can walk its index);
//! - a case's tasks come in one query (SQLite read them one by one after their ids).

use std::collections::HashMap;

use gridwalk_protocol::{entity, Role};
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;

use super::{get_record, parse_obj, record_from_row, scope_grids, PgStorage, Tx};
use crate::console::store::{
    CaseDetail, CasePhoto, ConsoleSession, ConsoleStorage, ConsoleUser, Deadline, PageAt,
    QueueFilter, QueuePage, QueueRow, ScopeUnit, TaskFilter, TaskRow, Worker,
};
use crate::error::Result;
use crate::storage::Principal;

/// Adds `delta` to the count of one grid × status × category × urgency.
const COUNT: &str = "INSERT INTO case_counts (grid_code, status, category_code, urgency, n)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (grid_code, status, category_code, urgency)
     DO UPDATE SET n = case_counts.n + excluded.n";

/// Writes the queue row of a case record and moves its count (called by every case write):
/// the old row is read, then the counts and the row are written in one round trip.
pub(super) fn put_queue_row(
    tx: &mut Tx<'_>,
    id: &str,
    grid_code: &str,
    data: &Map<String, Value>,
) -> Result<()> {
    let q = crate::cases::queue_fields(data);
    let old = match tx.query_opt(
        "SELECT grid_code, status, category_code, urgency FROM case_queue WHERE id = $1
         FOR UPDATE",
        &[&id],
    )? {
        None => None,
        Some(r) => Some((
            r.try_get::<_, String>("grid_code")?,
            r.try_get::<_, String>("status")?,
            r.try_get::<_, String>("category_code")?,
            r.try_get::<_, String>("urgency")?,
        )),
    };
    let (minus, plus) = (-1i64, 1i64);
    let added: [&(dyn ToSql + Sync); 5] =
        [&grid_code, &q.status, &q.category_code, &q.urgency, &plus];
    let queue_row: [&(dyn ToSql + Sync); 12] = [
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
    ];
    let removed: Option<[&(dyn ToSql + Sync); 5]> = old.as_ref().map(|(g, s, c, u)| {
        [
            g as &(dyn ToSql + Sync),
            s as &(dyn ToSql + Sync),
            c as &(dyn ToSql + Sync),
            u as &(dyn ToSql + Sync),
            &minus as &(dyn ToSql + Sync),
        ]
    });
    let same = old.as_ref().is_some_and(|(g, s, c, u)| {
        (g.as_str(), s.as_str(), c.as_str(), u.as_str())
            == (
                grid_code,
                q.status.as_str(),
                q.category_code.as_str(),
                q.urgency.as_str(),
            )
    });
    let mut stmts: Vec<(&str, &[&(dyn ToSql + Sync)])> = Vec::new();
    if !same {
        if let Some(removed) = &removed {
            stmts.push((COUNT, removed));
        }
        stmts.push((COUNT, &added));
    }
    stmts.push((
        "INSERT INTO case_queue (id, grid_code, status, category_code, type_code, urgency,
            reporter_user, received_at, start_at, due_at, sort_key, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO UPDATE SET grid_code = excluded.grid_code,
            status = excluded.status, category_code = excluded.category_code,
            type_code = excluded.type_code, urgency = excluded.urgency,
            reporter_user = excluded.reporter_user, received_at = excluded.received_at,
            start_at = excluded.start_at, due_at = excluded.due_at,
            sort_key = excluded.sort_key, updated_at = excluded.updated_at",
        &queue_row,
    ));
    tx.execute_many(&stmts)?;
    Ok(())
}

/// Display names of users by id (pages that mention users).
fn user_names(tx: &mut Tx<'_>, ids: &[String]) -> Result<HashMap<String, String>> {
    tx.query(
        "SELECT id, display_name FROM users WHERE id = ANY($1)",
        &[&ids],
    )?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("display_name")?)))
    .collect()
}

/// Bound values of a query assembled from fixed fragments: `push` returns the placeholder.
#[derive(Default)]
pub(super) struct Args(Vec<Box<dyn ToSql + Sync>>);

impl Args {
    pub(super) fn push(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect()
    }
}

/// The WHERE clause of the queue's filters (scope first), with its bound values.
fn queue_where(
    who: &Principal,
    filter: &QueueFilter,
    now_ms: i64,
    for_page: bool,
    args: &mut Args,
) -> String {
    let mut sql = format!("q.grid_code = ANY({})", args.push(who.grids.clone()));
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND q.{col} = {}", args.push(v.clone())));
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
        // Past due. Stopped rows have keys above every time; the counts name the statuses
        // with a clock.
        if !for_page {
            let open: Vec<String> = crate::cases::OPEN.iter().map(|s| s.to_string()).collect();
            sql.push_str(&format!(" AND q.status = ANY({})", args.push(open)));
        }
        sql.push_str(&format!(" AND q.sort_key < {}", args.push(now_ms)));
    }
    sql
}

fn queue_row(r: &tokio_postgres::Row) -> Result<QueueRow> {
    Ok(QueueRow {
        id: r.try_get("id")?,
        grid_code: r.try_get("grid_code")?,
        grid_name: r
            .try_get::<_, Option<String>>("grid_name")?
            .unwrap_or_default(),
        status: r.try_get("status")?,
        category_code: r.try_get("category_code")?,
        type_code: r.try_get("type_code")?,
        urgency: r.try_get("urgency")?,
        reporter_name: r.try_get("reporter_name")?,
        address: r.try_get("address")?,
        received_at: r.try_get("received_at")?,
        start_at: r.try_get("start_at")?,
        due_at: r.try_get("due_at")?,
        sort_key: r.try_get("sort_key")?,
    })
}

impl ConsoleStorage for PgStorage {
    fn console_start_session(
        &self,
        user_id: &str,
        cookie_hash: &str,
        csrf: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.write_plain(|tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE expires_at < $1",
                &[&now_ms],
            )?;
            tx.execute(
                "INSERT INTO console_sessions (hash, user_id, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&cookie_hash, &user_id, &csrf, &now_ms, &expires_at],
            )?;
            Ok(())
        })
    }

    fn console_session(&self, cookie_hash: &str, now_ms: i64) -> Result<Option<ConsoleSession>> {
        self.read(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT s.csrf, s.expires_at, u.id, u.username, u.display_name, u.role,
                        u.org_code, u.disabled
                 FROM console_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1",
                &[&cookie_hash],
            )?
            else {
                return Ok(None);
            };
            let role: String = r.try_get("role")?;
            let Some(role) = Role::parse(&role).filter(|r| r.is_supervisor()) else {
                return Ok(None);
            };
            let disabled: bool = r.try_get("disabled")?;
            let expires: i64 = r.try_get("expires_at")?;
            if disabled || expires < now_ms {
                return Ok(None);
            }
            let user_id: String = r.try_get("id")?;
            let org: String = r.try_get("org_code")?;
            let grids = scope_grids(tx, &user_id, &org)?;
            Ok(Some(ConsoleSession {
                principal: Principal {
                    user_id,
                    role,
                    org_code: org,
                    grids,
                    // Console sessions have no device; the label shows in logs only.
                    device_id: "console".into(),
                    session_id: cookie_hash.get(..16).unwrap_or(cookie_hash).to_string(),
                },
                user: ConsoleUser {
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    role,
                },
                csrf: r.try_get("csrf")?,
            }))
        })
    }

    fn console_end_session(&self, cookie_hash: &str) -> Result<()> {
        self.write_plain(|tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE hash = $1",
                &[&cookie_hash],
            )?;
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
        let mut args = Args::default();
        let mut wh = queue_where(who, filter, now_ms, true, &mut args);
        let backwards = matches!(at, PageAt::Before(..));
        match at {
            PageAt::First => {}
            PageAt::After(k, id) => {
                let (k, id) = (args.push(*k), args.push(id.clone()));
                wh.push_str(&format!(" AND (q.sort_key, q.id) > ({k}, {id})"));
            }
            PageAt::Before(k, id) => {
                let (k, id) = (args.push(*k), args.push(id.clone()));
                wh.push_str(&format!(" AND (q.sort_key, q.id) < ({k}, {id})"));
            }
        }
        // The keyset's order is the order index's (`case_queue_order`): the comparison above
        // and this ORDER BY use the column's one collation, so pages neither skip nor repeat.
        let order = if backwards {
            "q.sort_key DESC, q.id DESC"
        } else {
            "q.sort_key, q.id"
        };
        // One row more than the page tells whether another page follows.
        let lim = args.push(limit as i64 + 1);
        let sql = format!(
            "SELECT q.id, q.grid_code, q.status, q.category_code, q.type_code, q.urgency,
                    q.received_at, q.start_at, q.due_at, q.sort_key,
                    o.name AS grid_name, u.display_name AS reporter_name,
                    r.data->>'address' AS address
             FROM (SELECT * FROM case_queue q WHERE {wh} ORDER BY {order} LIMIT {lim}) q
             LEFT JOIN org_units o ON o.code = q.grid_code
             LEFT JOIN users u ON u.id = q.reporter_user
             LEFT JOIN records r ON r.entity = 'case' AND r.id = q.id
             ORDER BY {order}"
        );
        let mut rows = self.read(|tx| {
            tx.query(&sql, &args.refs())?
                .iter()
                .map(queue_row)
                .collect::<Result<Vec<_>>>()
        })?;
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
    }

    fn case_counts(
        &self,
        who: &Principal,
        filter: &QueueFilter,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>> {
        let mut args = Args::default();
        let sql = if filter.overdue || filter.reporter.is_some() {
            // Time-dependent or per-reporter: counted from the queue rows.
            let wh = queue_where(who, filter, now_ms, false, &mut args);
            format!(
                "SELECT q.status AS status, count(*) AS n FROM case_queue q WHERE {wh}
                 GROUP BY q.status"
            )
        } else {
            let mut wh = format!("k.grid_code = ANY({})", args.push(who.grids.clone()));
            for (col, v) in [
                ("category_code", &filter.category),
                ("grid_code", &filter.grid),
                ("urgency", &filter.urgency),
            ] {
                if let Some(v) = v {
                    wh.push_str(&format!(" AND k.{col} = {}", args.push(v.clone())));
                }
            }
            format!(
                "SELECT k.status AS status, sum(k.n)::bigint AS n FROM case_counts k WHERE {wh}
                 GROUP BY k.status HAVING sum(k.n) > 0"
            )
        };
        self.read(|tx| {
            tx.query(&sql, &args.refs())?
                .iter()
                .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
                .collect()
        })
    }

    fn case_detail(&self, who: &Principal, case_id: &str) -> Result<Option<CaseDetail>> {
        self.read(|tx| {
            let Some(case) =
                get_record(tx, entity::CASE, case_id)?.filter(|r| who.in_scope(&r.grid_code))
            else {
                return Ok(None);
            };
            let (grid_name, boundary): (String, Option<String>) = match tx.query_opt(
                "SELECT name, boundary FROM org_units WHERE code = $1",
                &[&case.grid_code],
            )? {
                Some(r) => (r.try_get("name")?, r.try_get("boundary")?),
                None => Default::default(),
            };
            let boundary = boundary
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok());
            // Events and photos of the case live in its grid (the engine derives their grid
            // from the case), so the scope check of the case covers them.
            let mut events: Vec<Map<String, Value>> = tx
                .query(
                    "SELECT data::text AS data FROM records WHERE entity = 'case_event'
                       AND data->>'case_id' = $1 AND grid_code = $2",
                    &[&case_id, &case.grid_code],
                )?
                .iter()
                .map(|r| parse_obj(r.try_get("data")?))
                .collect::<Result<_>>()?;
            events.sort_by_key(|e| e.get("at").and_then(Value::as_i64).unwrap_or(0));
            let photos = tx
                .query(
                    "SELECT r.id, r.data->>'sha256' AS sha256, r.data->>'owner_kind' AS owner_kind,
                            CASE WHEN jsonb_typeof(r.data->'taken_at') = 'number'
                                 THEN (r.data->'taken_at')::numeric::bigint END AS taken_at,
                            EXISTS (SELECT 1 FROM photo_claims p JOIN blob_holders h
                                ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                                WHERE p.photo_id = r.id
                                  AND p.sha256 = r.data->>'sha256') AS served
                     FROM records r WHERE r.entity = 'photo'
                       AND r.data->>'owner_id' = $1 AND r.grid_code = $2
                     ORDER BY r.rev",
                    &[&case_id, &case.grid_code],
                )?
                .iter()
                .map(|r| {
                    Ok(CasePhoto {
                        id: r.try_get("id")?,
                        sha256: r
                            .try_get::<_, Option<String>>("sha256")?
                            .unwrap_or_default(),
                        owner_kind: r
                            .try_get::<_, Option<String>>("owner_kind")?
                            .unwrap_or_default(),
                        taken_at: r.try_get("taken_at")?,
                        served: r.try_get("served")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let tasks = tx
                .query(
                    "SELECT id, grid_code, rev, hlc, data::text AS data, clocks::text AS clocks
                     FROM records WHERE entity = 'task' AND grid_code = $2
                       AND data->>'target_id' = $1 ORDER BY rev",
                    &[&case_id, &case.grid_code],
                )?
                .iter()
                .map(|r| record_from_row(entity::TASK, r.try_get("id")?, r))
                .collect::<Result<Vec<_>>>()?;
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
            ids.sort();
            ids.dedup();
            let names: HashMap<String, String> = user_names(tx, &ids)?;
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
        self.read(|tx| {
            tx.query(
                "WITH RECURSIVE up(code) AS (
                     SELECT unnest($1::text[])
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code FROM org_units
                 WHERE code IN (SELECT code FROM up)
                 ORDER BY CASE level WHEN 'district' THEN 0 WHEN 'street' THEN 1
                     WHEN 'community' THEN 2 ELSE 3 END, code COLLATE \"C\"",
                &[&who.grids],
            )?
            .iter()
            .map(|r| {
                Ok(ScopeUnit {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    level: r.try_get("level")?,
                    parent_code: r.try_get("parent_code")?,
                })
            })
            .collect()
        })
    }

    fn scope_workers(&self, who: &Principal) -> Result<Vec<Worker>> {
        self.read(|tx| {
            // A worker's grids are the grid they are attached to plus their extra grids; only
            // a worker attached to a larger unit needs the subtree walk.
            let rows = tx.query(
                "SELECT u.id AS id, u.username AS username, u.display_name AS display_name,
                        u.org_code AS org_code, o.level AS level,
                        ARRAY(SELECT g.grid_code FROM user_grids g WHERE g.user_id = u.id)
                            AS extra
                 FROM users u LEFT JOIN org_units o ON o.code = u.org_code
                 WHERE u.role = 'grid_worker' AND NOT u.disabled
                   AND (o.level IS DISTINCT FROM 'grid'
                        OR u.org_code = ANY($1)
                        OR EXISTS (SELECT 1 FROM user_grids g WHERE g.user_id = u.id
                                   AND g.grid_code = ANY($1)))
                 ORDER BY u.username COLLATE \"C\"",
                &[&who.grids],
            )?;
            let mut out = Vec::new();
            for r in &rows {
                let id: String = r.try_get("id")?;
                let org: String = r.try_get("org_code")?;
                let level: Option<String> = r.try_get("level")?;
                let all = if level.as_deref() == Some("grid") {
                    let mut g: Vec<String> = r.try_get("extra")?;
                    g.push(org);
                    g
                } else {
                    scope_grids(tx, &id, &org)?
                };
                let mut grids: Vec<String> = all.into_iter().filter(|g| who.in_scope(g)).collect();
                grids.sort();
                grids.dedup();
                if !grids.is_empty() {
                    out.push(Worker {
                        id,
                        username: r.try_get("username")?,
                        display_name: r.try_get("display_name")?,
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
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT r.id AS id, r.grid_code AS grid_code, r.rev AS rev, r.hlc AS hlc,
                    r.data::text AS data, r.clocks::text AS clocks, o.name AS grid_name,
                    ua.display_name AS assignee_name, uc.display_name AS creator_name
             FROM records r
             LEFT JOIN org_units o ON o.code = r.grid_code
             LEFT JOIN users ua ON ua.id = r.data->>'assignee'
             LEFT JOIN users uc ON uc.id = r.data->>'created_by'
             WHERE r.entity = 'task' AND r.grid_code = ANY({})",
            args.push(who.grids.clone())
        );
        for (field, v) in [
            ("status", &filter.status),
            ("kind", &filter.kind),
            ("assignee", &filter.assignee),
        ] {
            if let Some(v) = v {
                sql.push_str(&format!(
                    " AND r.data->>'{field}' = {}",
                    args.push(v.clone())
                ));
            }
        }
        if let Some(b) = filter.before_rev {
            sql.push_str(&format!(" AND r.rev < {}", args.push(b)));
        }
        sql.push_str(&format!(
            " ORDER BY r.rev DESC LIMIT {}",
            args.push(limit as i64)
        ));
        self.read(|tx| {
            tx.query(&sql, &args.refs())?
                .iter()
                .map(|r| {
                    Ok(TaskRow {
                        task: record_from_row(entity::TASK, r.try_get("id")?, r)?,
                        grid_name: r
                            .try_get::<_, Option<String>>("grid_name")?
                            .unwrap_or_default(),
                        assignee_name: r.try_get("assignee_name")?,
                        creator_name: r.try_get("creator_name")?,
                    })
                })
                .collect()
        })
    }

    fn case_deadlines(&self) -> Result<Vec<Deadline>> {
        self.read(|tx| {
            tx.query(
                "SELECT category_code, urgency, hours FROM case_deadlines
                 ORDER BY category_code COLLATE \"C\", urgency COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(Deadline {
                    category_code: r.try_get("category_code")?,
                    urgency: r.try_get("urgency")?,
                    hours: r.try_get("hours")?,
                })
            })
            .collect()
        })
    }
}
