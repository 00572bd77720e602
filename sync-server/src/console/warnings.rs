//! Red / yellow / green warnings (红黄绿预警) computed from synced data, and their clearing to
//! zero (动态清零).
//!
//! A warning is not a stored row: it is recomputed from the records on every request, under
//! the district's [`WarningRules`]. What is stored is only a supervisor's decision to turn a
//! warning into a task for the worker (`warning_tasks`). Kinds:
//!
//! - `visit_overdue` — a household of a warned care tier not contacted within its policy
//!   ([`gridwalk_domain::policy::due_day`], the phone's daily-list rule): yellow from the day
//!   after it fell due, red after `red_after_days` (default: the rule's interval, the day the
//!   phone raises the item's priority).
//! - `hazard_open` — an open case of a hazard category: red until it is closed.
//! - `case_overdue` — a case past its deadline and still running: red.
//! - `case_unaccepted` — a reported case nobody accepted within `unaccepted_hours`: yellow.
//! - `patrol_missed` — a worker with fewer counting patrols than the quota: yesterday red,
//!   today yellow after `patrol_check_hour`.
//! - `outside_grid` — a household located outside its grid's boundary: yellow.
//!
//! **Clearing.** A warning without a task disappears as soon as the data no longer raises it
//! (the worker's contact synced, the case closed). A warning turned into a task needs more than
//! the data or a click: the task must be done *and* the on-site evidence synced — for a
//! household, an in-person visit dated at or after the task was made; for a patrol, a counting
//! patrol after it; for a case or a location, the condition itself gone. Until then it stays,
//! marked with the task's state, so a task ticked off without a visit does not clear anything.

use std::collections::HashMap;

use chrono::{Duration, FixedOffset, NaiveDate, TimeZone};
use gridwalk_domain::model::{CareTier, GeoPoint, VisitMode};
use gridwalk_domain::policy::due_day;
use serde::Serialize;
use serde_json::Value;

use super::data_store::{AuthoredRecord, WarningTaskRow, WorkerRow};
use super::geo::Boundary;
use super::warning_rules::WarningRules;
use crate::storage::StoredRecord;

/// How serious a warning is. Green is the absence of warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Yellow,
    Red,
}

impl Level {
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Red => "红色",
            Level::Yellow => "黄色",
        }
    }
}

/// What raised a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    VisitOverdue,
    HazardOpen,
    CaseOverdue,
    CaseUnaccepted,
    PatrolMissed,
    OutsideGrid,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VisitOverdue => "visit_overdue",
            Kind::HazardOpen => "hazard_open",
            Kind::CaseOverdue => "case_overdue",
            Kind::CaseUnaccepted => "case_unaccepted",
            Kind::PatrolMissed => "patrol_missed",
            Kind::OutsideGrid => "outside_grid",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::VisitOverdue => "走访超期",
            Kind::HazardOpen => "隐患未结案",
            Kind::CaseOverdue => "事件超时",
            Kind::CaseUnaccepted => "事件未受理",
            Kind::PatrolMissed => "巡查未达标",
            Kind::OutsideGrid => "住户不在网格内",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Kind::VisitOverdue => "visit overdue",
            Kind::HazardOpen => "hazard open",
            Kind::CaseOverdue => "case overdue",
            Kind::CaseUnaccepted => "case not accepted",
            Kind::PatrolMissed => "patrol quota missed",
            Kind::OutsideGrid => "household outside its grid",
        }
    }
}

/// The task a warning was turned into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskLink {
    pub task_id: String,
    pub status: String,
    pub created_at: i64,
    /// The task is done but the on-site evidence has not synced: the warning stays.
    pub awaiting_evidence: bool,
}

