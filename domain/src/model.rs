//! The records a grid worker keeps, and their vocabularies.
//!
//! Every enumeration here has a stable snake_case code (stored in SQLite, sent on the wire,
//! matched by scripts) plus a Chinese and an English label. `FromStr` accepts any of the three,
//! because ledgers typed at the community desk say "连心户", not "close".
//!
//! Ids are UUIDv7 strings made on the device (sortable by creation time, no coordination).
//! Instants are `DateTime<Utc>` (stored as UTC milliseconds); calendar days are `NaiveDate`
//! in the worker's local time zone.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Code, ValidationError};

/// A new client-generated id (UUIDv7: time-ordered, unique without a server).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Declares an enumeration with stable codes and zh/en labels.
macro_rules! str_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $zh:literal, $en:literal; )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stable machine code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }
            /// Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }
            /// English label.
            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }
            /// Parses a code, a Chinese label or an English label (case-insensitive).
            pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
                s.parse().map_err(|_| ValidationError::new(field, Code::InvalidValue))
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                let t = s.trim();
                $(
                    if t == $code || t == $zh || t.eq_ignore_ascii_case($en) {
                        return Ok($name::$variant);
                    }
                )+
                Err(())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label_zh())
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse().map_err(|_| rusqlite::types::FromSqlError::Other(format!("unknown {} code {s:?}", stringify!($name)).into()))
            }
        }
    };
}

str_enum! {
    /// Level of an organisational unit.
    GridLevel {
        District = "district", "区", "district";
        Street = "street", "街道", "street";
        Community = "community", "社区", "community";
        Grid = "grid", "网格", "grid";
    }
}

str_enum! {
    /// How a dwelling is used (群租房 is the rental-safety hot spot).
    HousingType {
        Owned = "owned", "自住", "owned";
        Rented = "rented", "出租", "rented";
        GroupRental = "group_rental", "群租", "group rental";
        Vacant = "vacant", "空置", "vacant";
        Business = "business", "商用", "business";
    }
}

str_enum! {
    /// How much care a household needs (放心户 / 关心户 / 连心户). Drives visit frequency.
    CareTier {
        Routine = "routine", "放心户", "routine";
        Attention = "attention", "关心户", "attention";
        Close = "close", "连心户", "close care";
    }
}

str_enum! {
    Gender {
        Male = "male", "男", "male";
        Female = "female", "女", "female";
    }
}

str_enum! {
    /// Registered (户籍) or floating (流动) population.
    Residency {
        Registered = "registered", "户籍", "registered";
        Floating = "floating", "流动", "floating";
    }
}

str_enum! {
    /// Relation to the head of household.
    Relation {
        Head = "head", "户主", "head";
        Spouse = "spouse", "配偶", "spouse";
        Child = "child", "子女", "child";
        Parent = "parent", "父母", "parent";
        Grandparent = "grandparent", "祖父母", "grandparent";
        Grandchild = "grandchild", "孙子女", "grandchild";
        Sibling = "sibling", "兄弟姐妹", "sibling";
        Tenant = "tenant", "租户", "tenant";
        Other = "other", "其他", "other";
    }
}

str_enum! {
    /// Special groups a worker keeps an eye on. Sensitive: never logged.
    SpecialGroup {
        ElderlyAlone = "elderly_alone", "独居老人", "elderly living alone";
        Disabled = "disabled", "残疾人", "disabled";
        LeftBehindChild = "left_behind_child", "留守儿童", "left-behind child";
        Poverty = "poverty", "困难群众", "poverty";
        SeriousIllness = "serious_illness", "大病慢病", "chronic or serious illness";
        CommunityCorrection = "community_correction", "社区矫正", "community correction";
        ReleasedPrisoner = "released_prisoner", "刑满释放", "released prisoner";
        MentalIllness = "mental_illness", "严重精神障碍", "mental illness under care";
        Veteran = "veteran", "退役军人", "veteran";
    }
}

str_enum! {
    /// Whether a record is in force.
    RecordStatus {
        Active = "active", "在册", "active";
        MovedOut = "moved_out", "已迁出", "moved out";
        Archived = "archived", "已归档", "archived";
    }
}

