//! Shared fixtures for the core's integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridwalk_core::*;

/// A settable clock shared with a store.
#[derive(Clone)]
pub struct Clock(pub Arc<Mutex<DateTime<Utc>>>);

impl Clock {
    pub fn at(t: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Mutex::new(t)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
    pub fn advance(&self, d: Duration) {
        let mut g = self.0.lock().unwrap();
        *g += d;
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// 2026-11-18 09:00 in China (01:00 UTC), a Wednesday.
pub fn morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 18, 1, 0, 0).unwrap()
}

/// A square grid boundary around (37.78, 107.40), ~900 m a side.
pub const BOUNDARY: &str = r#"{"type":"Polygon","coordinates":[[[107.395,37.775],[107.405,37.775],[107.405,37.785],[107.395,37.785],[107.395,37.775]]]}"#;

pub fn inside() -> GeoPoint {
    GeoPoint {
        lat: 37.78,
        lng: 107.40,
    }
}

pub fn outside() -> GeoPoint {
    GeoPoint {
        lat: 37.80,
        lng: 107.40,
    }
}

pub fn org() -> Vec<OrgUnit> {
    let unit =
        |code: &str, name: &str, level, parent: Option<&str>, boundary: Option<&str>, mine| {
            OrgUnit {
                code: code.into(),
                name: name.into(),
                level,
                parent_code: parent.map(Into::into),
                boundary_geojson: boundary.map(Into::into),
                is_mine: mine,
            }
        };
    vec![
        unit("640323", "示范县", GridLevel::District, None, None, false),
        unit(
            "640323001",
            "城关街道",
            GridLevel::Street,
            Some("640323"),
            None,
            false,
        ),
        unit(
            "640323001001",
            "幸福社区",
            GridLevel::Community,
            Some("640323001"),
            None,
            false,
        ),
        unit(
            "G1",
            "幸福社区第1网格",
            GridLevel::Grid,
            Some("640323001001"),
            Some(BOUNDARY),
            true,
        ),
        unit(
            "G2",
            "幸福社区第2网格",
            GridLevel::Grid,
            Some("640323001001"),
            None,
            false,
        ),
    ]
}

/// A fresh in-memory store with the org tree and a controllable clock.
pub fn store() -> (Store, Clock) {
    let clock = Clock::at(morning());
    let mut s = Store::open_in_memory().unwrap();
    let c = clock.clone();
    s.set_now_fn(Arc::new(move || c.now()));
    s.upsert_org_units(&org()).unwrap();
    (s, clock)
}

/// A valid 18-digit ID number from a 17-digit prefix.
pub fn id(first17: &str) -> String {
    let d = gridwalk_core::validate::id_check_digit(first17).unwrap();
    format!("{first17}{d}")
}

pub fn household(room: &str) -> HouseholdInput {
    HouseholdInput {
        grid_code: "G1".into(),
        address: Address {
            community: "幸福社区".into(),
            building: "3栋".into(),
            unit: Some("2单元".into()),
            floor: Some(5),
            room: Some(room.into()),
            text: None,
        },
        housing_type: HousingType::Owned,
        care_tier: CareTier::Routine,
        tags: vec![],
        location: Some(inside()),
        notes: None,
    }
}

pub fn resident(household_id: &str, name: &str, id_number: Option<String>) -> ResidentInput {
    ResidentInput {
        household_id: household_id.into(),
        name: name.into(),
        id_number,
        phone: Some("13912345678".into()),
        gender: None,
        birth_date: None,
        relation: Relation::Head,
        residency: Residency::Registered,
        special_groups: vec![],
        moved_in_on: None,
        notes: None,
    }
}

pub fn outbox_len(s: &Store) -> i64 {
    s.read(|c| Ok(c.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?))
        .unwrap()
}

pub fn validation(e: Error) -> ValidationError {
    match e {
        Error::Validation(v) => v,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Logs a visit at `at`; "not at home" gets the matching outcome.
pub fn visit(s: &Store, household_id: &str, at: DateTime<Utc>, mode: VisitMode) -> Visit {
    s.log_visit(&VisitInput {
        household_id: household_id.into(),
        visited_at: at,
        mode,
        outcome: if mode == VisitMode::NotAtHome {
            VisitOutcome::NoContact
        } else {
            VisitOutcome::Fine
        },
        notes: None,
    })
    .unwrap()
}

/// A case in grid G1 at `location`.
pub fn case_input(
    type_code: &str,
    urgency: Urgency,
    description: &str,
    location: Option<GeoPoint>,
) -> CaseInput {
    CaseInput {
        type_code: type_code.into(),
        urgency,
        description: description.into(),
        location,
        address: None,
        grid_code: "G1".into(),
        household_id: None,
        patrol_id: None,
    }
}

/// Fixes of a walk north through the grid from `start`: one every 20 s, ~22 m apart (a
/// walking pace the track filter keeps), for `minutes`.
pub fn walk_fixes(start: DateTime<Utc>, minutes: i64) -> Vec<TrackPoint> {
    (0..=minutes * 3)
        .map(|i| TrackPoint {
            at: start + Duration::seconds(i * 20),
            lat: 37.776 + i as f64 * 0.0002,
            lng: inside().lng,
            accuracy_m: Some(5.0),
        })
        .collect()
}
