//! The case closed loop on the server (发现上报 → 受理 → 派遣 → 处置 → 核查 → 结案 → 归档).
//!
//! A device reports a case (status `submitted`); from then on the status belongs to this state
//! machine. Every transition is explicit in [`next_status`]; anything else is refused
//! `invalid_transition`. A transition rewrites the case record and appends a `server_update`
//! case event, both with the server's clock, so every device in scope receives the new status
//! and a timeline line in its next pull. Steps that need someone in the field create `task`
//! records assigned to the reporter: verification (`verify_case`) and call-back (`call_back`).
//!
//! Deadlines come from the `case_deadlines` table (category × urgency, in hours, seeded from
//! [`DEFAULT_DEADLINES`]) and are set when a case is accepted. A case past its deadline and not
//! yet verified, closed or archived is overdue.

use chrono::{Duration, FixedOffset, TimeZone};
use gridwalk_protocol::{codes, entity, Reason};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::engine::{obj, refuse, stamp_all};
use crate::error::Result;
use crate::storage::{NewRecord, RecordTx, StoredRecord};

/// Actions a supervisor can take on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 受理 (alias `register`): submitted → accepted; sets the deadline.
    #[serde(alias = "register")]
    Accept,
    /// 派遣 to a department or person (`assignee` required): accepted/dispatched → dispatched.
    Dispatch,
    /// 处置: dispatched/rejected → handling.
    Handle,
    /// 申请核查: handling → verification_requested; creates a `verify_case` task.
    RequestVerification,
    /// 核查通过: verification_requested → verified.
    Verify,
    /// 核查未通过: verification_requested → rejected (then `handle` again).
    Reject,
    /// 结案: verified → closed.
    Close,
    /// 归档: closed → archived.
    Archive,
    /// 退回 to the reporter (`reason` required): submitted/accepted → returned.
    Return,
    /// 上报上级: the case moves one org level up (status unchanged).
    Escalate,
    /// 回访: verified/closed; creates a `call_back` task (status unchanged).
    CallBack,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Dispatch => "dispatch",
            Action::Handle => "handle",
            Action::RequestVerification => "request_verification",
            Action::Verify => "verify",
            Action::Reject => "reject",
            Action::Close => "close",
            Action::Archive => "archive",
            Action::Return => "return",
            Action::Escalate => "escalate",
            Action::CallBack => "call_back",
        }
    }
}

/// Statuses a case can still be worked in.
const OPEN: &[&str] = &[
    "submitted",
    "accepted",
    "dispatched",
    "handling",
    "verification_requested",
    "rejected",
];

/// Statuses whose deadline still runs.
const RUNNING: &[&str] = &[
    "accepted",
    "dispatched",
    "handling",
    "verification_requested",
    "rejected",
];

/// The status after `action` from `current`, or `None` when the loop does not allow it.
pub fn next_status(action: Action, current: &str) -> Option<&str> {
    Some(match (action, current) {
        (Action::Accept, "submitted") => "accepted",
        (Action::Dispatch, "accepted" | "dispatched") => "dispatched",
        (Action::Handle, "dispatched" | "rejected") => "handling",
        (Action::RequestVerification, "handling") => "verification_requested",
        (Action::Verify, "verification_requested") => "verified",
        (Action::Reject, "verification_requested") => "rejected",
        (Action::Close, "verified") => "closed",
        (Action::Archive, "closed") => "archived",
        (Action::Return, "submitted" | "accepted") => "returned",
        (Action::Escalate, s) if OPEN.contains(&s) => {
            return OPEN.iter().copied().find(|o| *o == s)
        }
        (Action::CallBack, "verified") => "verified",
        (Action::CallBack, "closed") => "closed",
        _ => return None,
    })
}

