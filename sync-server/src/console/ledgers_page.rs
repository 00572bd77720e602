//! The ledgers page (台账): households or residents of the scope, searchable and paged, with ID
//! numbers and phones masked. A resident's number is revealed by a form that requires a reason;
//! the answer page shows it once, after the audit entry is written. Exports (CSV, .xlsx) are
//! masked; an unmasked export is a form with a reason for the roles allowed. The audit log page
//! (`/console/audit`) is the district's.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gridwalk_sheet::SheetFormat;
use maud::html;

use super::audit;
use super::i18n::datetime;
use super::layout::{self, Nav};
use super::ledger_export::{self, ExportRefusal, ExportSpec, LedgerKind};
use super::ledgers::{self, Ledger, RevealRefusal};
use super::session::{urlencode, Ctx, BASE};
use super::{Fail, Failure, FormMap};
use crate::http::{blocking, now_ms};
use crate::AppState;

const PAGE: usize = 50;

/// `GET /console/ledgers?kind=residents|households&unit=&q=&offset=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let households = get("kind").as_deref() == Some("households");
    let unit = get("unit");
    let search = get("q");
    let offset: usize = get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let who = ctx.who.clone();
    let (u, s2) = (unit.clone(), search.clone());
    let (hh, rs) = blocking(&state, move |s| {
        let l = Ledger::load(s, &who, u.as_deref())?;
        Ok(if households {
            (
                Some(ledgers::page(
                    l.household_rows(s2.as_deref()),
                    Some(offset),
                    Some(PAGE),
                )),
                None,
            )
        } else {
            (
                None,
                Some(ledgers::page(
                    l.resident_rows(s2.as_deref()),
                    Some(offset),
                    Some(PAGE),
                )),
            )
        })
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let kind = if households {
        "households"
    } else {
        "residents"
    };
    let keep = format!(
        "kind={kind}&unit={}&q={}",
        urlencode(unit.as_deref().unwrap_or("")),
        urlencode(search.as_deref().unwrap_or(""))
    );
    let total = hh
        .as_ref()
        .map(|p| p.total)
        .or(rs.as_ref().map(|p| p.total))
        .unwrap_or(0);
    let body = html! {
        nav.tabs {
            a href={(BASE) "/ledgers?kind=residents"} aria-current=[(!households).then_some("page")] { (l("人口台账", "Residents")) } " "
            a href={(BASE) "/ledgers?kind=households"} aria-current=[households.then_some("page")] { (l("房屋台账", "Households")) } " "
            @if ctx.who.role == gridwalk_protocol::Role::District {
                a href={(BASE) "/audit"} { (l("查看审计日志", "Audit log")) }
            }
        }
        form.filters method="get" action={(BASE) "/ledgers"} {
            input type="hidden" name="kind" value=(kind);
            label { (l("单元代码", "Unit code")) input name="unit" value=(unit.as_deref().unwrap_or("")) size="16"; }
            label { (l("姓名、地址或证件/手机号后四位", "Name, address or last 4 digits"))
                input name="q" value=(search.as_deref().unwrap_or("")) size="20"; }
            button type="submit" { (l("查询", "Search")) }
        }
        p.export {
            (l("导出（脱敏）：", "Export (masked): "))
            a href={(BASE) "/data/ledgers/export?format=xlsx&" (keep)} { "Excel (.xlsx)" } " · "
            a href={(BASE) "/data/ledgers/export?format=csv&" (keep)} { "CSV" }
        }
        @if ledgers::may_export_unmasked(ctx.who.role) {
            form.unmasked method="post" action={(BASE) "/ledgers/export"} {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="kind" value=(kind);
                input type="hidden" name="unit" value=(unit.as_deref().unwrap_or(""));
                label { (l("明文导出理由（将记入审计日志）", "Reason for an unmasked export (audited)"))
                    input name="reason" required maxlength="200" size="30"; }
                button.secondary type="submit" { (l("明文导出 .xlsx", "Export unmasked .xlsx")) }
            }
        }
        p data-total=(total) { (l("共 ", "")) (total) (l(" 条", " rows")) }
        @if let Some(p) = &hh {
            table.ledger {
                thead { tr {
                    th { (l("网格", "Grid")) } th { (l("地址", "Address")) } th { (l("住房类型", "Housing")) }
                    th { (l("关怀等级", "Care tier")) } th { (l("在册人数", "Residents")) }
                } }
                tbody { @for h in &p.rows { tr data-household=(h.id) {
                    td { (h.grid_name) } td { (h.address) } td { (h.housing_type) }
                    td { (h.care_tier_zh) } td { (h.residents) }
                } } }
            }
        }
        @if let Some(p) = &rs {
            table.ledger {
                thead { tr {
                    th { (l("姓名", "Name")) } th { (l("住址", "Address")) } th { (l("身份证号", "ID number")) }
                    th { (l("手机号", "Phone")) } th { (l("关系", "Relation")) } th { (l("特殊人群", "Special groups")) }
                    th { (l("查看明文", "Reveal")) }
                } }
                tbody { @for r in &p.rows { tr data-resident=(r.id) {
                    td { (r.name) } td { (r.address) }
                    td data-field="id_number" { (r.id_number.as_deref().unwrap_or("—")) }
                    td data-field="phone" { (r.phone.as_deref().unwrap_or("—")) }
                    td { (r.relation) } td { (r.special_groups.join("、")) }
                    td {
                        form.reveal method="post" action={(BASE) "/ledgers/reveal"} {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            input type="hidden" name="resident_id" value=(r.id);
                            select name="field" aria-label=(l("字段", "Field")) {
                                option value="id_number" { (l("身份证号", "ID number")) }
                                option value="phone" { (l("手机号", "Phone")) }
                            }
                            input name="reason" required maxlength="200" placeholder=(l("查看理由", "Reason")) size="10";
                            button.secondary type="submit" { (l("查看", "Reveal")) }
                        }
                    }
                } } }
            }
        }
        p.pager {
            @if offset > 0 { a href={(BASE) "/ledgers?" (keep) "&offset=" (offset.saturating_sub(PAGE))} { (l("上一页", "Previous")) } " " }
            @if offset + PAGE < total { a href={(BASE) "/ledgers?" (keep) "&offset=" (offset + PAGE)} { (l("下一页", "Next")) } }
        }
    };
    Ok(layout::page(&ctx, Nav::Ledgers, l("台账", "Ledgers"), body))
}

/// `POST /console/ledgers/reveal` (form: csrf, resident_id, field, reason).
pub async fn reveal(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    let g = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (id, field, reason) = (g("resident_id"), g("field"), g("reason"));
    let who = ctx.who.clone();
    let r = blocking(&state, move |s| {
        ledgers::reveal(s, &who, &id, &field, &reason, now_ms())
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let v = match r {
        Ok(v) => v,
        Err(RevealRefusal::NotFound) => return Err(ctx.fail(Fail::NotFound)),
        Err(RevealRefusal::NotAllowed) => return Err(ctx.fail(Fail::Forbidden)),
        Err(RevealRefusal::ReasonRequired) => return Err(ctx.fail(Fail::Invalid("reason".into()))),
        Err(RevealRefusal::BadField) => return Err(ctx.fail(Fail::Invalid("field".into()))),
        Err(RevealRefusal::Empty) => return Err(ctx.fail(Fail::Invalid("field".into()))),
    };
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let body = html! {
        p.notice role="status" { (l("本次查看已记入审计日志（第 ", "This reveal is in the audit log (entry "))
            (v.audit_seq) (l(" 条）。", ").")) }
        dl.revealed {
            dt { (if v.field == "phone" { l("手机号", "Phone") } else { l("身份证号", "ID number") }) }
            dd data-revealed=(v.field) { (v.value) }
        }
        p { a href={(BASE) "/ledgers"} { (l("返回台账", "Back to the ledgers")) } }
    };
    let mut res = layout::page(&ctx, Nav::Ledgers, l("查看明文", "Revealed value"), body);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// `POST /console/ledgers/export` (form: csrf, kind, unit, reason): an unmasked .xlsx.
pub async fn export_unmasked(
    State(state): State<AppState>,
    ctx: Ctx,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    let kind = match form.get("kind").map(String::as_str) {
        Some("households") => LedgerKind::Households,
        _ => LedgerKind::Residents,
    };
    let unit = form.get("unit").cloned().filter(|u| !u.is_empty());
    let reason = form.get("reason").cloned().unwrap_or_default();
    let who = ctx.who.clone();
    let r = blocking(&state, move |s| {
        ledger_export::export(
            s,
            &who,
            ExportSpec {
                kind,
                unit: unit.as_deref(),
                q: None,
                format: SheetFormat::Xlsx,
                unmasked_reason: Some(&reason),
            },
            now_ms(),
        )
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let file = match r {
        Ok(f) => f,
        Err(ExportRefusal::NotAllowed) => return Err(ctx.fail(Fail::Forbidden)),
        Err(ExportRefusal::ReasonRequired) => return Err(ctx.fail(Fail::Invalid("reason".into()))),
    };
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{}",
                    urlencode(&file.file_name)
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        file.bytes,
    )
        .into_response())
}

/// `GET /console/audit`: the audit log and whether its chain holds (district only).
pub async fn audit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    if ctx.who.role != gridwalk_protocol::Role::District {
        return Err(ctx.fail(Fail::Forbidden));
    }
    let after: i64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let (rows, verdict) = blocking(&state, move |s| {
        Ok((s.audit_rows(after, 200)?, audit::verify(s)?))
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let body = html! {
        @match &verdict.first_break {
            None => p.notice data-chain="ok" { (l("哈希链完整，共 ", "The hash chain holds: ")) (verdict.entries) (l(" 条。", " entries.")) },
            Some(b) => p.error role="alert" data-chain="broken" { (b.to_string()) },
        }
        table.audit {
            thead { tr {
                th { "#" } th { (l("时间", "When")) } th { (l("用户", "Who")) } th { (l("操作", "Action")) }
                th { (l("记录", "Record")) } th { (l("字段", "Field")) } th { (l("理由", "Reason")) } th { (l("哈希", "Hash")) }
            } }
            tbody { @for r in &rows { tr data-seq=(r.seq) {
                td { (r.seq) } td { (datetime(r.draft.at)) } td { (r.draft.username) }
                td { (if r.draft.action == audit::ACTION_REVEAL { l("查看明文", "reveal") } else { l("明文导出", "unmasked export") }) }
                td { code { (r.draft.entity) ":" (r.draft.record_id) } } td { (r.draft.field) } td { (r.draft.reason) }
                td { code { (r.hash.get(..12).unwrap_or("")) "…" } }
            } } }
        }
    };
    Ok(layout::page(
        &ctx,
        Nav::Ledgers,
        l("审计日志", "Audit log"),
        body,
    ))
}
