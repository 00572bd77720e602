//! The records that cross the FFI, and their conversions to and from the core's.
//!
//! They mirror the core's model with the FFI's conventions (see `time.rs`): instants are
//! `i64` UTC milliseconds in `*_ms` fields, calendar days are `"YYYY-MM-DD"` strings, ids are
//! strings, counts are fixed-width integers. Patches use `clear_*` flags instead of the core's
//! `Option<Option<T>>`, which Kotlin (`T??` is `T?`) cannot express. Input records give
//! optional fields defaults, so `HouseholdInput(gridCode = .., address = .., ..)` reads well.
//!
//! Conversions from core records are infallible; conversions into the core validate the
//! FFI-only representations (dates, timestamps) and name the field when one is wrong.

use std::collections::HashMap;

use gridwalk_core as core;

use crate::enums::*;
use crate::error::{GridwalkError, Result, ValidationCode};
use crate::time::{day_str, from_ms, parse_day, parse_opt_day, to_ms};

// ---------------------------------------------------------------------------------------------
// Places and organisation
// ---------------------------------------------------------------------------------------------

/// A WGS-84 point (what GPS receivers report; convert GCJ-02 map coordinates before passing).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

impl From<core::GeoPoint> for GeoPoint {
    fn from(p: core::GeoPoint) -> Self {
        GeoPoint {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

impl From<GeoPoint> for core::GeoPoint {
    fn from(p: GeoPoint) -> Self {
        core::GeoPoint {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

/// A structured address. `community` and `building` are required; rural addresses put the
/// village group in `building` and the house number in `room`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Address {
    /// 社区/村
    pub community: String,
    /// 楼栋/组
    pub building: String,
    /// 单元
    #[uniffi(default)]
    pub unit: Option<String>,
    /// 楼层
    #[uniffi(default)]
    pub floor: Option<i32>,
    /// 房号/门牌号
    #[uniffi(default)]
    pub room: Option<String>,
    /// Free text: landmark, shop name, directions.
    #[uniffi(default)]
    pub text: Option<String>,
}

impl From<core::Address> for Address {
    fn from(a: core::Address) -> Self {
        Address {
            community: a.community,
            building: a.building,
            unit: a.unit,
            floor: a.floor,
            room: a.room,
            text: a.text,
        }
    }
}

impl From<Address> for core::Address {
    fn from(a: Address) -> Self {
        core::Address {
            community: a.community,
            building: a.building,
            unit: a.unit,
            floor: a.floor,
            room: a.room,
            text: a.text,
        }
    }
}

/// An organisational unit (district, street, community or grid). Normally arrives by sync.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OrgUnit {
    pub code: String,
    pub name: String,
    pub level: GridLevel,
    #[uniffi(default)]
    pub parent_code: Option<String>,
    /// GeoJSON Polygon or MultiPolygon of the unit, when known.
    #[uniffi(default)]
    pub boundary_geojson: Option<String>,
    /// Whether this is one of the worker's own grids.
    #[uniffi(default)]
    pub is_mine: bool,
}

impl From<core::OrgUnit> for OrgUnit {
    fn from(u: core::OrgUnit) -> Self {
        OrgUnit {
            code: u.code,
            name: u.name,
            level: u.level.into(),
            parent_code: u.parent_code,
            boundary_geojson: u.boundary_geojson,
            is_mine: u.is_mine,
        }
    }
}

impl From<OrgUnit> for core::OrgUnit {
    fn from(u: OrgUnit) -> Self {
        core::OrgUnit {
            code: u.code,
            name: u.name,
            level: u.level.into(),
            parent_code: u.parent_code,
            boundary_geojson: u.boundary_geojson,
            is_mine: u.is_mine,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Households and residents
// ---------------------------------------------------------------------------------------------

/// What a worker types to register a household.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HouseholdInput {
    /// Code of a known grid (see `GridwalkStore.myGrids()`).
    pub grid_code: String,
    pub address: Address,
    pub housing_type: HousingType,
    pub care_tier: CareTier,
    #[uniffi(default)]
    pub tags: Vec<String>,
    #[uniffi(default)]
    pub location: Option<GeoPoint>,
    #[uniffi(default)]
    pub notes: Option<String>,
}

impl From<HouseholdInput> for core::HouseholdInput {
    fn from(i: HouseholdInput) -> Self {
        core::HouseholdInput {
            grid_code: i.grid_code,
            address: i.address.into(),
            housing_type: i.housing_type.into(),
            care_tier: i.care_tier.into(),
            tags: i.tags,
            location: i.location.map(Into::into),
            notes: i.notes,
        }
    }
}

/// A change to some fields of a household. Absent fields stay as they are; `clear_*` removes
/// an optional value.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct HouseholdPatch {
    #[uniffi(default)]
    pub address: Option<Address>,
    #[uniffi(default)]
    pub housing_type: Option<HousingType>,
    #[uniffi(default)]
    pub care_tier: Option<CareTier>,
    #[uniffi(default)]
    pub tags: Option<Vec<String>>,
    #[uniffi(default)]
    pub location: Option<GeoPoint>,
    #[uniffi(default)]
    pub clear_location: bool,
    #[uniffi(default)]
    pub notes: Option<String>,
    #[uniffi(default)]
    pub clear_notes: bool,
}

/// `Some(None)` when `clear`, `Some(Some(v))` when set, `None` when untouched; setting and
/// clearing at once is a contradiction.
fn patch_opt<T>(field: &str, value: Option<T>, clear: bool) -> Result<Option<Option<T>>> {
    match (value, clear) {
        (Some(_), true) => Err(GridwalkError::invalid(field, core::Code::Mismatch)),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

impl TryFrom<HouseholdPatch> for core::HouseholdPatch {
    type Error = GridwalkError;
    fn try_from(p: HouseholdPatch) -> Result<Self> {
        Ok(core::HouseholdPatch {
            address: p.address.map(Into::into),
            housing_type: p.housing_type.map(Into::into),
            care_tier: p.care_tier.map(Into::into),
            tags: p.tags,
            location: patch_opt("location", p.location.map(Into::into), p.clear_location)?,
            notes: patch_opt("notes", p.notes, p.clear_notes)?,
        })
    }
}

/// A registered household.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Household {
    pub id: String,
    pub grid_code: String,
    pub address: Address,
    /// One line for lists, e.g. `幸福社区 3栋 2单元 502`.
    pub address_line: String,
    pub housing_type: HousingType,
    pub care_tier: CareTier,
    pub tags: Vec<String>,
    pub location: Option<GeoPoint>,
    pub notes: Option<String>,
    pub status: RecordStatus,
    /// The location lies outside the grid's boundary (flagged, not refused).
    pub outside_grid: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub sync_status: SyncStatus,
}

impl From<core::Household> for Household {
    fn from(h: core::Household) -> Self {
        Household {
            address_line: h.address.one_line(),
            id: h.id,
            grid_code: h.grid_code,
            address: h.address.into(),
            housing_type: h.housing_type.into(),
            care_tier: h.care_tier.into(),
            tags: h.tags,
            location: h.location.map(Into::into),
            notes: h.notes,
            status: h.status.into(),
            outside_grid: h.outside_grid,
            created_at_ms: to_ms(h.created_at),
            updated_at_ms: to_ms(h.updated_at),
            sync_status: h.sync_status.into(),
        }
    }
}

/// Which households `listHouseholds` returns.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct HouseholdFilter {
    #[uniffi(default)]
    pub grid_code: Option<String>,
    #[uniffi(default)]
    pub care_tier: Option<CareTier>,
    /// Include moved-out and archived households.
    #[uniffi(default)]
    pub include_inactive: bool,
}

impl From<HouseholdFilter> for core::households::HouseholdFilter {
    fn from(f: HouseholdFilter) -> Self {
        core::households::HouseholdFilter {
            grid_code: f.grid_code,
            care_tier: f.care_tier.map(Into::into),
            include_inactive: f.include_inactive,
        }
    }
}

/// What a worker types to register a resident.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResidentInput {
    pub household_id: String,
    pub name: String,
    pub relation: Relation,
    pub residency: Residency,
    /// 18-digit resident ID number (GB 11643); checked, and gender and birth date derived.
    #[uniffi(default)]
    pub id_number: Option<String>,
    /// Mainland mobile or landline.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Only needed without an ID number.
    #[uniffi(default)]
    pub gender: Option<Gender>,
    /// `YYYY-MM-DD`; only needed without an ID number.
    #[uniffi(default)]
    pub birth_date: Option<String>,
    #[uniffi(default)]
    pub special_groups: Vec<SpecialGroup>,
    /// `YYYY-MM-DD`.
    #[uniffi(default)]
    pub moved_in_on: Option<String>,
    #[uniffi(default)]
    pub notes: Option<String>,
}

impl TryFrom<ResidentInput> for core::ResidentInput {
    type Error = GridwalkError;
    fn try_from(i: ResidentInput) -> Result<Self> {
        Ok(core::ResidentInput {
            birth_date: parse_opt_day("birth_date", i.birth_date.as_deref())?,
            moved_in_on: parse_opt_day("moved_in_on", i.moved_in_on.as_deref())?,
            household_id: i.household_id,
            name: i.name,
            id_number: i.id_number,
            phone: i.phone,
            gender: i.gender.map(Into::into),
            relation: i.relation.into(),
            residency: i.residency.into(),
            special_groups: i.special_groups.into_iter().map(Into::into).collect(),
            notes: i.notes,
        })
    }
}

/// A change to some fields of a resident. Absent fields stay as they are; `clear_*` removes
/// an optional value.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct ResidentPatch {
    #[uniffi(default)]
    pub name: Option<String>,
    #[uniffi(default)]
    pub id_number: Option<String>,
    #[uniffi(default)]
    pub clear_id_number: bool,
    #[uniffi(default)]
    pub phone: Option<String>,
    #[uniffi(default)]
    pub clear_phone: bool,
    #[uniffi(default)]
    pub gender: Option<Gender>,
    #[uniffi(default)]
    pub clear_gender: bool,
    /// `YYYY-MM-DD`.
    #[uniffi(default)]
    pub birth_date: Option<String>,
    #[uniffi(default)]
    pub clear_birth_date: bool,
    #[uniffi(default)]
    pub relation: Option<Relation>,
    #[uniffi(default)]
    pub residency: Option<Residency>,
    #[uniffi(default)]
    pub special_groups: Option<Vec<SpecialGroup>>,
    #[uniffi(default)]
    pub notes: Option<String>,
    #[uniffi(default)]
    pub clear_notes: bool,
}

impl TryFrom<ResidentPatch> for core::ResidentPatch {
    type Error = GridwalkError;
    fn try_from(p: ResidentPatch) -> Result<Self> {
        let birth = parse_opt_day("birth_date", p.birth_date.as_deref())?;
        Ok(core::ResidentPatch {
            name: p.name,
            id_number: patch_opt("id_number", p.id_number, p.clear_id_number)?,
            phone: patch_opt("phone", p.phone, p.clear_phone)?,
            gender: patch_opt("gender", p.gender.map(Into::into), p.clear_gender)?,
            birth_date: patch_opt("birth_date", birth, p.clear_birth_date)?,
            relation: p.relation.map(Into::into),
            residency: p.residency.map(Into::into),
            special_groups: p
                .special_groups
                .map(|g| g.into_iter().map(Into::into).collect()),
            notes: patch_opt("notes", p.notes, p.clear_notes)?,
        })
    }
}

/// A registered resident.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Resident {
    pub id: String,
    pub household_id: String,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<Gender>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub relation: Relation,
    pub residency: Residency,
    pub special_groups: Vec<SpecialGroup>,
    /// `YYYY-MM-DD`.
    pub moved_in_on: Option<String>,
    /// `YYYY-MM-DD`.
    pub moved_out_on: Option<String>,
    pub status: RecordStatus,
    pub notes: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub sync_status: SyncStatus,
}

impl From<core::Resident> for Resident {
    fn from(r: core::Resident) -> Self {
        Resident {
            id: r.id,
            household_id: r.household_id,
            name: r.name,
            id_number: r.id_number,
            phone: r.phone,
            gender: r.gender.map(Into::into),
            birth_date: r.birth_date.map(day_str),
            relation: r.relation.into(),
            residency: r.residency.into(),
            special_groups: r.special_groups.into_iter().map(Into::into).collect(),
            moved_in_on: r.moved_in_on.map(day_str),
            moved_out_on: r.moved_out_on.map(day_str),
            status: r.status.into(),
            notes: r.notes,
            created_at_ms: to_ms(r.created_at),
            updated_at_ms: to_ms(r.updated_at),
            sync_status: r.sync_status.into(),
        }
    }
}

/// What a valid ID number says, for a form that fills gender and birth date as the worker
/// types (`GridwalkStore.checkIdNumber`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IdNumberInfo {
    /// The number as it will be stored (blanks trimmed, `x` upper-cased).
    pub id_number: String,
    pub gender: Gender,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
}

/// One line of a resident's move history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResidentMove {
    pub id: String,
    pub resident_id: String,
    pub kind: MoveKind,
    pub household_id: String,
    /// `YYYY-MM-DD`.
    pub on: String,
    pub note: Option<String>,
    pub recorded_at_ms: i64,
}

