//! The work statistics page (工作统计): per worker and per grid, community and street, for
//! today, this week or this month ([`super::workers`]).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};

use super::i18n::{datetime, Lang};
use super::layout::{self, Nav};
use super::session::{Ctx, BASE};
use super::workers::{self, Figures, Period};
use super::{Fail, Failure};
use crate::http::{blocking, now_ms};
use crate::AppState;

fn visits(lang: Lang, f: &Figures) -> String {
    if f.visits.is_empty() {
        return "0".into();
    }
    f.visits
        .iter()
        .map(|(m, n)| {
            let label = m
                .parse::<gridwalk_domain::model::VisitMode>()
                .map_or(m.as_str(), |v| lang.pick(v.label_zh(), v.label_en()));
            format!("{label} {n}")
        })
        .collect::<Vec<_>>()
        .join("，")
}

fn overdue(lang: Lang, f: &Figures) -> String {
    if f.overdue_by_tier.is_empty() {
        return "0".into();
    }
    f.overdue_by_tier
        .iter()
        .map(|(t, n)| {
            let label = t
                .parse::<gridwalk_domain::model::CareTier>()
                .map_or(t.as_str(), |v| lang.pick(v.label_zh(), v.label_en()));
            format!("{label} {n}")
        })
        .collect::<Vec<_>>()
        .join("，")
}

fn cells(lang: Lang, f: &Figures) -> Markup {
    html! {
        td data-field="visits" { (visits(lang, f)) }
        td data-field="patrols" class=[(f.patrols < f.patrol_quota).then_some("short")] { (f.patrols) " / " (f.patrol_quota) }
        td { (format!("{:.0}", f.patrol_minutes)) }
        td { (format!("{:.2}", f.patrol_km)) }
        td data-field="cases" { (f.cases_filed) }
        td data-field="overdue" { (overdue(lang, f)) }
    }
}

/// `GET /console/workers?period=day|week|month&unit=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let period = match q.get("period").map(String::as_str) {
        None | Some("" | "day") => Period::Day,
        Some("week") => Period::Week,
        Some("month") => Period::Month,
        Some(_) => return Err(ctx.fail(Fail::Invalid("period".into()))),
    };
    let unit = q
        .get("unit")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let who = ctx.who.clone();
    let u = unit.clone();
    let stats = blocking(&state, move |s| {
        workers::stats(s, &who, u.as_deref(), period, now_ms())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let lang = ctx.lang;
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let head = html! {
        th { (l("走访（按方式）", "Visits by mode")) } th { (l("有效巡查 / 应巡", "Patrols / quota")) }
        th { (l("巡查分钟", "Patrol min")) } th { (l("巡查公里", "Patrol km")) }
        th { (l("上报事件", "Cases filed")) } th { (l("走访超期（按等级）", "Visits overdue by tier")) }
    };
    let body = html! {
        form.filters method="get" action={(BASE) "/workers"} {
            label { (l("周期", "Period"))
                select name="period" {
                    option value="day" selected[period == Period::Day] { (l("今日", "Today")) }
                    option value="week" selected[period == Period::Week] { (l("本周", "This week")) }
                    option value="month" selected[period == Period::Month] { (l("本月", "This month")) }
                }
            }
            label { (l("单元代码", "Unit code")) input name="unit" value=(unit.as_deref().unwrap_or("")) size="16"; }
            button type="submit" { (l("查看", "Show")) }
        }
        p { (stats.from) " — " (stats.to) }
        h2 { (l("网格员", "Workers")) }
        table.workers {
            thead { tr { th { (l("网格员", "Worker")) } th { (l("最近同步", "Last sync")) } (head) } }
            tbody {
                @for w in &stats.workers {
                    tr data-worker=(w.username) {
                        td { (w.display_name) " " small { (w.grids.join(", ")) } }
                        td { (w.last_sync.map(datetime).unwrap_or_else(|| l("从未", "never").into())) }
                        (cells(lang, &w.figures))
                    }
                }
            }
        }
        h2 { (l("按网格、社区、街道汇总", "Per grid, community and street")) }
        table.units {
            thead { tr { th { (l("单元", "Unit")) } th { (l("网格员数", "Workers")) } (head) } }
            tbody {
                @for u in &stats.units {
                    tr data-unit=(u.code) data-level=(u.level) {
                        td { (u.name) " " small { (u.code) } }
                        td { (u.workers) }
                        (cells(lang, &u.figures))
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &ctx,
        Nav::Workers,
        l("工作统计", "Work statistics"),
        body,
    ))
}
