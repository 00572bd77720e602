//! Devices' cores against a real sync server on loopback: convergence, conflicts, replays,
//! scope, authentication — and a server killed mid-push and mid-pull.

use std::sync::mpsc;
use std::time::Duration;

use chrono::Duration as Days;
use gridwalk_core::sync::{
    CancelToken, HttpOptions, HttpTransport, SyncError, SyncOptions, SyncPhase, Transport,
    TransportError,
};
use gridwalk_core::*;
use gridwalk_e2e::*;
use gridwalk_protocol::{Change, Op, Outcome, PushRequest};
use serde_json::{json, Map, Value};

fn households_by_id(s: &Store) -> Vec<(String, Value)> {
    let mut hs: Vec<_> = s
        .list_households(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| {
            let v = json!({
                "grid": h.grid_code, "room": h.address.room, "tier": h.care_tier.as_str(),
                "notes": h.notes, "tags": h.tags,
            });
            (h.id, v)
        })
        .collect();
    hs.sort_by(|a, b| a.0.cmp(&b.0));
    hs
}

fn residents_by_id(s: &Store, household: &str) -> Vec<(String, Value)> {
    let mut rs: Vec<_> = s
        .residents_of(household, true)
        .unwrap()
        .into_iter()
        .map(|r| (r.id.clone(), json!({"name": r.name, "phone": r.phone})))
        .collect();
    rs.sort_by(|a, b| a.0.cmp(&b.0));
    rs
}

fn raw_push(d: &Device, changes: Vec<Change>) -> gridwalk_protocol::PushResponse {
    let req = PushRequest {
        batch_id: uuid_like(),
        changes,
        cursor: None,
    };
    d.store
        .with_access(&d.transport, |tok| d.transport.push(tok, &req))
        .unwrap()
}

fn uuid_like() -> String {
    gridwalk_core::new_id()
}

fn hlc_now(d: &Device) -> String {
    d.store.write(|ctx| Ok(ctx.tick())).unwrap()
}

#[test]
fn offline_edits_on_both_sides_converge() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "zhaomin");

    let h = a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    let r = a.store.add_resident(&resident(&h.id, "张桂兰")).unwrap();
    a.sync().unwrap();
    b.sync().unwrap();
    assert_eq!(
        b.store.household(&h.id).unwrap().address.room.as_deref(),
        Some("502")
    );

    // Both offline: each edits different records and fields, and adds new ones.
    set_resident_phone(&a.store, &r.id, "13800001111");
    a.store
        .log_visit(&VisitInput {
            household_id: h.id.clone(),
            ..visit_input(&a)
        })
        .unwrap();
    set_household_notes(&b.store, &h.id, "楼道堆物已清理");
    let h2 = b
        .store
        .add_household(&household(DEMO_GRID_2, "101"))
        .unwrap();
    let h3 = a.store.add_household(&household(DEMO_GRID, "601")).unwrap();

    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();

    assert_eq!(pending(&a.store), 0);
    assert_eq!(pending(&b.store), 0);
    // The grid worker sees her grid only; the leader sees both grids.
    let on_a = households_by_id(&a.store);
    let on_b: Vec<_> = households_by_id(&b.store)
        .into_iter()
        .filter(|(id, _)| *id != h2.id)
        .collect();
    assert_eq!(on_a, on_b);
    assert_eq!(on_a.len(), 2);
    assert!(on_a.iter().any(|(id, _)| *id == h3.id));
    assert_eq!(
        residents_by_id(&a.store, &h.id),
        residents_by_id(&b.store, &h.id)
    );
    assert_eq!(
        b.store.resident(&r.id).unwrap().phone.as_deref(),
        Some("13800001111")
    );
    assert_eq!(
        a.store.household(&h.id).unwrap().notes.as_deref(),
        Some("楼道堆物已清理")
    );
    assert_eq!(count(&b.store, "visits"), 1);
    assert!(
        a.store.household(&h2.id).is_err(),
        "grid 2 must not reach grid 1's worker"
    );
    for d in [&a, &b] {
        assert!(d.store.conflicts(true).unwrap().is_empty());
    }
}

fn visit_input(d: &Device) -> VisitInput {
    VisitInput {
        household_id: String::new(),
        visited_at: d.store.now(),
        mode: VisitMode::InPerson,
        outcome: VisitOutcome::Fine,
        notes: Some("身体状况良好".into()),
    }
}

