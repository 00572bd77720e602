//! Households, residents, visits, patrols and cases through the public API, error paths included.

mod common;

use chrono::{Duration, NaiveDate};
use common::*;
use gridwalk_core::changes;
use gridwalk_core::*;

#[test]
fn household_is_validated_flagged_and_tracked() {
    let (s, _) = store();
    let mut bad = household("101");
    bad.address.building = "  ".into();
    let e = validation(s.add_household(&bad).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.code),
        ("address.building", Code::Required)
    );

    let mut bad = household("101");
    bad.location = Some(GeoPoint {
        lat: 95.0,
        lng: 107.0,
    });
    let e = validation(s.add_household(&bad).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.code),
        ("location.lat", Code::OutOfRange)
    );

    let mut bad = household("101");
    bad.grid_code = "NOPE".into();
    let e = validation(s.add_household(&bad).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.code),
        ("grid_code", Code::UnknownReference)
    );
    assert_eq!(outbox_len(&s), 0, "refused input leaves no trace");

    let h = s.add_household(&household("101")).unwrap();
    assert!(!h.outside_grid);
    assert_eq!(h.sync_status, SyncStatus::LocalOnly);
    let mut far = household("102");
    far.location = Some(outside());
    let f = s.add_household(&far).unwrap();
    assert!(
        f.outside_grid,
        "outside the boundary is flagged, not refused"
    );
    assert_eq!(outbox_len(&s), 2);
}

#[test]
fn household_edit_records_only_changed_fields() {
    let (s, clock) = store();
    let h = s.add_household(&household("101")).unwrap();
    clock.advance(Duration::minutes(5));
    let patch = HouseholdPatch {
        care_tier: Some(CareTier::Close),
        tags: Some(vec!["独居".into(), "独居".into(), " ".into()]),
        ..Default::default()
    };
    let e = s.update_household(&h.id, &patch).unwrap();
    assert_eq!(e.care_tier, CareTier::Close);
    assert_eq!(e.tags, vec!["独居".to_string()]);
    assert!(e.updated_at > h.updated_at);
    let pending = s.read(|c| changes::list(c, "pending", 10)).unwrap();
    assert_eq!(pending.len(), 2);
    let update = &pending[1];
    assert_eq!(update.op, "update");
    let keys: Vec<_> = update
        .payload
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, vec!["care_tier".to_string(), "tags".to_string()]);
    assert!(update.hlc > pending[0].hlc);
    // The per-field clocks moved only for the changed fields. Stored compact: a field without
    // a clock has the row's stamp (the edit's), the others keep the creation's, written out.
    let (clocks, row_hlc): (serde_json::Value, String) = s
        .read(|c| {
            let (t, hlc): (String, String) = c.query_row(
                "SELECT clocks, hlc FROM households WHERE id = ?1",
                [&h.id],
                |r| Ok((r.get("clocks")?, r.get("hlc")?)),
            )?;
            Ok((serde_json::from_str(&t)?, hlc))
        })
        .unwrap();
    assert_eq!(row_hlc, update.hlc);
    assert_eq!(clocks.get("care_tier"), None);
    assert_eq!(clocks.get("tags"), None);
    assert_eq!(clocks["building"], serde_json::json!(pending[0].hlc));

    // A no-op patch writes nothing.
    s.update_household(&h.id, &patch).unwrap();
    assert_eq!(outbox_len(&s), 2);
}