str_enum! {
    /// How a visit was made.
    VisitMode {
        InPerson = "in_person", "入户走访", "in person";
        Phone = "phone", "电话", "phone";
        Messaging = "messaging", "微信/短信", "messaging";
        NotAtHome = "not_at_home", "未遇", "not at home";
    }
}

str_enum! {
    VisitOutcome {
        Fine = "fine", "情况正常", "fine";
        NeedsFollowUp = "needs_follow_up", "需跟进", "needs follow-up";
        ProblemFound = "problem_found", "发现问题", "problem found";
        NoContact = "no_contact", "未联系上", "no contact";
    }
}

str_enum! {
    /// How urgent a case is. A major emergency starts an emergency plan at once.
    Urgency {
        Normal = "normal", "一般", "normal";
        Urgent = "urgent", "紧急", "urgent";
        Emergency = "emergency", "特急", "emergency";
    }
}

str_enum! {
    /// A case's place in the closed loop. `Draft` and `Submitted` are set on the device; every
    /// later state comes from the server's state machine.
    CaseStatus {
        Draft = "draft", "草稿", "draft";
        Submitted = "submitted", "已上报", "submitted";
        Accepted = "accepted", "已受理", "accepted";
        Dispatched = "dispatched", "已派遣", "dispatched";
        Handling = "handling", "处置中", "handling";
        VerificationRequested = "verification_requested", "待核查", "verification requested";
        Verified = "verified", "已核查", "verified";
        Rejected = "rejected", "核查未通过", "rejected";
        Returned = "returned", "已退回", "returned";
        Closed = "closed", "已结案", "closed";
        Archived = "archived", "已归档", "archived";
    }
}

str_enum! {
    TaskKind {
        VisitHousehold = "visit_household", "走访入户", "visit household";
        VerifyCase = "verify_case", "事件核查", "verify case";
        Patrol = "patrol", "巡查", "patrol";
        CollectInfo = "collect_info", "信息采集", "collect information";
        CallBack = "call_back", "回访", "call back";
        Custom = "custom", "其他任务", "custom";
    }
}

str_enum! {
    /// Where a task came from: assigned by a supervisor or generated by rules.
    TaskSource {
        Assigned = "assigned", "上级派发", "assigned";
        Generated = "generated", "系统生成", "generated";
        Own = "own", "自建", "own";
    }
}

str_enum! {
    TaskStatus {
        Open = "open", "待办", "open";
        Done = "done", "已完成", "done";
        Cancelled = "cancelled", "已取消", "cancelled";
    }
}

str_enum! {
    /// Priority of an item on the daily list (higher sorts first).
    Priority {
        Low = "low", "低", "low";
        Normal = "normal", "普通", "normal";
        High = "high", "高", "high";
        Urgent = "urgent", "紧急", "urgent";
    }
}

str_enum! {
    /// What the UI shows next to a record.
    SyncStatus {
        LocalOnly = "local", "仅本机", "local only";
        Pending = "pending", "待同步", "pending";
        Synced = "synced", "已同步", "synced";
        NeedsAttention = "attention", "需处理", "needs attention";
    }
}

/// A WGS-84 point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

/// A structured address. `community` and `building` are required; rural addresses put the
/// village group in `building` and the house number in `room`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// 社区/村
    pub community: String,
    /// 楼栋/组
    pub building: String,
    /// 单元
    pub unit: Option<String>,
    /// 楼层
    pub floor: Option<i32>,
    /// 房号/门牌号
    pub room: Option<String>,
    /// Free text: landmark, shop name, directions.
    pub text: Option<String>,
}

impl Address {
    /// A one-line rendering, e.g. `幸福社区 3栋 2单元 502`.
    pub fn one_line(&self) -> String {
        let mut parts = vec![self.community.clone(), self.building.clone()];
        if let Some(u) = &self.unit {
            parts.push(u.clone());
        }
        if let Some(r) = &self.room {
            parts.push(r.clone());
        }
        if let Some(t) = &self.text {
            parts.push(t.clone());
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" ")
    }
}

/// An organisational unit as the device knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgUnit {
    pub code: String,
    pub name: String,
    pub level: GridLevel,
    pub parent_code: Option<String>,
    /// GeoJSON Polygon or MultiPolygon, when known.
    pub boundary_geojson: Option<String>,
    /// Whether this is one of the worker's own grids.
    pub is_mine: bool,
}