/// One raised warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// Stable identity (`visit_overdue:<household>:<rule>`, `patrol_missed:<user>:<day>` …).
    pub key: String,
    pub kind: Kind,
    pub level: Level,
    pub grid_code: String,
    /// `household`, `case` or `grid` (a patrol warning names the worker's grid).
    pub target_kind: &'static str,
    pub target_id: String,
    /// What the supervisor reads (Chinese; addresses, never ID numbers or phones).
    pub title: String,
    pub detail: String,
    /// Since when (ms) the condition holds.
    pub since: i64,
    /// The worker a task should go to, when known.
    pub worker: Option<String>,
    pub task: Option<TaskLink>,
}

/// What the warnings are computed from.
pub struct Inputs<'a> {
    pub now_ms: i64,
    pub households: &'a [StoredRecord],
    /// (household, mode, latest visited_at).
    pub contacts: &'a [(String, String, i64)],
    pub cases: &'a [StoredRecord],
    /// Patrols of the last two local days, with their authors.
    pub patrols: &'a [AuthoredRecord],
    pub workers: &'a [WorkerRow],
    pub boundaries: &'a HashMap<String, Boundary>,
    pub links: &'a [WarningTaskRow],
    /// The linked tasks, by id.
    pub tasks: &'a HashMap<String, StoredRecord>,
}

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("0 is a valid offset"))
}

/// The China-time calendar day of an instant.
pub fn local_day(ms: i64) -> NaiveDate {
    china()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// Midnight (ms) starting a China-time day.
pub fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(china()).single())
        .map_or(0, |t| t.timestamp_millis())
}

/// When a record was first written: its earliest field stamp (the phone stamps every field of
/// a create with the creation time; a household record carries no creation field of its own).
pub fn registered_ms(r: &StoredRecord) -> Option<i64> {
    r.clocks
        .values()
        .filter_map(Value::as_str)
        .filter_map(|c| c.get(..15)?.parse::<i64>().ok())
        .min()
}

fn s<'a>(r: &'a StoredRecord, k: &str) -> Option<&'a str> {
    r.data.get(k).and_then(Value::as_str)
}

fn address(r: &StoredRecord) -> String {
    super::ledgers::address_of(&r.data)
}

const FINISHED: &[&str] = &["verified", "closed", "archived", "returned"];

