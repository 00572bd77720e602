//! The case page: every step of the loop on a timeline with its reasons, before and after
//! photos, the location on a small map, the case's facts (deadline light, assignee, evaluation,
//! call-back) and the forms of the actions the caller's role may take now.
//!
//! The actions offered are exactly [`crate::cases::allowed_actions`] for the role and the
//! status, each with the input [`crate::cases::Action::needs`] asks for; a submitted form goes
//! through the same `Storage::case_action` as the JSON API (`POST /v1/cases/{id}/actions`), so
//! the state machine, its checks and its timeline lines are the API's. A case outside the
//! caller's scope answers the same 404 page as a case that does not exist, for the page, its
//! actions and its photos.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use super::i18n::{datetime, Lang};
use super::layout::{self, Nav};
use super::map::{self, Pin};
use super::photos;
use super::queue::{light_badge, time_left};
use super::session::{redirect, Ctx, BASE};
use super::store::{CaseDetail, CasePhoto};
use super::{Fail, Failure, FormMap};
use crate::cases::{self, Action, ActionRequest, Needs};
use crate::error::Error;
use crate::http::{blocking, now_ms};
use crate::AppState;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// `GET /console/cases/{id}`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    if !valid_id(&id) {
        return Err(ctx.fail(Fail::NotFound));
    }
    let who = ctx.who.clone();
    let detail = blocking(&state, move |s| s.case_detail(&who, &id))
        .await
        .map_err(Failure::from_api(ctx.lang))?
        .ok_or_else(|| ctx.fail(Fail::NotFound))?;
    let title = format!(
        "{} · {}",
        ctx.lang
            .case_type(detail.case.str_field("type_code").unwrap_or("")),
        ctx.lang
            .case_status(detail.case.str_field("status").unwrap_or("submitted"))
    );
    let body = render(&ctx, &detail, now_ms());
    Ok(layout::page(&ctx, Nav::Queue, &title, body))
}

fn fact(label: &str, value: Markup) -> Markup {
    html! { dt { (label) } dd { (value) } }
}

