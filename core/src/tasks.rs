//! Tasks and the daily list (今日待办), computed offline.
//!
//! The list a worker opens in the morning merges five sources: tasks a supervisor assigned,
//! households whose visit is due under the care-tier policy, cases waiting for on-site
//! verification, the day's patrol quota (一日双巡), and drafts not yet submitted. It is computed
//! from the local store alone — no signal is needed — and ordered by priority, then due time,
//! then distance from where the worker stands.
//!
//! Visit frequency is a policy, not code: each care tier has one or more rules ("any contact
//! every 15 days", "a home visit every 30 days"). Defaults follow the domain brief (close care
//! weekly, attention every 15 days, routine every 30); 盐池's "phone every half month, home visit
//! monthly" is [`VisitPolicy::yanchi`]. Supervisors replace the policy with
//! [`Store::set_visit_policy`].
//!
//! The households due for a visit are read from due days kept ahead of time, one row per
//! household and rule, updated in the transaction of every write that changes them (`due.rs`):
//! the list reads the rows due by today from an index instead of working out every household's
//! due day each time it opens. [`DueSource::Computed`] still works it out over every household
//! (the reference the tests hold the stored days to).

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::geometry;
use crate::model::*;
use crate::store::{date_str, from_ms, ms, parse_date, Settings, Store, Tx, DIRTY_STATE};
use crate::validate;

use gridwalk_domain::policy::HOME;
pub use gridwalk_domain::policy::{VisitPolicy, VisitRule};

/// What an item of the daily list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodayKind {
    /// A task assigned by a supervisor or created by the worker.
    Task,
    /// A household due for a visit under the care-tier policy.
    VisitDue,
    /// A case waiting for on-site verification.
    VerifyCase,
    /// The day's patrol quota is not met yet.
    Patrol,
    /// A draft case not yet submitted.
    DraftCase,
}

/// One line of the daily list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodayItem {
    pub kind: TodayKind,
    pub priority: Priority,
    /// What to do, in Chinese (the worker's language).
    pub title: String,
    /// Address or detail line.
    pub detail: String,
    pub due: DateTime<Utc>,
    /// Whole days past due (0 when due today).
    pub overdue_days: i64,
    /// The task, household or case the item is about.
    pub target_id: Option<String>,
    pub location: Option<GeoPoint>,
    /// Metres from the worker's position, when both are known.
    pub distance_m: Option<f64>,
}

const TASK_SELECT: &str = "SELECT id, kind, title, target_kind, target_id, due_on, priority,
    source, status, notes, created_at, completed_at, sync_state FROM tasks";

fn map_task(r: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    let tk: Option<String> = r.get(3)?;
    let tid: Option<String> = r.get(4)?;
    let due: String = r.get(5)?;
    Ok(Task {
        id: r.get(0)?,
        kind: r.get(1)?,
        title: r.get(2)?,
        target: tk.zip(tid).map(|(kind, id)| TaskTarget { kind, id }),
        due_on: parse_date(&due).unwrap_or_default(),
        priority: r.get(6)?,
        source: r.get(7)?,
        status: r.get(8)?,
        notes: r.get(9)?,
        created_at: from_ms(r.get(10)?),
        completed_at: r.get::<_, Option<i64>>(11)?.map(from_ms),
        sync_status: r.get(12)?,
    })
}

fn get_task(conn: &Connection, id: &str) -> Result<Task> {
    conn.prepare_cached(&format!("{TASK_SELECT} WHERE id = ?1"))?
        .query_row([id], map_task)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "task",
            id: id.to_string(),
        })
}

