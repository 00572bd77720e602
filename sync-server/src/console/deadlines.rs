//! Case deadlines per category × urgency (处置时限): every supervisor reads them, the district
//! changes them. They live in the `case_deadlines` table the state machine reads when it
//! accepts or reopens a case ([`crate::cases`]), so the queue's lights follow them from then on.

use axum::extract::State;
use axum::response::Response;
use gridwalk_protocol::Role;
use maud::html;

use super::layout::{self, Nav};
use super::session::{redirect, Ctx, BASE};
use super::{Fail, Failure, FormMap};
use crate::http::blocking;
use crate::AppState;

/// Longest deadline a district may set: a year.
pub const MAX_HOURS: i64 = 366 * 24;

fn field(cat: &str, urgency: &str) -> String {
    format!("h_{cat}_{urgency}")
}

/// `GET /console/deadlines`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Failure> {
    let rows = blocking(&state, |s| s.case_deadlines())
        .await
        .map_err(Failure::from_api(ctx.lang))?;
    let lang = ctx.lang;
    let t = ctx.t();
    let editable = ctx.user.role == Role::District;
    let hours = |cat: &str, u: &str| {
        rows.iter()
            .find(|d| d.category_code == cat && d.urgency == u)
            .map(|d| d.hours)
    };
    let urgencies = gridwalk_domain::model::Urgency::ALL;
    let table = html! {
        table.deadlines {
            thead { tr {
                th { (t.category) }
                @for u in urgencies { th { (lang.pick(u.label_zh(), u.label_en())) " (" (t.hours) ")" } }
            } }
            tbody {
                @for c in gridwalk_domain::taxonomy::CATEGORIES {
                    tr data-category=(c.0) {
                        td { (lang.pick(c.1, c.2)) }
                        @for u in urgencies {
                            @let h = hours(c.0, u.as_str());
                            td {
                                @if editable {
                                    input type="number" name=(field(c.0, u.as_str())) min="1" max=(MAX_HOURS)
                                        required value=[h] aria-label={(lang.pick(c.1, c.2)) " " (lang.pick(u.label_zh(), u.label_en()))};
                                } @else {
                                    @match h { Some(h) => { (h) } None => { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        @if query.contains_key("saved") { p.notice role="status" { (t.saved) } }
        p.hint { (t.deadlines_intro) }
        @if editable {
            form method="post" action={(BASE) "/deadlines"} {
                input type="hidden" name="csrf" value=(ctx.csrf);
                (table)
                p { button type="submit" { (t.save) } }
            }
        } @else {
            (table)
            p.hint { (t.district_only) }
        }
    };
    Ok(layout::page(&ctx, Nav::Deadlines, t.deadlines_title, body))
}

/// `POST /console/deadlines` (district only): every cell is checked before any is written.
pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    if ctx.user.role != Role::District {
        return Err(ctx.fail(Fail::Forbidden));
    }
    let mut cells = Vec::new();
    for c in gridwalk_domain::taxonomy::CATEGORIES {
        for u in gridwalk_domain::model::Urgency::ALL {
            let name = field(c.0, u.as_str());
            let Some(v) = form.get(&name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
                continue;
            };
            match v.parse::<i64>() {
                Ok(h) if (1..=MAX_HOURS).contains(&h) => cells.push((c.0, u.as_str(), h)),
                _ => return Err(ctx.fail(Fail::Invalid(name))),
            }
        }
    }
    let n = cells.len();
    blocking(&state, move |s| {
        for (cat, urgency, hours) in cells {
            s.set_case_deadline(cat, urgency, hours)?;
        }
        Ok(())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    tracing::info!(user = %ctx.who.user_id, cells = n, "console deadlines saved");
    Ok(redirect(&format!("{BASE}/deadlines?saved=1")))
}