/// Body of `POST /v1/cases/{id}/actions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub action: Action,
    #[serde(default)]
    pub reason: Option<String>,
    /// Department or person a case is dispatched to.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// An action with borrowed arguments (also built from a worker's verification event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInput<'a> {
    pub action: Action,
    pub reason: Option<&'a str>,
    pub assignee: Option<&'a str>,
}

/// Body of `POST /v1/tasks`: a supervisor assigns a task to a worker or to a grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// A `TaskKind` code (`visit_household`, `verify_case`, `patrol`, `collect_info`,
    /// `call_back`, `custom`).
    pub kind: String,
    pub title: String,
    /// The grid; defaults to the target's grid, else the assignee's first grid in scope.
    #[serde(default)]
    pub grid_code: Option<String>,
    /// User name or id of the worker; none = the whole grid.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub target_kind: Option<String>,
    #[serde(default)]
    pub target_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Default hours to handle a case, per category: (category, normal, urgent, emergency).
pub const DEFAULT_DEADLINES: &[(&str, i64, i64, i64)] = &[
    ("01", 48, 24, 4),
    ("02", 24, 12, 2),
    ("03", 72, 24, 4),
    ("04", 72, 24, 4),
    ("05", 120, 48, 8),
    ("06", 120, 48, 8),
];

fn default_hours(category: &str, urgency: &str) -> i64 {
    let (n, u, e) = DEFAULT_DEADLINES
        .iter()
        .find(|d| d.0 == category)
        .map(|d| (d.1, d.2, d.3))
        .unwrap_or((72, 24, 4));
    match urgency {
        "emergency" => e,
        "urgent" => u,
        _ => n,
    }
}

/// Server fields of a newly reported case.
pub fn new_case_fields(reporter_user: &str, now_ms: i64) -> Map<String, Value> {
    obj(json!({
        "status": "submitted", "reporter_user": reporter_user, "received_at": now_ms,
        "updated_at": now_ms, "deadline_at": null, "assignee": null, "escalated_to": null,
    }))
}

/// Whether a case record is past its deadline and still running at `now_ms`.
pub fn is_overdue(case: &Map<String, Value>, now_ms: i64) -> bool {
    let status = case.get("status").and_then(Value::as_str).unwrap_or("");
    let deadline = case.get("deadline_at").and_then(Value::as_i64);
    RUNNING.contains(&status) && deadline.is_some_and(|d| d < now_ms)
}

fn transition_refused(action: Action, status: &str) -> Reason {
    refuse(
        codes::INVALID_TRANSITION,
        format!(
            "事件当前状态为 {status}，不能执行 {a} / action {a} is not allowed in status {status}",
            a = action.as_str()
        ),
    )
}

/// China Standard Time: task due dates are local calendar days.
fn local_date(ms: i64) -> String {
    FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| tz.timestamp_millis_opt(ms).single())
        .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

