//! The case queue (事件工单): the scope's cases sorted by time left, filtered by status,
//! category, grid, urgency, reporter and overdue, with a deadline light per row, counts per
//! status and keyset paging (`after` / `before` = `sort_key.id` of the edge row).
//!
//! The light rule ([`crate::cases::light`]): red = past due; yellow = under a quarter of the
//! allowed time left; green = otherwise; grey = no clock runs (verified, closed, archived,
//! returned). A reported case's clock is its acceptance limit (`cases::ACCEPT_HOURS`); from
//! acceptance it is the deadline of its category × urgency.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};

use super::i18n::{datetime, Lang};
use super::layout::{self, Nav};
use super::session::{urlencode, Ctx, BASE};
use super::store::{PageAt, QueueFilter, QueueRow};
use super::{Fail, Failure};
use crate::cases::{light, Light};
use crate::http::{blocking, now_ms};

/// Rows per page.
pub const PAGE_ROWS: usize = 50;

fn id_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Reads the filters of a query string; `Err(field)` for a value no filter can take.
pub fn parse_filter(q: &HashMap<String, String>) -> Result<QueueFilter, String> {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut f = QueueFilter::default();
    if let Some(s) = get("status") {
        if !gridwalk_domain::model::CaseStatus::ALL
            .iter()
            .any(|c| c.as_str() == s)
        {
            return Err("status".into());
        }
        f.status = Some(s.to_string());
    }
    if let Some(c) = get("category") {
        if !gridwalk_domain::taxonomy::CATEGORIES
            .iter()
            .any(|x| x.0 == c)
        {
            return Err("category".into());
        }
        f.category = Some(c.to_string());
    }
    if let Some(u) = get("urgency") {
        if !gridwalk_domain::model::Urgency::ALL
            .iter()
            .any(|x| x.as_str() == u)
        {
            return Err("urgency".into());
        }
        f.urgency = Some(u.to_string());
    }
    if let Some(g) = get("grid") {
        if !id_like(g) {
            return Err("grid".into());
        }
        f.grid = Some(g.to_string());
    }
    if let Some(r) = get("reporter") {
        if !id_like(r) {
            return Err("reporter".into());
        }
        f.reporter = Some(r.to_string());
    }
    f.overdue = match get("overdue") {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err("overdue".into()),
    };
    Ok(f)
}

/// Reads `after` / `before`.
pub fn parse_at(q: &HashMap<String, String>) -> Result<PageAt, String> {
    let key = |k: &str| -> Result<Option<(i64, String)>, String> {
        let Some(v) = q.get(k).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let (n, id) = v.split_once('.').ok_or_else(|| k.to_string())?;
        let n: i64 = n.parse().map_err(|_| k.to_string())?;
        if !id_like(id) {
            return Err(k.to_string());
        }
        Ok(Some((n, id.to_string())))
    };
    Ok(match (key("after")?, key("before")?) {
        (Some((n, id)), None) => PageAt::After(n, id),
        (None, Some((n, id))) => PageAt::Before(n, id),
        (None, None) => PageAt::First,
        (Some(_), Some(_)) => return Err("before".into()),
    })
}

/// The query string of a filter (for links that keep it).
fn filter_query(f: &QueueFilter) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("status", &f.status),
        ("category", &f.category),
        ("grid", &f.grid),
        ("urgency", &f.urgency),
        ("reporter", &f.reporter),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if f.overdue {
        parts.push("overdue=1".into());
    }
    parts.join("&")
}

/// Text of a row's clock: "剩余 3小时" / "超期 2天1小时" / "—".
pub fn time_left(lang: Lang, status: &str, due: Option<i64>, now: i64) -> String {
    let t = lang.texts();
    let Some(due) = due else {
        return "—".into();
    };
    let d = lang.duration(due - now);
    let accept = if status == "submitted" {
        format!(" ({})", t.to_accept)
    } else {
        String::new()
    };
    if now > due {
        match lang {
            Lang::Zh => format!("{}{d}{accept}", t.overdue_by),
            Lang::En => format!("{} {d}{accept}", t.overdue_by),
        }
    } else {
        match lang {
            Lang::Zh => format!("{}{d}{accept}", t.left),
            Lang::En => format!("{d} {}{accept}", t.left),
        }
    }
}

