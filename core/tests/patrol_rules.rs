//! What a patrol is worth: the same GPX imported twice is one patrol, a patrol under the
//! minimum duration or distance does not count toward the quota or the statistics, and a grid
//! code is checked against the org tree the device knows before it is used.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use gridwalk_core::org::GridWarning;
use gridwalk_core::stats::Period;
use gridwalk_core::tasks::TodayKind;
use gridwalk_core::*;

/// A GPX walk north from the grid's centre: `n` fixes `every` seconds apart, `step` degrees
/// of latitude each (0.0002° ≈ 22 m).
fn walk(start: DateTime<Utc>, n: usize, every: i64, step: f64) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>"#,
    );
    for i in 0..n {
        let at = start + Duration::seconds(every * i as i64);
        s.push_str(&format!(
            r#"<trkpt lat="{:.7}" lon="107.4000000"><time>{}</time></trkpt>"#,
            37.778 + step * i as f64,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    s.push_str("</trkseg></trk></gpx>");
    s
}

/// 08:00 local on the store's day (its clock stands at 09:00).
fn eight() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 18, 0, 0, 0).unwrap()
}

fn patrol_count(s: &Store) -> i64 {
    s.read(|c| Ok(c.query_row("SELECT count(*) FROM patrols", [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn the_same_gpx_imported_twice_is_one_patrol() {
    let (s, _clock) = store();
    let gpx = walk(eight(), 31, 20, 0.0002);
    let first = s.import_gpx_patrol("G1", gpx.as_bytes(), None).unwrap();
    let outbox = outbox_len(&s);
    for grid in ["G1", "G2"] {
        match s.import_gpx_patrol(grid, gpx.as_bytes(), Some("again")) {
            Err(Error::InvalidState { id, state, .. }) => {
                assert_eq!(
                    (id.as_str(), state.as_str()),
                    (first.id.as_str(), "already_imported")
                );
            }
            other => panic!("expected already_imported, got {other:?}"),
        }
    }
    assert_eq!(patrol_count(&s), 1);
    assert_eq!(outbox_len(&s), outbox, "nothing queued");

    // Re-exported by another app: the same fixes written differently are the same track.
    let reformatted = gpx
        .replace("\" lon=", "00\" lon=")
        .replace("\"107.4000000\"", "\"107.4\"");
    assert_ne!(reformatted, gpx);
    assert!(matches!(
        s.import_gpx_patrol("G1", reformatted.as_bytes(), None),
        Err(Error::InvalidState { .. })
    ));
    // Another walk (one fix different, or another hour) is another patrol.
    let other = walk(eight(), 31, 20, 0.00021);
    s.import_gpx_patrol("G1", other.as_bytes(), None).unwrap();
    let later = walk(eight() + Duration::minutes(15), 31, 20, 0.0002);
    s.import_gpx_patrol("G1", later.as_bytes(), None).unwrap();
    assert_eq!(patrol_count(&s), 3);
}

#[test]
fn short_patrols_do_not_count_toward_the_quota_or_the_statistics() {
    let (s, _clock) = store();
    let quota = |s: &Store| {
        s.today(None)
            .unwrap()
            .into_iter()
            .find(|i| i.kind == TodayKind::Patrol)
            .map(|i| i.title)
    };
    // 3 minutes, 200 m: too short in time.
    let brief = s
        .import_gpx_patrol("G1", walk(eight(), 10, 20, 0.0002).as_bytes(), None)
        .unwrap();
    // 10 minutes, 22 m: standing still.
    let still = s
        .import_gpx_patrol(
            "G1",
            walk(eight() + Duration::minutes(5), 11, 60, 0.00002).as_bytes(),
            None,
        )
        .unwrap();
    assert!(!brief.counts && !still.counts);
    assert!(brief.duration_s < 300 && brief.distance_m > 100.0);
    assert!(still.duration_s >= 300 && still.distance_m < 100.0);
    assert!(quota(&s).unwrap().contains("0/2"));
    let day = s.settings().unwrap().local_date(eight());
    let st = s.stats(Period::Day, day).unwrap();
    assert_eq!((st.patrols, st.patrols_too_short), (0, 2));
    assert_eq!((st.patrol_seconds, st.patrol_distance_m), (0, 0.0));

    // 10 minutes, 660 m: a patrol.
    let real = s
        .import_gpx_patrol(
            "G1",
            walk(eight() + Duration::minutes(20), 31, 20, 0.0002).as_bytes(),
            None,
        )
        .unwrap();
    assert!(real.counts);
    assert!(quota(&s).unwrap().contains("1/2"));
    let st = s.stats(Period::Day, day).unwrap();
    assert_eq!((st.patrols, st.patrols_too_short), (1, 2));
    assert_eq!(st.patrol_seconds, real.duration_s);
    assert!((st.patrol_distance_m - real.distance_m).abs() < 1e-6);

    // The thresholds are settings: a supervisor lowering them counts the brief one too.
    let mut settings = s.settings().unwrap();
    assert_eq!(
        (settings.min_patrol_minutes, settings.min_patrol_distance_m),
        (5, 100)
    );
    settings.min_patrol_minutes = 2;
    s.set_settings(&settings).unwrap();
    assert!(s.patrol(&brief.id).unwrap().counts);
    assert!(quota(&s).is_none(), "一日双巡 done");
    settings.min_patrol_distance_m = 20_000;
    assert_eq!(
        validation(s.set_settings(&settings).unwrap_err()).field,
        "min_patrol_distance_m"
    );
    // A running patrol never counts.
    let running = s.start_patrol("G1").unwrap();
    assert!(!running.counts);
}

#[test]
fn settings_from_an_older_app_keep_their_values() {
    let (s, _clock) = store();
    s.write(|ctx| {
        ctx.tx.execute(
            "INSERT INTO meta(key, value) VALUES ('settings', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [r#"{"utc_offset_minutes":480,"patrol_quota":3,"reporter":"wgy-0007"}"#],
        )?;
        Ok(())
    })
    .unwrap();
    let st = s.settings().unwrap();
    assert_eq!((st.patrol_quota, st.reporter.as_str()), (3, "wgy-0007"));
    assert_eq!((st.min_patrol_minutes, st.min_patrol_distance_m), (5, 100));
}

#[test]
fn a_grid_code_is_checked_against_the_org_tree_the_device_knows() {
    let (s, _clock) = store();
    // Before any sign-in the tree is what was typed at init: usable, but unconfirmed.
    assert_eq!(s.check_grid("G1").unwrap(), Some(GridWarning::Unconfirmed));
    for (code, want) in [("G9", Code::UnknownReference), ("  ", Code::Required)] {
        let v = validation(s.check_grid(code).unwrap_err());
        assert_eq!((v.field.as_str(), v.code), ("grid_code", want));
    }
    // After a sign-in the server's tree decides (as session.rs records it).
    s.write(|ctx| {
        ctx.tx.execute(
            "INSERT INTO meta(key, value) VALUES ('org_server_codes', ?1)",
            [r#"["640323","640323001","640323001001","G1"]"#],
        )?;
        Ok(())
    })
    .unwrap();
    assert_eq!(s.check_grid("G1").unwrap(), None);
    assert_eq!(s.check_grid("G2").unwrap(), Some(GridWarning::NotOnServer));
    assert_eq!(
        s.check_grid("640323001001").unwrap(),
        Some(GridWarning::NotAGrid)
    );
    assert!(GridWarning::Unconfirmed
        .message_zh()
        .starts_with("网格编码"));
}