impl From<core::ResidentMove> for ResidentMove {
    fn from(m: core::ResidentMove) -> Self {
        ResidentMove {
            id: m.id,
            resident_id: m.resident_id,
            kind: m.kind.into(),
            household_id: m.household_id,
            on: day_str(m.on),
            note: m.note,
            recorded_at_ms: to_ms(m.recorded_at),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Visits and patrols
// ---------------------------------------------------------------------------------------------

/// A visit to log.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitInput {
    pub household_id: String,
    pub visited_at_ms: i64,
    pub mode: VisitMode,
    pub outcome: VisitOutcome,
    #[uniffi(default)]
    pub notes: Option<String>,
}

impl TryFrom<VisitInput> for core::VisitInput {
    type Error = GridwalkError;
    fn try_from(v: VisitInput) -> Result<Self> {
        Ok(core::VisitInput {
            visited_at: from_ms("visited_at_ms", v.visited_at_ms)?,
            household_id: v.household_id,
            mode: v.mode.into(),
            outcome: v.outcome.into(),
            notes: v.notes,
        })
    }
}

/// A logged visit (visits are append-only).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Visit {
    pub id: String,
    pub household_id: String,
    pub visited_at_ms: i64,
    pub mode: VisitMode,
    pub outcome: VisitOutcome,
    pub notes: Option<String>,
    pub created_at_ms: i64,
    pub sync_status: SyncStatus,
}

impl From<core::Visit> for Visit {
    fn from(v: core::Visit) -> Self {
        Visit {
            id: v.id,
            household_id: v.household_id,
            visited_at_ms: to_ms(v.visited_at),
            mode: v.mode.into(),
            outcome: v.outcome.into(),
            notes: v.notes,
            created_at_ms: to_ms(v.created_at),
            sync_status: v.sync_status.into(),
        }
    }
}

/// One GPS fix, as the platform's location API reports it.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct LocationFix {
    pub lat: f64,
    pub lng: f64,
    /// Horizontal accuracy in metres, when reported (poor fixes are filtered from distance).
    pub accuracy_m: Option<f64>,
    /// When the fix was taken (not when it was delivered).
    pub at_ms: i64,
}

