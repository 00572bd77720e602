//! The syncable entities and their fields: one table that the phone's writers, the phone's
//! apply of pulled records and the server's push checks all read.
//!
//! Each [`Field`] says its type with its bounds ([`Ty`]), whether a create must carry it, and
//! which record it refers to. [`check_payload`] judges one pushed payload field by field with the
//! validators of [`crate::validate`] — the very functions the phone runs when a worker types the
//! value — and [`check_record`] judges the rules that tie fields together (a sub-type must belong
//! to its category, a gender must agree with the ID number) on the record as it would be stored.
//! A refusal is a [`ValidationError`]: the field and a [`Code`], never the value (it may be an ID
//! number).
//!
//! Values are checked in their stored, canonical form: the phone normalises what a worker types
//! (a lowercase `x` in an ID number, `+86` in a phone) before it stores and pushes it, so a
//! non-canonical value on the wire did not come from an honest phone and is refused
//! ([`Code::InvalidFormat`]).
//!
//! A field the table does not know is refused ([`Code::UnknownField`]): silently storing it would
//! hide a version mismatch until data went missing.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::{Code, ValidationError};
use crate::model::*;
use crate::{taxonomy, validate};

/// Entity names as on the wire (the same strings as `gridwalk_protocol::entity`).
pub mod name {
    pub const HOUSEHOLD: &str = "household";
    pub const RESIDENT: &str = "resident";
    pub const RESIDENT_MOVE: &str = "resident_move";
    pub const VISIT: &str = "visit";
    pub const PATROL: &str = "patrol";
    pub const CASE: &str = "case";
    pub const CASE_EVENT: &str = "case_event";
    pub const PHOTO: &str = "photo";
    pub const TASK: &str = "task";
    pub const CONFLICT: &str = "conflict";
}

/// Floors a household may be on (basements to the tallest towers).
pub const FLOOR_RANGE: std::ops::RangeInclusive<i64> = -10..=200;
/// Longest id of a record (UUIDv7 strings are 36 characters).
pub const MAX_ID_CHARS: usize = 64;
/// Most items in a list field (tags, special groups, photos of a case).
pub const MAX_LIST_ITEMS: usize = 100;
/// Most fixes in one patrol track (a fix a second for 24 hours).
pub const MAX_TRACK_FIXES: usize = 86_400;
/// Largest photo the phone's pipeline produces and the server accepts (bytes).
pub const MAX_PHOTO_BYTES: i64 = 20 * 1024 * 1024;
/// Largest photo side in pixels.
pub const MAX_PHOTO_SIDE: i64 = 20_000;
/// Longest patrol, in metres and seconds (a day's walk, generously).
pub const MAX_PATROL_DISTANCE_M: f64 = 500_000.0;
pub const MAX_PATROL_DURATION_S: i64 = 7 * 24 * 3600;
/// Earliest instant a record may carry (2000-01-01T00:00:00Z): a phone whose clock was reset
/// to 1970 after a battery pull must not date a visit half a century back.
pub const EARLIEST_MS: i64 = 946_684_800_000;

/// A vocabulary check: whether a code is one of the allowed values.
pub type Vocab = fn(&str) -> bool;

/// Type and bounds of one payload field.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// Text up to `max` characters; when present, not blank.
    Text {
        max: usize,
    },
    /// Text up to `max` characters, or null; blank is stored as null by the phone.
    OptText {
        max: usize,
    },
    /// A person's name ([`validate::person_name`]).
    PersonName,
    /// A record id (a reference or a client-made id): 1–64 of `[A-Za-z0-9._-]`.
    Id,
    OptId,
    /// An integer within bounds.
    Int {
        min: i64,
        max: i64,
    },
    OptInt {
        min: i64,
        max: i64,
    },
    /// A finite number within bounds, or null.
    OptNum {
        min: f64,
        max: f64,
    },
    Bool,
    /// Milliseconds since the epoch, from [`EARLIEST_MS`] to now plus the tolerated skew.
    Instant,
    OptInstant,
    /// `YYYY-MM-DD`; `past`: not after today.
    Date {
        past: bool,
    },
    OptDate {
        past: bool,
    },
    /// One code of a vocabulary.
    Code(Vocab),
    OptCode(Vocab),
    /// A GB 11643 ID number in canonical form, or null.
    OptIdNumber,
    /// A mobile or landline number in canonical form, or null.
    OptPhone,
    /// A list of texts up to `max` characters each.
    TextList {
        max: usize,
    },
    /// A list of vocabulary codes, without repeats.
    CodeList(Vocab),
    /// A list of record ids.
    IdList,
    /// A lowercase hexadecimal SHA-256.
    Sha256,
    /// A patrol track: `[at_ms, lat, lng, accuracy_m|null]` per fix.
    Track,
}

