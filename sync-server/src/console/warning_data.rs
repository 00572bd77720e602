//! Warnings for a caller: gathers the scope's records for [`super::warnings::compute`], and
//! turns a warning into a task for the worker through the case loop's task rules
//! (`cases::create_task`), linked to the warning in the same transaction.

use std::collections::HashMap;

use chrono::Duration;
use gridwalk_protocol::Reason;
use serde::{Deserialize, Serialize};

use super::geo::Boundary;
use super::scope;
use super::warning_rules;
use super::warnings::{self, GridCount, Inputs, Warning};
use crate::cases::TaskRequest;
use crate::error::Result;
use crate::storage::{Principal, Storage, StoredRecord};

/// Warnings of a scope and the per-grid board.
#[derive(Debug, Clone, Serialize)]
pub struct WarningReport {
    pub warnings: Vec<Warning>,
    pub board: Vec<GridCount>,
    pub red: usize,
    pub yellow: usize,
}

/// Grid boundaries of a unit list, parsed.
pub fn boundaries(units: &[super::data_store::UnitRow]) -> HashMap<String, Boundary> {
    units
        .iter()
        .filter(|u| u.level == "grid")
        .filter_map(|u| {
            Some((
                u.code.clone(),
                Boundary::parse(u.boundary.as_deref()?).ok()?,
            ))
        })
        .collect()
}

/// Every warning of the caller's scope (narrowed to `unit`), and the board.
pub fn report(
    store: &dyn Storage,
    who: &Principal,
    unit: Option<&str>,
    now_ms: i64,
) -> Result<WarningReport> {
    let rules = warning_rules::load(store)?;
    let units = store.units_in_scope(&who.grids)?;
    let grids = scope::grids_under(who, &units, unit);
    let households: Vec<StoredRecord> = store
        .records_in(&grids, "household", None)?
        .into_iter()
        .map(|a| a.record)
        .collect();
    let contacts = store.latest_contacts(&grids)?;
    let cases: Vec<StoredRecord> = store
        .records_in(&grids, "case", None)?
        .into_iter()
        .map(|a| a.record)
        .collect();
    let two_days_ago = warnings::day_start_ms(warnings::local_day(now_ms) - Duration::days(1));
    let patrols = store.records_in(&grids, "patrol", Some(("started_at", two_days_ago)))?;
    let workers = store.workers_in(&grids)?;
    let links = store.warning_tasks(&grids)?;
    let mut tasks = HashMap::new();
    for l in &links {
        if let Some(t) = store.get_record(who, "task", &l.task_id)? {
            tasks.insert(
                t.id.clone(),
                StoredRecord {
                    entity: t.entity,
                    id: t.id,
                    grid_code: l.grid_code.clone(),
                    rev: t.rev,
                    hlc: t.hlc,
                    data: t.data,
                    clocks: t.clocks,
                },
            );
        }
    }
    let bounds = boundaries(&units);
    let list = warnings::compute(
        &rules,
        &Inputs {
            now_ms,
            households: &households,
            contacts: &contacts,
            cases: &cases,
            patrols: &patrols,
            workers: &workers,
            boundaries: &bounds,
            links: &links,
            tasks: &tasks,
        },
    );
    let grid_names: Vec<(String, String)> = grids
        .iter()
        .map(|g| (g.clone(), scope::unit_name(&units, g)))
        .collect();
    let board = warnings::board(&grid_names, &list);
    Ok(WarningReport {
        red: list
            .iter()
            .filter(|w| w.level == warnings::Level::Red)
            .count(),
        yellow: list
            .iter()
            .filter(|w| w.level == warnings::Level::Yellow)
            .count(),
        warnings: list,
        board,
    })
}

/// Body of "turn this warning into a task".
#[derive(Debug, Clone, Deserialize)]
pub struct ToTask {
    pub key: String,
    /// `YYYY-MM-DD`; default: tomorrow (China time).
    #[serde(default)]
    pub due_on: Option<String>,
    /// User name or id of the worker; default: the warning's worker.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Why a warning could not become a task.
#[derive(Debug, Clone, PartialEq)]
pub enum ToTaskRefusal {
    /// No such warning raised in the caller's scope now.
    NotFound,
    /// It already has an open task.
    AlreadyTasked(String),
    /// The task rules refused (bad assignee, date …).
    Refused(Reason),
}

/// Creates the task for a raised warning of the caller's scope.
pub fn to_task(
    store: &dyn Storage,
    who: &Principal,
    req: &ToTask,
    now_ms: i64,
) -> Result<std::result::Result<StoredRecord, ToTaskRefusal>> {
    let report = report(store, who, None, now_ms)?;
    let Some(w) = report.warnings.into_iter().find(|w| w.key == req.key) else {
        return Ok(Err(ToTaskRefusal::NotFound));
    };
    if let Some(t) = w.task.as_ref().filter(|t| t.status == "open") {
        return Ok(Err(ToTaskRefusal::AlreadyTasked(t.task_id.clone())));
    }
    let kind = match w.kind {
        warnings::Kind::VisitOverdue => "visit_household",
        warnings::Kind::PatrolMissed => "patrol",
        warnings::Kind::OutsideGrid => "collect_info",
        _ => "verify_case",
    };
    let due_on = req.due_on.clone().unwrap_or_else(|| {
        (warnings::local_day(now_ms) + Duration::days(1))
            .format("%Y-%m-%d")
            .to_string()
    });
    let (target_kind, target_id) = (w.target_kind.to_string(), w.target_id.clone());
    let task = TaskRequest {
        kind: kind.into(),
        title: format!("【{}预警】{}", w.level.label_zh(), w.title)
            .chars()
            .take(100)
            .collect(),
        grid_code: Some(w.grid_code.clone()),
        assignee: req.assignee.clone().or(w.worker.clone()),
        target_kind: Some(target_kind),
        target_id: Some(target_id),
        due_on,
        priority: Some(
            match w.level {
                warnings::Level::Red => "urgent",
                warnings::Level::Yellow => "high",
            }
            .into(),
        ),
        notes: req
            .notes
            .clone()
            .or_else(|| Some(format!("{}。完成后须现场核实并同步。", w.detail))),
    };
    Ok(store
        .create_warning_task(who, &w.key, &task, now_ms)?
        .map_err(ToTaskRefusal::Refused))
}
