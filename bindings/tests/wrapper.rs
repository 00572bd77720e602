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

/// Every vocabulary the shells can parse reads exactly as the domain crate's tables say (the
/// tables the CLI and the ledger import read): same values in the same order, every code, label
/// and desk word mapped to the same code, near words marked, and a word no table has refused on
/// the core's field. If the bindings kept a word list of their own, this would fail.
#[test]
// The parsers return the FFI's error by value (see the crate's lib.rs); so do these closures.
#[allow(clippy::result_large_err)]
fn vocabularies_read_the_shared_domain_tables() {
    use gridwalk_core::synonyms::{self, Vocabulary};

    fn check<T: Vocabulary>(kind: VocabularyKind, typed: &dyn Fn(String) -> Result<String>) {
        let values = vocabulary_values(kind);
        let codes: Vec<String> = values.iter().map(|v| v.code.clone()).collect();
        let domain: Vec<String> = T::all().iter().map(|v| v.code().to_string()).collect();
        assert_eq!(codes, domain, "{kind:?}");
        let listed: usize = values.iter().map(|v| v.desk_words.len()).sum();
        assert_eq!(
            listed,
            T::desk_words().len(),
            "{kind:?}: every desk word listed"
        );
        for v in &values {
            let mut words = vec![v.code.clone(), v.label_zh.clone(), v.label_en.clone()];
            words.extend(v.desk_words.iter().map(|d| d.word.clone()));
            for word in words {
                let domain = synonyms::read::<T>(&word).expect("the domain reads its own words");
                let m = read_vocabulary(kind, word.clone()).unwrap();
                assert_eq!(m.code, domain.value.code(), "{kind:?} {word}");
                assert_eq!(m.exact, domain.exact, "{kind:?} {word}");
                assert_eq!(typed(word.clone()).unwrap(), m.code, "{kind:?} {word}");
            }
        }
        for d in T::desk_words() {
            let listed = values
                .iter()
                .flat_map(|v| v.desk_words.iter().map(move |w| (v.code.as_str(), w)))
                .find(|(_, w)| w.word == d.word)
                .expect("listed");
            assert_eq!((listed.0, listed.1.exact), (d.value.code(), d.exact));
        }
        for err in [
            read_vocabulary(kind, "没有这个词".into()).map(|m| m.code),
            typed("没有这个词".into()),
        ] {
            match err {
                Err(GridwalkError::Validation { field, code, .. }) => {
                    assert_eq!(field, kind.field());
                    assert_eq!(code, ValidationCode::InvalidValue);
                }
                other => panic!("{kind:?}: expected a validation error, got {other:?}"),
            }
        }
    }

    use gridwalk_core as c;
    let mut seen = std::collections::HashSet::new();
    for kind in VocabularyKind::ALL {
        seen.insert(*kind);
        match kind {
            VocabularyKind::HousingType => {
                check::<c::HousingType>(*kind, &|w| parse_housing_type(w).map(|v| v.code()))
            }
            VocabularyKind::CareTier => {
                check::<c::CareTier>(*kind, &|w| parse_care_tier(w).map(|v| v.code()))
            }
            VocabularyKind::Gender => {
                check::<c::Gender>(*kind, &|w| parse_gender(w).map(|v| v.code()))
            }
            VocabularyKind::Residency => {
                check::<c::Residency>(*kind, &|w| parse_residency(w).map(|v| v.code()))
            }
            VocabularyKind::Relation => {
                check::<c::Relation>(*kind, &|w| parse_relation(w).map(|v| v.code()))
            }
            VocabularyKind::SpecialGroup => {
                check::<c::SpecialGroup>(*kind, &|w| parse_special_group(w).map(|v| v.code()))
            }
            VocabularyKind::VisitMode => {
                check::<c::VisitMode>(*kind, &|w| parse_visit_mode(w).map(|v| v.code()))
            }
            VocabularyKind::VisitOutcome => {
                check::<c::VisitOutcome>(*kind, &|w| parse_visit_outcome(w).map(|v| v.code()))
            }
            VocabularyKind::Urgency => {
                check::<c::Urgency>(*kind, &|w| parse_urgency(w).map(|v| v.code()))
            }
            VocabularyKind::CaseStatus => {
                check::<c::CaseStatus>(*kind, &|w| parse_case_status(w).map(|v| v.code()))
            }
            VocabularyKind::TaskKind => {
                check::<c::TaskKind>(*kind, &|w| parse_task_kind(w).map(|v| v.code()))
            }
            VocabularyKind::Priority => {
                check::<c::Priority>(*kind, &|w| parse_priority(w).map(|v| v.code()))
            }
        }
    }
    assert_eq!(seen.len(), VocabularyKind::ALL.len());
    // The words of the issue: the CLI's help listed them while its validation refused them.
    assert_eq!(parse_relation("母亲".into()).unwrap(), Relation::Parent);
    assert_eq!(
        parse_visit_mode("微信".into()).unwrap(),
        VisitMode::Messaging
    );
    let near = read_vocabulary(VocabularyKind::Relation, "儿媳".into()).unwrap();
    assert_eq!((near.code.as_str(), near.exact), ("child", false));
}