/// Computes every warning of the inputs under `rules`, red first, oldest first.
pub fn compute(rules: &WarningRules, inp: &Inputs<'_>) -> Vec<Warning> {
    let today = local_day(inp.now_ms);
    let mut out: Vec<Warning> = Vec::new();
    // Links by warning key: the latest task made for it.
    let mut link_of: HashMap<&str, &WarningTaskRow> = HashMap::new();
    for l in inp.links {
        link_of
            .entry(l.warning_key.as_str())
            .and_modify(|x| {
                if l.created_at >= x.created_at {
                    *x = l
                }
            })
            .or_insert(l);
    }
    let task_done = |key: &str| -> Option<(TaskLink, bool)> {
        let l = link_of.get(key)?;
        let status = inp
            .tasks
            .get(&l.task_id)
            .and_then(|t| s(t, "status"))
            .unwrap_or("open")
            .to_string();
        let done = status == "done";
        Some((
            TaskLink {
                task_id: l.task_id.clone(),
                status,
                created_at: l.created_at,
                awaiting_evidence: false,
            },
            done,
        ))
    };
    let worker_of_grid = |grid: &str| -> Option<String> {
        let mut ws = inp
            .workers
            .iter()
            .filter(|w| !w.disabled && w.grids.iter().any(|g| g == grid));
        let first = ws.next()?;
        // Several workers in one grid: the supervisor picks; no guess is made.
        ws.next().is_none().then(|| first.user_id.clone())
    };

    // Contacts by household.
    let mut contacts: HashMap<&str, Vec<(VisitMode, i64)>> = HashMap::new();
    for (h, mode, at) in inp.contacts {
        if let Ok(m) = mode.parse::<VisitMode>() {
            if m != VisitMode::NotAtHome {
                contacts.entry(h.as_str()).or_default().push((m, *at));
            }
        }
    }

    // Pushes a warning unless it is cleared; `evidence_since(t)`: the on-site evidence is there
    // for a task made at `t`.
    let mut raise = |mut w: Warning, condition: bool, evidence_since: &dyn Fn(i64) -> bool| {
        match task_done(&w.key) {
            None => {
                if condition {
                    out.push(w);
                }
            }
            Some((mut link, done)) => {
                let evidence = !condition && evidence_since(link.created_at);
                if done && evidence {
                    return; // cleared: task done and the on-site evidence synced
                }
                link.awaiting_evidence = done && !evidence;
                w.task = Some(link);
                out.push(w);
            }
        }
    };

    // 1. Visits overdue under the policy.
    for h in inp.households {
        if s(h, "status").unwrap_or("active") != "active" {
            continue;
        }
        let Some(tier) = s(h, "care_tier").and_then(|t| t.parse::<CareTier>().ok()) else {
            continue;
        };
        if !rules.visit_tiers.contains(&tier) {
            continue;
        }
        let hc = contacts
            .get(h.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let registered = registered_ms(h).map(local_day).unwrap_or(today);
        for rule in rules.visit_policy.rules_of(tier) {
            let last = rule.last_contact(hc);
            let due = due_day(rule, last.map(local_day), registered);
            let overdue = (today - due).num_days();
            let red_after = rules.red_after_days.unwrap_or(rule.interval_days);
            let key = format!("visit_overdue:{}:{}", h.id, rule.rule);
            let in_person = hc
                .iter()
                .filter(|(m, _)| *m == VisitMode::InPerson)
                .map(|(_, t)| *t)
                .max();
            let w = Warning {
                key,
                kind: Kind::VisitOverdue,
                level: if overdue >= i64::from(red_after) {
                    Level::Red
                } else {
                    Level::Yellow
                },
                grid_code: h.grid_code.clone(),
                target_kind: "household",
                target_id: h.id.clone(),
                title: format!(
                    "{}（{}）{}",
                    if rule.is_home_visit() {
                        "入户走访超期"
                    } else {
                        "走访/联系超期"
                    },
                    tier.label_zh(),
                    address(h)
                ),
                detail: match last {
                    Some(t) => format!(
                        "上次联系 {}，应每 {} 天一次，已超 {} 天",
                        local_day(t),
                        rule.interval_days,
                        overdue.max(0)
                    ),
                    None => format!("登记后从未联系，应每 {} 天一次", rule.interval_days),
                },
                since: day_start_ms(due + Duration::days(1)),
                worker: worker_of_grid(&h.grid_code),
                task: None,
            };
            // A tasked visit warning clears only with an in-person visit since the task.
            raise(w, overdue >= 1, &|t| in_person.is_some_and(|v| v >= t));
        }
    }

    // 2. Cases.
    for c in inp.cases {
        let status = s(c, "status").unwrap_or("submitted");
        let category = s(c, "category_code")
            .map(str::to_string)
            .or_else(|| s(c, "type_code").map(|t| t.chars().take(2).collect()))
            .unwrap_or_default();
        let type_zh = s(c, "type_code")
            .and_then(gridwalk_domain::taxonomy::case_type)
            .map_or("事件", |t| t.zh);
        let place = s(c, "address").unwrap_or("").to_string();
        let received = c
            .data
            .get("received_at")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let case_warning = |kind: Kind, level: Level, detail: String, since: i64| Warning {
            key: format!("{}:{}", kind.as_str(), c.id),
            kind,
            level,
            grid_code: c.grid_code.clone(),
            target_kind: "case",
            target_id: c.id.clone(),
            title: format!("{}：{} {}", kind.label_zh(), type_zh, place)
                .trim()
                .to_string(),
            detail,
            since,
            worker: c
                .data
                .get("reporter_user")
                .and_then(Value::as_str)
                .map(String::from),
            task: None,
        };
        let open = !FINISHED.contains(&status) && status != "draft";
        if rules.hazard_categories.contains(&category) {
            let w = case_warning(
                Kind::HazardOpen,
                Level::Red,
                format!("状态：{status}，结案前保持红色"),
                received,
            );
            raise(w, open, &|_| true);
        }
        if rules.overdue_cases {
            let deadline = c.data.get("deadline_at").and_then(Value::as_i64);
            let overdue = crate::cases::is_overdue(&c.data, inp.now_ms);
            if let Some(d) = deadline {
                let w = case_warning(
                    Kind::CaseOverdue,
                    Level::Red,
                    format!("处置期限 {} 已过", local_day(d)),
                    d,
                );
                raise(w, overdue, &|_| true);
            }
        }
        let limit = i64::from(rules.unaccepted_hours) * 3_600_000;
        if received > 0 {
            let w = case_warning(
                Kind::CaseUnaccepted,
                Level::Yellow,
                format!("上报后 {} 小时内未受理", rules.unaccepted_hours),
                received + limit,
            );
            raise(
                w,
                status == "submitted" && inp.now_ms - received > limit,
                &|_| true,
            );
        }
    }

    // 3. Patrol quota per worker: yesterday red, today (after the check hour) yellow.
    let hour = china()
        .timestamp_millis_opt(inp.now_ms)
        .single()
        .map_or(0, |t| chrono::Timelike::hour(&t));
    let yesterday = today - Duration::days(1);
    for w in inp.workers.iter().filter(|w| !w.disabled) {
        let Some(grid) = w.grids.first() else {
            continue;
        };
        let counted = |day: NaiveDate, after: i64| {
            inp.patrols
                .iter()
                .filter(|p| {
                    p.author.as_deref() == Some(w.user_id.as_str())
                        || (p.author.is_none()
                            && worker_of_grid(&p.record.grid_code).as_deref()
                                == Some(w.user_id.as_str()))
                })
                .filter(|p| {
                    let d = &p.record.data;
                    let started = d.get("started_at").and_then(Value::as_i64).unwrap_or(0);
                    d.get("ended_at").is_some_and(|e| !e.is_null())
                        && local_day(started) == day
                        && started >= after
                        && rules.patrol.counts(
                            d.get("duration_s").and_then(Value::as_i64).unwrap_or(0),
                            d.get("distance_m").and_then(Value::as_f64).unwrap_or(0.0),
                        )
                })
                .count() as u32
        };
        let joined = local_day(w.created_at);
        for (day, level, applies) in [
            (yesterday, Level::Red, true),
            (today, Level::Yellow, hour >= rules.patrol_check_hour),
        ] {
            // No quota is owed for a day before the worker's account existed.
            if !applies || day < joined {
                continue;
            }
            let done = counted(day, 0);
            let w = Warning {
                key: format!("patrol_missed:{}:{day}", w.user_id),
                kind: Kind::PatrolMissed,
                level,
                grid_code: grid.clone(),
                target_kind: "grid",
                target_id: grid.clone(),
                title: format!("巡查未达标：{} {day}", w.display_name),
                detail: format!("当日有效巡查 {done}/{} 次（一日双巡）", rules.patrol.quota),
                since: day_start_ms(day),
                worker: Some(w.user_id.clone()),
                task: None,
            };
            // A tasked patrol warning clears with a counting patrol made since the task.
            let since_task = |t: i64| {
                inp.patrols.iter().any(|p| {
                    let d = &p.record.data;
                    p.author.as_deref() == Some(w.worker.as_deref().unwrap_or(""))
                        && d.get("started_at").and_then(Value::as_i64).unwrap_or(0) >= t
                        && rules.patrol.counts(
                            d.get("duration_s").and_then(Value::as_i64).unwrap_or(0),
                            d.get("distance_m").and_then(Value::as_f64).unwrap_or(0.0),
                        )
                })
            };
            raise(w.clone(), done < rules.patrol.quota, &since_task);
        }
    }

    // 4. Households outside their grid.
    if rules.outside_grid {
        for h in inp.households {
            if s(h, "status").unwrap_or("active") != "active" {
                continue;
            }
            let (Some(lat), Some(lng)) = (
                h.data.get("lat").and_then(Value::as_f64),
                h.data.get("lng").and_then(Value::as_f64),
            ) else {
                continue;
            };
            let Some(b) = inp.boundaries.get(&h.grid_code) else {
                continue;
            };
            let w = Warning {
                key: format!("outside_grid:{}", h.id),
                kind: Kind::OutsideGrid,
                level: Level::Yellow,
                grid_code: h.grid_code.clone(),
                target_kind: "household",
                target_id: h.id.clone(),
                title: format!("住户定位不在本网格：{}", address(h)),
                detail: "请现场核实住址或定位".into(),
                since: registered_ms(h).unwrap_or(0),
                worker: worker_of_grid(&h.grid_code),
                task: None,
            };
            raise(w, !b.contains(GeoPoint { lat, lng }), &|_| true);
        }
    }

    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.since.cmp(&b.since))
            .then(a.key.cmp(&b.key))
    });
    out
}

