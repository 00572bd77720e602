//! What each pushed entity may carry: field names, types, vocabularies and which fields the
//! server owns.
//!
//! The specs mirror the payload builders of `gridwalk-core` (`households.rs`, `residents.rs`,
//! `visits.rs`, `patrols.rs`, `cases.rs`, `tasks.rs`), so the server accepts exactly what the
//! phone sends. Vocabularies come from core's enums, so a new code added there is accepted here
//! without a second list. A field the server does not know is refused (`invalid`, naming the
//! field): silently storing it would hide a version mismatch until data went missing.

use chrono::NaiveDate;
use gridwalk_core::model::{
    CareTier, CaseStatus, Gender, HousingType, MoveKind, Priority, RecordStatus, Relation,
    Residency, SpecialGroup, TaskKind, TaskSource, TaskStatus, Urgency, VisitMode, VisitOutcome,
};
use gridwalk_protocol::entity;
use serde_json::{Map, Value};

/// Type of one payload field.
#[derive(Clone, Copy)]
pub enum Ty {
    /// Non-empty string up to `n` characters.
    Str(usize),
    /// String up to `n` characters, or null.
    OptStr(usize),
    Int,
    OptInt,
    OptNum,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    OptDate,
    /// One of a vocabulary.
    Code(fn(&str) -> bool),
    OptCode(fn(&str) -> bool),
    /// Array of strings up to `n` characters each (at most 100 items).
    StrArray(usize),
    CodeArray(fn(&str) -> bool),
    /// Any JSON array (patrol tracks), checked by its own rule.
    Track,
}

/// One field of a payload.
#[derive(Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// Must be present in a create.
    pub required: bool,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
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
    gridwalk_core::cases::case_type(s).is_some_and(|t| t.code == s)
}

fn category(s: &str) -> bool {
    gridwalk_core::cases::CATEGORIES.iter().any(|c| c.0 == s)
}

/// Event kinds a device may push: core's timeline kinds plus the worker's actions on the loop.
pub fn case_event_kind(s: &str) -> bool {
    matches!(
        s,
        "created" | "edited" | "photo_added" | "submitted" | EVENT_VERIFICATION | EVENT_CALL_BACK
    )
}

/// A worker's on-site verification result: `status` is `verified` or `rejected`.
pub const EVENT_VERIFICATION: &str = "verification";
/// A worker's call-back (回访) to the reporter or the resident was made.
pub const EVENT_CALL_BACK: &str = "call_back";
/// Events the server writes for its own status changes.
pub const EVENT_SERVER_UPDATE: &str = "server_update";

fn owner_kind(s: &str) -> bool {
    // `verification`: after-evidence on a case (owner_id is the case id); see core's photos.rs.
    matches!(
        s,
        "case" | "household" | "visit" | "patrol" | "verification"
    )
}

fn target_kind(s: &str) -> bool {
    matches!(s, "household" | "resident" | "case" | "grid")
}

fn conflict_status(s: &str) -> bool {
    matches!(s, "open" | "resolved")
}

fn sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

const HOUSEHOLD: &[Field] = &[
    req("grid_code", Ty::Str(40)),
    req("community", Ty::Str(50)),
    req("building", Ty::Str(30)),
    f("unit", Ty::OptStr(20)),
    f("floor", Ty::OptInt),
    f("room", Ty::OptStr(20)),
    f("address_text", Ty::OptStr(200)),
    req("housing_type", Ty::Code(housing_type)),
    req("care_tier", Ty::Code(care_tier)),
    f("tags", Ty::StrArray(20)),
    f("lat", Ty::OptNum),
    f("lng", Ty::OptNum),
    f("notes", Ty::OptStr(1000)),
    f("status", Ty::Code(record_status)),
];

const RESIDENT: &[Field] = &[
    req("household_id", Ty::Str(64)),
    req("name", Ty::Str(50)),
    f("id_number", Ty::OptStr(18)),
    f("phone", Ty::OptStr(20)),
    f("gender", Ty::OptCode(gender)),
    f("birth_date", Ty::OptDate),
    req("relation", Ty::Code(relation)),
    req("residency", Ty::Code(residency)),
    f("special_groups", Ty::CodeArray(special_group)),
    f("moved_in_on", Ty::OptDate),
    f("moved_out_on", Ty::OptDate),
    f("status", Ty::Code(record_status)),
    f("notes", Ty::OptStr(1000)),
];

