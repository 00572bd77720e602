//! The warnings page (红黄绿预警): the board of red and yellow counts per grid (green at zero),
//! the raised warnings with their task state, and a form that turns a warning into a task for
//! the worker (`warning_data::to_task`, the supervisor task code). The district also sees the
//! rules (`/console/warning-rules`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::i18n::{datetime, today};
use super::layout::{self, Nav};
use super::session::{redirect, urlencode, Ctx, BASE};
use super::warning_data::{self, ToTask, ToTaskRefusal};
use super::warnings::Level;
use super::{Fail, Failure, FormMap};
use crate::http::{blocking, now_ms};
use crate::AppState;

/// `GET /console/warnings?unit=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let unit = q
        .get("unit")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let who = ctx.who.clone();
    let u = unit.clone();
    let report = blocking(&state, move |s| {
        warning_data::report(s, &who, u.as_deref(), now_ms())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let tomorrow = today(now_ms() + 86_400_000);
    let done = q.contains_key("tasked");
    let body = html! {
        form.filters method="get" action={(BASE) "/warnings"} {
            label { (l("单元（网格/社区/街道代码）", "Unit (grid, community or street code)"))
                input name="unit" value=(unit.as_deref().unwrap_or("")) size="18"; }
            button type="submit" { (l("筛选", "Filter")) }
            a href={(BASE) "/warning-rules"} { (l("预警规则", "Warning rules")) }
        }
        @if done { p.notice role="status" { (l("已转为任务，网格员下次同步即可收到。", "Turned into a task; the worker receives it at the next sync.")) } }
        p.totals {
            span.light.red data-count="red" { (l("红色", "Red")) " " (report.red) } " "
            span.light.yellow data-count="yellow" { (l("黄色", "Yellow")) " " (report.yellow) }
        }
        h2 { (l("各网格预警看板（清零为绿）", "Board per grid (green at zero)")) }
        table.board {
            thead { tr {
                th { (l("网格", "Grid")) } th { (l("状态", "State")) } th { (l("红", "Red")) }
                th { (l("黄", "Yellow")) } th { (l("已派任务", "Tasked")) }
            } }
            tbody {
                @for g in &report.board {
                    tr data-grid=(g.grid_code) data-light=(g.light()) {
                        td { (g.grid_name) " " small { (g.grid_code) } }
                        td { span class={"light " (g.light())} {
                            (match g.light() { "red" => l("红", "red"), "yellow" => l("黄", "yellow"), _ => l("绿（已清零）", "green (cleared)") })
                        } }
                        td { (g.red) } td { (g.yellow) } td { (g.tasked) }
                    }
                }
            }
        }
        h2 { (l("预警明细", "Warnings")) }
        @if report.warnings.is_empty() {
            p.empty data-empty="warnings" { (l("没有预警：全部清零。", "No warnings: all cleared.")) }
        } @else {
            table.warnings {
                thead { tr {
                    th { (l("等级", "Level")) } th { (l("类型", "Kind")) } th { (l("内容", "What")) }
                    th { (l("自", "Since")) } th { (l("任务", "Task")) }
                } }
                tbody {
                    @for w in &report.warnings {
                        tr data-key=(w.key) data-kind=(w.kind.as_str()) data-target=(w.target_id)
                            data-light=(if w.level == Level::Red { "red" } else { "yellow" }) {
                            td { span class={"light " (if w.level == Level::Red { "red" } else { "yellow" })} {
                                (if w.level == Level::Red { l("红", "red") } else { l("黄", "yellow") }) } }
                            td { (ctx.lang.pick(w.kind.label_zh(), w.kind.label_en())) }
                            td { (w.title) br; small { (w.detail) } }
                            td { (datetime(w.since)) }
                            td {
                                @match &w.task {
                                    Some(t) => {
                                        span data-task-status=(t.status) {
                                            (ctx.lang.task_status(&t.status))
                                            @if t.awaiting_evidence { " · " (l("待现场核实同步", "awaiting the on-site visit")) }
                                        }
                                    }
                                    None => {
                                        form.to-task method="post" action={(BASE) "/warnings/task"} {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            input type="hidden" name="key" value=(w.key);
                                            input type="hidden" name="unit" value=(unit.as_deref().unwrap_or(""));
                                            input type="date" name="due_on" value=(tomorrow) aria-label=(l("期限", "Due"));
                                            button type="submit" { (l("转为任务", "Make a task")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.help { (l("预警由已同步的数据实时计算；转为任务后，须网格员完成任务并同步现场走访（或核查）记录才会清零。",
                    "Warnings are computed from synced data; once turned into a task, a warning clears only when the worker has done the task and her on-site visit (or verification) has synced.")) }
    };
    let title = l("红黄绿预警", "Red / yellow / green warnings");
    Ok(layout::page(&ctx, Nav::Warnings, title, body))
}

/// `POST /console/warnings/task` (form: csrf, key, due_on, unit).
pub async fn to_task(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    let key = form.get("key").cloned().unwrap_or_default();
    if key.is_empty() || key.len() > 200 {
        return Err(ctx.fail(Fail::Invalid("key".into())));
    }
    let req = ToTask {
        key,
        due_on: form.get("due_on").cloned().filter(|d| !d.is_empty()),
        assignee: form.get("assignee").cloned().filter(|a| !a.is_empty()),
        notes: None,
    };
    let who = ctx.who.clone();
    let r = blocking(&state, move |s| {
        warning_data::to_task(s, &who, &req, now_ms())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    match r {
        Ok(_) => {
            let unit = form.get("unit").map(String::as_str).unwrap_or("");
            Ok(redirect(&format!(
                "{BASE}/warnings?tasked=1&unit={}",
                urlencode(unit)
            )))
        }
        Err(ToTaskRefusal::NotFound) => Err(ctx.fail(Fail::NotFound)),
        Err(ToTaskRefusal::AlreadyTasked(_)) => Err(ctx.fail(Fail::Refused(
            ctx.lang
                .pick(
                    "该预警已有未完成的任务",
                    "this warning already has an open task",
                )
                .into(),
        ))),
        Err(ToTaskRefusal::Refused(reason)) => Err(ctx.fail(Fail::Refused(reason.message))),
    }
}