/// One field of an entity.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// A create must carry it (not null).
    pub required: bool,
    /// The entity this field names by id (a reference the server resolves in scope).
    pub refers: Option<&'static str>,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
        refers: None,
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
        refers: None,
    }
}

const fn refers(mut field: Field, entity: &'static str) -> Field {
    field.refers = Some(entity);
    field
}

/// How the records of an entity change after creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Field-level merge by clock, with conflict records (households, residents, tasks, cases'
    /// device fields, conflicts).
    Fields,
    /// Last writer wins per field, no conflict records (a patrol has one author).
    LastWriter,
    /// Created once, never changed (visits, moves, case events, photo metadata).
    AppendOnly,
}

/// A syncable entity.
#[derive(Clone, Copy, Debug)]
pub struct Entity {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub merge: Merge,
    /// Fields only the server writes (a device may not push them).
    pub server_owned: &'static [&'static str],
    /// Fields a device may set at creation but not change afterwards.
    pub fixed: &'static [&'static str],
}

impl Entity {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

macro_rules! vocab {
    ($name:ident, $enum:ty) => {
        fn $name(s: &str) -> bool {
            <$enum>::ALL.iter().any(|v| v.as_str() == s)
        }
    };
}

vocab!(housing_type, HousingType);
vocab!(care_tier, CareTier);
vocab!(record_status, RecordStatus);
vocab!(gender, Gender);
vocab!(relation, Relation);
vocab!(residency, Residency);
vocab!(special_group, SpecialGroup);
vocab!(move_kind, MoveKind);
vocab!(visit_mode, VisitMode);
vocab!(visit_outcome, VisitOutcome);
vocab!(urgency, Urgency);
vocab!(case_status, CaseStatus);
vocab!(task_kind, TaskKind);
vocab!(task_source, TaskSource);
vocab!(task_status, TaskStatus);
vocab!(priority, Priority);

fn case_type(s: &str) -> bool {
    taxonomy::case_type(s).is_some_and(|t| t.code == s)
}

fn category(s: &str) -> bool {
    taxonomy::CATEGORIES.iter().any(|c| c.0 == s)
}

/// A worker's on-site verification result: `status` is `verified` or `rejected`.
pub const EVENT_VERIFICATION: &str = "verification";
/// A worker's call-back (回访) to the reporter or the resident was made.
pub const EVENT_CALL_BACK: &str = "call_back";
/// Events the server writes for its own status changes.
pub const EVENT_SERVER_UPDATE: &str = "server_update";

/// Case event kinds: the phone's timeline kinds, the worker's actions on the loop and the
/// server's own updates (which a device may not push; the server refuses them as server-owned).
fn case_event_kind(s: &str) -> bool {
    matches!(
        s,
        "created"
            | "edited"
            | "photo_added"
            | "submitted"
            | EVENT_VERIFICATION
            | EVENT_CALL_BACK
            | EVENT_SERVER_UPDATE
    )
}

/// What a photo belongs to. `verification`: after-evidence on a case (owner id = the case id).
fn owner_kind(s: &str) -> bool {
    matches!(
        s,
        "case" | "household" | "visit" | "patrol" | "verification"
    )
}

/// The entity a photo's owner id names.
pub fn photo_owner_entity(owner_kind: &str) -> Option<&'static str> {
    Some(match owner_kind {
        "case" | "verification" => name::CASE,
        "household" => name::HOUSEHOLD,
        "visit" => name::VISIT,
        "patrol" => name::PATROL,
        _ => return None,
    })
}

fn target_kind(s: &str) -> bool {
    matches!(s, "household" | "resident" | "case" | "grid")
}

fn conflict_status(s: &str) -> bool {
    matches!(s, "open" | "resolved")
}

/// The one type photos are stored and synced as: the phone's pipeline re-encodes every photo as
/// JPEG without EXIF (core `photos.rs`), and the server accepts only JPEG bytes.
pub const PHOTO_MIME: &str = "image/jpeg";

fn photo_mime(s: &str) -> bool {
    s == PHOTO_MIME
}

const LAT: Ty = Ty::OptNum {
    min: -90.0,
    max: 90.0,
};
const LNG: Ty = Ty::OptNum {
    min: -180.0,
    max: 180.0,
};
const NOTES: Ty = Ty::OptText { max: 1000 };
const GRID_CODE: Ty = Ty::Text { max: 40 };

