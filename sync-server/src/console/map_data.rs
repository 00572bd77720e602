//! The map's data (一图一表): grid boundaries, cases as pins coloured by their deadline light,
//! one worker's patrol tracks for a day with each grid's coverage by them, and households
//! located outside their grid. Compact arrays, because the page draws thousands of pins.
//!
//! The page itself is vector only (`map.js` draws SVG from this answer, no tile server, no
//! network); a deployment with its own tile server sets `console_tile_url` in the server
//! config and the page draws the tiles under the vectors.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::geo;
use super::scope;
use super::warning_data::boundaries;
use super::warnings::{day_start_ms, local_day};
use crate::error::Result;
use crate::storage::{Principal, Storage};

/// The deadline light of a case: the queue's rule (`cases::light` over `cases::queue_fields`:
/// red overdue, yellow under a quarter of its time left, green otherwise, grey without a
/// running clock), so a pin has the colour of its queue row.
pub fn deadline_light(case: &serde_json::Map<String, Value>, now_ms: i64) -> &'static str {
    let q = crate::cases::queue_fields(case);
    crate::cases::light(q.start_at, q.due_at, now_ms).as_str()
}

/// What the map asks for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MapQuery {
    #[serde(default)]
    pub unit: Option<String>,
    /// Worker (user name or id) whose tracks to draw.
    #[serde(default)]
    pub worker: Option<String>,
    /// `YYYY-MM-DD` (China time); default today.
    #[serde(default)]
    pub day: Option<String>,
}

/// One grid: code, name, outer rings as `[lng, lat]` pairs, coverage (0–1) by the day's
/// tracks when a worker is asked.
#[derive(Debug, Clone, Serialize)]
pub struct MapGrid {
    pub code: String,
    pub name: String,
    pub rings: Vec<Vec<[f64; 2]>>,
    pub coverage: Option<f64>,
}

/// The map's answer. `cases`: `[id, lat, lng, light, status, type_zh]`; `outside`:
/// `[household id, lat, lng, address]`; `tracks`: one `[[lat, lng] …]` line per patrol.
#[derive(Debug, Clone, Serialize)]
pub struct MapData {
    pub grids: Vec<MapGrid>,
    pub cases: Vec<(String, f64, f64, &'static str, String, String)>,
    pub outside: Vec<(String, f64, f64, String)>,
    pub tracks: Vec<Vec<[f64; 2]>>,
    pub day: String,
    pub worker: Option<String>,
    pub tile_url: Option<String>,
}

/// The map data of the caller's scope (narrowed to `unit`).
pub fn data(
    store: &dyn Storage,
    who: &Principal,
    q: &MapQuery,
    tile_url: Option<String>,
    now_ms: i64,
) -> Result<MapData> {
    let units = store.units_in_scope(&who.grids)?;
    let grids = scope::grids_under(who, &units, q.unit.as_deref());
    let bounds = boundaries(&units);
    let day = q
        .day
        .as_deref()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| local_day(now_ms));

    let mut cases = Vec::new();
    for a in store.records_in(&grids, "case", None)? {
        let d = &a.record.data;
        let (Some(lat), Some(lng)) = (
            d.get("lat").and_then(Value::as_f64),
            d.get("lng").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let status = d.get("status").and_then(Value::as_str).unwrap_or("");
        if matches!(status, "archived" | "returned") {
            continue;
        }
        let type_zh = d
            .get("type_code")
            .and_then(Value::as_str)
            .and_then(gridwalk_domain::taxonomy::case_type)
            .map_or("事件", |t| t.zh);
        cases.push((
            a.record.id.clone(),
            lat,
            lng,
            deadline_light(d, now_ms),
            status.to_string(),
            type_zh.to_string(),
        ));
    }

    let mut outside = Vec::new();
    for a in store.records_in(&grids, "household", None)? {
        let d = &a.record.data;
        let (Some(lat), Some(lng)) = (
            d.get("lat").and_then(Value::as_f64),
            d.get("lng").and_then(Value::as_f64),
        ) else {
            continue;
        };
        if bounds
            .get(&a.record.grid_code)
            .is_some_and(|b| !b.contains(gridwalk_domain::model::GeoPoint { lat, lng }))
        {
            outside.push((a.record.id.clone(), lat, lng, super::ledgers::address_of(d)));
        }
    }

    // The worker's tracks of the day (only a worker of the caller's scope).
    let mut tracks = Vec::new();
    let mut fixes_by_grid: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    let worker = match q.worker.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        Some(name) => store
            .workers_in(&grids)?
            .into_iter()
            .find(|w| w.username == name || w.user_id == name),
        None => None,
    };
    if let Some(w) = &worker {
        let from = day_start_ms(day);
        let to = day_start_ms(day + chrono::Duration::days(1));
        for a in store.records_in(&grids, "patrol", Some(("started_at", from)))? {
            let started = a
                .record
                .data
                .get("started_at")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if a.author.as_deref() != Some(w.user_id.as_str()) || started >= to {
                continue;
            }
            let line: Vec<[f64; 2]> = a
                .record
                .data
                .get("track")
                .and_then(Value::as_array)
                .map(|fixes| {
                    fixes
                        .iter()
                        .filter_map(|f| {
                            let f = f.as_array()?;
                            Some([f.get(1)?.as_f64()?, f.get(2)?.as_f64()?])
                        })
                        .collect()
                })
                .unwrap_or_default();
            fixes_by_grid
                .entry(a.record.grid_code.clone())
                .or_default()
                .extend(line.iter().map(|p| (p[0], p[1])));
            tracks.push(line);
        }
    }

    let grids_out = grids
        .iter()
        .map(|g| {
            let b = bounds.get(g);
            MapGrid {
                code: g.clone(),
                name: scope::unit_name(&units, g),
                rings: b
                    .map(|b| {
                        b.outer_rings()
                            .into_iter()
                            .map(|r| r.into_iter().map(|(x, y)| [x, y]).collect())
                            .collect()
                    })
                    .unwrap_or_default(),
                coverage: match (&worker, b) {
                    (Some(_), Some(b)) => Some(
                        (geo::coverage(
                            b,
                            fixes_by_grid.get(g).map(Vec::as_slice).unwrap_or(&[]),
                            25.0,
                            30.0,
                        ) * 1000.0)
                            .round()
                            / 1000.0,
                    ),
                    _ => None,
                },
            }
        })
        .collect();
    Ok(MapData {
        grids: grids_out,
        cases,
        outside,
        tracks,
        day: day.format("%Y-%m-%d").to_string(),
        worker: worker.map(|w| w.username),
        tile_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pins_take_the_queue_light() {
        let c = |status: &str, accepted: i64, deadline: i64| {
            json!({"status": status, "accepted_at": accepted, "deadline_at": deadline,
                   "received_at": accepted})
            .as_object()
            .cloned()
            .unwrap()
        };
        assert_eq!(deadline_light(&c("handling", 0, 100), 101), "red");
        assert_eq!(deadline_light(&c("handling", 0, 100), 80), "yellow");
        assert_eq!(deadline_light(&c("handling", 0, 100), 74), "green");
        assert_eq!(deadline_light(&c("closed", 0, 100), 101), "grey");
    }
}