impl LocationFix {
    pub(crate) fn to_core(self) -> Result<core::TrackPoint> {
        Ok(core::TrackPoint {
            at: from_ms("at_ms", self.at_ms)?,
            lat: self.lat,
            lng: self.lng,
            accuracy_m: self.accuracy_m,
        })
    }
}

impl From<core::TrackPoint> for LocationFix {
    fn from(p: core::TrackPoint) -> Self {
        LocationFix {
            lat: p.lat,
            lng: p.lng,
            accuracy_m: p.accuracy_m,
            at_ms: to_ms(p.at),
        }
    }
}

/// How many fixes of a batch were kept; the others (impossible coordinates, fixes from the
/// future or from before the patrol started) were skipped without failing the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TrackAppend {
    pub kept: u32,
    pub skipped: u32,
}

/// A patrol (巡查) with its measured track.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Patrol {
    pub id: String,
    pub grid_code: String,
    pub started_at_ms: i64,
    /// Absent while the patrol is running.
    pub ended_at_ms: Option<i64>,
    /// Metres along the filtered track.
    pub distance_m: f64,
    /// Seconds from start to end (or to the last fix while running).
    pub duration_s: i64,
    pub point_count: i64,
    pub notes: Option<String>,
    /// Cases filed during this patrol.
    pub case_ids: Vec<String>,
    pub sync_status: SyncStatus,
    /// Counts toward the daily quota and the statistics: ended, and at least the minimum
    /// duration and distance of the settings (5 minutes and 100 m by default).
    pub counts: bool,
}