const HOUSEHOLD: &[Field] = &[
    req("grid_code", GRID_CODE),
    req("community", Ty::Text { max: 50 }),
    req("building", Ty::Text { max: 30 }),
    f("unit", Ty::OptText { max: 20 }),
    f(
        "floor",
        Ty::OptInt {
            min: *FLOOR_RANGE.start(),
            max: *FLOOR_RANGE.end(),
        },
    ),
    f("room", Ty::OptText { max: 20 }),
    f("address_text", Ty::OptText { max: 200 }),
    req("housing_type", Ty::Code(housing_type)),
    req("care_tier", Ty::Code(care_tier)),
    f("tags", Ty::TextList { max: 20 }),
    f("lat", LAT),
    f("lng", LNG),
    f("notes", NOTES),
    f("status", Ty::Code(record_status)),
];

const RESIDENT: &[Field] = &[
    refers(req("household_id", Ty::Id), name::HOUSEHOLD),
    req("name", Ty::PersonName),
    f("id_number", Ty::OptIdNumber),
    f("phone", Ty::OptPhone),
    f("gender", Ty::OptCode(gender)),
    f("birth_date", Ty::OptDate { past: true }),
    req("relation", Ty::Code(relation)),
    req("residency", Ty::Code(residency)),
    f("special_groups", Ty::CodeList(special_group)),
    f("moved_in_on", Ty::OptDate { past: true }),
    f("moved_out_on", Ty::OptDate { past: true }),
    f("status", Ty::Code(record_status)),
    f("notes", NOTES),
];

const RESIDENT_MOVE: &[Field] = &[
    refers(req("resident_id", Ty::Id), name::RESIDENT),
    req("kind", Ty::Code(move_kind)),
    refers(req("household_id", Ty::Id), name::HOUSEHOLD),
    req("on", Ty::Date { past: true }),
    f("note", NOTES),
];

const VISIT: &[Field] = &[
    refers(req("household_id", Ty::Id), name::HOUSEHOLD),
    req("visited_at", Ty::Instant),
    req("mode", Ty::Code(visit_mode)),
    req("outcome", Ty::Code(visit_outcome)),
    f("notes", Ty::OptText { max: 2000 }),
];

const PATROL: &[Field] = &[
    req("grid_code", GRID_CODE),
    req("started_at", Ty::Instant),
    f("ended_at", Ty::OptInstant),
    f("notes", Ty::OptText { max: 2000 }),
    f(
        "distance_m",
        Ty::OptNum {
            min: 0.0,
            max: MAX_PATROL_DISTANCE_M,
        },
    ),
    f(
        "duration_s",
        Ty::OptInt {
            min: 0,
            max: MAX_PATROL_DURATION_S,
        },
    ),
    f("track", Ty::Track),
];

const CASE: &[Field] = &[
    f("category_code", Ty::Code(category)),
    req("type_code", Ty::Code(case_type)),
    req("urgency", Ty::Code(urgency)),
    f("description", Ty::OptText { max: 2000 }),
    f("lat", LAT),
    f("lng", LNG),
    f("address", Ty::OptText { max: 200 }),
    req("grid_code", GRID_CODE),
    f("outside_grid", Ty::Bool),
    refers(f("household_id", Ty::OptId), name::HOUSEHOLD),
    refers(f("patrol_id", Ty::OptId), name::PATROL),
    f("reporter", Ty::OptText { max: 50 }),
    f("created_at", Ty::OptInstant),
    f("submitted_at", Ty::OptInstant),
    f("photos", Ty::IdList),
    // Only `submitted`, and only in a create (the server's loop owns the status).
    f("status", Ty::Code(case_status)),
];

/// Case fields only the server writes (the loop's state).
pub const CASE_SERVER_FIELDS: &[&str] = &[
    "status",
    "reporter_user",
    "received_at",
    "accepted_at",
    "deadline_at",
    "assignee",
    "dispatched_at",
    "handling_at",
    "verification_requested_at",
    "verified_at",
    "rejected_at",
    "closed_at",
    "archived_at",
    "returned_at",
    "return_reason",
    "escalated_to",
    "escalated_at",
    "updated_at",
    // Evaluation (评价考核) and the satisfaction call-back (满意度回访), from the console.
    "evaluation_score",
    "evaluation_note",
    "evaluated_by",
    "evaluated_at",
    "callback_reached",
    "callback_satisfaction",
    "callback_note",
    "callback_by",
    "callback_at",
    "reopened_at",
    "reopened_count",
];