/// Runs `input` on `case` by `actor` (a user id); the updated case, or why not.
pub fn apply_action(
    tx: &mut dyn RecordTx,
    actor: &str,
    case: StoredRecord,
    input: &ActionInput<'_>,
    now_ms: i64,
) -> Result<Result<StoredRecord, Reason>> {
    let status = case.str_field("status").unwrap_or("submitted").to_string();
    let Some(next) = next_status(input.action, &status) else {
        return Ok(Err(transition_refused(input.action, &status)));
    };
    let next = next.to_string();
    let reason = input.reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 1000) {
        return Ok(Err(crate::engine::invalid("reason")));
    }
    let mut set = Map::new();
    match input.action {
        Action::Accept => {
            let cat = case.str_field("category_code").unwrap_or("").to_string();
            let urgency = case.str_field("urgency").unwrap_or("normal").to_string();
            let hours = match tx.deadline_hours(&cat, &urgency)? {
                Some(h) => h,
                None => default_hours(&cat, &urgency),
            };
            set.insert("accepted_at".into(), json!(now_ms));
            set.insert("deadline_at".into(), json!(now_ms + hours * 3_600_000));
        }
        Action::Dispatch => {
            let Some(a) = input
                .assignee
                .map(str::trim)
                .filter(|a| !a.is_empty() && a.chars().count() <= 100)
            else {
                return Ok(Err(crate::engine::invalid("assignee")));
            };
            set.insert("assignee".into(), json!(a));
            set.insert("dispatched_at".into(), json!(now_ms));
        }
        Action::Handle => {
            set.insert("handling_at".into(), json!(now_ms));
        }
        Action::RequestVerification => {
            set.insert("verification_requested_at".into(), json!(now_ms));
        }
        Action::Verify => {
            set.insert("verified_at".into(), json!(now_ms));
        }
        Action::Reject => {
            set.insert("rejected_at".into(), json!(now_ms));
        }
        Action::Close => {
            set.insert("closed_at".into(), json!(now_ms));
        }
        Action::Archive => {
            set.insert("archived_at".into(), json!(now_ms));
        }
        Action::Return => {
            let Some(r) = reason else {
                return Ok(Err(crate::engine::invalid("reason")));
            };
            set.insert("return_reason".into(), json!(r));
            set.insert("returned_at".into(), json!(now_ms));
        }
        Action::Escalate => {
            let from = case
                .str_field("escalated_to")
                .unwrap_or(&case.grid_code)
                .to_string();
            let Some(up) = tx.org_parent(&from)? else {
                return Ok(Err(transition_refused(input.action, "top_level")));
            };
            set.insert("escalated_to".into(), json!(up));
            set.insert("escalated_at".into(), json!(now_ms));
        }
        Action::CallBack => {}
    }
    set.insert("status".into(), json!(next));
    set.insert("updated_at".into(), json!(now_ms));

    let stamp = tx.clock().tick(now_ms);
    let mut data = case.data.clone();
    let mut clocks = case.clocks.clone();
    for (k, v) in set {
        data.insert(k.clone(), v);
        clocks.insert(k, Value::String(stamp.clone()));
    }
    let rev = tx.put(NewRecord {
        entity: entity::CASE,
        id: &case.id,
        grid_code: &case.grid_code,
        hlc: &stamp,
        data: &data,
        clocks: &clocks,
    })?;

    // The timeline line every device shows.
    let event = obj(json!({
        "case_id": case.id, "kind": gridwalk_domain::entities::EVENT_SERVER_UPDATE, "at": now_ms,
        "status": next, "note": reason, "action": input.action.as_str(), "actor": actor,
    }));
    let event_stamp = tx.clock().tick(now_ms);
    let event_id = uuid::Uuid::now_v7().to_string();
    tx.put(NewRecord {
        entity: entity::CASE_EVENT,
        id: &event_id,
        grid_code: &case.grid_code,
        hlc: &event_stamp,
        data: &event,
        clocks: &Map::new(),
    })?;

    let updated = StoredRecord {
        rev,
        hlc: stamp,
        data,
        clocks,
        ..case
    };
    match input.action {
        Action::RequestVerification => {
            loop_task(tx, &updated, "verify_case", "事件核查", 1, now_ms)?;
        }
        Action::CallBack => {
            loop_task(tx, &updated, "call_back", "事件回访", 3, now_ms)?;
        }
        _ => {}
    }
    Ok(Ok(updated))
}

fn priority_of(urgency: &str) -> &'static str {
    match urgency {
        "emergency" => "urgent",
        "urgent" => "high",
        _ => "normal",
    }
}