/// Creates a task inside `ctx`.
pub fn insert_task(ctx: &mut Tx<'_>, input: &TaskInput) -> Result<Task> {
    let title = validate::required("title", &input.title)?;
    validate::max_chars("title", &title, 100)?;
    if let Some(t) = &input.target {
        let table = match t.kind.as_str() {
            "household" => "households",
            "resident" => "residents",
            "case" => "cases",
            "grid" => "org_units",
            _ => return Err(Error::invalid("target.kind", Code::InvalidValue)),
        };
        let key = if table == "org_units" { "code" } else { "id" };
        let found = ctx
            .tx
            .prepare_cached(&format!("SELECT 1 FROM {table} WHERE {key} = ?1"))?
            .exists([&t.id])?;
        if !found {
            return Err(Error::invalid("target.id", Code::UnknownReference));
        }
    }
    let notes = validate::optional_text(input.notes.as_deref());
    let hlc = ctx.tick();
    let id = new_id();
    ctx.tx.execute(
        "INSERT INTO tasks (id, kind, title, target_kind, target_id, due_on, priority, source,
            notes, created_at, hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            input.kind,
            title,
            input.target.as_ref().map(|t| &t.kind),
            input.target.as_ref().map(|t| &t.id),
            date_str(input.due_on),
            input.priority,
            input.source,
            notes,
            ms(ctx.now),
            hlc
        ],
    )?;
    let payload = json!({
        "kind": input.kind.as_str(), "title": title,
        "target_kind": input.target.as_ref().map(|t| &t.kind),
        "target_id": input.target.as_ref().map(|t| &t.id),
        "due_on": date_str(input.due_on), "priority": input.priority.as_str(),
        "source": input.source.as_str(), "notes": notes,
    });
    changes::record(ctx, entity::TASK, &id, op::CREATE, &payload, &hlc)?;
    get_task(ctx.tx, &id)
}

pub(crate) fn read_policy(conn: &Connection) -> Result<VisitPolicy> {
    let mut stmt = conn.prepare_cached(
        "SELECT care_tier, rule, modes, interval_days FROM visit_policies
         ORDER BY CASE care_tier WHEN 'close' THEN 0 WHEN 'attention' THEN 1 ELSE 2 END, rule",
    )?;
    let rows = stmt.query_map([], |r| {
        let modes: String = r.get(2)?;
        Ok(VisitRule {
            care_tier: r.get(0)?,
            rule: r.get(1)?,
            modes: serde_json::from_str(&modes).unwrap_or_default(),
            interval_days: r.get(3)?,
        })
    })?;
    Ok(VisitPolicy {
        rules: rows.collect::<rusqlite::Result<Vec<_>>>()?,
    })
}

fn bump(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        _ => Priority::Urgent,
    }
}

fn urgency_priority(u: Urgency) -> Priority {
    match u {
        Urgency::Emergency => Priority::Urgent,
        Urgency::Urgent => Priority::High,
        Urgency::Normal => Priority::Normal,
    }
}

fn address_line(
    community: &str,
    building: &str,
    unit: Option<String>,
    room: Option<String>,
) -> String {
    let mut s = format!("{community} {building}");
    for part in [unit, room].into_iter().flatten() {
        s.push(' ');
        s.push_str(&part);
    }
    s
}

fn point(lat: Option<f64>, lng: Option<f64>) -> Option<GeoPoint> {
    lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng })
}

/// A text column borrowed from its row.
fn text_ref<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a str> {
    r.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// Of the rules a household is due under on `today` (`(index in the policy, rule, due day)`),
/// the strictest: fewest accepted modes, then the policy's order.
fn strictest<'p>(
    due: impl IntoIterator<Item = (usize, &'p VisitRule, NaiveDate)>,
    today: NaiveDate,
) -> Option<(&'p VisitRule, NaiveDate)> {
    due.into_iter()
        .filter(|(_, _, day)| *day <= today)
        .min_by_key(|(i, rule, _)| (rule.modes.len(), *i))
        .map(|(_, rule, day)| (rule, day))
}

/// What the list shows of a household due for a visit.
struct DueHousehold<'a> {
    id: &'a str,
    tier: CareTier,
    community: &'a str,
    building: &'a str,
    unit: Option<String>,
    room: Option<String>,
    location: Option<GeoPoint>,
}