#[test]
fn same_field_on_both_sides_keeps_the_winner_and_records_the_conflict() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "zhaomin");
    let h = a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    a.sync().unwrap();
    b.sync().unwrap();

    // A's phone is three days behind; B edits later. B's stamp is newer: B wins.
    a.skew(-Days::days(3));
    let set_tier = |d: &Device, tier| {
        d.store
            .update_household(
                &h.id,
                &HouseholdPatch {
                    care_tier: Some(tier),
                    ..Default::default()
                },
            )
            .unwrap();
    };
    set_tier(&a, CareTier::Close);
    set_tier(&b, CareTier::Attention);
    // The loser pushes last: its value must not vanish silently.
    b.sync().unwrap();
    let report = a.sync().unwrap();
    assert_eq!(report.conflicts, 1, "{report:?}");
    b.sync().unwrap();

    for d in [&a, &b] {
        assert_eq!(
            d.store.household(&h.id).unwrap().care_tier,
            CareTier::Attention,
            "{}",
            d.name
        );
        let cs = d.store.conflicts(true).unwrap();
        assert_eq!(cs.len(), 1, "{} sees the conflict", d.name);
        assert_eq!(cs[0].field, "care_tier");
        assert_eq!(cs[0].kept_value, json!("attention"));
        assert_eq!(cs[0].lost_value, json!("close"));
    }

    // Resolving it (take the lost value) is an edit that syncs to everyone.
    let c = a.store.conflicts(true).unwrap().remove(0);
    a.store
        .resolve_conflict(&c.id, &gridwalk_core::sync::ConflictChoice::TakeLost)
        .unwrap();
    a.sync().unwrap();
    assert!(
        a.store.attention().unwrap().is_empty(),
        "{:?}",
        a.store.attention().unwrap()
    );
    b.sync().unwrap();
    for d in [&a, &b] {
        assert_eq!(d.store.household(&h.id).unwrap().care_tier, CareTier::Close);
        assert!(d.store.conflicts(true).unwrap().is_empty(), "{}", d.name);
    }
}

/// A worker's edit of a household's notes.
fn set_household_notes(s: &Store, id: &str, notes: &str) {
    let patch = HouseholdPatch {
        notes: Some(Some(notes.into())),
        ..Default::default()
    };
    s.update_household(id, &patch).unwrap();
}

/// A worker's edit of a resident's phone.
fn set_resident_phone(s: &Store, id: &str, phone: &str) {
    let patch = ResidentPatch {
        phone: Some(Some(phone.into())),
        ..Default::default()
    };
    s.update_resident(id, &patch).unwrap();
}

/// Every pulled household of `d` with its (field → clock) map, as `format` sends them.
fn pulled_clocks(d: &Device) -> Vec<(String, Map<String, Value>, usize)> {
    let page = d
        .store
        .with_access(&d.transport, |tok| d.transport.pull(tok, None, 500))
        .unwrap();
    page.records
        .into_iter()
        .filter(|r| r.entity == "household")
        .map(|r| (r.id, r.clocks, r.data.len()))
        .collect()
}

#[test]
fn a_phone_on_the_full_clock_format_still_syncs_with_this_server() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let new = Device::login(dir.path(), "new", &srv.url, "wangfang");
    let full = HttpOptions {
        compact_records: false,
        ..HttpOptions::default()
    };
    let old = Device::login_with(dir.path(), "old", &srv.url, "wangfang", full);

    // A household written by one change, and one edited since (its fields' clocks differ).
    let h1 = new
        .store
        .add_household(&household(DEMO_GRID, "501"))
        .unwrap();
    let h2 = new
        .store
        .add_household(&household(DEMO_GRID, "502"))
        .unwrap();
    let r = new.store.add_resident(&resident(&h2.id, "李秀英")).unwrap();
    new.sync().unwrap();
    set_household_notes(&new.store, &h2.id, "独居，每周电话");
    new.sync().unwrap();

    // On the wire: the old phone gets every field's clock; the new one only those that differ
    // from the record's stamp (none for h1, the earlier fields for the edited h2).
    for (id, clocks, fields) in pulled_clocks(&old) {
        assert_eq!(clocks.len(), fields, "old format: every clock of {id}");
    }
    let compact = pulled_clocks(&new);
    let c1 = &compact.iter().find(|(id, ..)| *id == h1.id).unwrap().1;
    assert!(c1.is_empty(), "one change, one clock: {c1:?}");
    let c2 = &compact.iter().find(|(id, ..)| *id == h2.id).unwrap();
    assert!(!c2.1.is_empty() && !c2.1.contains_key("notes") && c2.1.len() < c2.2);

    // The old phone pulls, edits and pushes; both phones end with the same records.
    old.sync().unwrap();
    assert_eq!(households_by_id(&old.store), households_by_id(&new.store));
    set_resident_phone(&old.store, &r.id, "13700002222");
    set_household_notes(&old.store, &h1.id, "新装电梯");
    old.sync().unwrap();
    new.sync().unwrap();
    old.sync().unwrap();
    assert_eq!(households_by_id(&old.store), households_by_id(&new.store));
    assert_eq!(
        residents_by_id(&old.store, &h2.id),
        residents_by_id(&new.store, &h2.id)
    );
    assert_eq!(
        new.store.resident(&r.id).unwrap().phone.as_deref(),
        Some("13700002222")
    );
    // A later edit on the new phone still wins over the fields the old phone stamped.
    set_household_notes(&new.store, &h1.id, "电梯已验收");
    new.sync().unwrap();
    old.sync().unwrap();
    assert_eq!(
        old.store.household(&h1.id).unwrap().notes.as_deref(),
        Some("电梯已验收")
    );
    for d in [&old, &new] {
        assert!(d.store.conflicts(true).unwrap().is_empty(), "{}", d.name);
        assert_eq!(pending(&d.store), 0, "{}", d.name);
    }
}

