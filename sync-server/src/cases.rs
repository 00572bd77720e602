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
//! [`DEFAULT_DEADLINES`], editable by the district in the console) and are set when a case is
//! accepted. A case past its deadline and not yet verified, closed or archived is overdue.
//!
//! After verification a supervisor evaluates the handling (评价考核: a score of 1-5 and a note)
//! and records the satisfaction call-back (满意度回访: reached or not; satisfied, basically
//! satisfied or unsatisfied). An unsatisfied answer reopens the case ([`Action::Reopen`]: back to
//! `handling` with a new deadline), so the loop only closes on a resident who is not unhappy.
//!
//! The supervisors' queue reads a derived row per case ([`queue_fields`]): when its running
//! clock started, when it is due, and one sort key, so "sorted by time left" is an index scan.
//! The deadline light ([`light`]) is computed from that row at the time of reading.

use chrono::{Duration, FixedOffset, TimeZone};
use gridwalk_protocol::{codes, entity, Reason};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::engine::{obj, refuse, stamp_all};
use crate::error::Result;
use crate::storage::{NewRecord, RecordTx, StoredRecord};

/// Actions a supervisor can take on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 受理 (alias `register`): submitted → accepted; sets the deadline.
    #[serde(alias = "register")]
    #[default]
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
    /// 评价考核: verified → verified with a score (1-5) and an optional note.
    Evaluate,
    /// 满意度回访 result: verified/closed; `reached` (and, when reached, `satisfaction`) required.
    /// An `unsatisfied` answer reopens the case ([`Action::Reopen`]).
    RecordCallBack,
    /// 重新处置: verified/closed → handling with a new deadline (`reason` required).
    Reopen,
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
            Action::Evaluate => "evaluate",
            Action::RecordCallBack => "record_call_back",
            Action::Reopen => "reopen",
        }
    }

    /// Every action, in the order the console offers them.
    pub const ALL: &'static [Action] = &[
        Action::Accept,
        Action::Dispatch,
        Action::Handle,
        Action::RequestVerification,
        Action::Verify,
        Action::Reject,
        Action::Evaluate,
        Action::RecordCallBack,
        Action::CallBack,
        Action::Close,
        Action::Archive,
        Action::Return,
        Action::Escalate,
        Action::Reopen,
    ];

    /// Parses an action code.
    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == code)
    }

    /// What the action needs besides the case.
    pub fn needs(self) -> Needs {
        match self {
            Action::Dispatch => Needs::Assignee,
            Action::Return | Action::Reopen => Needs::Reason,
            Action::Reject => Needs::Note,
            Action::Evaluate => Needs::Score,
            Action::RecordCallBack => Needs::CallBack,
            _ => Needs::Nothing,
        }
    }
}

/// The input an action needs (the console builds its form from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// A department or person (`assignee`).
    Assignee,
    /// A reason (`reason`), required.
    Reason,
    /// An optional note (`reason`).
    Note,
    /// A score 1-5 (`score`) and an optional note (`reason`).
    Score,
    /// `reached`, and `satisfaction` when reached; an optional note (`reason`).
    CallBack,
}

/// Satisfaction answers of the call-back (满意度回访).
pub const SATISFACTION: &[&str] = &["satisfied", "basic", "unsatisfied"];

/// The actions `role` may take on a case in `status` now: the loop's transitions, for
/// supervisors only. Escalation also needs a level above (checked when it runs).
pub fn allowed_actions(role: gridwalk_protocol::Role, status: &str) -> Vec<Action> {
    if !role.is_supervisor() {
        return Vec::new();
    }
    Action::ALL
        .iter()
        .copied()
        .filter(|a| next_status(*a, status).is_some())
        .collect()
}

/// Statuses a case can still be worked in (those whose clock runs in the queue).
pub const OPEN: &[&str] = &[
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
        (Action::Evaluate, "verified") => "verified",
        (Action::RecordCallBack, "verified") => "verified",
        (Action::RecordCallBack, "closed") => "closed",
        (Action::Reopen, "verified" | "closed") => "handling",
        _ => return None,
    })
}

/// Body of `POST /v1/cases/{id}/actions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub action: Action,
    #[serde(default)]
    pub reason: Option<String>,
    /// Department or person a case is dispatched to.
    #[serde(default)]
    pub assignee: Option<String>,
    /// `evaluate`: 1 (poor) to 5 (excellent).
    #[serde(default)]
    pub score: Option<i64>,
    /// `record_call_back`: whether the resident was reached.
    #[serde(default)]
    pub reached: Option<bool>,
    /// `record_call_back`: `satisfied` | `basic` | `unsatisfied` (when reached).
    #[serde(default)]
    pub satisfaction: Option<String>,
}

