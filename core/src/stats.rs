//! Work statistics for a day, week or month (工作统计): visits by mode, households reached,
//! patrols with time and distance (only those of at least the minimum duration and distance;
//! shorter ones are counted apart), cases filed by category. Supervisors judge work by these
//! figures (痕迹管理), so they are computed from the same local records that sync ships, for the
//! worker's local calendar (weeks start on Monday).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::{ms, Store};

/// The period and its bounds are `gridwalk-domain`'s, shared with the console's statistics.
pub use gridwalk_domain::policy::{period_bounds, Period};

/// Figures for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkStats {
    pub period: Period,
    /// First local day of the period.
    pub from: NaiveDate,
    /// Last local day of the period (inclusive).
    pub to: NaiveDate,
    pub visits_total: u32,
    /// Visit counts by mode code (`in_person`, `phone`, …).
    pub visits_by_mode: BTreeMap<String, u32>,
    pub households_visited: u32,
    /// Finished patrols that count: at least the minimum duration and distance (settings).
    /// Their time and distance are the two figures below.
    pub patrols: u32,
    /// Finished patrols under the minimum duration or distance: kept, shown, not counted.
    pub patrols_too_short: u32,
    pub patrol_seconds: i64,
    pub patrol_distance_m: f64,
    pub cases_total: u32,
    /// Cases by top-level category code (`01` … `06`).
    pub cases_by_category: BTreeMap<String, u32>,
}

impl Store {
    /// Statistics for the period containing local day `day`.
    pub fn stats(&self, period: Period, day: NaiveDate) -> Result<WorkStats> {
        let settings = self.settings()?;
        let (from, to) = period_bounds(period, day);
        let start: DateTime<Utc> = settings.day_start(from);
        let end: DateTime<Utc> = settings.day_start(to + Duration::days(1));
        let range = params![ms(start), ms(end)];
        self.read(|c| {
            let mut visits_by_mode = BTreeMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT mode, count(*) FROM visits WHERE visited_at >= ?1 AND visited_at < ?2
                 GROUP BY mode",
            )?;
            let mut rows = stmt.query(range)?;
            while let Some(r) = rows.next()? {
                visits_by_mode.insert(r.get::<_, String>(0)?, r.get::<_, u32>(1)?);
            }
            let households_visited: u32 = c.query_row(
                "SELECT count(DISTINCT household_id) FROM visits
                 WHERE visited_at >= ?1 AND visited_at < ?2 AND mode != 'not_at_home'",
                range,
                |r| r.get(0),
            )?;
            // Patrols under the minimum duration or distance are counted apart (patrols.rs).
            let (patrols, patrol_seconds, patrol_distance_m, ended): (u32, i64, f64, u32) = c
                .query_row(
                    &format!(
                        "SELECT coalesce(sum({counts}), 0),
                            coalesce(sum(CASE WHEN {counts} THEN duration_s END), 0),
                            coalesce(sum(CASE WHEN {counts} THEN distance_m END), 0),
                            count(*)
                         FROM patrols WHERE started_at >= :from AND started_at < :to
                           AND ended_at IS NOT NULL",
                        counts = crate::patrols::COUNTS_SQL
                    ),
                    rusqlite::named_params! {
                        ":from": ms(start),
                        ":to": ms(end),
                        ":min_s": i64::from(settings.min_patrol_minutes) * 60,
                        ":min_m": f64::from(settings.min_patrol_distance_m),
                    },
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
            let mut cases_by_category = BTreeMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT category_code, count(*) FROM cases
                 WHERE status != 'draft' AND submitted_at >= ?1 AND submitted_at < ?2
                 GROUP BY category_code",
            )?;
            let mut rows = stmt.query(range)?;
            while let Some(r) = rows.next()? {
                cases_by_category.insert(r.get::<_, String>(0)?, r.get::<_, u32>(1)?);
            }
            Ok(WorkStats {
                period,
                from,
                to,
                visits_total: visits_by_mode.values().sum(),
                visits_by_mode,
                households_visited,
                patrols,
                patrols_too_short: ended - patrols,
                patrol_seconds,
                patrol_distance_m,
                cases_total: cases_by_category.values().sum(),
                cases_by_category,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(); // a Wednesday
        assert_eq!(period_bounds(Period::Day, d), (d, d));
        let (ws, we) = period_bounds(Period::Week, d);
        assert_eq!(ws, NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(we, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        let (ms_, me) = period_bounds(Period::Month, NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        assert_eq!(ms_, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(me, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    }
}
