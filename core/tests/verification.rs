//! The worker's side of the closed loop on the device: a case comes back for on-site
//! verification (任务核查), the worker verifies or rejects it with a note and after-photos, and
//! the phone queues exactly the `case_event` the server acts on — all or nothing.
//! (Against the real server: `tests/tests/case_loop.rs`.)

mod common;
#[path = "../tests/photo_fixture/mod.rs"]
mod photo_fixture;

use chrono::Duration;
use common::*;
use gridwalk_core::cases::VerificationVerdict;
use gridwalk_core::photos::PhotoOwner;
use gridwalk_core::*;
use serde_json::Value;

/// A submitted case that the server (here: a direct write, as a pull would) sent back for
/// verification, with the `verify_case` task that comes with it.
fn awaiting_verification(s: &Store) -> (Case, Task) {
    let c = s
        .draft_case(&case_input(
            "0301",
            Urgency::Normal,
            "3栋门口垃圾堆放",
            Some(inside()),
        ))
        .unwrap();
    let c = s.submit_case(&c.id).unwrap();
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE cases SET status = 'verification_requested' WHERE id = ?1",
            [&c.id],
        )?;
        Ok(())
    })
    .unwrap();
    let t = s
        .add_task(&TaskInput {
            kind: TaskKind::VerifyCase,
            title: "核查：垃圾已清运".into(),
            target: Some(TaskTarget {
                kind: "case".into(),
                id: c.id.clone(),
            }),
            due_on: morning().date_naive(),
            priority: Priority::High,
            source: TaskSource::Assigned,
            notes: None,
        })
        .unwrap();
    (s.case(&c.id).unwrap(), t)
}

fn outbox(s: &Store) -> Vec<(String, Value)> {
    s.read(|c| {
        let mut st = c.prepare("SELECT entity, payload FROM outbox ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows
            .map(|r| r.map(|(e, p)| (e, serde_json::from_str(&p).unwrap())))
            .collect::<rusqlite::Result<Vec<_>>>()?)
    })
    .unwrap()
}

#[test]
fn verifying_queues_the_event_marks_the_task_done_and_shows_in_the_timeline() {
    let (s, clock) = store();
    let (c, task) = awaiting_verification(&s);
    let today = s.today(None).unwrap();
    assert!(today
        .iter()
        .any(|i| i.target_id.as_deref() == Some(&task.id)));
    clock.advance(Duration::hours(2));
    let before = outbox(&s).len();

    let after = photo_fixture::camera_photo(800, 600, 7);
    let v = s
        .verify_case(
            &c.id,
            VerificationVerdict::Verified,
            Some("  垃圾已清运，地面已冲洗  "),
            &[after],
        )
        .unwrap();

    // The timeline has the verification; the status stays the server's until it answers.
    assert_eq!(v.status, CaseStatus::VerificationRequested);
    let e = v.events.last().unwrap();
    assert_eq!(e.kind, CaseEventKind::Verification);
    assert_eq!(e.status, Some(CaseStatus::Verified));
    assert_eq!(e.note.as_deref(), Some("垃圾已清运，地面已冲洗"));
    assert_eq!(e.at, clock.now());

    // The after-photo went through the pipeline, as verification evidence on the case.
    let photos = s
        .photos_of(&PhotoOwner::Verification(c.id.clone()))
        .unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].owner_kind, "verification");
    assert!(s.photo_file(&photos[0]).is_some());

    // What ships: the photo record, then the event the server applies.
    let rows = outbox(&s);
    assert_eq!(rows.len(), before + 2);
    let (entity_name, photo) = &rows[before];
    assert_eq!(entity_name, "photo");
    assert_eq!(photo["owner_kind"], "verification");
    assert_eq!(photo["owner_id"], c.id.as_str());
    let (entity_name, event) = &rows[before + 1];
    assert_eq!(entity_name, "case_event");
    assert_eq!(event["case_id"], c.id.as_str());
    assert_eq!(event["kind"], "verification");
    assert_eq!(event["status"], "verified");
    assert_eq!(event["note"], "垃圾已清运，地面已冲洗");
    assert_eq!(event["at"], clock.now().timestamp_millis());
    // Every field passes the checks the server runs.
    let spec = entities::entity("case_event").unwrap();
    let now = entities::Now {
        ms: clock.now().timestamp_millis(),
        today: clock.now().date_naive(),
    };
    let map = event.as_object().unwrap();
    assert!(entities::check_payload(spec, map, true, now).is_ok());

    // The task is done and the daily list no longer asks for the case.
    assert_eq!(s.task(&task.id).unwrap().status, TaskStatus::Done);
    let today = s.today(None).unwrap();
    assert!(
        !today
            .iter()
            .any(|i| i.target_id.as_deref() == Some(&task.id)
                || i.target_id.as_deref() == Some(&c.id))
    );

    // Verifying again before the first reached the server is refused.
    match s.verify_case(&c.id, VerificationVerdict::Verified, None, &[]) {
        Err(Error::InvalidState { state, .. }) => assert_eq!(state, "verification_unsent"),
        other => panic!("expected InvalidState, got {other:?}"),
    }
}