const RESIDENT_MOVE: &[Field] = &[
    req("resident_id", Ty::Str(64)),
    req("kind", Ty::Code(move_kind)),
    req("household_id", Ty::Str(64)),
    req("on", Ty::Date),
    f("note", Ty::OptStr(1000)),
];

const VISIT: &[Field] = &[
    req("household_id", Ty::Str(64)),
    req("visited_at", Ty::Int),
    req("mode", Ty::Code(visit_mode)),
    req("outcome", Ty::Code(visit_outcome)),
    f("notes", Ty::OptStr(2000)),
];

const PATROL: &[Field] = &[
    req("grid_code", Ty::Str(40)),
    req("started_at", Ty::Int),
    f("ended_at", Ty::OptInt),
    f("notes", Ty::OptStr(2000)),
    f("distance_m", Ty::OptNum),
    f("duration_s", Ty::OptInt),
    f("track", Ty::Track),
];

const CASE: &[Field] = &[
    f("category_code", Ty::Code(category)),
    req("type_code", Ty::Code(case_type)),
    req("urgency", Ty::Code(urgency)),
    f("description", Ty::OptStr(2000)),
    f("lat", Ty::OptNum),
    f("lng", Ty::OptNum),
    f("address", Ty::OptStr(200)),
    req("grid_code", Ty::Str(40)),
    f("outside_grid", Ty::Bool),
    f("household_id", Ty::OptStr(64)),
    f("patrol_id", Ty::OptStr(64)),
    f("reporter", Ty::OptStr(50)),
    f("created_at", Ty::OptInt),
    f("submitted_at", Ty::OptInt),
    f("photos", Ty::StrArray(64)),
    // Only `submitted` is accepted, and only in a create.
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
];

const CASE_EVENT: &[Field] = &[
    req("case_id", Ty::Str(64)),
    req("kind", Ty::Code(case_event_kind)),
    f("at", Ty::OptInt),
    f("status", Ty::OptCode(case_status)),
    f("note", Ty::OptStr(2000)),
];

const PHOTO: &[Field] = &[
    req("owner_kind", Ty::Code(owner_kind)),
    req("owner_id", Ty::Str(64)),
    req("sha256", Ty::Code(sha256_hex)),
    f("byte_len", Ty::OptInt),
    f("mime", Ty::OptStr(50)),
    f("taken_at", Ty::OptInt),
    f("width", Ty::OptInt),
    f("height", Ty::OptInt),
    // Where the photo was taken (EXIF GPS, kept as fields: the stored file has no EXIF).
    f("lat", Ty::OptNum),
    f("lng", Ty::OptNum),
];

const TASK: &[Field] = &[
    req("kind", Ty::Code(task_kind)),
    req("title", Ty::Str(100)),
    f("target_kind", Ty::OptCode(target_kind)),
    f("target_id", Ty::OptStr(64)),
    req("due_on", Ty::Date),
    f("priority", Ty::Code(priority)),
    f("source", Ty::Code(task_source)),
    f("notes", Ty::OptStr(1000)),
    f("grid_code", Ty::OptStr(40)),
    f("assignee", Ty::OptStr(64)),
    f("status", Ty::Code(task_status)),
    f("completed_at", Ty::OptInt),
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
    f("resolution", Ty::OptStr(500)),
    f("resolved_at", Ty::OptInt),
];

/// The field list of a pushable entity.
pub fn spec(entity_name: &str) -> Option<&'static [Field]> {
    Some(match entity_name {
        entity::HOUSEHOLD => HOUSEHOLD,
        entity::RESIDENT => RESIDENT,
        entity::RESIDENT_MOVE => RESIDENT_MOVE,
        entity::VISIT => VISIT,
        entity::PATROL => PATROL,
        entity::CASE => CASE,
        entity::CASE_EVENT => CASE_EVENT,
        entity::PHOTO => PHOTO,
        entity::TASK => TASK,
        entity::CONFLICT => CONFLICT,
        _ => return None,
    })
}