impl From<core::Patrol> for Patrol {
    fn from(p: core::Patrol) -> Self {
        Patrol {
            id: p.id,
            grid_code: p.grid_code,
            started_at_ms: to_ms(p.started_at),
            ended_at_ms: p.ended_at.map(to_ms),
            distance_m: p.distance_m,
            duration_s: p.duration_s,
            point_count: p.point_count,
            notes: p.notes,
            case_ids: p.case_ids,
            sync_status: p.sync_status.into(),
            counts: p.counts,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases and photos
// ---------------------------------------------------------------------------------------------

/// The content of a draft case.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseInput {
    /// A sub-type code from `caseTypes()`, e.g. `0203` (e-bike charging hazard).
    pub type_code: String,
    pub urgency: Urgency,
    pub grid_code: String,
    #[uniffi(default)]
    pub description: String,
    #[uniffi(default)]
    pub location: Option<GeoPoint>,
    #[uniffi(default)]
    pub address: Option<String>,
    #[uniffi(default)]
    pub household_id: Option<String>,
    #[uniffi(default)]
    pub patrol_id: Option<String>,
}

impl From<CaseInput> for core::CaseInput {
    fn from(c: CaseInput) -> Self {
        core::CaseInput {
            type_code: c.type_code,
            urgency: c.urgency.into(),
            description: c.description,
            location: c.location.map(Into::into),
            address: c.address,
            grid_code: c.grid_code,
            household_id: c.household_id,
            patrol_id: c.patrol_id,
        }
    }
}

/// A line of a case's timeline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseEvent {
    pub id: String,
    pub case_id: String,
    pub kind: CaseEventKind,
    pub at_ms: i64,
    /// The case status this event set, if any.
    pub status: Option<CaseStatus>,
    pub note: Option<String>,
}

impl From<core::CaseEvent> for CaseEvent {
    fn from(e: core::CaseEvent) -> Self {
        CaseEvent {
            id: e.id,
            case_id: e.case_id,
            kind: e.kind.into(),
            at_ms: to_ms(e.at),
            status: e.status.map(Into::into),
            note: e.note,
        }
    }
}

/// A case category or sub-type with its stable code and labels.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseType {
    /// Two digits for a category (`02`), four for a sub-type (`0203`).
    pub code: String,
    /// The category's code (equal to `code` for a category).
    pub category_code: String,
    pub label_zh: String,
    pub label_en: String,
}