/// A task for the reporter of `case` (verification, call-back), due in `days` days.
fn loop_task(
    tx: &mut dyn RecordTx,
    case: &StoredRecord,
    kind: &str,
    what_zh: &str,
    days: i64,
    now_ms: i64,
) -> Result<i64> {
    let type_zh = case
        .str_field("type_code")
        .and_then(gridwalk_domain::taxonomy::case_type)
        .map(|t| t.zh)
        .unwrap_or("事件");
    let due = now_ms + Duration::days(days).num_milliseconds();
    let data = obj(json!({
        "kind": kind, "title": format!("{what_zh}：{type_zh}"), "target_kind": "case",
        "target_id": case.id, "grid_code": case.grid_code,
        "assignee": case.str_field("reporter_user"), "due_on": local_date(due),
        "priority": priority_of(case.str_field("urgency").unwrap_or("normal")),
        "source": "generated", "status": "open", "notes": null, "completed_at": null,
        "created_by": null, "created_at": now_ms,
    }));
    let stamp = tx.clock().tick(now_ms);
    let clocks = stamp_all(&data, &stamp);
    let id = uuid::Uuid::now_v7().to_string();
    tx.put(NewRecord {
        entity: entity::TASK,
        id: &id,
        grid_code: &case.grid_code,
        hlc: &stamp,
        data: &data,
        clocks: &clocks,
    })
}

/// Marks the open tasks of `kind` about `case_id` done (the worker did the step).
pub fn finish_tasks(
    tx: &mut dyn RecordTx,
    grid: &str,
    case_id: &str,
    kind: &str,
    now_ms: i64,
) -> Result<()> {
    for t in tx.tasks_for_target(grid, case_id)? {
        if t.str_field("kind") != Some(kind) || t.str_field("status") != Some("open") {
            continue;
        }
        let stamp = tx.clock().tick(now_ms);
        let mut data = t.data.clone();
        let mut clocks = t.clocks.clone();
        for (k, v) in [("status", json!("done")), ("completed_at", json!(now_ms))] {
            data.insert(k.into(), v);
            clocks.insert(k.into(), Value::String(stamp.clone()));
        }
        tx.put(NewRecord {
            entity: entity::TASK,
            id: &t.id,
            grid_code: &t.grid_code,
            hlc: &stamp,
            data: &data,
            clocks: &clocks,
        })?;
    }
    Ok(())
}