/// The `clocks` column and stamp of a household row of a phone's store.
fn stored_clocks(s: &Store, id: &str) -> (Map<String, Value>, String) {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT clocks, hlc FROM households WHERE id = ?1",
            [id],
            |r| {
                let clocks: String = r.get("clocks")?;
                Ok((
                    serde_json::from_str(&clocks).unwrap_or_default(),
                    r.get("hlc")?,
                ))
            },
        )?)
    })
    .unwrap()
}

#[test]
fn phones_store_records_compact_and_rows_stored_full_still_merge_right() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "wangfang");

    // Written by one change: no field clock at all, on the phone that wrote it and on the one
    // that pulled it.
    let h1 = a.store.add_household(&household(DEMO_GRID, "601")).unwrap();
    let h2 = a.store.add_household(&household(DEMO_GRID, "602")).unwrap();
    assert!(stored_clocks(&a.store, &h1.id).0.is_empty());
    // An edit: the edited field takes the row's new stamp (no clock of its own), every other
    // field keeps the stamp it had, written out.
    let (_, created) = stored_clocks(&a.store, &h2.id);
    set_household_notes(&a.store, &h2.id, "低保户");
    let (clocks, stamp) = stored_clocks(&a.store, &h2.id);
    assert!(stamp > created);
    assert!(!clocks.contains_key("notes"), "{clocks:?}");
    assert_eq!(clocks.get("room"), Some(&json!(created)));
    a.sync().unwrap();
    b.sync().unwrap();
    assert!(stored_clocks(&b.store, &h1.id).0.is_empty());
    assert_eq!(stored_clocks(&b.store, &h2.id), (clocks, stamp.clone()));

    // A row as older versions stored it (every field's clock) keeps merging right: phone b's
    // copy of h2 is rewritten full, then b edits one field and a another.
    let compact = stored_clocks(&b.store, &h2.id).0;
    let full: Map<String, Value> = entities::entity("household")
        .unwrap()
        .fields
        .iter()
        .map(|f| {
            let c = compact.get(f.name).cloned().unwrap_or(json!(stamp));
            (f.name.to_string(), c)
        })
        .collect();
    assert_eq!(full.len(), compact.len() + 1);
    b.store
        .write(|ctx| {
            ctx.tx.execute(
                "UPDATE households SET clocks = ?2 WHERE id = ?1",
                [&h2.id, &Value::Object(full).to_string()],
            )?;
            Ok(())
        })
        .unwrap();
    set_household_notes(&b.store, &h2.id, "低保户，独居");
    let edit = HouseholdPatch {
        care_tier: Some(CareTier::Attention),
        ..Default::default()
    };
    a.store.update_household(&h2.id, &edit).unwrap();
    for d in [&a, &b, &a] {
        d.sync().unwrap();
    }
    assert_eq!(households_by_id(&a.store), households_by_id(&b.store));
    let h = b.store.household(&h2.id).unwrap();
    assert_eq!(h.notes.as_deref(), Some("低保户，独居"));
    assert_eq!(h.care_tier, CareTier::Attention);
    for d in [&a, &b] {
        assert!(d.store.conflicts(true).unwrap().is_empty(), "{}", d.name);
        assert_eq!(pending(&d.store), 0, "{}", d.name);
    }
}