/// The list line of a household due under `rule` from `due_day`.
fn visit_item(
    settings: &Settings,
    today: NaiveDate,
    h: DueHousehold<'_>,
    rule: &VisitRule,
    due_day: NaiveDate,
) -> TodayItem {
    let base = match h.tier {
        CareTier::Close => Priority::High,
        CareTier::Attention => Priority::Normal,
        CareTier::Routine => Priority::Low,
    };
    let late = (today - due_day).num_days().max(0);
    let priority = if late >= rule.interval_days as i64 {
        bump(base)
    } else {
        base
    };
    let what = if rule.modes == HOME {
        "入户走访"
    } else {
        "走访/联系"
    };
    TodayItem {
        kind: TodayKind::VisitDue,
        priority,
        title: format!("{}（{}）", what, h.tier.label_zh()),
        detail: address_line(h.community, h.building, h.unit, h.room),
        due: settings.day_start(due_day),
        overdue_days: late,
        target_id: Some(h.id.to_string()),
        location: h.location,
        distance_m: None,
    }
}

/// The households due, read from the precomputed due days: the rows due by `today` (an index
/// range of `visit_due_day`), each joined to its household by key.
fn visits_due_stored(
    conn: &Connection,
    settings: &Settings,
    policy: &VisitPolicy,
    today: NaiveDate,
    items: &mut Vec<TodayItem>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.household_id, d.rule, d.due_on, h.care_tier, h.lat, h.lng, h.community,
                h.building, h.unit, h.room
         FROM visit_due d INDEXED BY visit_due_day JOIN households h ON h.id = d.household_id
         WHERE d.due_on <= ?1 AND h.status = 'active'
         ORDER BY d.household_id",
    )?;
    let mut rows = stmt.query([date_str(today)])?;
    // The rules a household is due under come in consecutive rows; its line is made when the
    // next household starts.
    struct Open {
        id: String,
        tier: CareTier,
        due: Vec<(usize, NaiveDate)>,
        community: String,
        building: String,
        unit: Option<String>,
        room: Option<String>,
        location: Option<GeoPoint>,
    }
    let finish = |o: Open, items: &mut Vec<TodayItem>| {
        let due = o.due.iter().map(|(i, d)| (*i, &policy.rules[*i], *d));
        if let Some((rule, day)) = strictest(due, today) {
            let h = DueHousehold {
                id: &o.id,
                tier: o.tier,
                community: &o.community,
                building: &o.building,
                unit: o.unit,
                room: o.room,
                location: o.location,
            };
            items.push(visit_item(settings, today, h, rule, day));
        }
    };
    let mut open: Option<Open> = None;
    while let Some(r) = rows.next()? {
        let id = text_ref(r, 0)?;
        let tier: CareTier = r.get(3)?;
        let rule_name = text_ref(r, 1)?;
        // A row of a rule the policy no longer has cannot be (the policy rewrites every row);
        // a day that does not parse is treated as due today rather than hidden.
        let Some(index) = policy
            .rules
            .iter()
            .position(|p| p.care_tier == tier && p.rule == rule_name)
        else {
            continue;
        };
        let day = parse_date(text_ref(r, 2)?).unwrap_or(today);
        if open.as_ref().is_some_and(|o| o.id == id) {
            if let Some(o) = open.as_mut() {
                o.due.push((index, day));
            }
            continue;
        }
        if let Some(o) = open.take() {
            finish(o, items);
        }
        open = Some(Open {
            id: id.to_string(),
            tier,
            due: vec![(index, day)],
            community: r.get(6)?,
            building: r.get(7)?,
            unit: r.get(8)?,
            room: r.get(9)?,
            location: point(r.get(4)?, r.get(5)?),
        });
    }
    if let Some(o) = open.take() {
        finish(o, items);
    }
    Ok(())
}

