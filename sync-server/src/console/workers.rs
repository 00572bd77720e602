//! Work statistics per worker (工作统计): last sync, visits by mode, patrols done against the
//! quota (一日双巡), patrol time and distance, cases filed, and visits overdue by care tier —
//! for a day, week (from Monday) or month (from the 1st, China time), and summed per grid,
//! community and street.
//!
//! Visits, patrols and cases count for the worker whose push created them (`record_authors`);
//! a patrol counts only when it ended and reached the minimum duration and distance — the same
//! [`gridwalk_domain::policy::PatrolRules`] the phone's statistics use. Overdue visits use the
//! warning rules' visit policy over every care tier of the worker's grids.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use gridwalk_domain::model::{CareTier, VisitMode};
pub use gridwalk_domain::policy::Period;
use gridwalk_domain::policy::{due_day, period_bounds as bounds};
use serde::Serialize;
use serde_json::Value;

use super::data_store::{AuthoredRecord, UnitRow, WorkerRow};
use super::scope;
use super::warning_rules::{self, WarningRules};
use super::warnings::{day_start_ms, local_day};
use crate::error::Result;
use crate::storage::{Principal, Storage, StoredRecord};

/// Figures of one worker, or summed over a unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Visits by mode code (`in_person`, `phone`, `messaging`, `not_at_home`).
    pub visits: BTreeMap<String, u64>,
    pub patrols: u64,
    /// The quota over the elapsed days of the period.
    pub patrol_quota: u64,
    pub patrol_minutes: f64,
    pub patrol_km: f64,
    /// Patrols that ended but were too short to count.
    pub patrols_too_short: u64,
    pub cases_filed: u64,
    /// Households whose visit is overdue now, by care tier code.
    pub overdue_by_tier: BTreeMap<String, u64>,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        for (k, v) in &o.visits {
            *self.visits.entry(k.clone()).or_default() += v;
        }
        self.patrols += o.patrols;
        self.patrol_quota += o.patrol_quota;
        self.patrol_minutes += o.patrol_minutes;
        self.patrol_km += o.patrol_km;
        self.patrols_too_short += o.patrols_too_short;
        self.cases_filed += o.cases_filed;
        for (k, v) in &o.overdue_by_tier {
            *self.overdue_by_tier.entry(k.clone()).or_default() += v;
        }
    }
}

/// One worker's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerLine {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub grids: Vec<String>,
    pub last_sync: Option<i64>,
    pub figures: Figures,
}

/// A unit's sum (grid, community, street).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitLine {
    pub code: String,
    pub name: String,
    pub level: String,
    pub workers: usize,
    pub figures: Figures,
}

/// The whole statistics page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkStats {
    pub period: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub workers: Vec<WorkerLine>,
    pub units: Vec<UnitLine>,
}

fn num(r: &StoredRecord, k: &str) -> Option<f64> {
    r.data.get(k).and_then(Value::as_f64)
}

/// Everything the figures are computed from.
pub struct StatsInputs<'a> {
    pub now_ms: i64,
    pub period: Period,
    pub rules: &'a WarningRules,
    pub units: &'a [UnitRow],
    pub workers: &'a [WorkerRow],
    pub visits: &'a [AuthoredRecord],
    pub patrols: &'a [AuthoredRecord],
    pub cases: &'a [AuthoredRecord],
    pub households: &'a [StoredRecord],
    pub contacts: &'a [(String, String, i64)],
}