#[test]
fn different_fields_edited_on_both_sides_keep_both() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "wangfang");
    let h = a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    let r = a.store.add_resident(&resident(&h.id, "李秀英")).unwrap();
    a.sync().unwrap();
    b.sync().unwrap();

    set_resident_phone(&a.store, &r.id, "13700002222");
    b.store
        .update_resident(
            &r.id,
            &ResidentPatch {
                notes: Some(Some("腿脚不便，需上门".into())),
                ..Default::default()
            },
        )
        .unwrap();
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    for d in [&a, &b] {
        let got = d.store.resident(&r.id).unwrap();
        assert_eq!(got.phone.as_deref(), Some("13700002222"), "{}", d.name);
        assert_eq!(got.notes.as_deref(), Some("腿脚不便，需上门"), "{}", d.name);
        assert!(d.store.conflicts(true).unwrap().is_empty());
    }
}

#[test]
fn a_batch_replayed_one_to_five_times_applies_once() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    for replays in 1..=5 {
        // Changes taken from a real store's outbox, pushed by hand `replays` times.
        let scratch = tempfile::tempdir().unwrap();
        let s = Store::open(scratch.path().join("s.db")).unwrap();
        s.upsert_org_units(&a.store.org_units().unwrap()).unwrap();
        let h = s
            .add_household(&household(DEMO_GRID, &format!("{replays}01")))
            .unwrap();
        s.add_resident(&resident(&h.id, "王建华")).unwrap();
        s.update_household(
            &h.id,
            &HouseholdPatch {
                notes: Some(Some(format!("第{replays}次"))),
                ..Default::default()
            },
        )
        .unwrap();
        let changes: Vec<Change> = s
            .read(|c| changes::list(c, "pending", 100))
            .unwrap()
            .into_iter()
            .map(|e| Change {
                change_id: e.change_id,
                entity: e.entity,
                entity_id: e.entity_id,
                op: if e.op == "create" {
                    Op::Create
                } else {
                    Op::Update
                },
                hlc: e.hlc,
                payload: e.payload.as_object().cloned().unwrap_or_default(),
                base: e.base,
            })
            .collect();
        assert_eq!(changes.len(), 3);
        let first = raw_push(&a, changes.clone());
        for _ in 1..replays {
            let again = raw_push(&a, changes.clone());
            for (x, y) in first.results.iter().zip(&again.results) {
                assert_eq!(x.outcome, y.outcome);
                assert_eq!(x.rev, y.rev, "a replay returns the stored result");
                assert!(y.replayed);
            }
        }
        assert!(first.results.iter().all(|r| r.outcome == Outcome::Applied));
    }
    // A fresh device sees each record once, with the last values.
    let c = Device::login(dir.path(), "c", &srv.url, "wangfang");
    let report = c.sync().unwrap();
    assert_eq!(count(&c.store, "households"), 5);
    assert_eq!(count(&c.store, "residents"), 5);
    assert_eq!(report.pulled, 10, "{report:?}");
    assert!(c.store.conflicts(false).unwrap().is_empty());
}