/// The households due, worked out over every active household and its latest contacts
/// (`due::for_each_active`), the due days of each from `due::due_days`.
fn visits_due_computed(
    conn: &Connection,
    settings: &Settings,
    policy: &VisitPolicy,
    today: NaiveDate,
    items: &mut Vec<TodayItem>,
) -> Result<()> {
    let columns = "id, care_tier, created_at, lat, lng, community, building, unit, room";
    crate::due::for_each_active(conn, columns, |r, id, contacts| {
        let tier: CareTier = r.get(1)?;
        let days = crate::due::due_days(policy, settings, tier, r.get(2)?, contacts);
        let Some((rule, day)) = strictest(days, today) else {
            return Ok(());
        };
        let h = DueHousehold {
            id,
            tier,
            community: text_ref(r, 5)?,
            building: text_ref(r, 6)?,
            unit: r.get(7)?,
            room: r.get(8)?,
            location: point(r.get(3)?, r.get(4)?),
        };
        items.push(visit_item(settings, today, h, rule, day));
        Ok(())
    })
}

/// Where the daily list takes the households due for a visit from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueSource {
    /// The precomputed due days (`visit_due`, kept by `due.rs`): an index range.
    Stored,
    /// Worked out over every active household and its latest contacts (the reference the
    /// stored days are tested against, and the fallback when they are not current).
    Computed,
}

/// Computes the daily list for the local day containing `now`.
pub fn compute_today(
    conn: &Connection,
    settings: &Settings,
    now: DateTime<Utc>,
    position: Option<GeoPoint>,
) -> Result<Vec<TodayItem>> {
    compute_today_from(conn, settings, now, position, DueSource::Stored)
}

