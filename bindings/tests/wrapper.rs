//! The wrapper's own behaviour, from Rust: the things the host-language suites rely on but that
//! are cheaper to pin here (closing, the patrol recorder's life cycle, input conversion errors).
//! The worker's flow itself is tested in Kotlin, Swift and Python (scripts/test-bindings.sh).

use std::sync::{Arc, Mutex};

use gridwalk_ffi::*;

const GRID: &str = "640323001001001";

fn store() -> Arc<GridwalkStore> {
    let s = GridwalkStore::open_in_memory().unwrap();
    s.upsert_org_units(vec![OrgUnit {
        code: GRID.into(),
        name: "第1网格".into(),
        level: GridLevel::Grid,
        parent_code: None,
        boundary_geojson: None,
        is_mine: true,
    }])
    .unwrap();
    s
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A source that records its life cycle and keeps the recorder like a platform callback would.
#[derive(Default)]
struct Source {
    recorder: Mutex<Option<Arc<PatrolRecorder>>>,
    stops: Mutex<u32>,
    fail_start: bool,
}

impl LocationSource for Source {
    fn start(&self, recorder: Arc<PatrolRecorder>) -> Result<()> {
        if self.fail_start {
            return Err(GridwalkError::Platform {
                detail: "permission denied".into(),
                message_zh: "无定位权限".into(),
                message_en: "no location permission".into(),
            });
        }
        *self.recorder.lock().unwrap() = Some(recorder);
        Ok(())
    }

    fn stop(&self) -> Result<()> {
        *self.stops.lock().unwrap() += 1;
        self.recorder.lock().unwrap().take();
        Ok(())
    }
}

#[test]
fn recorder_life_cycle_and_reattach() {
    let s = store();
    let failing = Arc::new(Source {
        fail_start: true,
        ..Default::default()
    });
    // The source failed to start: the error reaches the app and the patrol keeps running.
    let e = s.clone().record_patrol(GRID.into(), failing).err().unwrap();
    assert!(matches!(e, GridwalkError::Platform { .. }));
    let running = s.active_patrol().unwrap().expect("patrol still running");

    let source = Arc::new(Source::default());
    let recorder = s
        .clone()
        .attach_location_source(running.id.clone(), source.clone())
        .unwrap();
    let held = source.recorder.lock().unwrap().clone().unwrap();
    assert!(held
        .record(LocationFix {
            lat: 37.78,
            lng: 107.4,
            accuracy_m: Some(5.0),
            at_ms: now_ms(),
        })
        .unwrap());
    // Timestamps chrono cannot hold are skipped like any unusable fix, never a panic.
    let batch = held
        .record_batch(vec![LocationFix {
            lat: 37.78,
            lng: 107.4,
            accuracy_m: None,
            at_ms: i64::MAX,
        }])
        .unwrap();
    assert_eq!((batch.kept, batch.skipped), (0, 1));
    assert_eq!(
        recorder.totals(),
        TrackAppend {
            kept: 1,
            skipped: 1
        }
    );

    let done = recorder.finish(None).unwrap();
    assert_eq!(done.point_count, 1);
    assert_eq!(*source.stops.lock().unwrap(), 1);
    // The source dropped its recorder on stop: no reference cycle is left behind.
    assert!(source.recorder.lock().unwrap().is_none());
    assert!(matches!(
        recorder.finish(None),
        Err(GridwalkError::InvalidState { .. })
    ));
    assert!(matches!(
        s.clone().attach_location_source(done.id, source),
        Err(GridwalkError::InvalidState { .. })
    ));
}

#[test]
fn closed_store_and_bad_inputs_are_typed_errors() {
    let s = store();
    let e = s
        .update_household(
            "x".into(),
            HouseholdPatch {
                notes: Some("a".into()),
                clear_notes: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(e, GridwalkError::Validation { ref field, code: ValidationCode::Mismatch, .. } if field == "notes")
    );
    let e = s.patrols_between(0, i64::MIN).unwrap_err();
    assert!(matches!(e, GridwalkError::Validation { ref field, .. } if field == "to_ms"));
    let e = s
        .stats(Period::Week, Some("2024-13-01".into()))
        .unwrap_err();
    assert!(
        matches!(e, GridwalkError::Validation { ref field, code: ValidationCode::InvalidDate, .. } if field == "day")
    );
    let e = GridwalkStore::open("  ".into()).err().unwrap();
    assert!(matches!(e, GridwalkError::Validation { ref field, .. } if field == "path"));

    s.close_store();
    s.close_store();
    assert!(s.is_closed());
    assert!(matches!(s.my_grids(), Err(GridwalkError::Closed { .. })));
    assert!(matches!(
        s.sync(None, None),
        Err(GridwalkError::Closed { .. })
    ));
}

#[test]
fn sync_without_session_and_cancel_handle() {
    let s = store();
    match s.sync(None, Some(CancelHandle::new())) {
        Err(GridwalkError::Auth { code, .. }) => assert_eq!(code, "not_signed_in"),
        other => panic!("{other:?}"),
    }
    match s.login("ftp://nowhere".into(), "u".into(), "p".into(), None) {
        Err(GridwalkError::Validation { field, .. }) => assert_eq!(field, "server_url"),
        other => panic!("{other:?}"),
    }
    // Nothing listens on port 9 of loopback: a retryable network error, not a panic.
    match s.login("http://127.0.0.1:9".into(), "u".into(), "p".into(), None) {
        Err(GridwalkError::Network { retryable, .. }) => assert!(retryable),
        other => panic!("{other:?}"),
    }
    let c = CancelHandle::new();
    assert!(!c.is_cancelled());
    c.cancel();
    assert!(c.is_cancelled());
}

#[test]
fn id_number_checked_as_typed_and_no_sync_yet() {
    let s = store();
    let info = s
        .check_id_number(" 64032319800101123x ".replace('x', "5"))
        .unwrap();
    assert_eq!(info.id_number, "640323198001011235");
    assert_eq!(info.gender, Gender::Male);
    assert_eq!(info.birth_date, "1980-01-01");
    for (typed, want) in [
        ("640323198001011234", ValidationCode::InvalidChecksum),
        ("6403231980", ValidationCode::InvalidFormat),
        ("", ValidationCode::Required),
    ] {
        match s.check_id_number(typed.into()) {
            Err(GridwalkError::Validation { field, code, .. }) => {
                assert_eq!(field, "id_number");
                assert_eq!(code, want, "{typed}");
            }
            other => panic!("{typed}: {other:?}"),
        }
    }
    assert_eq!(s.last_sync_ms().unwrap(), None);
}
