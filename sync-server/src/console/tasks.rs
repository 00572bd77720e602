//! The tasks page (任务派发): assign visit, verification, information-collection, call-back or
//! custom tasks to the workers of the caller's scope with a due date, and follow their status.
//!
//! Creating a task is the supervisor task code of the JSON API ([`crate::cases::create_task`]
//! through `Storage::create_task`): the same checks (kind, title, due date, priority, a worker
//! and a target inside the caller's scope, the domain's task field rules), the same record,
//! delivered to the worker's phone at the next sync. The list shows the scope's tasks newest
//! first, with their status as the phones report it.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::i18n::{datetime, today};
use super::layout::{self, Nav};
use super::session::{redirect, urlencode, Ctx, BASE};
use super::store::TaskFilter;
use super::{Fail, Failure, FormMap};
use crate::cases::TaskRequest;
use crate::http::{blocking, now_ms};
use crate::AppState;

const PAGE_ROWS: usize = 100;

fn code_of<T: Copy>(all: &[T], as_str: fn(T) -> &'static str, v: &str) -> bool {
    all.iter().any(|x| as_str(*x) == v)
}

/// `GET /console/tasks`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    use gridwalk_domain::model::{Priority, TaskKind, TaskStatus};
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut filter = TaskFilter::default();
    if let Some(s) = get("status") {
        if !code_of(TaskStatus::ALL, TaskStatus::as_str, s) {
            return Err(ctx.fail(Fail::Invalid("status".into())));
        }
        filter.status = Some(s.into());
    }
    if let Some(k) = get("kind") {
        if !code_of(TaskKind::ALL, TaskKind::as_str, k) {
            return Err(ctx.fail(Fail::Invalid("kind".into())));
        }
        filter.kind = Some(k.into());
    }
    if let Some(a) = get("assignee") {
        if a.len() > 64 {
            return Err(ctx.fail(Fail::Invalid("assignee".into())));
        }
        filter.assignee = Some(a.into());
    }
    if let Some(b) = get("before") {
        filter.before_rev = Some(
            b.parse()
                .map_err(|_| ctx.fail(Fail::Invalid("before".into())))?,
        );
    }
    let (who, f2) = (ctx.who.clone(), filter.clone());
    let (tasks, workers, units) = blocking(&state, move |s| {
        Ok((
            s.scope_tasks(&who, &f2, PAGE_ROWS)?,
            s.scope_workers(&who)?,
            s.scope_units(&who)?,
        ))
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let lang = ctx.lang;
    let t = ctx.t();
    let now = now_ms();
    let default_due = today(now + 3 * 86_400_000);
    let grids: Vec<_> = units.iter().filter(|u| u.level == "grid").collect();
    let sel = |v: &str, cur: &Option<String>| cur.as_deref() == Some(v);
    let mut more = format!("{BASE}/tasks?");
    for (k, v) in [
        ("status", &filter.status),
        ("kind", &filter.kind),
        ("assignee", &filter.assignee),
    ] {
        if let Some(v) = v {
            more.push_str(&format!("{k}={}&", urlencode(v)));
        }
    }
    let body = html! {
        @if q.contains_key("created") { p.notice role="status" { (t.task_created) } }
        section.card {
            h2 { (t.new_task) }
            form.stack method="post" action={(BASE) "/tasks"} {
                input type="hidden" name="csrf" value=(ctx.csrf);
                label { (t.task_kind)
                    select name="kind" required {
                        @for k in TaskKind::ALL { option value=(k.as_str()) { (lang.pick(k.label_zh(), k.label_en())) } }
                    }
                }
                label { (t.task_title) input name="title" required maxlength="100"; }
                label { (t.assign_to)
                    select name="assignee" {
                        option value="" { (t.whole_grid) }
                        @for w in &workers { option value=(w.username) { (w.display_name) " (" (w.username) ")" } }
                    }
                }
                label { (t.grid)
                    select name="grid_code" {
                        option value="" { "—" }
                        @for g in &grids { option value=(g.code) { (g.name) } }
                    }
                }
                label { (t.due_on) input type="date" name="due_on" required value=(default_due); }
                label { (t.priority)
                    select name="priority" {
                        @for p in Priority::ALL {
                            option value=(p.as_str()) selected[p.as_str() == "normal"] { (lang.pick(p.label_zh(), p.label_en())) }
                        }
                    }
                }
                label { (t.target_case) input name="case_id" maxlength="64"; }
                label { (t.notes) textarea name="notes" maxlength="1000" rows="2" {} }
                button type="submit" { (t.create_task) }
            }
        }
        form.filters method="get" action={(BASE) "/tasks"} {
            label { (t.status)
                select name="status" {
                    option value="" { (t.any) }
                    @for s in TaskStatus::ALL { option value=(s.as_str()) selected[sel(s.as_str(), &filter.status)] { (lang.pick(s.label_zh(), s.label_en())) } }
                }
            }
            label { (t.task_kind)
                select name="kind" {
                    option value="" { (t.any) }
                    @for k in TaskKind::ALL { option value=(k.as_str()) selected[sel(k.as_str(), &filter.kind)] { (lang.pick(k.label_zh(), k.label_en())) } }
                }
            }
            label { (t.assign_to)
                select name="assignee" {
                    option value="" { (t.any) }
                    @for w in &workers { option value=(w.id) selected[sel(&w.id, &filter.assignee)] { (w.display_name) } }
                }
            }
            button type="submit" { (t.filter) }
        }
        @if tasks.is_empty() {
            p.empty { (t.no_tasks) }
        } @else {
            table.tasks {
                thead { tr {
                    th { (t.task_title) } th { (t.task_kind) } th { (t.assign_to) } th { (t.grid) }
                    th { (t.due_on) } th { (t.priority) } th { (t.status) } th { (t.created_by) }
                } }
                tbody {
                    @for r in &tasks {
                        @let d = &r.task.data;
                        @let s = |k: &str| d.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
                        tr data-task=(r.task.id) data-task-status=(s("status")) {
                            td { (s("title"))
                                @if s("target_kind") == "case" {
                                    span.sub { a href={(BASE) "/cases/" (s("target_id"))} { (t.case_title) } }
                                }
                            }
                            td { (lang.task_kind(s("kind"))) }
                            td { (r.assignee_name.as_deref().unwrap_or(t.whole_grid)) }
                            td { (r.grid_name) }
                            td { (s("due_on")) }
                            td { (lang.priority(s("priority"))) }
                            td { span class={"badge " (s("status"))} { (lang.task_status(s("status"))) } }
                            td { (r.creator_name.as_deref().unwrap_or("")) " "
                                 @if let Some(at) = d.get("created_at").and_then(serde_json::Value::as_i64) { span.sub { (datetime(at)) } } }
                        }
                    }
                }
            }
            @if tasks.len() == PAGE_ROWS {
                @if let Some(last) = tasks.last() {
                    nav.pager { a rel="next" href={(more) "before=" (last.task.rev)} { (t.more) } }
                }
            }
        }
    };
    Ok(layout::page(&ctx, Nav::Tasks, t.tasks_title, body))
}

/// `POST /console/tasks`.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let case_id = get("case_id");
    let req = TaskRequest {
        kind: get("kind").unwrap_or_default(),
        title: get("title").unwrap_or_default(),
        grid_code: get("grid_code"),
        assignee: get("assignee"),
        target_kind: case_id.as_ref().map(|_| "case".to_string()),
        target_id: case_id,
        due_on: get("due_on").unwrap_or_default(),
        priority: get("priority"),
        notes: get("notes"),
    };
    let who = ctx.who.clone();
    let done = blocking(&state, move |s| s.create_task(&who, &req, now_ms()))
        .await
        .map_err(Failure::from_api(ctx.lang))?;
    match done {
        Ok(task) => {
            tracing::info!(user = %ctx.who.user_id, task = %task.id, "console task assigned");
            Ok(redirect(&format!("{BASE}/tasks?created=1")))
        }
        Err(reason) => Err(ctx.fail(Fail::Invalid(reason.field.unwrap_or_else(|| "task".into())))),
    }
}