/// [`compute_today`] with the households due taken from `source`.
pub fn compute_today_from(
    conn: &Connection,
    settings: &Settings,
    now: DateTime<Utc>,
    position: Option<GeoPoint>,
    source: DueSource,
) -> Result<Vec<TodayItem>> {
    let today = settings.local_date(now);
    let day_start = settings.day_start(today);
    let overdue = |due_day: NaiveDate| (today - due_day).num_days().max(0);
    let mut items = Vec::new();

    // 1. Open tasks due today or earlier.
    let mut verify_tasks: Vec<String> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, t.kind, t.title, t.due_on, t.priority, t.target_kind, t.target_id,
                    coalesce(h.lat, c.lat), coalesce(h.lng, c.lng),
                    h.community, h.building, h.unit, h.room, c.address
             FROM tasks t
             LEFT JOIN households h ON t.target_kind = 'household' AND h.id = t.target_id
             LEFT JOIN cases c ON t.target_kind = 'case' AND c.id = t.target_id
             WHERE t.status = 'open' AND t.due_on <= ?1",
        )?;
        let mut rows = stmt.query([date_str(today)])?;
        while let Some(r) = rows.next()? {
            let kind: TaskKind = r.get(1)?;
            let title: String = r.get(2)?;
            let due_on = parse_date(&r.get::<_, String>(3)?).unwrap_or(today);
            let target_kind: Option<String> = r.get(5)?;
            let target_id: Option<String> = r.get(6)?;
            if kind == TaskKind::VerifyCase && target_kind.as_deref() == Some("case") {
                if let Some(t) = &target_id {
                    verify_tasks.push(t.clone());
                }
            }
            let community: Option<String> = r.get(9)?;
            let detail = match community {
                Some(c) => address_line(&c, &r.get::<_, String>(10)?, r.get(11)?, r.get(12)?),
                None => r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            };
            items.push(TodayItem {
                kind: TodayKind::Task,
                priority: r.get(4)?,
                title: format!("{}：{}", kind.label_zh(), title),
                detail,
                due: settings.day_start(due_on),
                overdue_days: overdue(due_on),
                target_id: Some(r.get(0)?),
                location: point(r.get(7)?, r.get(8)?),
                distance_m: None,
            });
        }
    }

    // 2. Visits due under the policy: read from the precomputed due days (`due.rs`), or —
    //    should they have been computed with another UTC offset — worked out over every
    //    household. When a household is due under several rules, the strictest (fewest
    //    accepted modes) is shown: doing it satisfies the others.
    let policy = read_policy(conn)?;
    if source == DueSource::Stored && crate::due::rows_current(conn, settings)? {
        visits_due_stored(conn, settings, &policy, today, &mut items)?;
    } else {
        visits_due_computed(conn, settings, &policy, today, &mut items)?;
    }

    // 3. Cases waiting for on-site verification (unless a task already lists them, or the
    //    worker verified them and the verification waits to sync).
    {
        // Verifications waiting to sync, read once (not once per case: the outbox of a worker
        // who has been offline holds every case event of the week).
        let mut verified: HashSet<String> = HashSet::new();
        let mut stmt = conn.prepare_cached(
            "SELECT json_extract(payload, '$.case_id') FROM outbox
             WHERE entity = 'case_event' AND state IN ('pending', 'attention')
               AND json_extract(payload, '$.kind') = 'verification'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let Some(case_id) = r.get::<_, Option<String>>(0)? {
                verified.insert(case_id);
            }
        }
        let mut stmt = conn.prepare_cached(
            "SELECT id, type_code, urgency, lat, lng, address, updated_at FROM cases
             WHERE status = 'verification_requested'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            if verify_tasks.contains(&id) || verified.contains(&id) {
                continue;
            }
            let code: String = r.get(1)?;
            let t = crate::cases::case_type(&code)
                .map(|t| t.zh)
                .unwrap_or("事件");
            let since = from_ms(r.get(6)?);
            items.push(TodayItem {
                kind: TodayKind::VerifyCase,
                priority: urgency_priority(r.get(2)?),
                title: format!("现场核查：{t}"),
                detail: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                due: since,
                overdue_days: overdue(settings.local_date(since)),
                target_id: Some(id),
                location: point(r.get(3)?, r.get(4)?),
                distance_m: None,
            });
        }
    }

    // 4. Patrol quota: morning patrol by noon, afternoon patrol by 18:00. Only patrols of at
    //    least the minimum duration and distance count (patrols.rs).
    let done: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM patrols WHERE started_at >= :from AND started_at < :to
               AND {}",
            crate::patrols::COUNTS_SQL
        ),
        rusqlite::named_params! {
            ":from": ms(day_start),
            ":to": ms(day_start + Duration::days(1)),
            ":min_s": i64::from(settings.min_patrol_minutes) * 60,
            ":min_m": f64::from(settings.min_patrol_distance_m),
        },
        |r| r.get(0),
    )?;
    let quota = settings.patrol_quota as i64;
    if done < quota {
        let hour = if done == 0 && quota > 1 { 12 } else { 18 };
        items.push(TodayItem {
            kind: TodayKind::Patrol,
            priority: Priority::Normal,
            title: format!("网格巡查（今日已完成 {done}/{quota}）"),
            detail: String::new(),
            due: day_start + Duration::hours(hour),
            overdue_days: 0,
            target_id: None,
            location: None,
            distance_m: None,
        });
    }

    // 5. Drafts not yet submitted.
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, type_code, urgency, lat, lng, address, created_at FROM cases
             WHERE status = 'draft'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let code: String = r.get(1)?;
            let t = crate::cases::case_type(&code)
                .map(|t| t.zh)
                .unwrap_or("事件");
            let created = from_ms(r.get(6)?);
            items.push(TodayItem {
                kind: TodayKind::DraftCase,
                priority: urgency_priority(r.get(2)?),
                title: format!("未上报的事件草稿：{t}"),
                detail: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                due: created,
                overdue_days: overdue(settings.local_date(created)),
                target_id: Some(r.get(0)?),
                location: point(r.get(3)?, r.get(4)?),
                distance_m: None,
            });
        }
    }

    if let Some(here) = position {
        for i in &mut items {
            i.distance_m = i.location.map(|p| geometry::distance_m(here, p));
        }
    }
    items.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.due.cmp(&b.due))
            .then_with(|| match (a.distance_m, b.distance_m) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    Ok(items)
}