/// Creates a supervisor's task; `Err(reason)` inside when the request is refused.
pub fn create_task(
    tx: &mut dyn RecordTx,
    who: &crate::storage::Principal,
    req: &TaskRequest,
    now_ms: i64,
) -> Result<Result<StoredRecord, Reason>> {
    use crate::engine::invalid;
    if !gridwalk_domain::model::TaskKind::ALL
        .iter()
        .any(|k| k.as_str() == req.kind)
    {
        return Ok(Err(invalid("kind")));
    }
    let title = req.title.trim();
    if title.is_empty() || title.chars().count() > 100 {
        return Ok(Err(invalid("title")));
    }
    if chrono::NaiveDate::parse_from_str(&req.due_on, "%Y-%m-%d").is_err() {
        return Ok(Err(invalid("due_on")));
    }
    let priority = req.priority.as_deref().unwrap_or("normal");
    if !gridwalk_domain::model::Priority::ALL
        .iter()
        .any(|p| p.as_str() == priority)
    {
        return Ok(Err(invalid("priority")));
    }
    if req
        .notes
        .as_deref()
        .is_some_and(|n| n.chars().count() > 1000)
    {
        return Ok(Err(invalid("notes")));
    }
    // The target must be visible; its grid is the default grid.
    let mut grid = req.grid_code.clone();
    match (req.target_kind.as_deref(), req.target_id.as_deref()) {
        (None, None) => {}
        (Some("grid"), Some(code)) => {
            if !who.in_scope(code) {
                return Ok(Err(invalid("target_id")));
            }
            // The target lies in the task's grid, so whoever works the task can see it.
            if grid.get_or_insert_with(|| code.to_string()) != code {
                return Ok(Err(invalid("target_id")));
            }
        }
        (Some(kind @ ("household" | "resident" | "case")), Some(id)) => {
            match tx.grid_of(kind, id)? {
                Some(g) if who.in_scope(&g) => {
                    if *grid.get_or_insert_with(|| g.clone()) != g {
                        return Ok(Err(invalid("target_id")));
                    }
                }
                _ => return Ok(Err(invalid("target_id"))),
            }
        }
        _ => return Ok(Err(invalid("target_kind"))),
    }
    let mut assignee_id = None;
    if let Some(a) = req.assignee.as_deref() {
        let candidates: Vec<String> = match &grid {
            Some(g) => vec![g.clone()],
            None => who.grids.clone(),
        };
        for g in candidates {
            if let Some(id) = tx.user_in_grid(a, &g)? {
                if who.in_scope(&g) {
                    assignee_id = Some(id);
                    grid.get_or_insert(g);
                    break;
                }
            }
        }
        if assignee_id.is_none() {
            return Ok(Err(invalid("assignee")));
        }
    }
    let Some(grid) = grid.filter(|g| who.in_scope(g)) else {
        return Ok(Err(invalid("grid_code")));
    };
    let data = obj(json!({
        "kind": req.kind, "title": title, "target_kind": req.target_kind,
        "target_id": req.target_id, "grid_code": grid, "assignee": assignee_id,
        "due_on": req.due_on, "priority": priority, "source": "assigned", "status": "open",
        "notes": req.notes, "completed_at": null, "created_by": who.user_id,
        "created_at": now_ms,
    }));
    // The same field rules as a task a phone pushes.
    let spec = gridwalk_domain::entities::entity(entity::TASK);
    let now = gridwalk_domain::entities::Now::china(now_ms);
    if let Some(e) = spec.and_then(|s| {
        gridwalk_domain::entities::check_payload(s, &data, true, now)
            .and_then(|()| gridwalk_domain::entities::check_record(s, &data))
            .err()
    }) {
        return Ok(Err(crate::engine::invalid_value(&e)));
    }
    let stamp = tx.clock().tick(now_ms);
    let clocks = stamp_all(&data, &stamp);
    let id = uuid::Uuid::now_v7().to_string();
    let rev = tx.put(NewRecord {
        entity: entity::TASK,
        id: &id,
        grid_code: &grid,
        hlc: &stamp,
        data: &data,
        clocks: &clocks,
    })?;
    Ok(Ok(StoredRecord {
        entity: entity::TASK.into(),
        id,
        grid_code: grid,
        rev,
        hlc: stamp,
        data,
        clocks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_allows_only_its_transitions() {
        assert_eq!(next_status(Action::Accept, "submitted"), Some("accepted"));
        assert_eq!(next_status(Action::Accept, "accepted"), None);
        assert_eq!(next_status(Action::Close, "handling"), None);
        assert_eq!(
            next_status(Action::Reject, "verification_requested"),
            Some("rejected")
        );
        assert_eq!(next_status(Action::Handle, "rejected"), Some("handling"));
        assert_eq!(next_status(Action::Escalate, "handling"), Some("handling"));
        assert_eq!(next_status(Action::Escalate, "closed"), None);
        assert_eq!(next_status(Action::Archive, "closed"), Some("archived"));
        assert_eq!(next_status(Action::Return, "dispatched"), None);
    }

    #[test]
    fn deadlines_and_overdue() {
        assert_eq!(default_hours("02", "emergency"), 2);
        assert_eq!(default_hours("99", "normal"), 72);
        let c = obj(json!({"status": "handling", "deadline_at": 10}));
        assert!(is_overdue(&c, 11));
        assert!(!is_overdue(&c, 9));
        let c = obj(json!({"status": "closed", "deadline_at": 10}));
        assert!(!is_overdue(&c, 11));
    }

    #[test]
    fn local_dates_are_china_time() {
        // 2024-01-01T16:00:00Z is already 2024-01-02 in Beijing.
        assert_eq!(local_date(1_704_124_800_000), "2024-01-02");
    }
}