// ---------------------------------------------------------------------------------------------
// Tasks, the daily list, statistics, search
// ---------------------------------------------------------------------------------------------

/// What a task points at.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskTarget {
    /// `household`, `resident`, `case` or `grid`.
    pub kind: String,
    pub id: String,
}

/// A task to create.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TaskInput {
    pub kind: TaskKind,
    pub title: String,
    /// `YYYY-MM-DD`, the worker's local day.
    pub due_on: String,
    pub priority: Priority,
    pub source: TaskSource,
    #[uniffi(default)]
    pub target: Option<TaskTarget>,
    #[uniffi(default)]
    pub notes: Option<String>,
}

impl TryFrom<TaskInput> for core::TaskInput {
    type Error = GridwalkError;
    fn try_from(t: TaskInput) -> Result<Self> {
        Ok(core::TaskInput {
            due_on: parse_day("due_on", &t.due_on)?,
            kind: t.kind.into(),
            title: t.title,
            target: t.target.map(|x| core::TaskTarget {
                kind: x.kind,
                id: x.id,
            }),
            priority: t.priority.into(),
            source: t.source.into(),
            notes: t.notes,
        })
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Task {
    pub id: String,
    pub kind: TaskKind,
    pub title: String,
    pub target: Option<TaskTarget>,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub priority: Priority,
    pub source: TaskSource,
    pub status: TaskStatus,
    pub notes: Option<String>,
    pub created_at_ms: i64,
    pub completed_at_ms: Option<i64>,
    pub sync_status: SyncStatus,
}

impl From<core::Task> for Task {
    fn from(t: core::Task) -> Self {
        Task {
            id: t.id,
            kind: t.kind.into(),
            title: t.title,
            target: t.target.map(|x| TaskTarget {
                kind: x.kind,
                id: x.id,
            }),
            due_on: day_str(t.due_on),
            priority: t.priority.into(),
            source: t.source.into(),
            status: t.status.into(),
            notes: t.notes,
            created_at_ms: to_ms(t.created_at),
            completed_at_ms: t.completed_at.map(to_ms),
            sync_status: t.sync_status.into(),
        }
    }
}

/// One line of the daily list (今日待办).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TodayItem {
    pub kind: TodayKind,
    pub priority: Priority,
    /// What to do, in Chinese.
    pub title: String,
    /// Address or detail line.
    pub detail: String,
    pub due_ms: i64,
    /// Whole days past due (0 when due today).
    pub overdue_days: i64,
    /// The task, household or case the item is about.
    pub target_id: Option<String>,
    pub location: Option<GeoPoint>,
    /// Metres from the worker's position, when both are known.
    pub distance_m: Option<f64>,
}

impl From<core::tasks::TodayItem> for TodayItem {
    fn from(i: core::tasks::TodayItem) -> Self {
        TodayItem {
            kind: i.kind.into(),
            priority: i.priority.into(),
            title: i.title,
            detail: i.detail,
            due_ms: to_ms(i.due),
            overdue_days: i.overdue_days,
            target_id: i.target_id,
            location: i.location.map(Into::into),
            distance_m: i.distance_m,
        }
    }
}

/// Work statistics (工作统计) for a day, week or month.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WorkStats {
    pub period: Period,
    /// First local day of the period, `YYYY-MM-DD`.
    pub first_day: String,
    /// Last local day of the period (inclusive), `YYYY-MM-DD`.
    pub last_day: String,
    pub visits_total: u32,
    /// Visit counts by mode code (`in_person`, `phone`, …).
    pub visits_by_mode: HashMap<String, u32>,
    pub households_visited: u32,
    /// Finished patrols that count (at least the minimum duration and distance); the time
    /// and distance below are theirs.
    pub patrols: u32,
    /// Finished patrols under the minimum duration or distance: kept, not counted.
    pub patrols_too_short: u32,
    pub patrol_seconds: i64,
    pub patrol_distance_m: f64,
    pub cases_total: u32,
    /// Cases by top-level category code (`01` … `06`).
    pub cases_by_category: HashMap<String, u32>,
}