const CASE_EVENT: &[Field] = &[
    refers(req("case_id", Ty::Id), name::CASE),
    req("kind", Ty::Code(case_event_kind)),
    f("at", Ty::OptInstant),
    f("status", Ty::OptCode(case_status)),
    f("note", Ty::OptText { max: 2000 }),
];

const PHOTO: &[Field] = &[
    req("owner_kind", Ty::Code(owner_kind)),
    // The owner's entity depends on `owner_kind` ([`photo_owner_entity`]).
    req("owner_id", Ty::Id),
    req("sha256", Ty::Sha256),
    f(
        "byte_len",
        Ty::OptInt {
            min: 1,
            max: MAX_PHOTO_BYTES,
        },
    ),
    f("mime", Ty::OptCode(photo_mime)),
    f("taken_at", Ty::OptInstant),
    f(
        "width",
        Ty::OptInt {
            min: 1,
            max: MAX_PHOTO_SIDE,
        },
    ),
    f(
        "height",
        Ty::OptInt {
            min: 1,
            max: MAX_PHOTO_SIDE,
        },
    ),
    // Where the photo was taken (EXIF GPS, kept as fields: the stored file has no EXIF).
    f("lat", LAT),
    f("lng", LNG),
];

const TASK: &[Field] = &[
    req("kind", Ty::Code(task_kind)),
    req("title", Ty::Text { max: 100 }),
    f("target_kind", Ty::OptCode(target_kind)),
    // The target's entity depends on `target_kind`.
    f("target_id", Ty::OptId),
    req("due_on", Ty::Date { past: false }),
    f("priority", Ty::Code(priority)),
    f("source", Ty::Code(task_source)),
    f("notes", NOTES),
    f("grid_code", Ty::OptText { max: 40 }),
    f("assignee", Ty::OptId),
    f("status", Ty::Code(task_status)),
    f("completed_at", Ty::OptInstant),
];

/// Task fields a device may not change after creation.
pub const TASK_FIXED_FIELDS: &[&str] = &[
    "kind",
    "target_kind",
    "target_id",
    "grid_code",
    "assignee",
    "source",
    "created_by",
    "created_at",
];

const CONFLICT: &[Field] = &[
    f("status", Ty::Code(conflict_status)),
    f("resolution", Ty::OptText { max: 500 }),
    f("resolved_at", Ty::OptInstant),
];

/// Every syncable entity, parents before children.
pub const ENTITIES: &[Entity] = &[
    Entity {
        name: name::HOUSEHOLD,
        fields: HOUSEHOLD,
        merge: Merge::Fields,
        server_owned: &[],
        fixed: &["grid_code"],
    },
    Entity {
        name: name::PATROL,
        fields: PATROL,
        merge: Merge::LastWriter,
        server_owned: &[],
        fixed: &["grid_code"],
    },
    Entity {
        name: name::RESIDENT,
        fields: RESIDENT,
        merge: Merge::Fields,
        server_owned: &[],
        fixed: &[],
    },
    Entity {
        name: name::RESIDENT_MOVE,
        fields: RESIDENT_MOVE,
        merge: Merge::AppendOnly,
        server_owned: &[],
        fixed: &[],
    },
    Entity {
        name: name::VISIT,
        fields: VISIT,
        merge: Merge::AppendOnly,
        server_owned: &[],
        fixed: &[],
    },
    Entity {
        name: name::CASE,
        fields: CASE,
        merge: Merge::Fields,
        server_owned: CASE_SERVER_FIELDS,
        fixed: &["grid_code"],
    },
    Entity {
        name: name::CASE_EVENT,
        fields: CASE_EVENT,
        merge: Merge::AppendOnly,
        server_owned: &[],
        fixed: &[],
    },
    Entity {
        name: name::PHOTO,
        fields: PHOTO,
        merge: Merge::AppendOnly,
        server_owned: &[],
        fixed: &[],
    },
    Entity {
        name: name::TASK,
        fields: TASK,
        merge: Merge::Fields,
        server_owned: &["created_by", "created_at"],
        fixed: TASK_FIXED_FIELDS,
    },
    Entity {
        name: name::CONFLICT,
        fields: CONFLICT,
        merge: Merge::Fields,
        server_owned: &[],
        fixed: &[],
    },
];

/// The entity named `name`.
pub fn entity(name: &str) -> Option<&'static Entity> {
    ENTITIES.iter().find(|e| e.name == name)
}

/// The clock against which instants and dates are judged.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub ms: i64,
    /// The calendar day in the worker's time zone (China Standard Time on the server).
    pub today: NaiveDate,
}