#[test]
fn resident_id_number_rules() {
    let (s, _) = store();
    let h = s.add_household(&household("101")).unwrap();
    let good = id("64032319520314001");
    let mut wrong = good.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '1' { '2' } else { '1' });
    let e = validation(
        s.add_resident(&resident(&h.id, "王建国", Some(wrong)))
            .unwrap_err(),
    );
    assert_eq!(
        (e.field.as_str(), e.code),
        ("id_number", Code::InvalidChecksum)
    );
    assert!(
        !e.to_string().contains("6403231952"),
        "no ID digits in messages"
    );

    let future = id("64032320990101001");
    let e = validation(
        s.add_resident(&resident(&h.id, "王建国", Some(future)))
            .unwrap_err(),
    );
    assert_eq!(e.code, Code::FutureDate);

    let p = s
        .add_resident(&resident(&h.id, "王建国", Some(good.to_lowercase())))
        .unwrap();
    assert_eq!(p.gender, Some(Gender::Male));
    assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1952, 3, 14));

    // Same ID number in another household: refused, naming the household that has it.
    let h2 = s.add_household(&household("102")).unwrap();
    let e = validation(
        s.add_resident(&resident(&h2.id, "王建国", Some(good.clone())))
            .unwrap_err(),
    );
    assert_eq!(e.code, Code::Duplicate);
    assert_eq!(e.existing_household_id.as_deref(), Some(h.id.as_str()));

    // Gender contradicting the ID number (17th digit even: female).
    let mut r = resident(&h.id, "李梅", Some(id("64032319800101002")));
    r.gender = Some(Gender::Male);
    r.relation = Relation::Spouse;
    let e = validation(s.add_resident(&r).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("gender", Code::Mismatch));

    // Bad phone and a future birth date without an ID number.
    let mut r = resident(&h.id, "李梅", None);
    r.phone = Some("12345".into());
    let e = validation(s.add_resident(&r).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("phone", Code::InvalidFormat));
    let mut r = resident(&h.id, "李梅", None);
    r.birth_date = NaiveDate::from_ymd_opt(2030, 1, 1);
    let e = validation(s.add_resident(&r).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("birth_date", Code::FutureDate));

    // After moving out, the number may be registered again elsewhere; history is kept.
    s.move_out_resident(
        &p.id,
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        Some("搬家"),
    )
    .unwrap();
    let again = s
        .add_resident(&resident(&h2.id, "王建国", Some(good)))
        .unwrap();
    assert_eq!(again.household_id, h2.id);
    let moved = s.resident(&p.id).unwrap();
    assert_eq!(moved.status, RecordStatus::MovedOut);
    let history = s.resident_moves(&p.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, MoveKind::MoveOut);
    // Moving the old record back in now collides with the active one.
    let e = validation(
        s.move_in_resident(
            &p.id,
            &h.id,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            None,
        )
        .unwrap_err(),
    );
    assert_eq!(e.code, Code::Duplicate);
}

#[test]
fn resident_edit_rederives_identity() {
    let (s, _) = store();
    let h = s.add_household(&household("101")).unwrap();
    let p = s.add_resident(&resident(&h.id, "张三", None)).unwrap();
    assert_eq!(p.gender, None);
    let patch = ResidentPatch {
        id_number: Some(Some(id("11010519491231002"))),
        ..Default::default()
    };
    let p = s.update_resident(&p.id, &patch).unwrap();
    assert_eq!(p.gender, Some(Gender::Female));
    assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1949, 12, 31));
}

#[test]
fn visits_refuse_the_future_and_unknown_households() {
    let (s, clock) = store();
    let h = s.add_household(&household("101")).unwrap();
    let v = VisitInput {
        household_id: h.id.clone(),
        visited_at: clock.now() + Duration::hours(2),
        mode: VisitMode::InPerson,
        outcome: VisitOutcome::Fine,
        notes: None,
    };
    let e = validation(s.log_visit(&v).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("visited_at", Code::FutureDate));
    let e = validation(
        s.log_visit(&VisitInput {
            household_id: "missing".into(),
            visited_at: clock.now(),
            ..v.clone()
        })
        .unwrap_err(),
    );
    assert_eq!(e.code, Code::UnknownReference);
    let ok = s
        .log_visit(&VisitInput {
            visited_at: clock.now() - Duration::hours(1),
            ..v
        })
        .unwrap();
    assert_eq!(s.visits_of(&h.id).unwrap(), vec![ok]);
}