/// The light dot with its words (colour is never the only signal).
pub fn light_badge(lang: Lang, l: Light) -> Markup {
    let t = lang.texts();
    let label = match l {
        Light::Red => t.light_red,
        Light::Yellow => t.light_yellow,
        Light::Green => t.light_green,
        Light::Grey => t.light_grey,
    };
    html! { span class={"light " (l.as_str())} data-light=(l.as_str()) { (label) } }
}

fn option(value: &str, label: &str, selected: Option<&String>) -> Markup {
    let sel = selected.is_some_and(|s| s == value);
    html! { option value=(value) selected[sel] { (label) } }
}

/// `GET /console/queue`.
pub async fn page(
    State(state): State<crate::AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let filter = parse_filter(&q).map_err(|f| ctx.fail(Fail::Invalid(f)))?;
    let at = parse_at(&q).map_err(|f| ctx.fail(Fail::Invalid(f)))?;
    let now = now_ms();
    let (who, f2) = (ctx.who.clone(), filter.clone());
    let (page, counts, units, workers) = blocking(&state, move |s| {
        Ok((
            s.case_queue(&who, &f2, &at, PAGE_ROWS, now)?,
            s.case_counts(&who, &f2, now)?,
            s.scope_units(&who)?,
            s.scope_workers(&who)?,
        ))
    })
    .await
    .map_err(Failure::from_api(ctx.lang))?;
    let lang = ctx.lang;
    let t = ctx.t();
    let fq = filter_query(&filter);
    let total: i64 = counts.iter().map(|c| c.1).sum();
    let count_of = |s: &str| counts.iter().find(|c| c.0 == s).map_or(0, |c| c.1);
    let grids: Vec<_> = units.iter().filter(|u| u.level == "grid").collect();
    let status_link = |s: Option<&str>| {
        let mut f = filter.clone();
        f.status = s.map(str::to_string);
        format!("{BASE}/queue?{}", filter_query(&f))
    };
    let body = html! {
        form.filters method="get" action={(BASE) "/queue"} {
            label { (t.status)
                select name="status" {
                    option value="" { (t.any) }
                    @for s in gridwalk_domain::model::CaseStatus::ALL.iter().filter(|s| s.as_str() != "draft") {
                        (option(s.as_str(), &lang.case_status(s.as_str()), filter.status.as_ref()))
                    }
                }
            }
            label { (t.category)
                select name="category" {
                    option value="" { (t.any) }
                    @for c in gridwalk_domain::taxonomy::CATEGORIES {
                        (option(c.0, lang.pick(c.1, c.2), filter.category.as_ref()))
                    }
                }
            }
            label { (t.grid)
                select name="grid" {
                    option value="" { (t.any) }
                    @for g in &grids { (option(&g.code, &g.name, filter.grid.as_ref())) }
                }
            }
            label { (t.urgency)
                select name="urgency" {
                    option value="" { (t.any) }
                    @for u in gridwalk_domain::model::Urgency::ALL {
                        (option(u.as_str(), lang.pick(u.label_zh(), u.label_en()), filter.urgency.as_ref()))
                    }
                }
            }
            label { (t.reporter)
                select name="reporter" {
                    option value="" { (t.any) }
                    @for w in &workers { (option(&w.id, &w.display_name, filter.reporter.as_ref())) }
                }
            }
            label.check {
                input type="checkbox" name="overdue" value="1" checked[filter.overdue];
                (t.overdue_only)
            }
            button type="submit" { (t.filter) }
            a.reset href={(BASE) "/queue"} { (t.reset) }
        }
        section.counts aria-label=(t.by_status) {
            h2 { (t.by_status) }
            ul {
                li { a href=(status_link(None)) aria-current=[filter.status.is_none().then_some("true")] {
                    (t.total) " " span.n data-status="total" { (total) } } }
                @for s in gridwalk_domain::model::CaseStatus::ALL.iter().filter(|s| s.as_str() != "draft") {
                    @let n = count_of(s.as_str());
                    @if n > 0 || filter.status.as_deref() == Some(s.as_str()) {
                        li { a href=(status_link(Some(s.as_str())))
                            aria-current=[(filter.status.as_deref() == Some(s.as_str())).then_some("true")] {
                            (lang.case_status(s.as_str())) " " span.n data-status=(s.as_str()) { (n) } } }
                    }
                }
            }
        }
        p.rule { (t.light_rule) }
        @if page.rows.is_empty() {
            p.empty { (t.no_cases) }
        } @else {
            table.queue {
                thead { tr {
                    th { (t.col_light) } th { (t.col_time_left) } th { (t.col_type) }
                    th { (t.status) } th { (t.urgency) } th { (t.grid) } th { (t.col_address) }
                    th { (t.reporter) } th { (t.col_received) }
                } }
                tbody {
                    @for r in &page.rows { (row(lang, r, now)) }
                }
            }
        }
        nav.pager {
            @if let Some((k, id)) = &page.prev {
                a rel="prev" href={(BASE) "/queue?" (fq) "&before=" (k) "." (id)} { (t.prev_page) }
                a href={(BASE) "/queue?" (fq)} { (t.first_page) }
            }
            @if let Some((k, id)) = &page.next {
                a rel="next" href={(BASE) "/queue?" (fq) "&after=" (k) "." (id)} { (t.next_page) }
            }
        }
    };
    Ok(layout::page(&ctx, Nav::Queue, t.queue_title, body))
}