impl Now {
    /// `ms` with today's date in China Standard Time (UTC+8), as the server judges.
    pub fn china(ms: i64) -> Now {
        let today = DateTime::<Utc>::from_timestamp_millis(ms)
            .map(|t| (t + Duration::hours(8)).date_naive())
            .unwrap_or_default();
        Now { ms, today }
    }
}

/// Whether `s` has the shape of a record id.
pub fn id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Checks each field of a pushed payload: known, of its type, within its bounds, canonical; and
/// for a create, that every required field is there. Server-owned fields are the caller's
/// concern (it answers them with their own reason).
pub fn check_payload(
    entity: &Entity,
    payload: &Map<String, Value>,
    create: bool,
    now: Now,
) -> Result<(), ValidationError> {
    for (name, value) in payload {
        let Some(field) = entity.field(name) else {
            if entity.server_owned.contains(&name.as_str()) {
                continue;
            }
            return Err(ValidationError::new(name.as_str(), Code::UnknownField));
        };
        check_value(field, value, now)?;
    }
    if create {
        if let Some(missing) = entity
            .fields
            .iter()
            .find(|f| f.required && payload.get(f.name).is_none_or(Value::is_null))
        {
            return Err(ValidationError::new(missing.name, Code::Required));
        }
    }
    Ok(())
}

/// Checks one value against its field.
pub fn check_value(field: &Field, v: &Value, now: Now) -> Result<(), ValidationError> {
    let name = field.name;
    let err = |code| Err(ValidationError::new(name, code));
    let optional = matches!(
        field.ty,
        Ty::OptText { .. }
            | Ty::OptId
            | Ty::OptInt { .. }
            | Ty::OptNum { .. }
            | Ty::OptInstant
            | Ty::OptDate { .. }
            | Ty::OptCode(_)
            | Ty::OptIdNumber
            | Ty::OptPhone
    );
    if v.is_null() {
        return if optional || !field.required && is_list(field.ty) {
            Ok(())
        } else {
            err(Code::Required)
        };
    }
    match field.ty {
        Ty::Text { max } | Ty::OptText { max } => {
            let s = text(name, v)?;
            if matches!(field.ty, Ty::Text { .. }) && s.trim().is_empty() {
                return err(Code::Required);
            }
            validate::max_chars(name, s, max)
        }
        Ty::PersonName => {
            let s = text(name, v)?;
            let clean = validate::person_name(name, s)?;
            canonical(name, s, &clean)
        }
        Ty::Id | Ty::OptId => {
            if id_ok(text(name, v)?) {
                Ok(())
            } else {
                err(Code::InvalidFormat)
            }
        }
        Ty::Int { min, max } | Ty::OptInt { min, max } => {
            let n = v
                .as_i64()
                .ok_or_else(|| ValidationError::new(name, Code::InvalidFormat))?;
            if (min..=max).contains(&n) {
                Ok(())
            } else {
                err(Code::OutOfRange)
            }
        }
        Ty::OptNum { min, max } => {
            let x = v
                .as_f64()
                .ok_or_else(|| ValidationError::new(name, Code::InvalidFormat))?;
            if x.is_finite() && (min..=max).contains(&x) {
                Ok(())
            } else {
                err(Code::OutOfRange)
            }
        }
        Ty::Bool => {
            if v.is_boolean() {
                Ok(())
            } else {
                err(Code::InvalidFormat)
            }
        }
        Ty::Instant | Ty::OptInstant => instant(name, v, now),
        Ty::Date { past } | Ty::OptDate { past } => {
            let d = date(name, v)?;
            if past {
                validate::date_not_future(name, d, now.today)?;
            }
            Ok(())
        }
        Ty::Code(ok) | Ty::OptCode(ok) => {
            if ok(text(name, v)?) {
                Ok(())
            } else {
                err(Code::InvalidValue)
            }
        }
        Ty::OptIdNumber => {
            let s = text(name, v)?;
            let (clean, _) = validate::id_number(name, s, now.today)?;
            canonical(name, s, &clean)
        }
        Ty::OptPhone => {
            let s = text(name, v)?;
            let clean = validate::phone(name, s)?;
            canonical(name, s, &clean)
        }
        Ty::TextList { max } => {
            for item in list(name, v)? {
                validate::max_chars(name, text(name, item)?, max)?;
            }
            Ok(())
        }
        Ty::CodeList(ok) => {
            let items = list(name, v)?;
            for (i, item) in items.iter().enumerate() {
                if !ok(text(name, item)?) {
                    return err(Code::InvalidValue);
                }
                if items[..i].contains(item) {
                    return err(Code::Duplicate);
                }
            }
            Ok(())
        }
        Ty::IdList => {
            for item in list(name, v)? {
                if !id_ok(text(name, item)?) {
                    return err(Code::InvalidFormat);
                }
            }
            Ok(())
        }
        Ty::Sha256 => {
            let s = text(name, v)?;
            if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(())
            } else {
                err(Code::InvalidFormat)
            }
        }
        Ty::Track => track(name, v, now),
    }
}