/// Computes the statistics (pure: the tests call it on hand-made records).
pub fn compute(inp: &StatsInputs<'_>) -> WorkStats {
    let today = local_day(inp.now_ms);
    let (from, to) = bounds(inp.period, today);
    let (from_ms, to_ms) = (day_start_ms(from), day_start_ms(to + Duration::days(1)));
    let in_period = |ms: Option<i64>| ms.is_some_and(|t| t >= from_ms && t < to_ms);

    // Overdue households per grid and tier, under the rules' policy (every tier).
    let mut contacts: HashMap<&str, Vec<(VisitMode, i64)>> = HashMap::new();
    for (h, m, at) in inp.contacts {
        if let Ok(m) = m.parse::<VisitMode>() {
            contacts.entry(h.as_str()).or_default().push((m, *at));
        }
    }
    let mut overdue: HashMap<&str, BTreeMap<String, u64>> = HashMap::new();
    for h in inp.households {
        if h.data
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("active")
            != "active"
        {
            continue;
        }
        let Some(tier) = h
            .data
            .get("care_tier")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<CareTier>().ok())
        else {
            continue;
        };
        let hc = contacts
            .get(h.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let registered = super::warnings::registered_ms(h).map_or(today, local_day);
        let late =
            inp.rules.visit_policy.rules_of(tier).any(|rule| {
                due_day(rule, rule.last_contact(hc).map(local_day), registered) < today
            });
        if late {
            *overdue
                .entry(h.grid_code.as_str())
                .or_default()
                .entry(tier.as_str().into())
                .or_default() += 1;
        }
    }

    let mut lines = Vec::new();
    for w in inp.workers {
        let mine = |a: &AuthoredRecord| a.author.as_deref() == Some(w.user_id.as_str());
        let mut f = Figures::default();
        for v in inp.visits.iter().filter(|a| mine(a)) {
            if in_period(v.record.data.get("visited_at").and_then(Value::as_i64)) {
                let mode = v
                    .record
                    .data
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                *f.visits.entry(mode.into()).or_default() += 1;
            }
        }
        for p in inp.patrols.iter().filter(|a| mine(a)) {
            let r = &p.record;
            let ended = r.data.get("ended_at").is_some_and(|e| !e.is_null());
            if !ended || !in_period(r.data.get("started_at").and_then(Value::as_i64)) {
                continue;
            }
            let secs = num(r, "duration_s").unwrap_or(0.0);
            let metres = num(r, "distance_m").unwrap_or(0.0);
            if inp.rules.patrol.counts(secs as i64, metres) {
                f.patrols += 1;
                f.patrol_minutes += secs / 60.0;
                f.patrol_km += metres / 1000.0;
            } else {
                f.patrols_too_short += 1;
            }
        }
        // The quota runs from the later of the period's start and the day the account was made.
        let owed_days = {
            let first = from.max(local_day(w.created_at));
            ((today.min(to) - first).num_days() + 1).max(0) as u64
        };
        f.patrol_quota = u64::from(inp.rules.patrol.quota) * owed_days;
        f.cases_filed = inp
            .cases
            .iter()
            .filter(|a| mine(a))
            .filter(|a| in_period(a.record.data.get("received_at").and_then(Value::as_i64)))
            .count() as u64;
        for g in &w.grids {
            if let Some(by) = overdue.get(g.as_str()) {
                for (k, v) in by {
                    *f.overdue_by_tier.entry(k.clone()).or_default() += v;
                }
            }
        }
        f.patrol_minutes = (f.patrol_minutes * 10.0).round() / 10.0;
        f.patrol_km = (f.patrol_km * 100.0).round() / 100.0;
        lines.push(WorkerLine {
            user_id: w.user_id.clone(),
            username: w.username.clone(),
            display_name: w.display_name.clone(),
            grids: w.grids.clone(),
            last_sync: w.last_seen,
            figures: f,
        });
    }

    // Sums per grid (a worker of several grids counts in the first), community and street.
    let mut sums: BTreeMap<String, (usize, Figures)> = BTreeMap::new();
    for l in &lines {
        let Some(grid) = l.grids.first() else {
            continue;
        };
        let mut at = Some(grid.clone());
        for _ in 0..8 {
            let Some(code) = at else { break };
            let unit = inp.units.iter().find(|u| u.code == code);
            if unit.is_some_and(|u| u.level != "district") {
                let e = sums.entry(code.clone()).or_default();
                e.0 += 1;
                e.1.add(&l.figures);
            }
            at = unit.and_then(|u| u.parent_code.clone());
        }
    }
    let units = sums
        .into_iter()
        .map(|(code, (n, figures))| {
            let u = inp.units.iter().find(|u| u.code == code);
            UnitLine {
                name: scope::unit_name(inp.units, &code),
                level: u.map_or_else(String::new, |u| u.level.clone()),
                code,
                workers: n,
                figures,
            }
        })
        .collect();
    WorkStats {
        period: inp.period,
        from,
        to,
        workers: lines,
        units,
    }
}

/// The statistics of the caller's scope (narrowed to `unit`).
pub fn stats(
    store: &dyn Storage,
    who: &Principal,
    unit: Option<&str>,
    period: Period,
    now_ms: i64,
) -> Result<WorkStats> {
    let rules = warning_rules::load(store)?;
    let units = store.units_in_scope(&who.grids)?;
    let grids = scope::grids_under(who, &units, unit);
    let (from, _) = bounds(period, local_day(now_ms));
    let since = day_start_ms(from);
    let visits = store.records_in(&grids, "visit", Some(("visited_at", since)))?;
    let patrols = store.records_in(&grids, "patrol", Some(("started_at", since)))?;
    let cases = store.records_in(&grids, "case", Some(("received_at", since)))?;
    let households: Vec<StoredRecord> = store
        .records_in(&grids, "household", None)?
        .into_iter()
        .map(|a| a.record)
        .collect();
    let contacts = store.latest_contacts(&grids)?;
    let workers = store.workers_in(&grids)?;
    Ok(compute(&StatsInputs {
        now_ms,
        period,
        rules: &rules,
        units: &units,
        workers: &workers,
        visits: &visits,
        patrols: &patrols,
        cases: &cases,
        households: &households,
        contacts: &contacts,
    }))
}