fn render(ctx: &Ctx, d: &CaseDetail, now: i64) -> Markup {
    let lang = ctx.lang;
    let t = ctx.t();
    let c = &d.case.data;
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    let i = |k: &str| c.get(k).and_then(Value::as_i64);
    let status = s("status").unwrap_or("submitted");
    let q = cases::queue_fields(c);
    let l = cases::light(q.start_at, q.due_at, now);
    let name = |id: Option<&str>| -> String {
        id.map(|id| d.names.get(id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default()
    };
    let before: Vec<&CasePhoto> = d.photos.iter().filter(|p| p.owner_kind == "case").collect();
    let after: Vec<&CasePhoto> = d
        .photos
        .iter()
        .filter(|p| p.owner_kind == "verification")
        .collect();
    let point = match (
        c.get("lng").and_then(Value::as_f64),
        c.get("lat").and_then(Value::as_f64),
    ) {
        (Some(lng), Some(lat)) => Some((lng, lat)),
        _ => None,
    };
    let pins: Vec<Pin<'_>> = point
        .map(|(lng, lat)| Pin {
            lng,
            lat,
            class: l.as_str(),
            label: t.location,
        })
        .into_iter()
        .collect();
    let actions = cases::allowed_actions(ctx.user.role, status);
    html! {
        div.grid2 data-case=(d.case.id) data-status=(status) {
            div {
                section.card {
                    h2 { (t.case_title) }
                    dl.facts {
                        (fact(t.col_light, html! { (light_badge(lang, l)) " " (time_left(lang, status, q.due_at, now)) }))
                        (fact(t.category, html! { (lang.category(s("category_code").unwrap_or(""))) " / " (lang.case_type(s("type_code").unwrap_or(""))) }))
                        (fact(t.urgency, html! { span class={"urgency " (s("urgency").unwrap_or("normal"))} { (lang.urgency(s("urgency").unwrap_or("normal"))) } }))
                        (fact(t.status, html! { span data-field="status" { (lang.case_status(status)) } }))
                        (fact(t.grid, html! { (d.grid_name) " (" (d.case.grid_code) ")" }))
                        @if let Some(a) = s("address") { (fact(t.col_address, html! { (a) })) }
                        // The account's name; the device's free-text reporter only when there is no account.
                        (fact(t.reporter, html! { @match s("reporter_user") {
                            Some(u) => { (name(Some(u))) }
                            None => { (s("reporter").unwrap_or("")) }
                        } }))
                        @if let Some(r) = i("received_at") { (fact(t.received, html! { (datetime(r)) })) }
                        @if let Some(dl) = i("deadline_at") { (fact(t.deadline, html! { (datetime(dl)) })) }
                        @if let Some(a) = s("assignee") { (fact(t.assigned_to, html! { (a) })) }
                        @if let Some(e) = s("escalated_to") { (fact(t.escalated_to, html! { (e) })) }
                        @if let Some(score) = i("evaluation_score") {
                            (fact(t.evaluation, html! { span data-field="evaluation" { (score) " / 5" }
                                @if let Some(n) = s("evaluation_note") { " · " (n) } }))
                        }
                        @if let Some(reached) = c.get("callback_reached").and_then(Value::as_bool) {
                            (fact(t.callback, html! { span data-field="callback" {
                                @if reached { (t.reached_yes) } @else { (t.reached_no) }
                                @if let Some(sat) = s("callback_satisfaction") { " · " (lang.satisfaction(sat)) } }
                                @if let Some(n) = s("callback_note") { " · " (n) } }))
                        }
                        @if let Some(n) = i("reopened_count").filter(|n| *n > 0) { (fact(t.reopened, html! { (n) })) }
                    }
                    @if let Some(desc) = s("description") {
                        h2 { (t.description) }
                        p.description { (desc) }
                    }
                }
                section.card {
                    h2 { (t.photos_before) }
                    (photo_list(lang, &before))
                    h2 { (t.photos_after) }
                    (photo_list(lang, &after))
                }
                section.card {
                    h2 { (t.timeline) }
                    ol.timeline {
                        @for e in &d.events { (event(lang, e, &name)) }
                    }
                }
            }
            div {
                section.card.actions {
                    h2 { (t.actions) }
                    @if actions.is_empty() {
                        p.empty { (t.no_actions) }
                    }
                    @for a in &actions { (action_form(ctx, &d.case.id, *a)) }
                }
                section.card {
                    h2 { (t.location) }
                    @match map::svg(d.boundary.as_ref(), &pins, 420.0, 300.0, t.map_caption) {
                        Some(svg) => { figure { (svg) figcaption { (t.map_caption) } } }
                        None => { p.empty { (t.no_location) } }
                    }
                    @if point.is_none() { p.empty { (t.no_location) } }
                    @if c.get("outside_grid").and_then(Value::as_bool) == Some(true) { p.error { (t.outside_grid) } }
                }
                @if !d.tasks.is_empty() {
                    section.card {
                        h2 { (t.related_tasks) }
                        ul.tasks {
                            @for task in &d.tasks {
                                @let st = task.str_field("status").unwrap_or("open");
                                li data-task-kind=(task.str_field("kind").unwrap_or("")) data-task-status=(st) {
                                    (lang.task_kind(task.str_field("kind").unwrap_or(""))) " · "
                                    (name(task.str_field("assignee"))) " · "
                                    (task.str_field("due_on").unwrap_or("")) " "
                                    span class={"badge " (st)} { (lang.task_status(st)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn photo_list(lang: Lang, photos: &[&CasePhoto]) -> Markup {
    let t = lang.texts();
    html! {
        @if photos.is_empty() {
            p.empty { (t.no_photos) }
        } @else {
            div.photos {
                @for p in photos {
                    figure data-photo=(p.id) {
                        @if p.served {
                            a href=(photos::url(&p.sha256, &p.id)) {
                                img src=(photos::url(&p.sha256, &p.id)) alt=(t.photos_before) loading="lazy";
                            }
                        } @else {
                            div.pending { (t.photo_pending) }
                        }
                        @if let Some(at) = p.taken_at { figcaption { (datetime(at)) } }
                    }
                }
            }
        }
    }
}

fn event(
    lang: Lang,
    e: &serde_json::Map<String, Value>,
    name: &dyn Fn(Option<&str>) -> String,
) -> Markup {
    let t = lang.texts();
    let s = |k: &str| e.get(k).and_then(Value::as_str);
    let kind = s("kind").unwrap_or("");
    let what = match (kind, s("action")) {
        ("server_update", Some(a)) => lang.action(a).to_string(),
        (k, _) => lang.event_kind(k).to_string(),
    };
    html! {
        li data-kind=(kind) data-event-action=[s("action")] {
            @if let Some(at) = e.get("at").and_then(Value::as_i64) { span.when { (datetime(at)) } }
            strong { (what) }
            @if let Some(st) = s("status") { " → " (lang.case_status(st)) }
            @if let Some(a) = s("actor") { " · " (t.by) " " (name(Some(a))) }
            @if let Some(a) = s("assignee") { " · " (t.assigned_to) " " (a) }
            @if let Some(sc) = e.get("evaluation_score").and_then(Value::as_i64) { " · " (t.score) " " (sc) }
            @if let Some(sat) = s("callback_satisfaction") { " · " (lang.satisfaction(sat)) }
            @if e.get("callback_reached").and_then(Value::as_bool) == Some(false) { " · " (t.reached_no) }
            @if let Some(n) = s("note").filter(|n| !n.is_empty()) { span.note { (n) } }
        }
    }
}

fn action_form(ctx: &Ctx, case_id: &str, a: Action) -> Markup {
    let lang = ctx.lang;
    let t = ctx.t();
    let label = lang.action(a.as_str());
    let confirm = matches!(a, Action::Archive | Action::Return | Action::Reopen).then_some(label);
    let callback = (a == Action::RecordCallBack).then_some("1");
    html! {
        form.action method="post" action={(BASE) "/cases/" (case_id) "/actions"}
            data-action=(a.as_str()) data-confirm=[confirm] data-callback=[callback] {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value=(a.as_str());
            @match a.needs() {
                Needs::Nothing => {}
                Needs::Assignee => {
                    label { (t.assignee) input name="assignee" required maxlength="100"; }
                    label { (t.note_optional) textarea name="reason" maxlength="1000" rows="2" {} }
                }
                Needs::Reason => {
                    label { (t.reason_required) textarea name="reason" required maxlength="1000" rows="2" {} }
                }
                Needs::Note => {
                    label { (t.note_optional) textarea name="reason" maxlength="1000" rows="2" {} }
                }
                Needs::Score => {
                    label { (t.score)
                        select name="score" required {
                            option value="" { "—" }
                            @for n in (1..=5).rev() { option value=(n) { (n) } }
                        }
                    }
                    label { (t.note_optional) textarea name="reason" maxlength="1000" rows="2" {} }
                }
                Needs::CallBack => {
                    fieldset {
                        legend { (t.reached) }
                        label { input type="radio" name="reached" value="true" required; (t.reached_yes) }
                        label { input type="radio" name="reached" value="false"; (t.reached_no) }
                    }
                    fieldset data-satisfaction {
                        legend { (t.satisfaction) }
                        @for sat in cases::SATISFACTION {
                            label { input type="radio" name="satisfaction" value=(sat); (lang.satisfaction(sat)) }
                        }
                    }
                    p.hint { (t.unsatisfied_reopens) }
                    label { (t.note_optional) textarea name="reason" maxlength="1000" rows="2" {} }
                }
            }
            button type="submit" { (label) }
        }
    }
}

/// Reads an action form into the API's request; `Err(field)` for a value it cannot hold.
pub fn parse_action(
    form: &std::collections::HashMap<String, String>,
) -> Result<ActionRequest, String> {
    let get = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let action = get("action")
        .and_then(Action::parse)
        .ok_or_else(|| "action".to_string())?;
    let score = match get("score") {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| "score".to_string())?),
    };
    let reached = match get("reached") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err("reached".into()),
    };
    Ok(ActionRequest {
        action,
        reason: get("reason").map(str::to_string),
        assignee: get("assignee").map(str::to_string),
        score,
        reached,
        satisfaction: get("satisfaction").map(str::to_string),
    })
}

/// `POST /console/cases/{id}/actions`: runs the action, then back to the case page.
pub async fn act(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    if !valid_id(&id) {
        return Err(ctx.fail(Fail::NotFound));
    }
    let req = parse_action(&form).map_err(|f| ctx.fail(Fail::Invalid(f)))?;
    if !ctx.user.role.is_supervisor() {
        return Err(ctx.fail(Fail::Forbidden));
    }
    let (who, case_id) = (ctx.who.clone(), id.clone());
    let action = req.action;
    let storage = state.storage.clone();
    let done =
        tokio::task::spawn_blocking(move || storage.case_action(&who, &case_id, &req, now_ms()))
            .await
            .map_err(|_| ctx.fail(Fail::Internal))?;
    match done {
        Ok(Ok(_)) => {
            tracing::info!(user = %ctx.who.user_id, case = %id, action = action.as_str(), "console case action");
            Ok(redirect(&format!("{BASE}/cases/{id}")))
        }
        Ok(Err(reason)) if reason.code == gridwalk_protocol::codes::INVALID => Err(ctx.fail(
            Fail::Invalid(reason.field.unwrap_or_else(|| "action".into())),
        )),
        Ok(Err(reason)) => Err(ctx.fail(Fail::Refused(reason.message))),
        Err(Error::NotFound { .. }) => Err(ctx.fail(Fail::NotFound)),
        Err(e) => {
            tracing::error!(error = %e, "console case action failed");
            Err(ctx.fail(Fail::Internal))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn action_forms_parse_into_api_requests() {
        let r = parse_action(&form(&[
            ("action", "evaluate"),
            ("score", "4"),
            ("reason", " 及时 "),
        ]))
        .unwrap();
        assert_eq!(r.action, Action::Evaluate);
        assert_eq!(r.score, Some(4));
        assert_eq!(r.reason.as_deref(), Some("及时"));
        let r = parse_action(&form(&[
            ("action", "record_call_back"),
            ("reached", "true"),
            ("satisfaction", "unsatisfied"),
        ]))
        .unwrap();
        assert_eq!(r.reached, Some(true));
        assert_eq!(r.satisfaction.as_deref(), Some("unsatisfied"));
        assert_eq!(
            parse_action(&form(&[("action", "fly")])),
            Err("action".into())
        );
        assert_eq!(
            parse_action(&form(&[("action", "evaluate"), ("score", "x")])),
            Err("score".into())
        );
        assert_eq!(
            parse_action(&form(&[
                ("action", "record_call_back"),
                ("reached", "maybe")
            ])),
            Err("reached".into())
        );
    }
}