fn is_list(ty: Ty) -> bool {
    matches!(
        ty,
        Ty::TextList { .. } | Ty::CodeList(_) | Ty::IdList | Ty::Track
    )
}

fn text<'a>(field: &str, v: &'a Value) -> Result<&'a str, ValidationError> {
    v.as_str()
        .ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))
}

fn list<'a>(field: &str, v: &'a Value) -> Result<&'a Vec<Value>, ValidationError> {
    let items = v
        .as_array()
        .ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))?;
    if items.len() > MAX_LIST_ITEMS {
        return Err(ValidationError::new(field, Code::TooLong));
    }
    Ok(items)
}

/// A value the phone would have stored differently did not come from the phone's writer.
fn canonical(field: &str, sent: &str, clean: &str) -> Result<(), ValidationError> {
    if sent == clean {
        Ok(())
    } else {
        Err(ValidationError::new(field, Code::InvalidFormat))
    }
}

fn date(field: &str, v: &Value) -> Result<NaiveDate, ValidationError> {
    let s = text(field, v)?;
    if s.len() != 10 {
        return Err(ValidationError::new(field, Code::InvalidDate));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, Code::InvalidDate))
}

/// The latest instant accepted: now plus the skew the phone's own checks tolerate.
fn latest_ms(now: Now) -> i64 {
    now.ms
        .saturating_add(validate::CLOCK_SKEW_MINUTES.saturating_mul(60_000))
}

fn instant_ms(field: &str, ms: i64, now: Now) -> Result<(), ValidationError> {
    if ms < EARLIEST_MS {
        return Err(ValidationError::new(field, Code::OutOfRange));
    }
    if ms > latest_ms(now) {
        return Err(ValidationError::new(field, Code::FutureDate));
    }
    Ok(())
}

fn instant(field: &str, v: &Value, now: Now) -> Result<(), ValidationError> {
    let ms = v
        .as_i64()
        .ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))?;
    instant_ms(field, ms, now)
}

fn track(field: &str, v: &Value, now: Now) -> Result<(), ValidationError> {
    let fixes = v
        .as_array()
        .ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))?;
    if fixes.len() > MAX_TRACK_FIXES {
        return Err(ValidationError::new(field, Code::TooLong));
    }
    for fix in fixes {
        let shape = || ValidationError::new(field, Code::InvalidFormat);
        let p = fix.as_array().filter(|p| p.len() == 4).ok_or_else(shape)?;
        instant_ms(field, p[0].as_i64().ok_or_else(shape)?, now)?;
        let lat = p[1].as_f64().ok_or_else(shape)?;
        let lng = p[2].as_f64().ok_or_else(shape)?;
        validate::coordinates(field, GeoPoint { lat, lng })
            .map_err(|e| ValidationError::new(field, e.code))?;
        if !(p[3].is_null() || p[3].as_f64().is_some_and(|a| a.is_finite() && a >= 0.0)) {
            return Err(ValidationError::new(field, Code::OutOfRange));
        }
    }
    Ok(())
}

fn s<'a>(rec: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    rec.get(field).and_then(Value::as_str)
}