#[test]
fn patrol_track_distance_and_single_running_patrol() {
    let (s, clock) = store();
    let p = s.start_patrol("G1").unwrap();
    assert!(matches!(
        s.start_patrol("G1"),
        Err(Error::InvalidState { .. })
    ));
    let start = clock.now();
    // 11 fixes 10 s apart walking north ~11 m each (≈ 111 m), plus one wild jump and one
    // low-accuracy fix that the filter must drop, and one invalid fix that is skipped.
    let mut pts: Vec<TrackPoint> = (0..11)
        .map(|i| TrackPoint {
            at: start + Duration::seconds(10 * i),
            lat: 37.7800 + 0.0001 * i as f64,
            lng: 107.40,
            accuracy_m: Some(8.0),
        })
        .collect();
    pts.push(TrackPoint {
        at: start + Duration::seconds(111),
        lat: 37.79,
        lng: 107.41,
        accuracy_m: Some(8.0),
    });
    pts.push(TrackPoint {
        at: start + Duration::seconds(112),
        lat: 37.7811,
        lng: 107.40,
        accuracy_m: Some(200.0),
    });
    pts.push(TrackPoint {
        at: start + Duration::seconds(113),
        lat: f64::NAN,
        lng: 107.40,
        accuracy_m: None,
    });
    clock.advance(Duration::minutes(3));
    let (kept, skipped) = s.add_track_points(&p.id, &pts).unwrap();
    assert_eq!((kept, skipped), (13, 1));
    let done = s.stop_patrol(&p.id, Some("一切正常")).unwrap();
    assert!(
        (done.distance_m - 111.0).abs() < 5.0,
        "distance {}",
        done.distance_m
    );
    assert_eq!(done.duration_s, 180);
    assert!(matches!(
        s.add_track_points(&p.id, &pts),
        Err(Error::InvalidState { .. })
    ));
    assert!(s.active_patrol().unwrap().is_none());
}

#[test]
fn gpx_patrol_import() {
    let (s, _) = store();
    let gpx = r#"<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
 <trk><trkseg>
  <trkpt lat="37.7800" lon="107.4000"><time>2026-11-17T01:00:00Z</time></trkpt>
  <trkpt lat="37.7809" lon="107.4000"><time>2026-11-17T01:01:20Z</time></trkpt>
  <trkpt lat="37.7818" lon="107.4000"><time>2026-11-17T01:02:40Z</time></trkpt>
 </trkseg></trk></gpx>"#;
    let p = s.import_gpx_patrol("G1", gpx.as_bytes(), None).unwrap();
    assert_eq!(p.point_count, 3);
    assert_eq!(p.duration_s, 160);
    assert!((p.distance_m - 200.0).abs() < 5.0, "{}", p.distance_m);
    assert!(matches!(
        s.import_gpx_patrol("G1", b"<gpx", None),
        Err(Error::Format { what: "gpx", .. })
    ));
}

