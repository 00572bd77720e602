//! Ledgers out of the store: households, residents, visits (走访台账), patrols (巡查台账) and
//! cases (事件台账), as CSV or .xlsx that Excel cannot corrupt.
//!
//! Each ledger is built as a [`Sheet`] of typed cells (ID numbers, phones, rooms and units are
//! [`Cell::Code`], so Excel keeps them as text; floors and coordinates are numbers) and written
//! by [`crate::sheet`]. The household and resident ledgers use the import's Chinese headers, so
//! an export re-imports unchanged (the `编号` id columns are ignored on import; `户编号` keeps a
//! family's rows together). Times are in the worker's local time (settings).

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::households::HouseholdFilter;
use crate::ledger::Column;
use crate::model::*;
use crate::sheet::{self, Cell, Sheet, SheetFormat};
use crate::store::{from_ms, ms, Settings, Store};
use crate::taxonomy;

/// Which ledger to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// 住户台账
    Households,
    /// 人口台账
    Residents,
    /// 走访台账
    Visits,
    /// 巡查台账
    Patrols,
    /// 事件台账
    Cases,
}

impl ExportKind {
    pub const ALL: &'static [ExportKind] = &[
        ExportKind::Households,
        ExportKind::Residents,
        ExportKind::Visits,
        ExportKind::Patrols,
        ExportKind::Cases,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Households => "households",
            ExportKind::Residents => "residents",
            ExportKind::Visits => "visits",
            ExportKind::Patrols => "patrols",
            ExportKind::Cases => "cases",
        }
    }

    /// The ledger's Chinese name (the worksheet name).
    pub fn label_zh(self) -> &'static str {
        match self {
            ExportKind::Households => "住户台账",
            ExportKind::Residents => "人口台账",
            ExportKind::Visits => "走访台账",
            ExportKind::Patrols => "巡查台账",
            ExportKind::Cases => "事件台账",
        }
    }

    /// `households`, `住户`, `住户台账`, … → the kind.
    pub fn parse(s: &str) -> Option<ExportKind> {
        let t = s.trim();
        ExportKind::ALL.iter().copied().find(|k| {
            t.eq_ignore_ascii_case(k.as_str())
                || t == k.label_zh()
                || t == k.label_zh().trim_end_matches("台账")
        })
    }
}

/// What to export: one grid or all, and for visits, patrols and cases a range of local days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportFilter {
    pub grid_code: Option<String>,
    /// First local day included.
    pub from: Option<NaiveDate>,
    /// Last local day included.
    pub to: Option<NaiveDate>,
}

const HOUSEHOLD_COLUMNS: &[Column] = &[
    Column::Community,
    Column::Building,
    Column::Unit,
    Column::Floor,
    Column::Room,
    Column::AddressText,
    Column::HousingType,
    Column::CareTier,
    Column::Tags,
    Column::Lat,
    Column::Lng,
    Column::HouseholdNotes,
];

const RESIDENT_COLUMNS: &[Column] = &[
    Column::Name,
    Column::IdNumber,
    Column::Phone,
    Column::Gender,
    Column::BirthDate,
    Column::Relation,
    Column::Residency,
    Column::SpecialGroups,
    Column::MovedInOn,
    Column::ResidentNotes,
];

/// Export-only headers: the record ids.
const ID_HEADER: &str = "编号";
const HOUSEHOLD_ID_HEADER: &str = "户编号";

fn date_cell(d: Option<NaiveDate>) -> Cell {
    Cell::opt_text(d.map(|d| d.format("%Y-%m-%d").to_string()))
}

/// What an address part without a value is written as: `/`, which the import reads as "none"
/// (a blank cell there would be filled down from the row above as a merged cell).
const NONE: &str = "/";