/// Counts of one grid on the board.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GridCount {
    pub grid_code: String,
    pub grid_name: String,
    pub red: usize,
    pub yellow: usize,
    /// Of those, turned into tasks.
    pub tasked: usize,
}

impl GridCount {
    /// `green` when no warning is raised.
    pub fn light(&self) -> &'static str {
        if self.red > 0 {
            "red"
        } else if self.yellow > 0 {
            "yellow"
        } else {
            "green"
        }
    }
}

/// Counts per grid of the scope (every grid, zero ones included: green).
pub fn board(grids: &[(String, String)], warnings: &[Warning]) -> Vec<GridCount> {
    let mut by: HashMap<&str, GridCount> = grids
        .iter()
        .map(|(code, name)| {
            (
                code.as_str(),
                GridCount {
                    grid_code: code.clone(),
                    grid_name: name.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    for w in warnings {
        if let Some(g) = by.get_mut(w.grid_code.as_str()) {
            match w.level {
                Level::Red => g.red += 1,
                Level::Yellow => g.yellow += 1,
            }
            if w.task.is_some() {
                g.tasked += 1;
            }
        }
    }
    let mut out: Vec<GridCount> = by.into_values().collect();
    out.sort_by(|a, b| a.grid_code.cmp(&b.grid_code));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: i64 = 86_400_000;
    /// 2026-12-02 12:00 China time.
    const NOW: i64 = 1_796_184_000_000;

    fn rec(entity: &str, id: &str, data: serde_json::Value, stamp_ms: i64) -> StoredRecord {
        let data = data.as_object().cloned().unwrap();
        let clocks = data
            .keys()
            .map(|k| (k.clone(), json!(format!("{stamp_ms:015}.00000.t"))))
            .collect();
        StoredRecord {
            entity: entity.into(),
            id: id.into(),
            grid_code: "g1".into(),
            rev: 1,
            hlc: String::new(),
            data,
            clocks,
        }
    }

    fn worker(created_at: i64) -> WorkerRow {
        WorkerRow {
            user_id: "w1".into(),
            username: "wangfang".into(),
            display_name: "王芳".into(),
            grids: vec!["g1".into()],
            last_seen: None,
            disabled: false,
            created_at,
        }
    }

    struct Fixture {
        households: Vec<StoredRecord>,
        contacts: Vec<(String, String, i64)>,
        cases: Vec<StoredRecord>,
        patrols: Vec<AuthoredRecord>,
        workers: Vec<WorkerRow>,
        links: Vec<WarningTaskRow>,
        tasks: HashMap<String, StoredRecord>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                households: vec![],
                contacts: vec![],
                cases: vec![],
                patrols: vec![],
                workers: vec![],
                links: vec![],
                tasks: HashMap::new(),
            }
        }

        fn run(&self, rules: &WarningRules, now: i64) -> Vec<Warning> {
            let bounds = HashMap::new();
            compute(
                rules,
                &Inputs {
                    now_ms: now,
                    households: &self.households,
                    contacts: &self.contacts,
                    cases: &self.cases,
                    patrols: &self.patrols,
                    workers: &self.workers,
                    boundaries: &bounds,
                    links: &self.links,
                    tasks: &self.tasks,
                },
            )
        }
    }

    fn patrol(started: i64, minutes: i64, metres: f64) -> AuthoredRecord {
        AuthoredRecord {
            record: rec(
                "patrol",
                &format!("p{started}{minutes}"),
                json!({"started_at": started, "ended_at": started + minutes * 60_000,
                       "duration_s": minutes * 60, "distance_m": metres}),
                started,
            ),
            author: Some("w1".into()),
        }
    }

    #[test]
    fn patrols_yesterday_red_today_after_the_check_hour_and_never_before_the_account() {
        let mut f = Fixture::new();
        f.workers.push(worker(NOW - 10 * DAY));
        let rules = WarningRules::default();
        let kinds = |ws: &[Warning]| {
            ws.iter()
                .filter(|w| w.kind == Kind::PatrolMissed)
                .map(|w| w.level)
                .collect::<Vec<_>>()
        };
        // Noon: only yesterday is judged.
        assert_eq!(kinds(&f.run(&rules, NOW)), vec![Level::Red]);
        // 19:00: today too (yellow).
        assert_eq!(
            kinds(&f.run(&rules, NOW + 7 * 3_600_000)),
            vec![Level::Red, Level::Yellow]
        );
        // Two counting patrols yesterday clear it; a too-short one does not count.
        f.patrols.push(patrol(NOW - DAY, 40, 2_000.0));
        f.patrols.push(patrol(NOW - DAY + 3_600_000, 3, 2_000.0));
        assert_eq!(kinds(&f.run(&rules, NOW)), vec![Level::Red]);
        f.patrols.push(patrol(NOW - DAY + 7_200_000, 30, 1_500.0));
        assert!(kinds(&f.run(&rules, NOW)).is_empty());
        // A worker whose account is from today owes nothing for yesterday.
        let mut g = Fixture::new();
        g.workers.push(worker(NOW - 3_600_000));
        assert!(kinds(&g.run(&rules, NOW)).is_empty());
    }

    #[test]
    fn cases_unaccepted_turn_yellow_and_overdue_red() {
        let mut f = Fixture::new();
        let rules = WarningRules {
            hazard_categories: vec![],
            ..WarningRules::default()
        };
        f.cases.push(rec(
            "case",
            "c1",
            json!({"status": "submitted", "type_code": "0301", "received_at": NOW - 25 * 3_600_000}),
            NOW,
        ));
        f.cases.push(rec(
            "case",
            "c2",
            json!({"status": "submitted", "type_code": "0301", "received_at": NOW - 23 * 3_600_000}),
            NOW,
        ));
        f.cases.push(rec(
            "case",
            "c3",
            json!({"status": "handling", "type_code": "0301", "received_at": NOW - 5 * DAY,
                   "accepted_at": NOW - 5 * DAY, "deadline_at": NOW - 1}),
            NOW,
        ));
        f.cases.push(rec(
            "case",
            "c4",
            json!({"status": "closed", "type_code": "0301", "received_at": NOW - 5 * DAY,
                   "deadline_at": NOW - 1}),
            NOW,
        ));
        let ws = f.run(&rules, NOW);
        let of = |id: &str| {
            ws.iter()
                .filter(|w| w.target_id == id)
                .map(|w| (w.kind, w.level))
                .collect::<Vec<_>>()
        };
        assert_eq!(of("c1"), vec![(Kind::CaseUnaccepted, Level::Yellow)]);
        assert!(of("c2").is_empty(), "23 hours is within the limit");
        assert_eq!(of("c3"), vec![(Kind::CaseOverdue, Level::Red)]);
        assert!(of("c4").is_empty(), "a closed case is never overdue");
        // The rule can be switched off by the district.
        let off = WarningRules {
            overdue_cases: false,
            ..rules
        };
        assert!(f.run(&off, NOW).iter().all(|w| w.kind != Kind::CaseOverdue));
    }

    #[test]
    fn visit_warnings_follow_the_phone_policy_and_tasks_need_an_in_person_visit() {
        let mut f = Fixture::new();
        f.households.push(rec(
            "household",
            "h1",
            json!({"care_tier": "close", "status": "active", "community": "幸福社区", "building": "3栋"}),
            NOW - 60 * DAY,
        ));
        f.contacts
            .push(("h1".into(), "phone".into(), NOW - 9 * DAY));
        let rules = WarningRules::default();
        let visit = |ws: &[Warning]| {
            ws.iter()
                .find(|w| w.kind == Kind::VisitOverdue)
                .map(|w| (w.level, w.task.as_ref().map(|t| t.awaiting_evidence)))
        };
        // Phoned 9 days ago, weekly contact: 2 days overdue, yellow; 7 days overdue: red.
        assert_eq!(visit(&f.run(&rules, NOW)), Some((Level::Yellow, None)));
        assert_eq!(
            visit(&f.run(&rules, NOW + 5 * DAY)).map(|v| v.0),
            Some(Level::Red)
        );
        // Attention households are not warned by default.
        f.households[0]
            .data
            .insert("care_tier".into(), json!("attention"));
        assert_eq!(visit(&f.run(&rules, NOW)), None);
        f.households[0]
            .data
            .insert("care_tier".into(), json!("close"));

        // Tasked: a phone call after the task satisfies the policy but does not clear it.
        let key = "visit_overdue:h1:contact".to_string();
        f.links.push(WarningTaskRow {
            task_id: "t1".into(),
            warning_key: key,
            grid_code: "g1".into(),
            created_by: "lead".into(),
            created_at: NOW - DAY,
        });
        f.tasks.insert(
            "t1".into(),
            rec("task", "t1", json!({"status": "done"}), NOW - DAY),
        );
        f.contacts[0].2 = NOW - 3_600_000;
        let still = visit(&f.run(&rules, NOW));
        assert_eq!(
            still.and_then(|v| v.1),
            Some(true),
            "still raised: no in-person visit"
        );
        // An in-person visit after the task, with the task done: cleared.
        f.contacts
            .push(("h1".into(), "in_person".into(), NOW - 1_800_000));
        assert_eq!(visit(&f.run(&rules, NOW)), None);
        // The same visit with the task still open: stays, marked with the task.
        f.tasks.insert(
            "t1".into(),
            rec("task", "t1", json!({"status": "open"}), NOW - DAY),
        );
        assert_eq!(visit(&f.run(&rules, NOW)).and_then(|v| v.1), Some(false));
    }

    #[test]
    fn the_board_is_green_at_zero() {
        let grids = vec![
            ("g1".to_string(), "一".to_string()),
            ("g2".to_string(), "二".to_string()),
        ];
        let w = Warning {
            key: "k".into(),
            kind: Kind::OutsideGrid,
            level: Level::Yellow,
            grid_code: "g1".into(),
            target_kind: "household",
            target_id: "h".into(),
            title: String::new(),
            detail: String::new(),
            since: 0,
            worker: None,
            task: None,
        };
        let b = board(&grids, &[w]);
        assert_eq!((b[0].light(), b[0].yellow), ("yellow", 1));
        assert_eq!((b[1].light(), b[1].yellow), ("green", 0));
    }
}