#[test]
fn case_draft_photo_submit_and_timeline() {
    let (s, _) = store();
    let dir = tempfile::tempdir().unwrap();
    let e = validation(
        s.draft_case(&CaseInput {
            type_code: "9999".into(),
            urgency: Urgency::Normal,
            description: String::new(),
            location: None,
            address: None,
            grid_code: "G1".into(),
            household_id: None,
            patrol_id: None,
        })
        .unwrap_err(),
    );
    assert_eq!(
        (e.field.as_str(), e.code),
        ("type_code", Code::InvalidValue)
    );

    let input = CaseInput {
        type_code: "0203".into(),
        urgency: Urgency::Urgent,
        description: String::new(),
        location: None,
        address: None,
        grid_code: "G1".into(),
        household_id: None,
        patrol_id: None,
    };
    let c = s.draft_case(&input).unwrap();
    assert_eq!(c.status, CaseStatus::Draft);
    assert_eq!(c.category_code, "02");
    assert_eq!(
        outbox_len(&s),
        0,
        "drafts stay on the device until submitted"
    );

    let e = validation(s.submit_case(&c.id).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("description", Code::Required));

    let photo = dir.path().join("fly.jpg");
    // A real (tiny) JPEG: the photo pipeline decodes and re-encodes it (tests/photos.rs).
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&image::DynamicImage::new_rgb8(8, 8))
        .unwrap();
    std::fs::write(&photo, &jpeg).unwrap();
    let meta = s.attach_photo(&c.id, &photo).unwrap();
    assert_eq!(meta.sha256.len(), 64);
    let again = s.attach_photo(&c.id, &photo).unwrap();
    assert_eq!(again.id, meta.id, "the same photo twice is one photo");
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, b"x").unwrap();
    let e = validation(s.attach_photo(&c.id, &txt).unwrap_err());
    assert_eq!(e.code, Code::UnsupportedFormat);

    let mut full = input.clone();
    full.description = "3栋楼道电动车飞线充电".into();
    full.location = Some(outside());
    let c = s.update_draft(&c.id, &full).unwrap();
    assert!(c.outside_grid);
    let c = s.submit_case(&c.id).unwrap();
    assert_eq!(c.status, CaseStatus::Submitted);
    assert!(c.submitted_at.is_some());
    let kinds: Vec<_> = c.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            CaseEventKind::Created,
            CaseEventKind::PhotoAdded,
            CaseEventKind::Edited,
            CaseEventKind::Submitted
        ]
    );
    let pending = s.read(|c| changes::list(c, "pending", 50)).unwrap();
    let entities: Vec<_> = pending.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(entities[0..2], ["case", "photo"]);
    assert_eq!(entities.iter().filter(|e| **e == "case_event").count(), 4);
    assert!(matches!(
        s.update_draft(&c.id, &full),
        Err(Error::InvalidState { .. })
    ));
    assert!(matches!(
        s.submit_case(&c.id),
        Err(Error::InvalidState { .. })
    ));
    assert!(s.photo_dir().join(&meta.file_name).exists());
}