impl Store {
    /// Creates a task (assigned by a supervisor, or the worker's own reminder).
    pub fn add_task(&self, input: &TaskInput) -> Result<Task> {
        self.write(|ctx| insert_task(ctx, input))
    }

    /// Marks an open task done (or cancelled).
    pub fn finish_task(&self, id: &str, status: TaskStatus) -> Result<Task> {
        if status == TaskStatus::Open {
            return Err(Error::invalid("status", Code::InvalidValue));
        }
        self.write(|ctx| {
            let t = get_task(ctx.tx, id)?;
            if t.status != TaskStatus::Open {
                return Err(Error::InvalidState {
                    entity: "task",
                    id: id.to_string(),
                    state: t.status.as_str().into(),
                    action: "finish",
                });
            }
            // The values replaced were stamped with the row's clock (the server's, once synced).
            let row_hlc: String =
                ctx.tx
                    .query_row("SELECT hlc FROM tasks WHERE id = ?1", [id], |r| r.get(0))?;
            let hlc = ctx.tick();
            ctx.tx.execute(
                &format!(
                    "UPDATE tasks SET status = ?2, completed_at = ?3, hlc = ?4,
                        sync_state = {DIRTY_STATE} WHERE id = ?1"
                ),
                params![id, status, ms(ctx.now), hlc],
            )?;
            let payload = json!({"status": status.as_str(), "completed_at": ms(ctx.now)});
            let fields = payload.as_object().cloned().unwrap_or_default();
            let base = changes::base_clocks("{}", &fields, &row_hlc);
            changes::record_with_base(
                ctx,
                entity::TASK,
                id,
                op::UPDATE,
                &payload,
                &hlc,
                Some(&base),
            )?;
            get_task(ctx.tx, id)
        })
    }

    pub fn task(&self, id: &str) -> Result<Task> {
        self.read(|c| get_task(c, id))
    }

    /// Tasks, open ones first by due date.
    pub fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{TASK_SELECT} WHERE ?1 IS NULL OR status = ?1 ORDER BY status != 'open', due_on"
            ))?;
            let rows = stmt.query_map(params![status], map_task)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The visit policy in force.
    pub fn visit_policy(&self) -> Result<VisitPolicy> {
        self.read(read_policy)
    }

    /// Replaces the visit policy (a supervisor's setting).
    pub fn set_visit_policy(&self, policy: &VisitPolicy) -> Result<()> {
        policy.validate().map_err(Error::Validation)?;
        self.write(|ctx| {
            ctx.tx.execute("DELETE FROM visit_policies", [])?;
            for r in &policy.rules {
                ctx.tx.execute(
                    "INSERT INTO visit_policies (care_tier, rule, modes, interval_days)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        r.care_tier,
                        r.rule.trim(),
                        serde_json::to_string(&r.modes)?,
                        r.interval_days
                    ],
                )?;
            }
            // Every household's due days follow the new rules, in the same transaction.
            crate::due::rebuild_all(ctx.tx)
        })
    }

    /// Today's list for the local day containing now, nearest first among equals when the
    /// worker's position is known.
    pub fn today(&self, position: Option<GeoPoint>) -> Result<Vec<TodayItem>> {
        self.today_at(self.now(), position)
    }

    /// The list as it would be at `now` (planning ahead, tests).
    pub fn today_at(
        &self,
        now: DateTime<Utc>,
        position: Option<GeoPoint>,
    ) -> Result<Vec<TodayItem>> {
        self.today_from(now, position, DueSource::Stored)
    }

    /// [`Store::today_at`] with the households due taken from `source` (tests compare the
    /// precomputed due days with the list worked out over every household).
    pub fn today_from(
        &self,
        now: DateTime<Utc>,
        position: Option<GeoPoint>,
        source: DueSource,
    ) -> Result<Vec<TodayItem>> {
        if let Some(p) = position {
            validate::coordinates("position", p)?;
        }
        self.read(|c| {
            let settings = crate::store::read_settings(c)?;
            compute_today_from(c, &settings, now, position, source)
        })
    }
}
