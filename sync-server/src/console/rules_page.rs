//! The warning rules page (预警规则): every supervisor reads the rules in force; the district
//! edits them (a CSRF-checked form, validated by `WarningRules::validate` before saving, so a
//! bad value is refused naming its field and nothing changes).

use axum::extract::State;
use axum::response::Response;
use gridwalk_domain::model::CareTier;
use maud::html;

use super::layout::{self, Nav};
use super::session::{redirect, Ctx, BASE};
use super::warning_rules::{self, WarningRules};
use super::{Fail, Failure, FormMap};
use crate::http::{blocking, now_ms};
use crate::AppState;

/// `GET /console/warning-rules`.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, Failure> {
    let rules = blocking(&state, |s| warning_rules::load(s))
        .await
        .map_err(Failure::from_api(ctx.lang))?;
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let edit = warning_rules::may_edit(ctx.who.role);
    let dis = !edit;
    let body = html! {
        @if !edit { p.notice { (l("只有区级可以修改预警规则。", "Only the district edits the warning rules.")) } }
        form.rules method="post" action={(BASE) "/warning-rules"} {
            input type="hidden" name="csrf" value=(ctx.csrf);
            fieldset {
                legend { (l("走访频次（与手机端今日待办一致）", "Visit policy (the phones' daily list uses the same)")) }
                table.policy {
                    thead { tr { th { (l("关怀等级", "Care tier")) } th { (l("规则", "Rule")) } th { (l("间隔天数", "Every (days)")) } } }
                    tbody {
                        @for (i, r) in rules.visit_policy.rules.iter().enumerate() {
                            tr {
                                td { (ctx.lang.pick(r.care_tier.label_zh(), r.care_tier.label_en())) }
                                td { (if r.is_home_visit() { l("入户走访", "home visit") } else { l("任意联系", "any contact") }) }
                                td { input type="number" min="1" max="366" name={"interval." (i)} value=(r.interval_days) disabled[dis]; }
                            }
                        }
                    }
                }
                p { (l("预警的关怀等级：", "Tiers that raise warnings: "))
                    @for tier in CareTier::ALL {
                        label.check { input type="checkbox" name={"tier." (tier.as_str())} checked[rules.visit_tiers.contains(tier)] disabled[dis];
                            (ctx.lang.pick(tier.label_zh(), tier.label_en())) } " "
                    }
                }
                label { (l("超期多少天转红（空 = 等于间隔天数）", "Days overdue before red (blank = the interval)"))
                    input type="number" min="1" max="366" name="red_after_days" value=(rules.red_after_days.map(|d| d.to_string()).unwrap_or_default()) disabled[dis]; }
            }
            fieldset {
                legend { (l("巡查（一日双巡）", "Patrols (twice a day)")) }
                label { (l("每日次数", "Per day")) input type="number" min="1" max="10" name="patrol.quota" value=(rules.patrol.quota) disabled[dis]; }
                label { (l("最短分钟", "Minimum minutes")) input type="number" min="0" max="240" name="patrol.min_minutes" value=(rules.patrol.min_minutes) disabled[dis]; }
                label { (l("最短米数", "Minimum metres")) input type="number" min="0" max="10000" name="patrol.min_distance_m" value=(rules.patrol.min_distance_m) disabled[dis]; }
                label { (l("当日检查时刻（时）", "Check today after (hour)")) input type="number" min="0" max="23" name="patrol_check_hour" value=(rules.patrol_check_hour) disabled[dis]; }
            }
            fieldset {
                legend { (l("事件", "Cases")) }
                p { (l("未结案即红色的隐患类别：", "Hazard categories, red until closed: "))
                    @for (code, zh, en) in gridwalk_domain::taxonomy::CATEGORIES {
                        label.check { input type="checkbox" name={"hazard." (code)} checked[rules.hazard_categories.iter().any(|c| c == code)] disabled[dis];
                            (ctx.lang.pick(zh, en)) } " "
                    }
                }
                label { (l("未受理转黄（小时）", "Not accepted within (hours)")) input type="number" min="1" max="720" name="unaccepted_hours" value=(rules.unaccepted_hours) disabled[dis]; }
                label.check { input type="checkbox" name="overdue_cases" checked[rules.overdue_cases] disabled[dis]; (l("超过处置时限转红", "Past the deadline is red")) }
                label.check { input type="checkbox" name="outside_grid" checked[rules.outside_grid] disabled[dis]; (l("住户定位不在本网格转黄", "Household outside its grid is yellow")) }
            }
            @if edit { button type="submit" { (l("保存规则", "Save the rules")) } }
        }
    };
    Ok(layout::page(
        &ctx,
        Nav::Warnings,
        l("预警规则", "Warning rules"),
        body,
    ))
}

fn num<T: std::str::FromStr>(
    form: &std::collections::HashMap<String, String>,
    k: &str,
) -> Result<T, String> {
    form.get(k)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| k.to_string())
}

/// `POST /console/warning-rules` (district only).
pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    if !warning_rules::may_edit(ctx.who.role) {
        return Err(ctx.fail(Fail::Forbidden));
    }
    let mut rules: WarningRules = blocking(&state, |s| warning_rules::load(s))
        .await
        .map_err(Failure::from_api(ctx.lang))?;
    let parsed = (|| -> Result<(), String> {
        for (i, r) in rules.visit_policy.rules.iter_mut().enumerate() {
            r.interval_days = num(&form, &format!("interval.{i}"))?;
        }
        rules.visit_tiers = CareTier::ALL
            .iter()
            .copied()
            .filter(|t| form.contains_key(&format!("tier.{}", t.as_str())))
            .collect();
        rules.red_after_days = match form.get("red_after_days").map(|v| v.trim()) {
            None | Some("") => None,
            Some(_) => Some(num(&form, "red_after_days")?),
        };
        rules.patrol.quota = num(&form, "patrol.quota")?;
        rules.patrol.min_minutes = num(&form, "patrol.min_minutes")?;
        rules.patrol.min_distance_m = num(&form, "patrol.min_distance_m")?;
        rules.patrol_check_hour = num(&form, "patrol_check_hour")?;
        rules.hazard_categories = gridwalk_domain::taxonomy::CATEGORIES
            .iter()
            .filter(|c| form.contains_key(&format!("hazard.{}", c.0)))
            .map(|c| c.0.to_string())
            .collect();
        rules.unaccepted_hours = num(&form, "unaccepted_hours")?;
        rules.overdue_cases = form.contains_key("overdue_cases");
        rules.outside_grid = form.contains_key("outside_grid");
        Ok(())
    })();
    if let Err(field) = parsed {
        return Err(ctx.fail(Fail::Invalid(field)));
    }
    let by = ctx.who.user_id.clone();
    let r = blocking(&state, move |s| {
        warning_rules::save(s, &rules, &by, now_ms())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    match r {
        Ok(()) => Ok(redirect(&format!("{BASE}/warning-rules"))),
        Err(e) => Err(ctx.fail(Fail::Invalid(e.field))),
    }
}