fn row(lang: Lang, r: &QueueRow, now: i64) -> Markup {
    let l = light(r.start_at, r.due_at, now);
    html! {
        tr data-case=(r.id) data-light=(l.as_str()) {
            td { (light_badge(lang, l)) }
            td.left { (time_left(lang, &r.status, r.due_at, now)) }
            td { a href={(BASE) "/cases/" (r.id)} { (lang.case_type(&r.type_code)) }
                 span.sub { (lang.category(&r.category_code)) } }
            td { (lang.case_status(&r.status)) }
            td { span class={"urgency " (r.urgency)} { (lang.urgency(&r.urgency)) } }
            td { (r.grid_name) }
            td { (r.address.as_deref().unwrap_or("")) }
            td { (r.reporter_name.as_deref().unwrap_or("")) }
            td.time { (datetime(r.received_at)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_are_checked_against_the_vocabularies() {
        let f = parse_filter(&q(&[
            ("status", "handling"),
            ("overdue", "1"),
            ("category", ""),
        ]))
        .unwrap();
        assert_eq!(f.status.as_deref(), Some("handling"));
        assert!(f.overdue);
        assert_eq!(f.category, None);
        assert_eq!(
            parse_filter(&q(&[("status", "bogus")])),
            Err("status".into())
        );
        assert_eq!(
            parse_filter(&q(&[("category", "99")])),
            Err("category".into())
        );
        assert_eq!(
            parse_filter(&q(&[("urgency", "soon")])),
            Err("urgency".into())
        );
        assert_eq!(parse_filter(&q(&[("grid", "a'b")])), Err("grid".into()));
        assert_eq!(
            parse_filter(&q(&[("overdue", "yes")])),
            Err("overdue".into())
        );
    }

    #[test]
    fn page_keys_round_trip() {
        assert_eq!(parse_at(&q(&[])), Ok(PageAt::First));
        assert_eq!(
            parse_at(&q(&[("after", "123.abc-1")])),
            Ok(PageAt::After(123, "abc-1".into()))
        );
        assert_eq!(
            parse_at(&q(&[("before", "-5.x")])),
            Ok(PageAt::Before(-5, "x".into()))
        );
        assert!(parse_at(&q(&[("after", "x.y")])).is_err());
        assert!(parse_at(&q(&[("after", "1.a"), ("before", "2.b")])).is_err());
    }

    #[test]
    fn time_left_says_overdue_or_left() {
        let h = 3_600_000;
        assert_eq!(
            time_left(Lang::Zh, "handling", Some(3 * h), 0),
            "剩余3小时0分"
        );
        assert_eq!(
            time_left(Lang::En, "handling", Some(0), 2 * h),
            "Overdue by 2 h 0 min"
        );
        assert_eq!(time_left(Lang::Zh, "closed", None, 0), "—");
        assert!(time_left(Lang::Zh, "submitted", Some(h), 0).contains("待受理"));
    }
}