/// Import options, the refused rows' file, the journal and the undo, through the wrapper.
#[test]
fn ledger_import_with_options_journal_and_undo() {
    let s = store();
    let csv = "楼栋,单元,门牌,姓名,与户主关系,联系电话\n\
               3栋,1单元,101,张三,户主,13800138000\n\
               3栋,1单元,102,李四,外星人,\n"
        .as_bytes()
        .to_vec();
    let options = |dry_run| ImportOptions {
        grid_code: GRID.into(),
        dry_run,
        area_code: None,
        community: Some("幸福社区".into()),
        file_name: Some("台账.csv".into()),
    };
    let dry = s.import_ledger_with(csv.clone(), options(true)).unwrap();
    assert!(dry.report.dry_run && dry.report.import_id.is_none());
    assert!(s
        .list_households(HouseholdFilter::default())
        .unwrap()
        .is_empty());
    let out = s.import_ledger_with(csv, options(false)).unwrap();
    let r = &out.report;
    assert_eq!((r.rows_accepted, r.residents_created), (1, 1));
    assert_eq!(r.rejected.len(), 1);
    let refused = &r.rejected[0];
    assert_eq!(refused.line, 3);
    assert_eq!(refused.errors[0].field, "relation");
    assert!(refused.reason.contains("与户主关系"), "{}", refused.reason);
    let file = out.rejected_file.as_ref().unwrap();
    assert_eq!(
        (file.encoding.as_str(), file.extension.as_str()),
        ("utf-8", "csv")
    );
    let text = String::from_utf8(file.bytes.clone()).unwrap();
    assert!(text.contains("李四") && !text.contains("张三"), "{text}");
    let h = s.list_households(HouseholdFilter::default()).unwrap();
    assert_eq!(h[0].address.community, "幸福社区");

    let list = s.ledger_imports().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].file_name.as_deref(), Some("台账.csv"));
    assert_eq!((list[0].rows_accepted, list[0].rows_rejected), (1, 1));
    assert!(list[0].undone_at_ms.is_none());
    let undo = s.undo_import(list[0].id.clone()).unwrap();
    assert_eq!((undo.households_removed, undo.residents_removed), (1, 1));
    assert!(s
        .list_households(HouseholdFilter::default())
        .unwrap()
        .is_empty());
    assert!(s.ledger_imports().unwrap()[0].undone_at_ms.is_some());
    assert!(matches!(
        s.undo_import(list[0].id.clone()),
        Err(GridwalkError::InvalidState { .. })
    ));
    assert!(matches!(
        s.undo_import("no-such-import".into()),
        Err(GridwalkError::NotFound { .. })
    ));
}