#[test]
fn a_worker_cannot_read_or_write_another_grids_households() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let fang = Device::login(dir.path(), "fang", &srv.url, "wangfang");
    let jun = Device::login(dir.path(), "jun", &srv.url, "lijun");
    let theirs = jun
        .store
        .add_household(&household(DEMO_GRID_2, "808"))
        .unwrap();
    jun.store
        .add_resident(&resident(&theirs.id, "刘德明"))
        .unwrap();
    jun.sync().unwrap();

    // By pull: nothing of grid 2 reaches grid 1's worker.
    fang.sync().unwrap();
    assert_eq!(count(&fang.store, "households"), 0);
    assert_eq!(count(&fang.store, "residents"), 0);

    // By push with a guessed id: an update and a resident in that household are refused, and an
    // id that does not exist at all gets the same answer (nothing is revealed).
    let hlc = hlc_now(&fang);
    let mut notes = Map::new();
    notes.insert("notes".into(), json!("改写他人网格"));
    let mut new_resident = Map::new();
    new_resident.insert("household_id".into(), json!(theirs.id));
    new_resident.insert("name".into(), json!("假冒"));
    let mine = fang
        .store
        .add_household(&household(DEMO_GRID, "101"))
        .unwrap();
    let res = raw_push(
        &fang,
        vec![
            Change {
                change_id: uuid_like(),
                entity: "household".into(),
                entity_id: theirs.id.clone(),
                op: Op::Update,
                hlc: hlc.clone(),
                payload: notes.clone(),
                base: None,
            },
            Change {
                change_id: uuid_like(),
                entity: "household".into(),
                entity_id: gridwalk_core::new_id(),
                op: Op::Update,
                hlc: hlc.clone(),
                payload: notes,
                base: None,
            },
            Change {
                change_id: uuid_like(),
                entity: "resident".into(),
                entity_id: gridwalk_core::new_id(),
                op: Op::Create,
                hlc,
                payload: new_resident,
                base: None,
            },
        ],
    );
    let reasons: Vec<_> = res
        .results
        .iter()
        .map(|r| (r.outcome, r.reason.as_ref().map(|x| x.code.clone())))
        .collect();
    for (outcome, code) in &reasons[..2] {
        assert_eq!(*outcome, Outcome::Rejected);
        assert_eq!(code.as_deref(), Some("out_of_scope"));
    }
    assert_eq!(reasons[2].0, Outcome::Rejected);

    // A household created on her phone in the other grid is refused per change, lands in her
    // "needs attention" list, and does not block her next change.
    let mut stray = household(DEMO_GRID_2, "909");
    stray.grid_code = DEMO_GRID_2.into();
    let stray = fang.store.add_household(&stray);
    if let Ok(stray) = stray {
        let after = fang
            .store
            .add_household(&household(DEMO_GRID, "102"))
            .unwrap();
        let report = fang.sync().unwrap();
        assert_eq!(report.rejected, 1, "{report:?}");
        let att = fang.store.attention().unwrap();
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].entity_id, stray.id);
        assert_eq!(
            fang.store.household(&after.id).unwrap().sync_status,
            SyncStatus::Synced
        );
        assert_eq!(
            fang.store.household(&stray.id).unwrap().sync_status,
            SyncStatus::NeedsAttention
        );
    } else {
        fang.sync().unwrap();
    }
    assert_eq!(
        fang.store.household(&mine.id).unwrap().sync_status,
        SyncStatus::Synced
    );

    // Their record is untouched on the server.
    jun.sync().unwrap();
    assert_eq!(jun.store.household(&theirs.id).unwrap().notes, None);
    assert_eq!(count(&jun.store, "residents"), 1);
}

#[test]
fn a_disabled_user_is_refused_and_keeps_unsent_work() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    srv.server.admin().disable_user("wangfang").unwrap();
    let err = a.sync().unwrap_err();
    assert_eq!(err.code(), "user_disabled", "{err:?}");
    assert!(err.needs_login());
    assert_eq!(pending(&a.store), 1, "nothing is dropped");
    srv.server.admin().enable_user("wangfang").unwrap();
    // Enabled again, but the old session stays ended: she signs in again, her work goes out.
    let err = a.sync().unwrap_err();
    assert_eq!(err.code(), "session_ended", "{err:?}");
    assert!(err.needs_login());
    assert_eq!(pending(&a.store), 1, "nothing is dropped");
    a.store
        .login(&a.transport, "wangfang", DEMO_PASSWORD, None)
        .unwrap();
    a.sync().unwrap();
    assert_eq!(pending(&a.store), 0);
}

#[test]
fn a_revoked_device_is_refused() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    a.sync().unwrap();
    srv.server
        .admin()
        .revoke_device(a.store.device_id())
        .unwrap();
    let err = a.sync().unwrap_err();
    assert_eq!(err.code(), "device_revoked", "{err:?}");
}

#[test]
fn an_expired_access_token_refreshes_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        gridwalk_sync_server::Config::with_data_dir(dir.path().join("srv")).argon2_light();
    config.access_ttl_secs = 1;
    let srv = InProcessServer::start(config);
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let before = a.store.session().unwrap().unwrap();
    // The phone's clock runs slow, so it believes its token is still fresh; the server says no.
    a.skew(-Days::minutes(30));
    std::thread::sleep(Duration::from_millis(1500));
    a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    a.sync().unwrap();
    assert_eq!(pending(&a.store), 0);
    let after = a.store.session().unwrap().unwrap();
    assert_ne!(before.access_expires_at, after.access_expires_at, "rotated");
}

/// Adds `n` households with a resident each on `d`.
fn fill(d: &Device, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let h = d
                .store
                .add_household(&household(DEMO_GRID, &format!("{}", 1000 + i)))
                .unwrap();
            d.store.add_resident(&resident(&h.id, "周玉梅")).unwrap();
            h.id
        })
        .collect()
}

