//! Every change the phone's writers queue passes the shared domain table's checks
//! (`gridwalk_domain::entities`), the very checks the server runs on a push. If a writer grows a
//! field the table does not know, or writes a value outside its bounds, this fails here rather
//! than as a refusal on the worker's "needs attention" list.

mod common;
#[path = "../tests/photo_fixture/mod.rs"]
mod photo_fixture;

use chrono::Duration;
use common::*;
use gridwalk_core::entities::{self, Now};
use gridwalk_core::*;
use serde_json::{Map, Value};

#[test]
fn every_queued_change_passes_the_servers_field_checks() {
    let (s, clock) = store();
    let h = s.add_household(&household("502")).unwrap();
    let r = s
        .add_resident(&resident(&h.id, "张建国", Some(id("64032319580312001"))))
        .unwrap();
    let mut other = resident(&h.id, "李秀英", None);
    other.relation = Relation::Spouse;
    other.gender = Some(Gender::Female);
    other.birth_date = chrono::NaiveDate::from_ymd_opt(1960, 5, 1);
    other.special_groups = vec![SpecialGroup::ElderlyAlone];
    s.add_resident(&other).unwrap();
    s.update_household(
        &h.id,
        &HouseholdPatch {
            care_tier: Some(CareTier::Close),
            notes: Some(Some("独居老人".into())),
            ..Default::default()
        },
    )
    .unwrap();
    visit(
        &s,
        &h.id,
        clock.now() - Duration::hours(1),
        VisitMode::InPerson,
    );
    visit(&s, &h.id, clock.now(), VisitMode::NotAtHome);
    let p = s.start_patrol("G1").unwrap();
    let fixes: Vec<TrackPoint> = (0..5)
        .map(|i| TrackPoint {
            at: clock.now() + Duration::seconds(i * 10),
            lat: inside().lat + i as f64 * 0.0001,
            lng: inside().lng,
            accuracy_m: Some(5.0),
        })
        .collect();
    clock.advance(Duration::minutes(2));
    s.add_track_points(&p.id, &fixes).unwrap();
    s.stop_patrol(&p.id, Some("一切正常")).unwrap();
    let mut input = case_input("0203", Urgency::Urgent, "楼道电动车充电", Some(inside()));
    input.household_id = Some(h.id.clone());
    input.patrol_id = Some(p.id.clone());
    let c = s.draft_case(&input).unwrap();
    s.attach_photo_bytes(
        &c.id,
        "a.jpg",
        "image/jpeg",
        &photo_fixture::jpeg(64, 48, 1),
        None,
    )
    .unwrap();
    s.submit_case(&c.id).unwrap();
    // The server sends the case back for on-site verification; the worker rejects the fix.
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE cases SET status = 'verification_requested' WHERE id = ?1",
            [&c.id],
        )?;
        Ok(())
    })
    .unwrap();
    s.verify_case(
        &c.id,
        gridwalk_core::cases::VerificationVerdict::Rejected,
        Some("充电线仍未拆除"),
        &[photo_fixture::jpeg(64, 48, 2)],
    )
    .unwrap();
    let t = s
        .add_task(&TaskInput {
            kind: TaskKind::VisitHousehold,
            title: "回访独居老人".into(),
            target: Some(TaskTarget {
                kind: "household".into(),
                id: h.id.clone(),
            }),
            due_on: clock.now().date_naive(),
            priority: Priority::High,
            source: TaskSource::Own,
            notes: None,
        })
        .unwrap();
    s.finish_task(&t.id, TaskStatus::Done).unwrap();
    s.move_out_resident(&r.id, clock.now().date_naive(), Some("随子女迁出"))
        .unwrap();

    let rows: Vec<(String, String, String)> = s
        .read(|c| {
            let mut st = c.prepare("SELECT entity, op, payload FROM outbox ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .unwrap();
    let now = Now {
        ms: clock.now().timestamp_millis(),
        today: clock.now().date_naive(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for (entity_name, op, payload) in &rows {
        let spec = entities::entity(entity_name)
            .unwrap_or_else(|| panic!("{entity_name} is not in the domain table"));
        let payload: Map<String, Value> = serde_json::from_str(payload).unwrap();
        let create = op == "create";
        let checked = entities::check_payload(spec, &payload, create, now);
        assert!(checked.is_ok(), "{entity_name} {op}: {checked:?}");
        if create {
            let rec = entities::check_record(spec, &payload);
            assert!(rec.is_ok(), "{entity_name} {op}: {rec:?}");
        }
        seen.insert(entity_name.clone());
    }
    let all: Vec<&str> = vec![
        "case",
        "case_event",
        "household",
        "patrol",
        "photo",
        "resident",
        "resident_move",
        "task",
        "visit",
    ];
    assert_eq!(seen.iter().map(String::as_str).collect::<Vec<_>>(), all);
}