impl ActionRequest {
    /// The request with borrowed arguments.
    pub fn input(&self) -> ActionInput<'_> {
        ActionInput {
            action: self.action,
            reason: self.reason.as_deref(),
            assignee: self.assignee.as_deref(),
            score: self.score,
            reached: self.reached,
            satisfaction: self.satisfaction.as_deref(),
        }
    }
}

/// An action with borrowed arguments (also built from a worker's verification event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActionInput<'a> {
    pub action: Action,
    pub reason: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub score: Option<i64>,
    pub reached: Option<bool>,
    pub satisfaction: Option<&'a str>,
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

/// Hours a reported case may wait for acceptance (签收时限, as 海淀 asks of departments): the
/// queue's clock for a `submitted` case, whose handling deadline starts only at acceptance.
pub const ACCEPT_HOURS: i64 = 24;

/// Statuses whose clock has stopped or never runs (no light: grey).
const STOPPED: &[&str] = &["verified", "closed", "archived", "returned", "draft"];

/// Base of the sort keys of rows without a running clock: above every due time, so they sort
/// after every running case, most recently updated first.
pub const STOPPED_SORT_BASE: i64 = 1 << 52;

/// The queue's derived row of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFields {
    pub status: String,
    pub category_code: String,
    pub type_code: String,
    pub urgency: String,
    pub reporter_user: Option<String>,
    pub received_at: i64,
    /// When the running clock started (received, accepted or reopened), if one runs.
    pub start_at: Option<i64>,
    /// When the running clock ends: the acceptance limit of a submitted case, else the
    /// handling deadline; none when the clock stopped.
    pub due_at: Option<i64>,
    /// `due_at` for running cases; `STOPPED_SORT_BASE - updated_at` otherwise.
    pub sort_key: i64,
    pub updated_at: i64,
}

/// The queue row of a case record's data.
pub fn queue_fields(data: &Map<String, Value>) -> QueueFields {
    let s = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let i = |k: &str| data.get(k).and_then(Value::as_i64);
    let status = data
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("submitted")
        .to_string();
    let received_at = i("received_at").unwrap_or(0);
    let updated_at = i("updated_at").unwrap_or(received_at);
    let (start_at, due_at) = if STOPPED.contains(&status.as_str()) {
        (None, None)
    } else if status == "submitted" {
        (
            Some(received_at),
            Some(received_at.saturating_add(ACCEPT_HOURS * 3_600_000)),
        )
    } else {
        let start = i("reopened_at").or(i("accepted_at")).or(Some(received_at));
        (start, i("deadline_at"))
    };
    QueueFields {
        category_code: s("category_code"),
        type_code: s("type_code"),
        urgency: data
            .get("urgency")
            .and_then(Value::as_str)
            .unwrap_or("normal")
            .to_string(),
        reporter_user: data
            .get("reporter_user")
            .and_then(Value::as_str)
            .map(str::to_string),
        received_at,
        start_at,
        due_at,
        sort_key: due_at.unwrap_or(STOPPED_SORT_BASE.saturating_sub(updated_at)),
        updated_at,
        status,
    }
}

/// The deadline light of a queue row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    /// Past its due time.
    Red,
    /// Less than a quarter of its allowed time left.
    Yellow,
    /// A quarter or more left.
    Green,
    /// No running clock (verified, closed, archived, returned).
    Grey,
}

impl Light {
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Red => "red",
            Light::Yellow => "yellow",
            Light::Green => "green",
            Light::Grey => "grey",
        }
    }
}