fn sync_in_thread(
    store_path: std::path::PathBuf,
    url: String,
    opts: SyncOptions,
    phase: SyncPhase,
    min_done: u64,
) -> (
    mpsc::Receiver<()>,
    std::thread::JoinHandle<Result<gridwalk_core::sync::SyncReport, SyncError>>,
) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let store = Store::open(&store_path).unwrap();
        let t = gridwalk_core::sync::HttpTransport::new(&url).unwrap();
        let mut told = false;
        store.sync(
            &t,
            &opts,
            &mut |p| {
                if !told && p.phase == phase && p.done >= min_done {
                    told = true;
                    let _ = tx.send(());
                }
            },
            &CancelToken::new(),
        )
    });
    (rx, handle)
}

#[test]
fn the_server_killed_mid_push_and_mid_pull_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&dir.path().join("srv"), &[]);
    let a = Device::login(dir.path(), "a", &server.url, "wangfang");
    let ids = fill(&a, 1500);
    let a_path = a.store.path().to_path_buf();
    drop(a);

    // Kill the server after a few push batches have been acknowledged.
    let opts = SyncOptions {
        push_batch: 50,
        pull_limit: 50,
        max_attempts: 1,
        ..fast_options()
    };
    let (started, handle) = sync_in_thread(
        a_path.clone(),
        server.url.clone(),
        opts.clone(),
        SyncPhase::Push,
        200,
    );
    started.recv_timeout(Duration::from_secs(60)).unwrap();
    server.kill();
    let first = handle.join().unwrap();
    assert!(first.is_err(), "the push was cut short");
    server.restart();
    let a = Store::open(&a_path).unwrap();
    let left = pending(&a);
    assert!(
        left > 0 && left < 3000,
        "some acknowledged, some not: {left}"
    );
    let t = gridwalk_core::sync::HttpTransport::new(&server.url).unwrap();
    a.sync(&t, &fast_options(), &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(pending(&a), 0);

    // A new device pulls in small pages; the server dies mid-feed and comes back.
    let b = Device::login(dir.path(), "b", &server.url, "zhaomin");
    let b_path = b.store.path().to_path_buf();
    drop(b);
    let (started, handle) = sync_in_thread(
        b_path.clone(),
        server.url.clone(),
        opts,
        SyncPhase::Pull,
        600,
    );
    started.recv_timeout(Duration::from_secs(60)).unwrap();
    server.kill();
    assert!(handle.join().unwrap().is_err(), "the pull was cut short");
    let b = Store::open(&b_path).unwrap();
    let partial = count(&b, "households") + count(&b, "residents");
    assert!(
        partial > 0 && partial < 3000,
        "partial feed applied: {partial}"
    );
    server.restart();
    let t = gridwalk_core::sync::HttpTransport::new(&server.url).unwrap();
    b.sync(&t, &fast_options(), &mut |_| {}, &CancelToken::new())
        .unwrap();

    // Everything exactly once, nowhere more, nowhere less.
    assert_eq!(count(&b, "households"), 1500);
    assert_eq!(count(&b, "residents"), 1500);
    let mut got: Vec<String> = b
        .list_households(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    got.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(got, want);
    // A fresh device after another restart agrees with the server's revisions: nothing twice.
    server.restart();
    let c = Device::login(dir.path(), "c", &server.url, "wangfang");
    let report = c.sync().unwrap();
    assert_eq!(report.pulled, 3000, "{report:?}");
}

#[test]
fn another_user_cannot_sign_in_over_unsent_work() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    a.store.logout().unwrap();
    // A colleague picks up the phone: the server says the phone is hers...
    let err = a
        .store
        .login(&a.transport, "lijun", DEMO_PASSWORD, None)
        .unwrap_err();
    assert_eq!(err.code(), "device_in_use", "{err:?}");
    // ...and even a confirmed hand-over waits: her unsent household must not go out under his
    // name.
    let err = a
        .store
        .login_handing_over(&a.transport, "lijun", DEMO_PASSWORD, None)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_state", "{err:?}");
    assert_eq!(pending(&a.store), 1, "her work is kept");
    // She signs back in (the phone is still hers) and it syncs as hers.
    a.store
        .login(&a.transport, "wangfang", DEMO_PASSWORD, None)
        .unwrap();
    a.sync().unwrap();
    assert_eq!(pending(&a.store), 0);
    // Now he can take the phone over; her session on it ends on the server.
    a.store.logout().unwrap();
    let info = a
        .store
        .login_handing_over(&a.transport, "lijun", DEMO_PASSWORD, None)
        .unwrap();
    assert_eq!(info.username, "lijun");
    a.sync().unwrap();
}