/// Checks a payload against its spec: the first bad field's name when it fails.
/// Server-owned case fields are reported separately by the caller, before this runs.
pub fn check(spec: &[Field], payload: &Map<String, Value>, create: bool) -> Result<(), String> {
    for (name, value) in payload {
        let Some(field) = spec.iter().find(|f| f.name == name) else {
            return Err(name.clone());
        };
        if !value_ok(field.ty, value) {
            return Err(name.clone());
        }
    }
    if create {
        if let Some(missing) = spec
            .iter()
            .find(|f| f.required && payload.get(f.name).is_none_or(Value::is_null))
        {
            return Err(missing.name.to_string());
        }
    }
    Ok(())
}

fn str_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max
}

fn date_ok(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn value_ok(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::Str(n) => v
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && str_ok(s, n)),
        Ty::OptStr(n) => v.is_null() || v.as_str().is_some_and(|s| str_ok(s, n)),
        Ty::Int => v.is_i64(),
        Ty::OptInt => v.is_null() || v.is_i64(),
        Ty::OptNum => v.is_null() || v.as_f64().is_some_and(f64::is_finite),
        Ty::Bool => v.is_boolean(),
        Ty::Date => v.as_str().is_some_and(date_ok),
        Ty::OptDate => v.is_null() || v.as_str().is_some_and(date_ok),
        Ty::Code(ok) => v.as_str().is_some_and(ok),
        Ty::OptCode(ok) => v.is_null() || v.as_str().is_some_and(ok),
        Ty::StrArray(n) => v.as_array().is_some_and(|a| {
            a.len() <= 100 && a.iter().all(|x| x.as_str().is_some_and(|s| str_ok(s, n)))
        }),
        Ty::CodeArray(ok) => v
            .as_array()
            .is_some_and(|a| a.len() <= 100 && a.iter().all(|x| x.as_str().is_some_and(ok))),
        // [at_ms, lat, lng, accuracy|null] per fix, as core's patrol stop sends it.
        Ty::Track => v.as_array().is_some_and(|a| {
            a.iter().all(|p| {
                p.as_array().is_some_and(|p| {
                    p.len() == 4
                        && p[0].is_i64()
                        && p[1].as_f64().is_some_and(|x| (-90.0..=90.0).contains(&x))
                        && p[2].as_f64().is_some_and(|x| (-180.0..=180.0).contains(&x))
                        && (p[3].is_null() || p[3].as_f64().is_some_and(f64::is_finite))
                })
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn household_create_needs_its_required_fields() {
        let p = obj(json!({"grid_code": "g", "community": "c", "building": "1",
            "housing_type": "owned", "care_tier": "routine"}));
        assert!(check(HOUSEHOLD, &p, true).is_ok());
        let p = obj(json!({"grid_code": "g"}));
        assert_eq!(check(HOUSEHOLD, &p, true), Err("community".into()));
        assert!(check(HOUSEHOLD, &p, false).is_ok());
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let p = obj(json!({"grid_code": "g", "colour": "red"}));
        assert_eq!(check(HOUSEHOLD, &p, false), Err("colour".into()));
        let p = obj(json!({"floor": "three"}));
        assert_eq!(check(HOUSEHOLD, &p, false), Err("floor".into()));
        let p = obj(json!({"care_tier": "vip"}));
        assert_eq!(check(HOUSEHOLD, &p, false), Err("care_tier".into()));
    }

    #[test]
    fn dates_tracks_and_hashes() {
        assert!(value_ok(Ty::Date, &json!("2024-02-29")));
        assert!(!value_ok(Ty::Date, &json!("2023-02-29")));
        assert!(value_ok(Ty::Track, &json!([[1, 37.7, 107.4, null]])));
        assert!(!value_ok(Ty::Track, &json!([[1, 97.7, 107.4, null]])));
        assert!(sha256_hex(&"a".repeat(64)));
        assert!(!sha256_hex("abc"));
    }
}