/// The light rule: red = overdue (`now > due`); yellow = under a quarter of the allowed time
/// (`due - start`) left; green otherwise; grey when no clock runs.
pub fn light(start_at: Option<i64>, due_at: Option<i64>, now_ms: i64) -> Light {
    let Some(due) = due_at else {
        return Light::Grey;
    };
    if now_ms > due {
        return Light::Red;
    }
    let allowed = due.saturating_sub(start_at.unwrap_or(due)).max(0);
    let left = due - now_ms;
    // left < allowed / 4, in integers.
    if left.saturating_mul(4) < allowed {
        Light::Yellow
    } else {
        Light::Green
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

/// A supervisor's action on a case of their scope (the console and `POST /v1/cases/{id}/actions`):
/// a case outside the scope answers like a missing one.
pub fn case_action(
    tx: &mut dyn RecordTx,
    who: &crate::storage::Principal,
    case_id: &str,
    action: &ActionRequest,
    now_ms: i64,
) -> Result<Result<gridwalk_protocol::ServerRecord, Reason>> {
    let case = match tx.get(entity::CASE, case_id)? {
        Some(c) if who.in_scope(&c.grid_code) => c,
        _ => return Err(crate::error::Error::NotFound { what: "case" }),
    };
    Ok(apply_action(tx, &who.user_id, case, &action.input(), now_ms)?.map(|r| r.to_wire()))
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
    let Some(mut next) = next_status(input.action, &status) else {
        return Ok(Err(transition_refused(input.action, &status)));
    };
    // An unsatisfied resident reopens the case: the same transition as `reopen`.
    let reopens = input.action == Action::RecordCallBack
        && input.reached == Some(true)
        && input.satisfaction == Some("unsatisfied");
    if reopens {
        match next_status(Action::Reopen, &status) {
            Some(s) => next = s,
            None => return Ok(Err(transition_refused(Action::Reopen, &status))),
        }
    }
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
        Action::Evaluate => {
            let Some(score) = input.score.filter(|s| (1..=5).contains(s)) else {
                return Ok(Err(crate::engine::invalid("score")));
            };
            set.insert("evaluation_score".into(), json!(score));
            set.insert("evaluation_note".into(), json!(reason));
            set.insert("evaluated_by".into(), json!(actor));
            set.insert("evaluated_at".into(), json!(now_ms));
        }
        Action::RecordCallBack => {
            let Some(reached) = input.reached else {
                return Ok(Err(crate::engine::invalid("reached")));
            };
            let satisfaction = match (reached, input.satisfaction) {
                (true, Some(s)) if SATISFACTION.contains(&s) => Some(s),
                (true, _) => return Ok(Err(crate::engine::invalid("satisfaction"))),
                (false, None | Some("")) => None,
                (false, Some(_)) => return Ok(Err(crate::engine::invalid("satisfaction"))),
            };
            set.insert("callback_reached".into(), json!(reached));
            set.insert("callback_satisfaction".into(), json!(satisfaction));
            set.insert("callback_note".into(), json!(reason));
            set.insert("callback_by".into(), json!(actor));
            set.insert("callback_at".into(), json!(now_ms));
            if reopens {
                reopen_fields(tx, &case, &mut set, now_ms)?;
            }
        }
        Action::Reopen => {
            if reason.is_none() {
                return Ok(Err(crate::engine::invalid("reason")));
            }
            reopen_fields(tx, &case, &mut set, now_ms)?;
        }
    }
    set.insert("status".into(), json!(next));
    set.insert("updated_at".into(), json!(now_ms));

    let stamp = tx.clock().tick(now_ms);
    let mut data = case.data.clone();
    let mut clocks = case.clocks.clone();
    for (k, v) in &set {
        data.insert(k.clone(), v.clone());
        clocks.insert(k.clone(), Value::String(stamp.clone()));
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
    let mut event = obj(json!({
        "case_id": case.id, "kind": gridwalk_domain::entities::EVENT_SERVER_UPDATE, "at": now_ms,
        "status": next, "note": reason, "action": input.action.as_str(), "actor": actor,
    }));
    for k in [
        "assignee",
        "evaluation_score",
        "callback_reached",
        "callback_satisfaction",
        "escalated_to",
    ] {
        if let (true, Some(v)) = (touches(input.action, k), data_of(&set, k)) {
            event.insert(k.into(), v);
        }
    }
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

/// Whether `action` sets the case field `key` (copied onto its timeline line).
fn touches(action: Action, key: &str) -> bool {
    matches!(
        (action, key),
        (Action::Dispatch, "assignee")
            | (Action::Evaluate, "evaluation_score")
            | (
                Action::RecordCallBack,
                "callback_reached" | "callback_satisfaction"
            )
            | (Action::Escalate, "escalated_to")
    )
}

fn data_of(set: &Map<String, Value>, key: &str) -> Option<Value> {
    set.get(key).cloned()
}

/// Fields of a case sent back to handling: a new deadline from now (same category × urgency),
/// the verification and closing cleared, the reopening counted.
fn reopen_fields(
    tx: &mut dyn RecordTx,
    case: &StoredRecord,
    set: &mut Map<String, Value>,
    now_ms: i64,
) -> Result<()> {
    let cat = case.str_field("category_code").unwrap_or("").to_string();
    let urgency = case.str_field("urgency").unwrap_or("normal").to_string();
    let hours = match tx.deadline_hours(&cat, &urgency)? {
        Some(h) => h,
        None => default_hours(&cat, &urgency),
    };
    let count = case
        .data
        .get("reopened_count")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    set.insert("reopened_at".into(), json!(now_ms));
    set.insert("reopened_count".into(), json!(count + 1));
    set.insert("handling_at".into(), json!(now_ms));
    set.insert("deadline_at".into(), json!(now_ms + hours * 3_600_000));
    set.insert("verified_at".into(), Value::Null);
    set.insert("closed_at".into(), Value::Null);
    Ok(())
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
    fn evaluation_call_back_and_reopen_are_transitions() {
        assert_eq!(next_status(Action::Evaluate, "verified"), Some("verified"));
        assert_eq!(next_status(Action::Evaluate, "handling"), None);
        assert_eq!(next_status(Action::Evaluate, "closed"), None);
        assert_eq!(
            next_status(Action::RecordCallBack, "closed"),
            Some("closed")
        );
        assert_eq!(next_status(Action::RecordCallBack, "submitted"), None);
        assert_eq!(next_status(Action::Reopen, "closed"), Some("handling"));
        assert_eq!(next_status(Action::Reopen, "archived"), None);
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("fly"), None);
    }

    #[test]
    fn actions_offered_follow_the_loop_and_the_role() {
        use gridwalk_protocol::Role;
        assert_eq!(
            allowed_actions(Role::GridLeader, "submitted"),
            vec![Action::Accept, Action::Return, Action::Escalate]
        );
        assert!(allowed_actions(Role::GridWorker, "submitted").is_empty());
        let verified = allowed_actions(Role::Street, "verified");
        assert!(verified.contains(&Action::Evaluate));
        assert!(verified.contains(&Action::RecordCallBack));
        assert!(verified.contains(&Action::Close));
        assert!(!verified.contains(&Action::Accept));
        assert!(allowed_actions(Role::District, "archived").is_empty());
    }

    #[test]
    fn the_light_rule() {
        let h = 3_600_000;
        // 48 h allowed from t=0.
        let (start, due) = (Some(0), Some(48 * h));
        assert_eq!(light(start, due, 0), Light::Green);
        assert_eq!(light(start, due, 36 * h), Light::Green); // exactly a quarter left
        assert_eq!(light(start, due, 36 * h + 1), Light::Yellow);
        assert_eq!(light(start, due, 48 * h), Light::Yellow); // due now, not past
        assert_eq!(light(start, due, 48 * h + 1), Light::Red);
        assert_eq!(light(None, None, 0), Light::Grey);
    }

    #[test]
    fn queue_rows_sort_running_cases_by_due_then_stopped_ones() {
        let h = 3_600_000;
        let submitted = queue_fields(&obj(
            json!({"status": "submitted", "received_at": 1000, "updated_at": 1000}),
        ));
        assert_eq!(submitted.due_at, Some(1000 + ACCEPT_HOURS * h));
        assert_eq!(submitted.start_at, Some(1000));
        let handling = queue_fields(&obj(json!({
            "status": "handling", "received_at": 1000, "accepted_at": 2000,
            "deadline_at": 2000 + 4 * h, "updated_at": 3000
        })));
        assert_eq!(handling.start_at, Some(2000));
        assert_eq!(handling.sort_key, 2000 + 4 * h);
        let reopened = queue_fields(&obj(json!({
            "status": "handling", "received_at": 1000, "accepted_at": 2000,
            "reopened_at": 9000, "deadline_at": 9000 + h, "updated_at": 9000
        })));
        assert_eq!(reopened.start_at, Some(9000));
        let closed = queue_fields(&obj(json!({
            "status": "closed", "received_at": 1000, "deadline_at": 5, "updated_at": 7000
        })));
        assert_eq!(closed.due_at, None);
        assert!(closed.sort_key > handling.sort_key);
        let older_closed = queue_fields(&obj(json!({
            "status": "closed", "received_at": 1000, "updated_at": 6000
        })));
        assert!(closed.sort_key < older_closed.sort_key, "recent first");
    }

    #[test]
    fn local_dates_are_china_time() {
        // 2024-01-01T16:00:00Z is already 2024-01-02 in Beijing.
        assert_eq!(local_date(1_704_124_800_000), "2024-01-02");
    }
}
