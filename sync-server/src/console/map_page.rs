//! The map page (一图一表): the scope's grids, case pins by deadline light, households located
//! outside their grid, and one worker's patrol tracks of a day with each grid's coverage.
//!
//! The page is a shell: `console-assets/map.js` fetches `/console/data/map` (the session cookie
//! authorises it, scope applied there) and draws SVG — vector only, no tile server, no network
//! — drawing tiles underneath only when the server config names a tile URL template. When the
//! drawing is done the script writes the time it took into `data-rendered-ms` (the benchmark
//! reads it).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::layout::{self, Nav};
use super::session::{Ctx, BASE};
use super::Failure;
use crate::AppState;

/// `GET /console/map?unit=&worker=&day=`.
pub async fn page(
    State(_state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let zh = ctx.lang == super::i18n::Lang::Zh;
    let l = |a: &'static str, b: &'static str| if zh { a } else { b };
    let src = format!(
        "{BASE}/data/map?unit={}&worker={}&day={}",
        super::session::urlencode(get("unit")),
        super::session::urlencode(get("worker")),
        super::session::urlencode(get("day"))
    );
    let body = html! {
        div.map-page {
            form.filters method="get" action={(BASE) "/map"} {
                label { (l("单元", "Unit")) " " input name="unit" value=(get("unit")) size="16"; }
                label { (l("网格员", "Worker")) " " input name="worker" value=(get("worker")) size="12"; }
                label { (l("日期", "Day")) " " input type="date" name="day" value=(get("day")); }
                button type="submit" { (l("查看", "Show")) }
            }
            p.legend {
                span.light.red { (l("超时", "overdue")) } " "
                span.light.yellow { (l("剩余不足四分之一", "under a quarter left")) } " "
                span.light.green { (l("正常", "on time")) } " "
                span.light.grey { (l("未计时", "no deadline")) } " "
                span.outside-key { "■ " (l("住户不在本网格", "household outside its grid")) }
            }
            div id="gw-map" data-src=(src) data-lang=(if zh { "zh" } else { "en" }) {
                p.loading { (l("地图加载中…", "Loading the map…")) }
            }
            table id="gw-map-table" {
                thead { tr {
                    th { (l("网格", "Grid")) }
                    th { (l("事件", "Cases")) }
                    th { (l("红", "Red")) }
                    th { (l("黄", "Yellow")) }
                    th { (l("巡查覆盖率", "Patrol coverage")) }
                } }
                tbody {}
            }
            script src={(BASE) "/assets/map.js"} defer {}
        }
    };
    let title = l("一图一表：网格地图", "Map: grids, cases and patrols");
    Ok(layout::page(&ctx, Nav::Map, title, body))
}