#[test]
fn a_rejection_needs_a_reason_and_a_bad_photo_leaves_nothing() {
    let (s, _clock) = store();
    let (c, task) = awaiting_verification(&s);
    let before = outbox(&s).len();
    let events = c.events.len();

    for note in [None, Some("   ")] {
        let e = s
            .verify_case(&c.id, VerificationVerdict::Rejected, note, &[])
            .unwrap_err();
        let v = validation(e);
        assert_eq!((v.field.as_str(), v.code), ("note", Code::Required));
    }
    let long = "很".repeat(2001);
    let v = validation(
        s.verify_case(&c.id, VerificationVerdict::Rejected, Some(&long), &[])
            .unwrap_err(),
    );
    assert_eq!((v.field.as_str(), v.code), ("note", Code::TooLong));

    // A second photo that is not a photo: the good first one is not kept either.
    let good = photo_fixture::jpeg(64, 48, 1);
    let v = validation(
        s.verify_case(
            &c.id,
            VerificationVerdict::Rejected,
            Some("仍有垃圾"),
            &[good.clone(), b"GIF89a\x01\0\x01\0".to_vec()],
        )
        .unwrap_err(),
    );
    assert_eq!(
        (v.field.as_str(), v.code),
        ("after_photos[1]", Code::UnsupportedFormat)
    );
    assert_eq!(outbox(&s).len(), before, "nothing queued");
    assert_eq!(s.case(&c.id).unwrap().events.len(), events);
    assert!(s
        .photos_of(&PhotoOwner::Verification(c.id.clone()))
        .unwrap()
        .is_empty());
    assert_eq!(s.task(&task.id).unwrap().status, TaskStatus::Open);

    let v = s
        .verify_case(
            &c.id,
            VerificationVerdict::Rejected,
            Some("东侧仍有建筑垃圾未清"),
            &[good],
        )
        .unwrap();
    let e = v.events.last().unwrap();
    assert_eq!(
        (e.kind, e.status),
        (CaseEventKind::Verification, Some(CaseStatus::Rejected))
    );
    let rows = outbox(&s);
    assert_eq!(rows.last().unwrap().1["status"], "rejected");
    assert_eq!(s.task(&task.id).unwrap().status, TaskStatus::Done);
}

#[test]
fn only_a_case_awaiting_verification_can_be_verified() {
    let (s, _clock) = store();
    let c = s
        .draft_case(&case_input("0301", Urgency::Normal, "垃圾", Some(inside())))
        .unwrap();
    for id in [c.id.as_str(), "no-such-case"] {
        let e = s
            .verify_case(id, VerificationVerdict::Verified, None, &[])
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidState { .. } | Error::NotFound { .. }),
            "{e:?}"
        );
    }
    let c = s.submit_case(&c.id).unwrap();
    match s.verify_case(&c.id, VerificationVerdict::Verified, None, &[]) {
        Err(Error::InvalidState { state, action, .. }) => {
            assert_eq!((state.as_str(), action), ("submitted", "verify"));
        }
        other => panic!("expected InvalidState, got {other:?}"),
    }
}

#[test]
fn after_photos_can_come_from_files() {
    let (s, _clock) = store();
    let (c, _task) = awaiting_verification(&s);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("after.jpg");
    std::fs::write(&f, photo_fixture::jpeg(320, 240, 3)).unwrap();
    let v = s
        .verify_case_files(&c.id, VerificationVerdict::Verified, None, &[f.as_path()])
        .unwrap();
    assert_eq!(v.events.last().unwrap().kind, CaseEventKind::Verification);
    assert_eq!(
        s.photos_of(&PhotoOwner::Verification(c.id.clone()))
            .unwrap()
            .len(),
        1
    );
}