/// Cells in [`HOUSEHOLD_COLUMNS`] order.
fn household_cells(h: &Household) -> Vec<Cell> {
    let a = &h.address;
    vec![
        Cell::text(a.community.clone()),
        Cell::text(a.building.clone()),
        Cell::code(a.unit.clone().unwrap_or_else(|| NONE.into())),
        a.floor
            .map_or_else(|| Cell::text(NONE), |f| Cell::Number(f64::from(f))),
        Cell::code(a.room.clone().unwrap_or_else(|| NONE.into())),
        Cell::opt_text(a.text.clone()),
        Cell::text(h.housing_type.label_zh()),
        Cell::text(h.care_tier.label_zh()),
        Cell::text(h.tags.join("、")),
        Cell::opt_number(h.location.map(|p| p.lat)),
        Cell::opt_number(h.location.map(|p| p.lng)),
        Cell::opt_text(h.notes.clone()),
    ]
}

/// Cells in [`RESIDENT_COLUMNS`] order.
fn resident_cells(r: &Resident) -> Vec<Cell> {
    vec![
        Cell::text(r.name.clone()),
        Cell::opt_code(r.id_number.clone()),
        Cell::opt_code(r.phone.clone()),
        Cell::opt_text(r.gender.map(|g| g.label_zh())),
        date_cell(r.birth_date),
        Cell::text(r.relation.label_zh()),
        Cell::text(r.residency.label_zh()),
        Cell::text(
            r.special_groups
                .iter()
                .map(|g| g.label_zh())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        date_cell(r.moved_in_on),
        Cell::opt_text(r.notes.clone()),
    ]
}

/// Households as a sheet: `编号` (household id), then the import's household headers.
/// Re-imports as dwelling rows (no 姓名 column).
pub fn households_sheet(rows: &[Household]) -> Sheet {
    let headers = std::iter::once(ID_HEADER)
        .chain(HOUSEHOLD_COLUMNS.iter().map(|c| c.header_zh()))
        .map(str::to_owned)
        .collect();
    let rows = rows
        .iter()
        .map(|h| {
            let mut row = vec![Cell::text(h.id.clone())];
            row.extend(household_cells(h));
            row
        })
        .collect();
    Sheet {
        name: ExportKind::Households.label_zh().into(),
        headers,
        rows,
    }
}

/// Residents with their household's columns: `编号` (resident id), `户编号` (household id),
/// then the import's headers, so the sheet re-imports with [`crate::ledger::parse_ledger`].
pub fn residents_sheet(rows: &[(Resident, Household)]) -> Sheet {
    let headers = [ID_HEADER, HOUSEHOLD_ID_HEADER]
        .into_iter()
        .chain(
            HOUSEHOLD_COLUMNS
                .iter()
                .chain(RESIDENT_COLUMNS)
                .map(|c| c.header_zh()),
        )
        .map(str::to_owned)
        .collect();
    let rows = rows
        .iter()
        .map(|(r, h)| {
            let mut row = vec![Cell::text(r.id.clone()), Cell::text(h.id.clone())];
            row.extend(household_cells(h));
            row.extend(resident_cells(r));
            row
        })
        .collect();
    Sheet {
        name: ExportKind::Residents.label_zh().into(),
        headers,
        rows,
    }
}

fn local_time(s: &Settings, t: DateTime<Utc>) -> String {
    t.with_timezone(&s.offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn headers(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Store {
    /// `[from, to]` local days as UTC instants `[start, end)`.
    fn export_window(&self, f: &ExportFilter) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        let s = self.settings()?;
        let start = f.from.map_or(DateTime::<Utc>::MIN_UTC, |d| s.day_start(d));
        let end =
            f.to.and_then(|d| d.succ_opt())
                .map_or(DateTime::<Utc>::MAX_UTC, |d| s.day_start(d));
        Ok((start, end))
    }

    /// A ledger as a sheet of typed cells.
    pub fn export_sheet(&self, kind: ExportKind, filter: &ExportFilter) -> Result<Sheet> {
        let homes = || {
            self.list_households(&HouseholdFilter {
                grid_code: filter.grid_code.clone(),
                ..Default::default()
            })
        };
        match kind {
            ExportKind::Households => Ok(households_sheet(&homes()?)),
            ExportKind::Residents => {
                let mut rows = Vec::new();
                for h in homes()? {
                    for r in self.residents_of(&h.id, false)? {
                        rows.push((r, h.clone()));
                    }
                }
                Ok(residents_sheet(&rows))
            }
            ExportKind::Visits => self.visits_sheet(filter),
            ExportKind::Patrols => self.patrols_sheet(filter),
            ExportKind::Cases => self.cases_sheet(filter),
        }
    }

    /// Writes a ledger in `format`; returns its number of data rows.
    pub fn export_ledger<W: Write>(
        &self,
        w: W,
        kind: ExportKind,
        filter: &ExportFilter,
        format: SheetFormat,
    ) -> Result<usize> {
        let sheet = self.export_sheet(kind, filter)?;
        sheet::write_sheet(w, &sheet, format)?;
        Ok(sheet.rows.len())
    }

    /// Writes the active households of `grid_code` (all grids if `None`) as CSV for Excel.
    pub fn export_households_csv<W: Write>(&self, w: W, grid_code: Option<&str>) -> Result<usize> {
        let filter = ExportFilter {
            grid_code: grid_code.map(str::to_owned),
            ..Default::default()
        };
        self.export_ledger(w, ExportKind::Households, &filter, SheetFormat::Csv)
    }

    /// Writes the active residents with their household address as CSV (re-importable).
    pub fn export_residents_csv<W: Write>(&self, w: W, grid_code: Option<&str>) -> Result<usize> {
        let filter = ExportFilter {
            grid_code: grid_code.map(str::to_owned),
            ..Default::default()
        };
        self.export_ledger(w, ExportKind::Residents, &filter, SheetFormat::Csv)
    }

    fn visits_sheet(&self, filter: &ExportFilter) -> Result<Sheet> {
        let s = self.settings()?;
        let (start, end) = self.export_window(filter)?;
        let rows = self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT v.id, v.visited_at, v.mode, v.outcome, v.notes, h.grid_code, h.community,
                        h.building, h.unit, h.floor, h.room,
                        (SELECT r.name FROM residents r WHERE r.household_id = h.id
                           AND r.relation = 'head' AND r.status = 'active'
                         ORDER BY r.created_at LIMIT 1)
                 FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE (?1 IS NULL OR h.grid_code = ?1) AND v.visited_at >= ?2
                   AND v.visited_at < ?3
                 ORDER BY v.visited_at, v.id",
            )?;
            let rows = stmt.query_map(params![filter.grid_code, ms(start), ms(end)], |r| {
                let mode: VisitMode = r.get(2)?;
                let outcome: VisitOutcome = r.get(3)?;
                let floor: Option<i32> = r.get(9)?;
                Ok(vec![
                    Cell::text(local_time(&s, from_ms(r.get(1)?))),
                    Cell::code(r.get::<_, String>(5)?),
                    Cell::text(r.get::<_, String>(6)?),
                    Cell::text(r.get::<_, String>(7)?),
                    Cell::opt_code(r.get::<_, Option<String>>(8)?),
                    Cell::opt_number(floor.map(f64::from)),
                    Cell::opt_code(r.get::<_, Option<String>>(10)?),
                    Cell::opt_text(r.get::<_, Option<String>>(11)?),
                    Cell::text(mode.label_zh()),
                    Cell::text(outcome.label_zh()),
                    Cell::opt_text(r.get::<_, Option<String>>(4)?),
                    Cell::text(r.get::<_, String>(0)?),
                ])
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        Ok(Sheet {
            name: ExportKind::Visits.label_zh().into(),
            headers: headers(&[
                "走访时间",
                "网格",
                "社区",
                "楼栋",
                "单元",
                "楼层",
                "房号",
                "户主",
                "走访方式",
                "走访结果",
                "情况记录",
                "编号",
            ]),
            rows,
        })
    }

    fn patrols_sheet(&self, filter: &ExportFilter) -> Result<Sheet> {
        let s = self.settings()?;
        let (start, end) = self.export_window(filter)?;
        let mut patrols = self.patrols_between(start, end)?;
        patrols.retain(|p| filter.grid_code.as_ref().is_none_or(|g| *g == p.grid_code));
        patrols.reverse();
        let rows = patrols
            .iter()
            .map(|p| {
                vec![
                    Cell::text(local_time(&s, p.started_at)),
                    Cell::opt_text(p.ended_at.map(|t| local_time(&s, t))),
                    Cell::code(p.grid_code.clone()),
                    Cell::Number((p.duration_s as f64 / 60.0).round()),
                    Cell::Number(p.distance_m.round()),
                    Cell::Number(p.point_count as f64),
                    Cell::Number(p.case_ids.len() as f64),
                    Cell::opt_text(p.notes.clone()),
                    Cell::text(p.id.clone()),
                ]
            })
            .collect();
        Ok(Sheet {
            name: ExportKind::Patrols.label_zh().into(),
            headers: headers(&[
                "开始时间",
                "结束时间",
                "网格",
                "时长（分钟）",
                "里程（米）",
                "轨迹点数",
                "上报事件数",
                "备注",
                "编号",
            ]),
            rows,
        })
    }

    fn cases_sheet(&self, filter: &ExportFilter) -> Result<Sheet> {
        let s = self.settings()?;
        let (start, end) = self.export_window(filter)?;
        let mut cases = self.list_cases(None)?;
        cases.retain(|c| {
            let at = c.submitted_at.unwrap_or(c.created_at);
            at >= start && at < end && filter.grid_code.as_ref().is_none_or(|g| *g == c.grid_code)
        });
        cases.sort_by_key(|c| (c.submitted_at.unwrap_or(c.created_at), c.id.clone()));
        let category = |code: &str| {
            taxonomy::CATEGORIES
                .iter()
                .find(|(c, _, _)| code.starts_with(c))
                .map_or("", |(_, zh, _)| zh)
        };
        let sub_type = |code: &str| {
            taxonomy::CASE_TYPES
                .iter()
                .find(|t| t.code == code)
                .map_or("", |t| t.zh)
        };
        let rows = cases
            .iter()
            .map(|c| {
                vec![
                    Cell::text(c.id.clone()),
                    Cell::text(local_time(&s, c.submitted_at.unwrap_or(c.created_at))),
                    Cell::text(category(&c.type_code)),
                    Cell::text(sub_type(&c.type_code)),
                    Cell::text(c.urgency.label_zh()),
                    Cell::text(c.status.label_zh()),
                    Cell::text(c.description.clone()),
                    Cell::opt_text(c.address.clone()),
                    Cell::code(c.grid_code.clone()),
                    Cell::opt_number(c.location.map(|p| p.lat)),
                    Cell::opt_number(c.location.map(|p| p.lng)),
                    Cell::text(c.reporter.clone()),
                    Cell::Number(c.photos.len() as f64),
                    Cell::text(c.sync_status.label_zh()),
                ]
            })
            .collect();
        Ok(Sheet {
            name: ExportKind::Cases.label_zh().into(),
            headers: headers(&[
                "编号",
                "上报时间",
                "大类",
                "小类",
                "紧急程度",
                "状态",
                "描述",
                "地址",
                "网格",
                "纬度",
                "经度",
                "上报人",
                "照片数",
                "同步状态",
            ]),
            rows,
        })
    }
}

/// Refuses an export kind name that is not one of [`ExportKind`].
pub fn parse_kind(s: &str) -> Result<ExportKind> {
    ExportKind::parse(s).ok_or_else(|| Error::invalid("kind", crate::error::Code::InvalidValue))
}