/// What a worker types to create a household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdInput {
    pub grid_code: String,
    pub address: Address,
    pub housing_type: HousingType,
    pub care_tier: CareTier,
    pub tags: Vec<String>,
    pub location: Option<GeoPoint>,
    pub notes: Option<String>,
}

/// A change to some fields of a household; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HouseholdPatch {
    pub address: Option<Address>,
    pub housing_type: Option<HousingType>,
    pub care_tier: Option<CareTier>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` clears the location.
    pub location: Option<Option<GeoPoint>>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: String,
    pub grid_code: String,
    pub address: Address,
    pub housing_type: HousingType,
    pub care_tier: CareTier,
    pub tags: Vec<String>,
    pub location: Option<GeoPoint>,
    pub notes: Option<String>,
    pub status: RecordStatus,
    /// The location lies outside the grid's known boundary (flagged, not refused).
    pub outside_grid: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync_status: SyncStatus,
}

/// What a worker types to register a resident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidentInput {
    pub household_id: String,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    /// Derived from the ID number when one is given; only needed without one.
    pub gender: Option<Gender>,
    /// Derived from the ID number when one is given; only needed without one.
    pub birth_date: Option<NaiveDate>,
    pub relation: Relation,
    pub residency: Residency,
    pub special_groups: Vec<SpecialGroup>,
    pub moved_in_on: Option<NaiveDate>,
    pub notes: Option<String>,
}

/// A change to some fields of a resident; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResidentPatch {
    pub name: Option<String>,
    pub id_number: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub gender: Option<Option<Gender>>,
    pub birth_date: Option<Option<NaiveDate>>,
    pub relation: Option<Relation>,
    pub residency: Option<Residency>,
    pub special_groups: Option<Vec<SpecialGroup>>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resident {
    pub id: String,
    pub household_id: String,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<Gender>,
    pub birth_date: Option<NaiveDate>,
    pub relation: Relation,
    pub residency: Residency,
    pub special_groups: Vec<SpecialGroup>,
    pub moved_in_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub status: RecordStatus,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync_status: SyncStatus,
}

str_enum! {
    MoveKind {
        MoveIn = "move_in", "迁入", "move in";
        MoveOut = "move_out", "迁出", "move out";
        Transfer = "transfer", "户内调整", "transfer";
    }
}

/// One line of a resident's move history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidentMove {
    pub id: String,
    pub resident_id: String,
    pub kind: MoveKind,
    pub household_id: String,
    pub on: NaiveDate,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitInput {
    pub household_id: String,
    pub visited_at: DateTime<Utc>,
    pub mode: VisitMode,
    pub outcome: VisitOutcome,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub id: String,
    pub household_id: String,
    pub visited_at: DateTime<Utc>,
    pub mode: VisitMode,
    pub outcome: VisitOutcome,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sync_status: SyncStatus,
}

/// One GPS fix of a patrol track.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackPoint {
    pub at: DateTime<Utc>,
    pub lat: f64,
    pub lng: f64,
    /// Horizontal accuracy in metres, when the receiver reports it.
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patrol {
    pub id: String,
    pub grid_code: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Metres along the filtered track.
    pub distance_m: f64,
    /// Seconds from start to end (or to the last point while running).
    pub duration_s: i64,
    pub point_count: i64,
    pub notes: Option<String>,
    /// Cases filed during this patrol.
    pub case_ids: Vec<String>,
    pub sync_status: SyncStatus,
    /// Counts toward the daily quota and the statistics: ended, and at least the device's
    /// minimum duration and distance (settings; 5 minutes and 100 m by default).
    #[serde(default)]
    pub counts: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseInput {
    /// A sub-type code from [`crate::taxonomy::CASE_TYPES`], e.g. `0203`.
    pub type_code: String,
    pub urgency: Urgency,
    pub description: String,
    pub location: Option<GeoPoint>,
    pub address: Option<String>,
    pub grid_code: String,
    pub household_id: Option<String>,
    pub patrol_id: Option<String>,
}

/// Metadata of a photo attached to a record. The file lives in the store's photo folder
/// (see `photos.rs`: decoded, oriented, downscaled and re-encoded without EXIF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeta {
    pub id: String,
    /// `case` (a draft), `visit`, `patrol` or `verification` (after-evidence on a case).
    pub owner_kind: String,
    pub owner_id: String,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    pub file_name: String,
    pub byte_len: i64,
    pub mime: String,
    /// Capture time (EXIF DateTimeOriginal when the camera wrote one).
    pub taken_at: Option<DateTime<Utc>>,
    pub added_at: DateTime<Utc>,
    /// Pixel size of the stored image (absent for photos stored before schema v3).
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// Where the photo was taken (EXIF GPS), kept as a field: the stored file has no EXIF.
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// Thumbnail file in the photo folder, for lists.
    #[serde(default)]
    pub thumb_file: Option<String>,
    #[serde(default)]
    pub upload_state: PhotoUploadState,
    #[serde(default)]
    pub file_state: PhotoFileState,
}

str_enum! {
    /// Upload of a photo's file to the server (separate from its record).
    #[derive(Default)]
    PhotoUploadState {
        #[default]
        Pending = "pending", "待上传", "pending";
        Uploading = "uploading", "上传中", "uploading";
        /// The server confirmed the complete file with the matching SHA-256.
        Done = "done", "已上传", "uploaded";
    }
}

str_enum! {
    /// Whether the full-size file is still on the device.
    #[derive(Default)]
    PhotoFileState {
        #[default]
        Present = "present", "在本机", "on device";
        /// Released after the server confirmed it (the row and the thumbnail stay).
        Deleted = "deleted", "已清理", "released";
    }
}

str_enum! {
    CaseEventKind {
        Created = "created", "创建草稿", "created";
        Edited = "edited", "修改", "edited";
        PhotoAdded = "photo_added", "添加照片", "photo added";
        Submitted = "submitted", "上报", "submitted";
        /// The worker's on-site verification (核查): `status` is `verified` or `rejected`,
        /// `note` says what was found. The server applies it to the case.
        Verification = "verification", "现场核查", "on-site verification";
        /// The worker's call-back (回访) was made.
        CallBack = "call_back", "回访", "call back";
        ServerUpdate = "server_update", "平台处理", "server update";
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub id: String,
    pub case_id: String,
    pub kind: CaseEventKind,
    pub at: DateTime<Utc>,
    pub status: Option<CaseStatus>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub category_code: String,
    pub type_code: String,
    pub urgency: Urgency,
    pub description: String,
    pub location: Option<GeoPoint>,
    pub address: Option<String>,
    pub grid_code: String,
    pub outside_grid: bool,
    pub household_id: Option<String>,
    pub patrol_id: Option<String>,
    pub reporter: String,
    pub status: CaseStatus,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub photos: Vec<PhotoMeta>,
    pub events: Vec<CaseEvent>,
    pub sync_status: SyncStatus,
}

/// What a task points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTarget {
    /// `household`, `resident`, `case` or `grid`.
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInput {
    pub kind: TaskKind,
    pub title: String,
    pub target: Option<TaskTarget>,
    pub due_on: NaiveDate,
    pub priority: Priority,
    pub source: TaskSource,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub kind: TaskKind,
    pub title: String,
    pub target: Option<TaskTarget>,
    pub due_on: NaiveDate,
    pub priority: Priority,
    pub source: TaskSource,
    pub status: TaskStatus,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub sync_status: SyncStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_code_and_labels() {
        assert_eq!("连心户".parse::<CareTier>(), Ok(CareTier::Close));
        assert_eq!("close".parse::<CareTier>(), Ok(CareTier::Close));
        assert_eq!("Close Care".parse::<CareTier>(), Ok(CareTier::Close));
        assert_eq!("群租".parse::<HousingType>(), Ok(HousingType::GroupRental));
        assert!("nonsense".parse::<VisitMode>().is_err());
        let e = VisitMode::parse("mode", "fly").unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("mode", Code::InvalidValue));
        for m in VisitMode::ALL {
            assert_eq!(m.as_str().parse::<VisitMode>(), Ok(*m));
            assert_eq!(m.label_zh().parse::<VisitMode>(), Ok(*m));
        }
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = new_id();
        let b = new_id();
        assert!(a < b);
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }
}