impl From<core::stats::WorkStats> for WorkStats {
    fn from(s: core::stats::WorkStats) -> Self {
        WorkStats {
            period: s.period.into(),
            first_day: day_str(s.from),
            last_day: day_str(s.to),
            visits_total: s.visits_total,
            visits_by_mode: s.visits_by_mode.into_iter().collect(),
            households_visited: s.households_visited,
            patrols: s.patrols,
            patrols_too_short: s.patrols_too_short,
            patrol_seconds: s.patrol_seconds,
            patrol_distance_m: s.patrol_distance_m,
            cases_total: s.cases_total,
            cases_by_category: s.cases_by_category.into_iter().collect(),
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchHit {
    /// `household` or `resident`.
    pub kind: String,
    pub id: String,
    pub household_id: String,
    /// What a list shows: the resident's name or the household's address.
    pub title: String,
    /// The household's one-line address (for residents too).
    pub address: String,
    pub active: bool,
}

impl From<core::search::SearchHit> for SearchHit {
    fn from(h: core::search::SearchHit) -> Self {
        SearchHit {
            kind: h.kind,
            id: h.id,
            household_id: h.household_id,
            title: h.title,
            address: h.address,
            active: h.active,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Settings, visit policy, ledgers
// ---------------------------------------------------------------------------------------------

/// Device settings (normally set by the supervisor through sync).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Settings {
    /// Offset of the worker's local time from UTC, in minutes (China: 480).
    pub utc_offset_minutes: i32,
    /// Patrols expected per day (一日双巡: 2).
    pub patrol_quota: u32,
    /// Who files cases from this device (the worker's account id).
    pub reporter: String,
    /// A patrol shorter than this does not count toward the quota and statistics (default 5;
    /// at most 240).
    #[uniffi(default = 5)]
    pub min_patrol_minutes: u32,
    /// A patrol covering less than this does not count either (default 100; at most 10000).
    #[uniffi(default = 100)]
    pub min_patrol_distance_m: u32,
}

impl From<core::store::Settings> for Settings {
    fn from(s: core::store::Settings) -> Self {
        Settings {
            utc_offset_minutes: s.utc_offset_minutes,
            patrol_quota: s.patrol_quota,
            reporter: s.reporter,
            min_patrol_minutes: s.min_patrol_minutes,
            min_patrol_distance_m: s.min_patrol_distance_m,
        }
    }
}

impl From<Settings> for core::store::Settings {
    fn from(s: Settings) -> Self {
        core::store::Settings {
            utc_offset_minutes: s.utc_offset_minutes,
            patrol_quota: s.patrol_quota,
            reporter: s.reporter,
            min_patrol_minutes: s.min_patrol_minutes,
            min_patrol_distance_m: s.min_patrol_distance_m,
        }
    }
}

/// One visit-frequency rule of a care tier ("any contact every 15 days").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitRule {
    pub care_tier: CareTier,
    /// Short name, unique within the tier (e.g. `contact`, `home`).
    pub rule: String,
    /// Visit modes that satisfy the rule.
    pub modes: Vec<VisitMode>,
    pub interval_days: u32,
}

impl From<core::tasks::VisitRule> for VisitRule {
    fn from(r: core::tasks::VisitRule) -> Self {
        VisitRule {
            care_tier: r.care_tier.into(),
            rule: r.rule,
            modes: r.modes.into_iter().map(Into::into).collect(),
            interval_days: r.interval_days,
        }
    }
}

impl From<VisitRule> for core::tasks::VisitRule {
    fn from(r: VisitRule) -> Self {
        core::tasks::VisitRule {
            care_tier: r.care_tier.into(),
            rule: r.rule,
            modes: r.modes.into_iter().map(Into::into).collect(),
            interval_days: r.interval_days,
        }
    }
}

/// A refused field, as reported for a rejected ledger row.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldError {
    pub field: String,
    pub code: ValidationCode,
    pub existing_household_id: Option<String>,
}

/// A ledger row that was not imported (nothing of it was saved).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedRow {
    /// Line (CSV) or row (xlsx) number; the header is line 1.
    pub line: u32,
    pub errors: Vec<FieldError>,
}

/// What a ledger import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// `utf-8`, `gbk` or `xlsx`.
    pub encoding: String,
    pub rows_total: u32,
    pub households_created: u32,
    /// Rows that joined a household already on the device (same address).
    pub households_matched: u32,
    pub residents_created: u32,
    pub rejected: Vec<RejectedRow>,
    /// Column headers that were not understood.
    pub ignored_columns: Vec<String>,
}

/// Saturating `usize` → `u32` (counts never get near the limit; never panic on it).
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<core::import::ImportReport> for ImportReport {
    fn from(r: core::import::ImportReport) -> Self {
        ImportReport {
            encoding: r.encoding,
            rows_total: count(r.rows_total),
            households_created: count(r.households_created),
            households_matched: count(r.households_matched),
            residents_created: count(r.residents_created),
            rejected: r
                .rejected
                .into_iter()
                .map(|row| RejectedRow {
                    line: count(row.line),
                    errors: row
                        .errors
                        .into_iter()
                        .map(|e| FieldError {
                            field: e.field,
                            code: e.code.into(),
                            existing_household_id: e.existing_household_id,
                        })
                        .collect(),
                })
                .collect(),
            ignored_columns: r.ignored_columns,
        }
    }
}