/// Checks the rules that tie fields of one record together, on the record as it would be
/// stored (after a create, or after an update merged into the stored record).
pub fn check_record(entity: &Entity, rec: &Map<String, Value>) -> Result<(), ValidationError> {
    let mismatch = |field: &str| Err(ValidationError::new(field, Code::Mismatch));
    // A position is both coordinates or neither; (0, 0) is a GPS without a fix.
    if entity.field("lat").is_some() {
        let lat = rec.get("lat").and_then(Value::as_f64);
        let lng = rec.get("lng").and_then(Value::as_f64);
        match (lat, lng) {
            (Some(lat), Some(lng)) => {
                validate::coordinates("", GeoPoint { lat, lng }).map_err(|e| {
                    ValidationError::new(e.field.trim_start_matches('.').to_string(), e.code)
                })?
            }
            (None, None) => {}
            (None, Some(_)) => return Err(ValidationError::new("lat", Code::Required)),
            (Some(_), None) => return Err(ValidationError::new("lng", Code::Required)),
        }
    }
    match entity.name {
        name::CASE => {
            if let (Some(t), Some(c)) = (s(rec, "type_code"), s(rec, "category_code")) {
                if !taxonomy::type_in_category(t, c) {
                    return mismatch("type_code");
                }
            }
        }
        name::RESIDENT => {
            if let Some(id) = s(rec, "id_number") {
                // Already checked field by field; here only what it says about the holder.
                let far = NaiveDate::MAX;
                if let Ok((_, info)) = validate::id_number("id_number", id, far) {
                    if s(rec, "gender").is_some_and(|g| g != info.gender.as_str()) {
                        return mismatch("gender");
                    }
                    let born = info.birth_date.format("%Y-%m-%d").to_string();
                    if s(rec, "birth_date").is_some_and(|b| b != born) {
                        return mismatch("birth_date");
                    }
                }
            }
            if let (Some(i), Some(o)) = (s(rec, "moved_in_on"), s(rec, "moved_out_on")) {
                if o < i {
                    return mismatch("moved_out_on");
                }
            }
        }
        // Not at home means nobody was reached.
        name::VISIT
            if s(rec, "mode") == Some(VisitMode::NotAtHome.as_str())
                && s(rec, "outcome") != Some(VisitOutcome::NoContact.as_str()) =>
        {
            return mismatch("outcome");
        }
        name::PATROL => {
            let start = rec.get("started_at").and_then(Value::as_i64);
            let end = rec.get("ended_at").and_then(Value::as_i64);
            if let (Some(a), Some(b)) = (start, end) {
                if b < a {
                    return mismatch("ended_at");
                }
            }
        }
        name::PHOTO => {
            if let Some(kind) = s(rec, "owner_kind") {
                if photo_owner_entity(kind).is_none() {
                    return Err(ValidationError::new("owner_kind", Code::InvalidValue));
                }
            }
        }
        // A target id means nothing without its kind.
        name::TASK
            if rec.get("target_id").is_some_and(|v| !v.is_null())
                && rec.get("target_kind").is_none_or(Value::is_null) =>
        {
            return Err(ValidationError::new("target_kind", Code::Required));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn now() -> Now {
        // 2024-06-15T04:00:00Z, noon in China.
        Now::china(1_718_424_000_000)
    }

    fn code_of(entity_name: &str, payload: Value, create: bool) -> Option<(String, Code)> {
        let e = entity(entity_name).expect("entity");
        let p = obj(payload);
        check_payload(e, &p, create, now())
            .and_then(|()| check_record(e, &p))
            .err()
            .map(|e| (e.field, e.code))
    }

    fn household() -> Value {
        json!({"grid_code": "g", "community": "c", "building": "1",
            "housing_type": "owned", "care_tier": "routine"})
    }

    #[test]
    fn china_today_is_the_day_in_utc_plus_8() {
        // 2024-06-15T20:00:00Z is already the 16th in Beijing.
        let n = Now::china(1_718_481_600_000);
        assert_eq!(n.today, NaiveDate::from_ymd_opt(2024, 6, 16).unwrap());
    }

    #[test]
    fn household_create_needs_its_required_fields() {
        assert_eq!(code_of(name::HOUSEHOLD, household(), true), None);
        let got = code_of(name::HOUSEHOLD, json!({"grid_code": "g"}), true);
        assert_eq!(got, Some(("community".into(), Code::Required)));
        assert_eq!(
            code_of(name::HOUSEHOLD, json!({"grid_code": "g"}), false),
            None
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let cases = [
            (json!({"colour": "red"}), "colour", Code::UnknownField),
            (json!({"floor": "three"}), "floor", Code::InvalidFormat),
            (json!({"floor": -1000}), "floor", Code::OutOfRange),
            (json!({"care_tier": "vip"}), "care_tier", Code::InvalidValue),
            (json!({"lat": 91.0, "lng": 100.0}), "lat", Code::OutOfRange),
            (json!({"lat": 0.0, "lng": 0.0}), "lat", Code::InvalidValue),
            (json!({"lat": 37.0}), "lng", Code::Required),
            (json!({"building": "  "}), "building", Code::Required),
            (json!({"tags": vec!["x"; 101]}), "tags", Code::TooLong),
        ];
        for (payload, field, code) in cases {
            let got = code_of(name::HOUSEHOLD, payload.clone(), false);
            assert_eq!(got, Some((field.to_string(), code)), "{payload}");
        }
    }

    #[test]
    fn residents_are_checked_as_the_phone_checks_them() {
        let base = |extra: Value| {
            let mut p = obj(json!({"household_id": "h1", "name": "张三",
                "relation": "head", "residency": "registered"}));
            p.extend(obj(extra));
            Value::Object(p)
        };
        assert_eq!(code_of(name::RESIDENT, base(json!({})), true), None);
        // 11010519491231002X is the GB 11643 example number.
        let good = json!({"id_number": "11010519491231002X", "gender": "female",
            "birth_date": "1949-12-31", "phone": "13800138000"});
        assert_eq!(code_of(name::RESIDENT, base(good), true), None);
        let cases = [
            (
                json!({"id_number": "110105194912310021"}),
                "id_number",
                Code::InvalidChecksum,
            ),
            (
                json!({"id_number": "11010519491231002x"}),
                "id_number",
                Code::InvalidFormat,
            ),
            (
                json!({"id_number": "11010519491231002X", "gender": "male"}),
                "gender",
                Code::Mismatch,
            ),
            (
                json!({"birth_date": "2999-01-01"}),
                "birth_date",
                Code::FutureDate,
            ),
            (
                json!({"birth_date": "2023-02-29"}),
                "birth_date",
                Code::InvalidDate,
            ),
            (json!({"phone": "abc"}), "phone", Code::InvalidFormat),
            (
                json!({"phone": "+86 138 0013 8000"}),
                "phone",
                Code::InvalidFormat,
            ),
            (
                json!({"name": "Robert'); DROP"}),
                "name",
                Code::InvalidFormat,
            ),
            (
                json!({"special_groups": ["elderly_alone", "nope"]}),
                "special_groups",
                Code::InvalidValue,
            ),
            (
                json!({"moved_in_on": "2020-01-02", "moved_out_on": "2020-01-01"}),
                "moved_out_on",
                Code::Mismatch,
            ),
            (
                json!({"household_id": "../etc"}),
                "household_id",
                Code::InvalidFormat,
            ),
        ];
        for (extra, field, code) in cases {
            let got = code_of(name::RESIDENT, base(extra.clone()), true);
            assert_eq!(got, Some((field.to_string(), code)), "{extra}");
        }
    }

    #[test]
    fn cases_photos_visits_patrols_and_tasks() {
        let case = json!({"type_code": "0203", "category_code": "01", "urgency": "normal",
            "grid_code": "g"});
        assert_eq!(
            code_of(name::CASE, case, true),
            Some(("type_code".into(), Code::Mismatch))
        );
        let case = json!({"type_code": "0203", "category_code": "02", "urgency": "normal",
            "grid_code": "g"});
        assert_eq!(code_of(name::CASE, case, true), None);
        let photo = |extra: Value| {
            let mut p = obj(json!({"owner_kind": "case", "owner_id": "c1",
                "sha256": "a".repeat(64)}));
            p.extend(obj(extra));
            Value::Object(p)
        };
        assert_eq!(code_of(name::PHOTO, photo(json!({})), true), None);
        for (extra, field, code) in [
            (json!({"byte_len": -5}), "byte_len", Code::OutOfRange),
            (json!({"mime": "text/html"}), "mime", Code::InvalidValue),
            (
                json!({"sha256": "A".repeat(64)}),
                "sha256",
                Code::InvalidFormat,
            ),
            (json!({"width": 0}), "width", Code::OutOfRange),
        ] {
            assert_eq!(
                code_of(name::PHOTO, photo(extra.clone()), true),
                Some((field.to_string(), code)),
                "{extra}"
            );
        }
        let far = now().ms + 3_600_000;
        let visit = json!({"household_id": "h", "visited_at": far, "mode": "in_person",
            "outcome": "fine"});
        assert_eq!(
            code_of(name::VISIT, visit, true),
            Some(("visited_at".into(), Code::FutureDate))
        );
        let track = json!({"track": [[now().ms, 97.0, 107.0, null]]});
        assert_eq!(
            code_of(name::PATROL, track, false),
            Some(("track".into(), Code::OutOfRange))
        );
        let task = json!({"target_id": "h1"});
        assert_eq!(
            code_of(name::TASK, task, false),
            Some(("target_kind".into(), Code::Required))
        );
    }

    #[test]
    fn every_reference_names_an_entity_of_the_table() {
        for e in ENTITIES {
            for f in e.fields {
                if let Some(r) = f.refers {
                    assert!(entity(r).is_some(), "{}.{} -> {r}", e.name, f.name);
                }
            }
        }
    }
}
