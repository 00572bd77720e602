//! Case drafts on the phone: a photo's GPS gives a draft its place, a draft with photos is made
//! whole or not at all, and a draft can be edited and thrown away without a trace or a sync.

mod common;
#[path = "../tests/photo_fixture/mod.rs"]
mod photo_fixture;

use common::*;
use gridwalk_core::photos::PhotoOwner;
use gridwalk_core::*;

fn files_in(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut v: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

fn draft_without_place(s: &Store) -> Case {
    s.draft_case(&case_input(
        "0203",
        Urgency::Urgent,
        "楼道内电动车充电",
        None,
    ))
    .unwrap()
}

#[test]
fn a_draft_without_a_place_takes_its_first_photos_gps_and_can_be_submitted() {
    let (s, _clock) = store();
    let c = draft_without_place(&s);
    assert!(c.location.is_none());
    // A photo without GPS changes nothing; the first one with GPS gives the place.
    s.attach_photo_bytes(
        &c.id,
        "a.png",
        "image/png",
        &photo_fixture::png(64, 48, false),
        None,
    )
    .unwrap();
    assert!(s.case(&c.id).unwrap().location.is_none());
    s.attach_photo_bytes(
        &c.id,
        "b.jpg",
        "image/jpeg",
        &photo_fixture::camera_photo(640, 480, 1),
        None,
    )
    .unwrap();
    let c = s.case(&c.id).unwrap();
    let at = c.location.expect("location from the photo");
    assert!((at.lat - 37.78).abs() < 1e-6 && (at.lng - 107.40).abs() < 1e-6);
    assert!(!c.outside_grid);

    // An edit that gives no location keeps the photo's; one that gives a location wins.
    let mut input = case_input("0203", Urgency::Urgent, "楼道内电动车充电，已劝离", None);
    let edited = s.update_draft(&c.id, &input).unwrap();
    assert_eq!(edited.location, Some(at));
    input.location = Some(outside());
    let edited = s.update_draft(&c.id, &input).unwrap();
    assert_eq!(edited.location, Some(outside()));
    assert!(edited.outside_grid);
    input.location = None;
    let edited = s.update_draft(&c.id, &input).unwrap();
    assert_eq!(edited.location, Some(at));

    let sent = s.submit_case(&c.id).unwrap();
    assert_eq!(sent.status, CaseStatus::Submitted);
}

#[test]
fn a_photo_never_overrides_a_place_the_worker_gave() {
    let (s, _clock) = store();
    let c = s
        .draft_case(&case_input(
            "0203",
            Urgency::Normal,
            "飞线充电",
            Some(outside()),
        ))
        .unwrap();
    s.attach_photo_bytes(
        &c.id,
        "b.jpg",
        "image/jpeg",
        &photo_fixture::camera_photo(320, 240, 2),
        None,
    )
    .unwrap();
    assert_eq!(s.case(&c.id).unwrap().location, Some(outside()));
}

#[test]
fn a_draft_with_photos_is_made_whole_or_not_at_all() {
    let (s, _clock) = store();
    let input = case_input("0203", Urgency::Urgent, "楼道内电动车充电", None);

    // The second photo is not one: no draft, no photo row, no file.
    let e = s
        .draft_case_with_photos(
            &input,
            &[
                photo_fixture::camera_photo(320, 240, 3),
                b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec(),
            ],
        )
        .unwrap_err();
    let v = validation(e);
    assert_eq!(
        (v.field.as_str(), v.code),
        ("photos[1]", Code::UnsupportedFormat)
    );
    assert!(s.list_cases(None).unwrap().is_empty());
    assert!(s
        .today(None)
        .unwrap()
        .iter()
        .all(|i| i.kind != tasks::TodayKind::DraftCase));
    assert!(files_in(s.photo_dir()).is_empty());

    // A bad field of the draft itself: no photo file is left behind either.
    let mut bad = input.clone();
    bad.type_code = "9999".into();
    assert!(s
        .draft_case_with_photos(&bad, &[photo_fixture::camera_photo(320, 240, 3)])
        .is_err());
    assert!(files_in(s.photo_dir()).is_empty());

    let c = s
        .draft_case_with_photos(
            &input,
            &[
                photo_fixture::png(64, 48, false),
                photo_fixture::camera_photo(320, 240, 3),
            ],
        )
        .unwrap();
    assert_eq!(c.photos.len(), 2);
    assert!(c.location.is_some(), "place from the second photo's GPS");
    assert_eq!(outbox_len(&s), 0, "a draft ships nothing");
}

#[test]
fn discarding_a_draft_removes_it_its_photos_and_their_files_and_sends_nothing() {
    let (s, _clock) = store();
    let shared = photo_fixture::camera_photo(320, 240, 4);
    let only_mine = photo_fixture::jpeg(200, 100, 5);
    let a = s
        .draft_case_with_photos(
            &case_input("0301", Urgency::Normal, "垃圾", Some(inside())),
            &[shared.clone(), only_mine],
        )
        .unwrap();
    let b = s
        .draft_case_with_photos(
            &case_input("0301", Urgency::Normal, "另一处垃圾", Some(inside())),
            &[shared],
        )
        .unwrap();
    let files_before = files_in(s.photo_dir());
    assert_eq!(files_before.len(), 4, "two photos, two thumbnails");
    let outbox_before = outbox_len(&s);

    s.discard_draft(&a.id).unwrap();
    assert!(matches!(s.case(&a.id), Err(Error::NotFound { .. })));
    assert!(s
        .photos_of(&PhotoOwner::Case(a.id.clone()))
        .unwrap()
        .is_empty());
    let events: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM case_events WHERE case_id = ?1",
                [&a.id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(events, 0);
    // The photo the other draft uses stays; the one only this draft had is gone.
    let left = files_in(s.photo_dir());
    assert_eq!(left.len(), 2, "{left:?}");
    let b_photo = &s.case(&b.id).unwrap().photos[0];
    assert!(s.photo_file(b_photo).is_some());
    assert!(s.photo_thumb(b_photo).is_some());
    assert_eq!(outbox_len(&s), outbox_before, "nothing to sync");

    s.discard_draft(&b.id).unwrap();
    assert!(files_in(s.photo_dir()).is_empty());
    assert!(s.list_cases(None).unwrap().is_empty());

    // Only drafts can be thrown away.
    let c = s
        .draft_case(&case_input("0301", Urgency::Normal, "垃圾", Some(inside())))
        .unwrap();
    s.submit_case(&c.id).unwrap();
    match s.discard_draft(&c.id) {
        Err(Error::InvalidState { state, action, .. }) => {
            assert_eq!((state.as_str(), action), ("submitted", "discard"));
        }
        other => panic!("expected InvalidState, got {other:?}"),
    }
    assert!(matches!(
        s.discard_draft("no-such-draft"),
        Err(Error::NotFound { .. })
    ));
}