#[test]
fn search_finds_cjk_fragments_phones_and_id_numbers() {
    let (s, _) = store();
    let h = s.add_household(&household("502")).unwrap();
    s.add_resident(&resident(&h.id, "欧阳建国", Some(id("64032319520314001"))))
        .unwrap();
    let mut r = resident(&h.id, "李梅", None);
    r.phone = Some("13800138000".into());
    r.relation = Relation::Spouse;
    s.add_resident(&r).unwrap();

    let names = |q: &str| -> Vec<String> {
        s.search(q, 20)
            .unwrap()
            .into_iter()
            .map(|h| h.title)
            .collect()
    };
    assert_eq!(names("建国"), vec!["欧阳建国"]); // 2 characters: the two-character index
    assert_eq!(names("欧阳建"), vec!["欧阳建国"]); // 3+: trigram index
    assert_eq!(names("0138"), vec!["李梅"]);
    assert_eq!(names("19520314"), vec!["欧阳建国"]);
    let hits = s.search("3栋", 20).unwrap();
    assert!(hits.iter().any(|h| h.kind == "household"));
    assert!(names("不存在的人").is_empty());
    assert!(names("100%").is_empty(), "LIKE wildcards are literal");
    assert_eq!(
        validation(s.search("  ", 5).unwrap_err()).code,
        Code::Required
    );

    // Renaming updates the index in the same transaction.
    let p = s.search("李梅", 5).unwrap()[0].id.clone();
    s.update_resident(
        &p,
        &ResidentPatch {
            name: Some("李美".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(names("李梅").is_empty());
    assert_eq!(names("李美"), vec!["李美"]);
}

#[test]
fn import_reports_every_bad_row_and_keeps_the_good_ones() {
    let (s, _) = store();
    let good_id = id("64032319600101001");
    let dup_id = id("64032319700101002");
    let csv = format!(
        "社区,楼栋,单元,房号,住房类型,关爱等级,姓名,身份证号,联系电话,与户主关系\n\
         幸福社区,1栋,1单元,101,自住,连心户,张三,{good_id},13912345678,户主\n\
         幸福社区,1栋,1单元,101,自住,连心户,张四,{dup_id},,配偶\n\
         幸福社区,1栋,1单元,102,自住,放心户,王五,{dup_id},,户主\n\
         幸福社区,1栋,1单元,103,宫殿,放心户,赵六,11010519491231001X,,户主\n\
         和平社区,,1单元,104,自住,放心户,钱七,,,户主\n"
    );
    // A blank 楼栋 under another 楼栋 of the same community is a merged cell (filled down);
    // under a new community it is missing.
    let report = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    assert_eq!(report.encoding, "utf-8");
    assert_eq!(report.rows_total, 5);
    assert_eq!(report.households_created, 1);
    assert_eq!(report.residents_created, 2);
    let lines: Vec<_> = report.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![4, 5, 6]);
    assert_eq!(report.rejected[0].errors[0].code, Code::Duplicate);
    assert!(report.rejected[1]
        .errors
        .iter()
        .any(|e| e.field == "housing_type"));
    assert!(report.rejected[2]
        .errors
        .iter()
        .any(|e| e.field == "address.building"));
    assert_eq!(s.list_households(&Default::default()).unwrap().len(), 1);

    // The same ledger in GBK, as Excel on a Chinese desktop saves it.
    let (gbk, _, _) = encoding_rs::GBK.encode("社区,楼栋,房号,姓名\n幸福社区,2栋,201,孙八\n");
    let report = s.import_ledger(&gbk, "G1").unwrap();
    assert_eq!(report.encoding, "gbk");
    assert_eq!(report.residents_created, 1);
    assert_eq!(s.search("孙八", 5).unwrap().len(), 1);

    // A file missing a required column imports nothing.
    assert!(matches!(
        s.import_ledger("姓名\n张三\n".as_bytes(), "G1"),
        Err(Error::Format { .. })
    ));

    // Export round trip: residents re-import into a fresh store identically.
    let mut out = Vec::new();
    assert_eq!(s.export_residents_csv(&mut out, Some("G1")).unwrap(), 3);
    let (s2, _) = store();
    let report = s2.import_ledger(&out, "G1").unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.residents_created, 3);
    assert_eq!(report.households_created, 2);
}

#[test]
fn stats_count_the_period() {
    let (s, clock) = store();
    let h = s.add_household(&household("101")).unwrap();
    for (hours, mode) in [
        (1, VisitMode::InPerson),
        (2, VisitMode::Phone),
        (3, VisitMode::NotAtHome),
    ] {
        visit(&s, &h.id, clock.now() - Duration::minutes(hours * 10), mode);
    }
    let p = s.start_patrol("G1").unwrap();
    let fixes = walk_fixes(clock.now(), 30);
    clock.advance(Duration::minutes(30));
    s.add_track_points(&p.id, &fixes).unwrap();
    s.stop_patrol(&p.id, None).unwrap();
    let mut input = case_input("0401", Urgency::Normal, "垃圾堆放", Some(inside()));
    input.patrol_id = Some(p.id.clone());
    let c = s.draft_case(&input).unwrap();
    s.submit_case(&c.id).unwrap();
    assert_eq!(s.patrol(&p.id).unwrap().case_ids, vec![c.id.clone()]);

    let day = s.settings().unwrap().local_date(clock.now());
    let st = s.stats(stats::Period::Day, day).unwrap();
    assert_eq!(st.visits_total, 3);
    assert_eq!(st.visits_by_mode.get("phone"), Some(&1));
    assert_eq!(st.households_visited, 1);
    assert_eq!((st.patrols, st.patrol_seconds), (1, 1800));
    assert_eq!(st.cases_by_category.get("04"), Some(&1));
    let next_week = s
        .stats(stats::Period::Week, day + Duration::days(7))
        .unwrap();
    assert_eq!(next_week.visits_total, 0);
    let month = s.stats(stats::Period::Month, day).unwrap();
    assert_eq!(month.cases_total, 1);
}

#[test]
fn case_type_codes_are_documented() {
    let doc = include_str!("../../docs/case-categories.md");
    for t in gridwalk_core::cases::CASE_TYPES {
        assert!(
            doc.contains(&format!("| {} | {} | {} |", t.code, t.zh, t.en)),
            "{}",
            t.code
        );
        assert!(gridwalk_core::cases::category_of(t.code).is_some());
    }
}

#[test]
fn import_reports_excel_crlf_lines_exactly() {
    let (s, _) = store();
    let csv =
        "社区,楼栋,房号,姓名,身份证号\r\n幸福社区,1栋,101,张三,\r\n幸福社区,1栋,102,李四,123\r\n";
    let report = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        report.rejected[0].line, 3,
        "the desk must be sent to the right row"
    );
}