#[test]
fn a_case_naming_a_household_the_server_lacks_is_refused_not_parked() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    // A scratch phone files a case on a household the server never received.
    let scratch = Store::open(dir.path().join("scratch.db")).unwrap();
    scratch
        .upsert_org_units(&a.store.org_units().unwrap())
        .unwrap();
    let h = scratch.add_household(&household(DEMO_GRID, "303")).unwrap();
    let c = scratch
        .draft_case(&CaseInput {
            type_code: gridwalk_core::cases::CASE_TYPES[0].code.into(),
            urgency: Urgency::Normal,
            description: "楼道堆放杂物".into(),
            location: None,
            address: Some("3栋2单元".into()),
            grid_code: DEMO_GRID.into(),
            household_id: Some(h.id.clone()),
            patrol_id: None,
        })
        .unwrap();
    scratch.submit_case(&c.id).unwrap();
    let case_change = scratch
        .read(|conn| changes::list(conn, "pending", 100))
        .unwrap()
        .into_iter()
        .find(|e| e.entity == "case")
        .unwrap();
    let res = raw_push(
        &a,
        vec![Change {
            change_id: case_change.change_id,
            entity: case_change.entity,
            entity_id: case_change.entity_id,
            op: Op::Create,
            hlc: case_change.hlc,
            payload: case_change.payload.as_object().cloned().unwrap_or_default(),
            base: None,
        }],
    );
    assert_eq!(res.results[0].outcome, Outcome::Rejected);
    assert_eq!(
        res.results[0].reason.as_ref().map(|r| r.code.as_str()),
        Some("parent_unknown")
    );
}

#[test]
fn a_phone_whose_clock_ran_ahead_keeps_its_work_and_resends_it_once_the_time_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let srv = InProcessServer::demo();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "zhaomin");
    // A battery pull: the phone wakes up a day ahead and the worker carries on.
    a.skew(Days::days(1));
    let h = a.store.add_household(&household(DEMO_GRID, "701")).unwrap();
    set_household_notes(&a.store, &h.id, "楼道堆物");
    let report = a.sync().unwrap();
    assert_eq!((report.pushed, report.rejected), (0, 2), "{report:?}");
    let att = a.store.attention().unwrap();
    assert_eq!(att.len(), 2);
    assert!(att.iter().all(|i| i.code == "clock_ahead"), "{att:?}");
    assert!(att[0].message.contains("手机时间"));
    // Nothing is lost: the household is on the phone, marked for attention.
    let kept = a.store.household(&h.id).unwrap();
    assert_eq!(kept.notes.as_deref(), Some("楼道堆物"));
    assert_eq!(kept.sync_status, SyncStatus::NeedsAttention);
    // A sync while the time is still wrong changes nothing and loses nothing.
    let report = a.sync().unwrap();
    assert_eq!((report.pushed, report.rejected), (0, 2), "{report:?}");

    // The worker sets the time right: the changes are re-stamped and go through.
    a.skew(Days::zero());
    let report = a.sync().unwrap();
    assert_eq!((report.pushed, report.rejected), (2, 0), "{report:?}");
    assert!(a.store.attention().unwrap().is_empty());
    assert_eq!(
        a.store.household(&h.id).unwrap().sync_status,
        SyncStatus::Synced
    );
    b.sync().unwrap();
    let seen = b.store.household(&h.id).unwrap();
    assert_eq!(seen.notes.as_deref(), Some("楼道堆物"));
    // An honest edit made after the recovery wins over the recovered one.
    set_household_notes(&b.store, &h.id, "已清理");
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(
        a.store.household(&h.id).unwrap().notes.as_deref(),
        Some("已清理")
    );
}

#[test]
fn a_value_the_server_refuses_stays_on_the_phone_with_its_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let srv = InProcessServer::demo();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let bad = a.store.add_household(&household(DEMO_GRID, "801")).unwrap();
    let good = a.store.add_household(&household(DEMO_GRID, "802")).unwrap();
    // What an old or patched app could have queued: a floor no building has.
    a.store
        .write(|ctx| {
            ctx.tx.execute(
                "UPDATE outbox SET payload = json_set(payload, '$.floor', -1000)
                 WHERE entity_id = ?1",
                [&bad.id],
            )?;
            Ok(())
        })
        .unwrap();
    let report = a.sync().unwrap();
    assert_eq!((report.pushed, report.rejected), (1, 1), "{report:?}");
    let att = a.store.attention().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].entity_id, bad.id);
    assert_eq!(att[0].code, "invalid");
    assert_eq!(att[0].field.as_deref(), Some("floor"));
    assert_eq!(att[0].field_code.as_deref(), Some("out_of_range"));
    assert!(a.store.household(&bad.id).is_ok());
    assert_eq!(
        a.store.household(&good.id).unwrap().sync_status,
        SyncStatus::Synced
    );
}

#[test]
fn signing_out_ends_the_session_on_the_server_and_keeps_unsent_work() {
    let dir = tempfile::tempdir().unwrap();
    let srv = InProcessServer::demo();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let h = a.store.add_household(&household(DEMO_GRID, "901")).unwrap();
    // The token the phone held: after the sign-out the server refuses it.
    let token = a
        .store
        .with_access(&a.transport, |t| Ok::<_, TransportError>(t.to_string()))
        .unwrap();
    assert!(a.store.logout_everywhere(&a.transport).unwrap());
    assert!(a.store.session().unwrap().is_none());
    let refused = a.transport.pull(&token, None, 10);
    assert!(
        matches!(refused, Err(TransportError::AuthExpired)),
        "{refused:?}"
    );
    // The unsent household is still there and syncs after signing in again.
    assert_eq!(
        a.store.household(&h.id).unwrap().sync_status,
        SyncStatus::LocalOnly
    );
    a.store
        .login(&a.transport, "wangfang", DEMO_PASSWORD, Some("a"))
        .unwrap();
    assert_eq!(a.sync().unwrap().pushed, 1);
    // Offline, the local sign-out still happens and says the server was not told.
    let offline = HttpTransport::new("http://127.0.0.1:9").unwrap();
    assert!(!a.store.logout_everywhere(&offline).unwrap());
    assert!(a.store.session().unwrap().is_none());
}

/// The phone's stored pull cursor (read from its file, as the engine stores it with each page).
fn stored_cursor(d: &Device) -> Option<String> {
    d.store
        .read(|c| {
            Ok(c.query_row(
                "SELECT value FROM meta WHERE key = 'sync_cursor'",
                [],
                |r| r.get::<_, String>(0),
            )
            .ok())
        })
        .unwrap()
}

/// No echo on a phone: once it has a cursor, what it records and pushes does not come back in
/// the same sync's pull, its cursor still moves past those revisions (stored with the page), a
/// colleague's later edit of the same record does come back, and nothing is lost either way.
#[test]
fn a_phone_does_not_download_what_it_pushed() {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::login(dir.path(), "a", &srv.url, "wangfang");
    let b = Device::login(dir.path(), "b", &srv.url, "wangfang");
    a.sync().unwrap();
    b.sync().unwrap();
    let h = a.store.add_household(&household(DEMO_GRID, "502")).unwrap();
    let r = a.store.add_resident(&resident(&h.id, "李秀英")).unwrap();
    let before = stored_cursor(&a);
    let report = a.sync().unwrap();
    assert!(report.pushed >= 2, "{report:?}");
    assert_eq!(report.pulled, 0, "own records came back: {report:?}");
    assert_ne!(
        stored_cursor(&a),
        before,
        "the cursor moves past the skipped revisions"
    );
    assert_eq!(pending(&a.store), 0);

    // The colleague's tablet gets them; its edit comes back to the phone.
    let rb = b.sync().unwrap();
    assert!(rb.pulled >= 2, "{rb:?}");
    b.store
        .update_resident(
            &r.id,
            &ResidentPatch {
                notes: Some(Some("腿脚不便，需上门".into())),
                ..Default::default()
            },
        )
        .unwrap();
    b.sync().unwrap();
    let ra = a.sync().unwrap();
    assert_eq!(ra.pulled, 1, "{ra:?}");
    assert_eq!(
        a.store.resident(&r.id).unwrap().notes.as_deref(),
        Some("腿脚不便，需上门")
    );

    // The phone's next edit of that record: nothing back again, and the tablet gets it.
    a.store
        .update_resident(
            &r.id,
            &ResidentPatch {
                phone: Some(Some("13700002222".into())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.sync().unwrap().pulled, 0);
    b.sync().unwrap();
    for d in [&a, &b] {
        let got = d.store.resident(&r.id).unwrap();
        assert_eq!(got.phone.as_deref(), Some("13700002222"), "{}", d.name);
        assert_eq!(got.notes.as_deref(), Some("腿脚不便，需上门"), "{}", d.name);
        assert!(d.store.conflicts(true).unwrap().is_empty());
    }
}