#[test]
fn patrol_lists_carry_their_cases() {
    let (s, clock) = store();
    let p = s.start_patrol("G1").unwrap();
    let mut input = case_input("0302", Urgency::Normal, "占道经营", Some(inside()));
    input.patrol_id = Some(p.id.clone());
    let c = s.draft_case(&input).unwrap();
    clock.advance(Duration::minutes(20));
    s.stop_patrol(&p.id, None).unwrap();
    let list = s
        .patrols_between(clock.now() - Duration::hours(1), clock.now())
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].case_ids, vec![c.id]);
}

/// The search mark (`meta.search_folded`, schema version 7): docs above it are pending.
fn search_mark(s: &Store) -> i64 {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_folded'",
            [],
            |r| r.get(0),
        )?)
    })
    .unwrap()
}

/// (docs, docs in the FTS index, docs with two-character windows above the mark).
fn index_counts(s: &Store) -> (i64, i64, i64) {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT (SELECT count(*) FROM search_docs),
                    (SELECT count(*) FROM search_index_docsize),
                    (SELECT count(*) FROM search_grams WHERE doc > (SELECT CAST(value AS INTEGER)
                       FROM meta WHERE key = 'search_folded'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    })
    .unwrap()
}

#[test]
fn search_finds_pending_records_and_folds_them_into_the_index_in_batches() {
    let (s, _) = store();
    let fold_at = gridwalk_core::search::FOLD_AT;
    let names_of = |q: &str| -> Vec<String> {
        s.search(q, 20)
            .unwrap()
            .into_iter()
            .map(|h| h.title)
            .collect()
    };
    // "测试" and one more character, a different one for each person: the full name is a
    // trigram query, its last two characters a two-character one; each finds one person.
    let name = |i: i64| {
        let c = char::from_u32(0x4E00 + 200 + i as u32).unwrap();
        (format!("测试{c}"), format!("试{c}"))
    };
    let homes = fold_at / 2 + 40; // two docs each: the batch is folded once on the way
    let mut ids = Vec::new();
    let mut folds = 0;
    let mut mark = search_mark(&s);
    assert_eq!(mark, 0, "a fresh store has folded nothing");
    for i in 0..homes {
        let h = s
            .add_household(&household(&format!("{}", 1000 + i)))
            .unwrap();
        let p = s.add_resident(&resident(&h.id, &name(i).0, None)).unwrap();
        ids.push(p.id);
        let (full, two) = name(i);
        assert_eq!(names_of(&full), vec![full.clone()], "{full} after tap {i}");
        assert_eq!(names_of(&two), vec![full.clone()], "{two} after tap {i}");
        let now = search_mark(&s);
        if now != mark {
            folds += 1;
            mark = now;
        }
        let (docs, in_fts, stray) = index_counts(&s);
        assert_eq!(
            in_fts, mark,
            "the FTS index holds exactly the docs up to the mark"
        );
        assert_eq!(stray, 0, "no two-character windows above the mark");
        assert!(docs - mark < fold_at, "at most {fold_at} docs pending");
    }
    assert_eq!(
        folds, 1,
        "{homes} households with a resident each fold once"
    );
    let (docs, _, _) = index_counts(&s);
    assert!(mark > 0 && docs > mark, "some docs folded, some pending");
    // Everyone, folded or pending, by both kinds of query; the households by their address.
    for i in 0..homes {
        let (full, two) = name(i);
        assert_eq!(names_of(&full), vec![full.clone()]);
        assert_eq!(names_of(&two), vec![full]);
    }
    assert_eq!(s.search("3栋2单元1001", 5).unwrap().len(), 1);
    assert_eq!(s.search("3栋 2单元 1160", 5).unwrap().len(), 1);

    // Renaming a folded and a pending resident: the old names are gone, the new ones found.
    for (k, i) in [(0usize, 0i64), (ids.len() - 1, homes - 1)] {
        let new_name = format!("改名{}", char::from_u32(0x4E00 + 900 + i as u32).unwrap());
        s.update_resident(
            &ids[k],
            &ResidentPatch {
                name: Some(new_name.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        let (old_full, old_two) = name(i);
        assert!(names_of(&old_full).is_empty() && names_of(&old_two).is_empty());
        assert_eq!(names_of(&new_name), vec![new_name.clone()]);
        let two: String = new_name.chars().skip(1).collect();
        assert_eq!(names_of(&two), vec![new_name.clone()]);
    }
    let (_, in_fts, stray) = index_counts(&s);
    assert_eq!((in_fts, stray), (mark, 0));

    // A bulk write (the ledger import) folds everything; undoing it removes the newest docs
    // and brings the mark down with them, so the next record is pending and found.
    let report = s
        .import_ledger(
            "社区,楼栋,房号,姓名\n幸福社区,9栋,901,孙八\n幸福社区,9栋,902,钱九\n".as_bytes(),
            "G1",
        )
        .unwrap();
    let (docs, in_fts, _) = index_counts(&s);
    assert_eq!(
        (search_mark(&s), in_fts),
        (docs, docs),
        "an import folds every doc"
    );
    assert_eq!(names_of("孙八"), vec!["孙八"]);
    s.undo_import(report.import_id.as_deref().unwrap()).unwrap();
    assert!(names_of("孙八").is_empty());
    let (docs, in_fts, _) = index_counts(&s);
    assert_eq!((search_mark(&s), in_fts), (docs, docs));
    let h = s.add_household(&household("903")).unwrap();
    s.add_resident(&resident(&h.id, "周十一", None)).unwrap();
    assert_eq!(names_of("周十一"), vec!["周十一"]);
    assert_eq!(names_of("十一"), vec!["周十一"]);
    let (docs, in_fts, _) = index_counts(&s);
    assert_eq!((search_mark(&s), in_fts), (docs - 2, docs - 2), "pending");
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn an_outbox_seq_is_never_used_twice() {
    let (s, _) = store();
    let seq_of = |id: &str| -> i64 {
        s.read(|c| {
            Ok(
                c.query_row("SELECT seq FROM outbox WHERE entity_id = ?1", [id], |r| {
                    r.get(0)
                })?,
            )
        })
        .unwrap()
    };
    let a = s.add_household(&household("101")).unwrap();
    let b = s.add_household(&household("102")).unwrap();
    let newest = seq_of(&b.id);
    assert!(newest > seq_of(&a.id));
    // The server acknowledged the newest change: its row leaves the outbox.
    s.write(|ctx| {
        ctx.tx
            .execute("DELETE FROM outbox WHERE seq = ?1", [newest])?;
        Ok(())
    })
    .unwrap();
    let c = s.add_household(&household("103")).unwrap();
    assert_eq!(
        seq_of(&c.id),
        newest + 1,
        "the next seq after the highest ever given"
    );
}
