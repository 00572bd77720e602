//! The sync engine against an in-process fake server.
//!
//! The fake implements [`Transport`] and behaves like the real server where it matters: it
//! deduplicates change ids, merges households and residents field by field with the protocol's
//! `merge_fields(detect = true)` (recording conflicts as records), pages the feed by revision,
//! and expires cursors when its epoch changes. It can also misbehave on demand: fail requests
//! (transient or not), forget to acknowledge pushes, reject chosen records, expire access tokens.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Duration as Days;
use common::*;
use gridwalk_core::sync::*;
use gridwalk_core::*;
use gridwalk_protocol::hlc::HlcClock;
use gridwalk_protocol::merge::{incoming_from_change, merge_fields};
use gridwalk_protocol::{
    ChangeResult, LoginRequest, Op, Outcome, PullResponse, PushRequest, PushResponse, Reason,
    RefreshRequest, Role, ServerRecord, Session, UserInfo,
};
use serde_json::{json, Map, Value};

// ---- the fake server ------------------------------------------------------------------------

#[derive(Clone)]
struct Rec {
    rev: i64,
    hlc: String,
    data: Map<String, Value>,
    clocks: Map<String, Value>,
}

#[derive(Default)]
struct State {
    rev: i64,
    epoch: u32,
    records: HashMap<(String, String), Rec>,
    applied: HashMap<String, ChangeResult>,
    tokens: u32,
    valid_access: Vec<String>,
    valid_refresh: Vec<String>,
}

struct Fake {
    state: Mutex<State>,
    clock: Mutex<HlcClock>,
    /// Failures returned by the next push/pull calls, in order.
    fail: Mutex<VecDeque<TransportError>>,
    /// Entity ids whose changes are rejected.
    reject: Mutex<Vec<String>>,
    /// When false, pushes are answered with no results (nothing applied).
    ack: AtomicBool,
    pulls: AtomicUsize,
    /// When set, a pull blocks until it is cleared (concurrency test).
    hold_pull: AtomicBool,
    /// Pushes of more changes than this, or carrying one of `huge`, answer 413.
    max_batch: AtomicUsize,
    huge: Mutex<Vec<String>>,
}

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake {
            state: Mutex::new(State {
                epoch: 1,
                ..Default::default()
            }),
            clock: Mutex::new(HlcClock::new("srv", None)),
            fail: Mutex::new(VecDeque::new()),
            reject: Mutex::new(Vec::new()),
            ack: AtomicBool::new(true),
            pulls: AtomicUsize::new(0),
            hold_pull: AtomicBool::new(false),
            max_batch: AtomicUsize::new(usize::MAX),
            huge: Mutex::new(Vec::new()),
        })
    }

    fn injected(&self) -> Result<(), TransportError> {
        match self.fail.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_token(&self, token: &str) -> Result<(), TransportError> {
        if self
            .state
            .lock()
            .unwrap()
            .valid_access
            .iter()
            .any(|t| t == token)
        {
            Ok(())
        } else {
            Err(TransportError::AuthExpired)
        }
    }

    fn expire_access_tokens(&self) {
        self.state.lock().unwrap().valid_access.clear();
    }

    fn session(&self, st: &mut State, user: &str) -> Session {
        st.tokens += 1;
        let access = format!("acc-{}", st.tokens);
        let refresh = format!("ref-{}", st.tokens);
        st.valid_access.push(access.clone());
        st.valid_refresh.push(refresh.clone());
        let unit = |code: &str, level: &str, parent: Option<&str>| gridwalk_protocol::OrgUnit {
            code: code.into(),
            name: format!("{code}名"),
            level: level.into(),
            parent_code: parent.map(Into::into),
            boundary: None,
        };
        Session {
            access_token: access,
            access_expires_at: i64::MAX / 2,
            refresh_token: refresh,
            refresh_expires_at: i64::MAX / 2,
            user: UserInfo {
                id: format!("u-{user}"),
                username: user.into(),
                display_name: "王芳".into(),
                role: Role::GridWorker,
                org_code: "G1".into(),
                grids: vec!["G1".into()],
                org: vec![
                    unit("640323", "district", None),
                    unit("640323001", "street", Some("640323")),
                    unit("640323001001", "community", Some("640323001")),
                    unit("G1", "grid", Some("640323001001")),
                ],
            },
        }
    }

    fn bump(&self, st: &mut State, entity: &str, id: &str, rec: Rec) -> i64 {
        st.rev += 1;
        let rev = st.rev;
        st.records
            .insert((entity.into(), id.into()), Rec { rev, ..rec });
        rev
    }

    fn apply(&self, st: &mut State, c: &gridwalk_protocol::Change) -> ChangeResult {
        let hlc = {
            let mut clock = self.clock.lock().unwrap();
            clock.observe(&c.hlc, 0).unwrap();
            clock.current()
        };
        let _ = hlc;
        if self.reject.lock().unwrap().contains(&c.entity_id) {
            return ChangeResult {
                change_id: c.change_id.clone(),
                outcome: Outcome::Rejected,
                rev: None,
                replayed: false,
                reason: Some(Reason::new(
                    "out_of_scope",
                    "不在您的网格范围内 / not in your scope",
                )),
                conflicts: vec![],
            };
        }
        let key = (c.entity.clone(), c.entity_id.clone());
        let mut rec = st.records.get(&key).cloned().unwrap_or(Rec {
            rev: 0,
            hlc: c.hlc.clone(),
            data: Map::new(),
            clocks: Map::new(),
        });
        let merged_kind = matches!(c.entity.as_str(), "household" | "resident" | "conflict");
        let mut conflicts = vec![];
        if merged_kind {
            let base = if c.op == Op::Update {
                c.base.as_ref()
            } else {
                None
            };
            let record_hlc = rec.hlc.clone();
            let r = merge_fields(
                &mut rec.data,
                &mut rec.clocks,
                &record_hlc,
                incoming_from_change(&c.payload, &c.hlc, base),
                true,
            );
            conflicts = r.conflicts;
        } else {
            for (k, v) in &c.payload {
                rec.data.insert(k.clone(), v.clone());
            }
        }
        if c.hlc > rec.hlc {
            rec.hlc = c.hlc.clone();
        }
        let rev = self.bump(st, &c.entity, &c.entity_id, rec);
        for (i, fc) in conflicts.iter().enumerate() {
            let id = format!("conflict-{}-{i}", c.change_id);
            let data = json!({
                "entity": c.entity, "entity_id": c.entity_id, "field": fc.field,
                "kept_value": fc.kept, "kept_hlc": fc.kept_hlc, "lost_value": fc.lost,
                "lost_hlc": fc.lost_hlc, "detected_at": 1, "status": "open",
                "resolved_at": null, "resolution": null,
            });
            let data = data.as_object().unwrap().clone();
            let clocks = data
                .keys()
                .map(|k| (k.clone(), Value::String(c.hlc.clone())))
                .collect();
            self.bump(
                st,
                "conflict",
                &id,
                Rec {
                    rev: 0,
                    hlc: c.hlc.clone(),
                    data,
                    clocks,
                },
            );
        }
        ChangeResult {
            change_id: c.change_id.clone(),
            outcome: if conflicts.is_empty() {
                Outcome::Applied
            } else {
                Outcome::Merged
            },
            rev: Some(rev),
            replayed: false,
            reason: None,
            conflicts,
        }
    }

    fn server_hlc(&self) -> String {
        self.clock.lock().unwrap().current()
    }

    /// A server-side edit (a supervisor's), stamped by the server clock.
    fn server_edit(&self, entity: &str, id: &str, fields: Value) {
        let hlc = self.clock.lock().unwrap().tick(0);
        let mut st = self.state.lock().unwrap();
        let key = (entity.to_string(), id.to_string());
        let mut rec = st.records.get(&key).cloned().expect("known record");
        for (k, v) in fields.as_object().unwrap() {
            rec.data.insert(k.clone(), v.clone());
            rec.clocks.insert(k.clone(), Value::String(hlc.clone()));
        }
        rec.hlc = hlc;
        self.bump(&mut st, entity, id, rec);
    }

    fn value(&self, entity: &str, id: &str, field: &str) -> Value {
        let st = self.state.lock().unwrap();
        st.records[&(entity.to_string(), id.to_string())].data[field].clone()
    }
}

impl Transport for Fake {
    fn endpoint(&self) -> String {
        "fake://server".into()
    }

    fn login(&self, req: &LoginRequest) -> Result<Session, TransportError> {
        if req.password != "pw" {
            return Err(TransportError::BadCredentials);
        }
        let mut st = self.state.lock().unwrap();
        Ok(self.session(&mut st, &req.username))
    }

    fn logout(&self, token: &str) -> Result<(), TransportError> {
        self.injected()?;
        let mut st = self.state.lock().unwrap();
        st.valid_access.retain(|t| t != token);
        Ok(())
    }

    fn refresh(&self, req: &RefreshRequest) -> Result<Session, TransportError> {
        let mut st = self.state.lock().unwrap();
        let Some(pos) = st
            .valid_refresh
            .iter()
            .position(|t| t == &req.refresh_token)
        else {
            return Err(TransportError::AuthEnded {
                code: "session_ended".into(),
            });
        };
        st.valid_refresh.remove(pos);
        Ok(self.session(&mut st, "wangfang"))
    }

    fn push(&self, token: &str, req: &PushRequest) -> Result<PushResponse, TransportError> {
        self.injected()?;
        self.check_token(token)?;
        let huge = self.huge.lock().unwrap();
        if req.changes.len() > self.max_batch.load(Ordering::SeqCst)
            || req.changes.iter().any(|c| huge.contains(&c.entity_id))
        {
            return Err(TransportError::Rejected {
                status: 413,
                code: "too_large".into(),
                message: "请求过大 / request too large".into(),
            });
        }
        drop(huge);
        if !self.ack.load(Ordering::SeqCst) {
            return Ok(PushResponse {
                results: vec![],
                server_hlc: self.server_hlc(),
            });
        }
        let mut st = self.state.lock().unwrap();
        let mut results = Vec::new();
        for c in &req.changes {
            if let Some(prev) = st.applied.get(&c.change_id) {
                results.push(ChangeResult {
                    replayed: true,
                    ..prev.clone()
                });
                continue;
            }
            let r = self.apply(&mut st, c);
            if r.outcome != Outcome::Rejected {
                st.applied.insert(c.change_id.clone(), r.clone());
            }
            results.push(r);
        }
        Ok(PushResponse {
            results,
            server_hlc: self.server_hlc(),
        })
    }

    fn pull(
        &self,
        token: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        self.pulls.fetch_add(1, Ordering::SeqCst);
        while self.hold_pull.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.injected()?;
        self.check_token(token)?;
        let st = self.state.lock().unwrap();
        let after = match cursor {
            None => 0,
            Some(c) => {
                let (epoch, rev) = c.split_once(':').unwrap();
                if epoch.parse::<u32>().unwrap() != st.epoch {
                    return Err(TransportError::CursorExpired);
                }
                rev.parse::<i64>().unwrap()
            }
        };
        let mut recs: Vec<_> = st.records.iter().filter(|(_, r)| r.rev > after).collect();
        recs.sort_by_key(|(_, r)| r.rev);
        let has_more = recs.len() > limit;
        recs.truncate(limit);
        let last = recs.last().map(|(_, r)| r.rev).unwrap_or(after);
        let records = recs
            .into_iter()
            .map(|((entity, id), r)| ServerRecord {
                entity: entity.clone(),
                id: id.clone(),
                rev: r.rev,
                hlc: r.hlc.clone(),
                data: r.data.clone(),
                clocks: r.clocks.clone(),
                extra: Default::default(),
            })
            .collect();
        Ok(PullResponse {
            records,
            cursor: format!("{}:{last}", st.epoch),
            has_more,
            server_hlc: self.server_hlc(),
        })
    }
}

// ---- helpers ----------------------------------------------------------------------------------

/// A signed-in device with its own clock.
fn device(fake: &Arc<Fake>) -> (Store, Clock) {
    let clock = Clock::at(morning());
    let mut s = Store::open_in_memory().unwrap();
    let c = clock.clone();
    s.set_now_fn(Arc::new(move || c.now()));
    s.login(fake.as_ref(), "wangfang", "pw", Some("test phone"))
        .unwrap();
    (s, clock)
}

fn quick() -> SyncOptions {
    SyncOptions {
        sleep: Arc::new(|_, _| {}),
        ..Default::default()
    }
}

fn sync(s: &Store, fake: &Arc<Fake>) -> SyncReport {
    s.sync(fake.as_ref(), &quick(), &mut |_| {}, &CancelToken::new())
        .unwrap()
}

fn pending(s: &Store) -> i64 {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    })
    .unwrap()
}

fn cursor(s: &Store) -> Option<String> {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT max(value) FROM meta WHERE key = 'sync_cursor'",
            [],
            |r| r.get(0),
        )?)
    })
    .unwrap()
}

fn notes_patch(n: &str) -> HouseholdPatch {
    HouseholdPatch {
        notes: Some(Some(n.into())),
        ..Default::default()
    }
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn login_writes_session_org_and_reporter() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    let s = a.session().unwrap().unwrap();
    assert_eq!(s.username, "wangfang");
    assert_eq!(s.grids, vec!["G1".to_string()]);
    let mine: Vec<_> = a.my_grids().unwrap().into_iter().map(|u| u.code).collect();
    assert_eq!(mine, vec!["G1".to_string()]);
    assert_eq!(a.settings().unwrap().reporter, "u-wangfang");
    let bad = a
        .login(fake.as_ref(), "wangfang", "wrong", None)
        .unwrap_err();
    assert_eq!(bad.code(), "bad_credentials");
    a.logout().unwrap();
    assert!(a.session().unwrap().is_none());
    let e = a.sync_now(fake.as_ref()).unwrap_err();
    assert!(matches!(e, SyncError::NotSignedIn), "{e:?}");
}

#[test]
fn push_pull_round_trip_between_two_devices() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let h = a.add_household(&household("502")).unwrap();
    let p = a
        .add_resident(&resident(&h.id, "张秀英", Some(id("64032319500101002"))))
        .unwrap();
    visit(&a, &h.id, clock_a.now(), VisitMode::Phone);
    let patrol = a.start_patrol("G1").unwrap();
    clock_a.advance(Days::minutes(30));
    a.add_track_points(
        &patrol.id,
        &[TrackPoint {
            at: clock_a.now() - Days::minutes(10),
            lat: 37.78,
            lng: 107.40,
            accuracy_m: Some(5.0),
        }],
    )
    .unwrap();
    a.stop_patrol(&patrol.id, None).unwrap();
    let mut c = case_input("0203", Urgency::Urgent, "楼道充电", Some(inside()));
    c.household_id = Some(h.id.clone());
    let case = a.draft_case(&c).unwrap();
    a.submit_case(&case.id).unwrap();

    let r = sync(&a, &fake);
    assert!(r.pushed >= 7, "{r:?}");
    assert_eq!(r.rejected, 0);
    assert_eq!(pending(&a), 0);
    assert_eq!(a.household(&h.id).unwrap().sync_status, SyncStatus::Synced);
    assert_eq!(a.resident(&p.id).unwrap().sync_status, SyncStatus::Synced);

    // The second device gets everything, searchable, with the visit summary current.
    let r = sync(&b, &fake);
    assert!(r.pulled >= 7, "{r:?}");
    assert_eq!(r.skipped, 0);
    assert_eq!(r.parked, 0);
    let hb = b.household(&h.id).unwrap();
    assert_eq!(hb.address.room.as_deref(), Some("502"));
    assert_eq!(hb.sync_status, SyncStatus::Synced);
    assert_eq!(b.resident(&p.id).unwrap().name, "张秀英");
    assert_eq!(b.search("张秀", 10).unwrap().len(), 1);
    assert_eq!(b.visits_of(&h.id).unwrap().len(), 1);
    assert_eq!(b.track_of(&patrol.id).unwrap().len(), 1);
    assert!(b.patrol(&patrol.id).unwrap().ended_at.is_some());
    let cb = b.case(&case.id).unwrap();
    assert_eq!(cb.status, CaseStatus::Submitted);
    assert!(cb.events.iter().any(|e| e.kind == CaseEventKind::Submitted));

    // An edit on B reaches A; a server-side status change reaches both.
    clock_b.advance(Days::hours(1));
    b.update_household(&h.id, &notes_patch("门口有电动车"))
        .unwrap();
    sync(&b, &fake);
    fake.server_edit("case", &case.id, json!({"status": "accepted"}));
    sync(&a, &fake);
    assert_eq!(
        a.household(&h.id).unwrap().notes.as_deref(),
        Some("门口有电动车")
    );
    let ca = a.case(&case.id).unwrap();
    assert_eq!(ca.status, CaseStatus::Accepted);
    assert!(ca
        .events
        .iter()
        .any(|e| e.kind == CaseEventKind::ServerUpdate && e.status == Some(CaseStatus::Accepted)));
    // Syncing again changes nothing.
    let again = sync(&a, &fake);
    assert_eq!((again.pushed, again.pulled), (0, 0));
    assert_eq!(
        a.sync_status_counts()
            .unwrap()
            .iter()
            .map(|c| c.pending + c.local + c.attention)
            .sum::<i64>(),
        0
    );
}

#[test]
fn an_older_pulled_value_does_not_overwrite_a_newer_pending_edit() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let h = a.add_household(&household("101")).unwrap();
    sync(&a, &fake);
    sync(&b, &fake);

    // B edits at 10:00 and syncs; A edits the same field at 10:30 but cannot push yet.
    clock_b.advance(Days::hours(1));
    b.update_household(&h.id, &notes_patch("B 的备注")).unwrap();
    b.update_household(
        &h.id,
        &HouseholdPatch {
            care_tier: Some(CareTier::Attention),
            ..Default::default()
        },
    )
    .unwrap();
    sync(&b, &fake);
    clock_a.advance(Days::minutes(90));
    a.update_household(&h.id, &notes_patch("A 的备注")).unwrap();

    fake.ack.store(false, Ordering::SeqCst);
    let r = sync(&a, &fake);
    assert_eq!(r.unacknowledged, 1);
    let local = a.household(&h.id).unwrap();
    assert_eq!(
        local.notes.as_deref(),
        Some("A 的备注"),
        "newer local edit kept"
    );
    assert_eq!(
        local.care_tier,
        CareTier::Attention,
        "other fields merged in"
    );
    assert_eq!(local.sync_status, SyncStatus::Pending);
    assert_eq!(pending(&a), 1);

    // Once the server acknowledges, A's newer value wins everywhere.
    fake.ack.store(true, Ordering::SeqCst);
    sync(&a, &fake);
    sync(&b, &fake);
    assert_eq!(fake.value("household", &h.id, "notes"), json!("A 的备注"));
    assert_eq!(
        b.household(&h.id).unwrap().notes.as_deref(),
        Some("A 的备注")
    );
    assert_eq!(a.household(&h.id).unwrap().sync_status, SyncStatus::Synced);
}

#[test]
fn rejected_change_goes_to_attention_and_does_not_block_the_rest() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    let bad = a.add_household(&household("1")).unwrap();
    let good = a.add_household(&household("2")).unwrap();
    fake.reject.lock().unwrap().push(bad.id.clone());
    let r = sync(&a, &fake);
    assert_eq!((r.pushed, r.rejected), (1, 1));
    assert_eq!(
        a.household(&good.id).unwrap().sync_status,
        SyncStatus::Synced
    );
    assert_eq!(
        a.household(&bad.id).unwrap().sync_status,
        SyncStatus::NeedsAttention
    );
    let att = a.attention().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].entity_id, bad.id);
    assert_eq!(att[0].code, "out_of_scope");
    assert!(att[0].message.contains("scope"));
    assert_eq!(att[0].attempts, 1);

    // Later changes keep flowing; the refused one is not retried on its own.
    let later = a.add_household(&household("3")).unwrap();
    let r = sync(&a, &fake);
    assert_eq!((r.pushed, r.rejected), (1, 0));
    assert_eq!(
        a.household(&later.id).unwrap().sync_status,
        SyncStatus::Synced
    );
    assert_eq!(a.attention().unwrap().len(), 1);

    // Retry after the cause is fixed; discard needs an explicit call.
    fake.reject.lock().unwrap().clear();
    a.retry_attention(&att[0].change_id).unwrap();
    assert_eq!(
        a.household(&bad.id).unwrap().sync_status,
        SyncStatus::LocalOnly
    );
    sync(&a, &fake);
    assert_eq!(
        a.household(&bad.id).unwrap().sync_status,
        SyncStatus::Synced
    );
    assert!(a.attention().unwrap().is_empty());

    let other = a.add_household(&household("4")).unwrap();
    fake.reject.lock().unwrap().push(other.id.clone());
    sync(&a, &fake);
    let att = a.attention().unwrap();
    assert!(matches!(
        a.retry_attention("no-such-change"),
        Err(Error::NotFound { .. })
    ));
    a.discard_attention(&att[0].change_id).unwrap();
    assert!(a.attention().unwrap().is_empty());
    assert_eq!(
        a.household(&other.id).unwrap().sync_status,
        SyncStatus::LocalOnly
    );
}

#[test]
fn transient_failures_back_off_and_retry_a_bounded_number_of_times() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    a.add_household(&household("1")).unwrap();
    let slept = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let rec = slept.clone();
    let opts = SyncOptions {
        max_attempts: 4,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(10),
        sleep: Arc::new(move |d, _| rec.lock().unwrap().push(d)),
        ..Default::default()
    };
    {
        let mut f = fake.fail.lock().unwrap();
        f.push_back(TransportError::Network { kind: "connect" });
        f.push_back(TransportError::Server {
            status: 503,
            code: "unavailable".into(),
        });
    }
    let r = a
        .sync(fake.as_ref(), &opts, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(r.retries, 2);
    assert_eq!(r.pushed, 1);
    let d = slept.lock().unwrap().clone();
    assert_eq!(d.len(), 2);
    // Attempt 0 waits 50-100 ms, attempt 1 waits 100-200 ms.
    assert!(
        d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100),
        "{d:?}"
    );
    assert!(
        d[1] >= Duration::from_millis(100) && d[1] <= Duration::from_millis(200),
        "{d:?}"
    );

    // A server that stays down: the error surfaces after max_attempts; nothing is lost.
    slept.lock().unwrap().clear();
    a.add_household(&household("2")).unwrap();
    for _ in 0..10 {
        fake.fail
            .lock()
            .unwrap()
            .push_back(TransportError::Network { kind: "timeout" });
    }
    let e = a
        .sync(fake.as_ref(), &opts, &mut |_| {}, &CancelToken::new())
        .unwrap_err();
    assert!(
        matches!(e, SyncError::Transport(TransportError::Network { .. })),
        "{e:?}"
    );
    assert_eq!(slept.lock().unwrap().len(), 3);
    assert_eq!(pending(&a), 1);

    // A non-transient refusal is not retried.
    fake.fail.lock().unwrap().clear();
    fake.fail
        .lock()
        .unwrap()
        .push_back(TransportError::Rejected {
            status: 400,
            code: "bad_request".into(),
            message: String::new(),
        });
    slept.lock().unwrap().clear();
    let e = a
        .sync(fake.as_ref(), &opts, &mut |_| {}, &CancelToken::new())
        .unwrap_err();
    assert_eq!(e.code(), "bad_request");
    assert!(slept.lock().unwrap().is_empty());
    sync(&a, &fake);
    assert_eq!(pending(&a), 0);

    // Backoff delays grow and stay under the cap.
    for attempt in 0..30 {
        let d = backoff_delay(&opts, attempt);
        assert!(d <= opts.backoff_max);
    }
}

#[test]
fn last_sync_time_is_kept_only_for_a_completed_run() {
    let fake = Fake::new();
    let (a, clock) = device(&fake);
    assert_eq!(a.last_sync_at().unwrap(), None, "never synced");
    a.add_household(&household("1")).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let e = a
        .sync(fake.as_ref(), &quick(), &mut |_| {}, &cancel)
        .unwrap_err();
    assert!(matches!(e, SyncError::Cancelled));
    assert_eq!(
        a.last_sync_at().unwrap(),
        None,
        "a cancelled run is not a sync"
    );
    sync(&a, &fake);
    let first = a.last_sync_at().unwrap().expect("recorded");
    assert_eq!(first, clock.now());
    clock.advance(Days::minutes(7));
    sync(&a, &fake);
    assert_eq!(a.last_sync_at().unwrap(), Some(first + Days::minutes(7)));
}

#[test]
fn cancellation_stops_between_requests_and_keeps_what_was_done() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    for i in 0..5 {
        a.add_household(&household(&format!("{i}"))).unwrap();
    }
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    let opts = SyncOptions {
        push_batch: 2,
        ..quick()
    };
    let mut seen = Vec::new();
    let e = a
        .sync(
            fake.as_ref(),
            &opts,
            &mut |p| {
                seen.push(p.clone());
                if p.phase == SyncPhase::Push && p.done == 2 {
                    c2.cancel();
                }
            },
            &cancel,
        )
        .unwrap_err();
    assert!(matches!(e, SyncError::Cancelled));
    // The second batch goes out while the first one's answers are written (and reported), so
    // the cancel may find it already on the wire: then its answers are written too. Either
    // way no third request is sent, and nothing answered or unsent is lost.
    let left = pending(&a);
    assert!(
        left == 3 || left == 1,
        "the batches answered are committed, the rest kept: {left} pending"
    );
    // (A device that never pulled takes its snapshot first: the push's first report is later.)
    let first_push = seen.iter().find(|p| p.phase == SyncPhase::Push);
    assert_eq!(first_push.and_then(|p| p.total), Some(5));
    let r = sync(&a, &fake);
    assert_eq!(r.pushed as i64, left);
    assert_eq!(pending(&a), 0);

    // Cancelling during a backoff pause ends the run too.
    a.add_household(&household("x")).unwrap();
    fake.fail
        .lock()
        .unwrap()
        .push_back(TransportError::Network { kind: "connect" });
    let cancel = CancelToken::new();
    let opts = SyncOptions {
        sleep: Arc::new(|_, c: &CancelToken| c.cancel()),
        ..Default::default()
    };
    let e = a
        .sync(fake.as_ref(), &opts, &mut |_| {}, &cancel)
        .unwrap_err();
    assert!(matches!(e, SyncError::Cancelled));
    assert_eq!(pending(&a), 1);
}

#[test]
fn a_failure_mid_page_applies_nothing_and_keeps_the_cursor() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut b = Store::open(&path).unwrap();
    let c = clock_a.clone();
    b.set_now_fn(Arc::new(move || c.now()));
    b.login(fake.as_ref(), "wangfang", "pw", None).unwrap();

    let h1 = a.add_household(&household("1")).unwrap();
    let h2 = a.add_household(&household("2")).unwrap();
    visit(&a, &h2.id, clock_a.now(), VisitMode::InPerson);
    sync(&a, &fake);

    // Storage fails while the visit (last in the page) is written.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER fail_visit BEFORE INSERT ON visits
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let e = b.sync_now(fake.as_ref()).unwrap_err();
    assert!(matches!(e, SyncError::Store(_)), "{e:?}");
    assert!(matches!(b.household(&h1.id), Err(Error::NotFound { .. })));
    assert!(cursor(&b).is_none(), "cursor unchanged");

    raw.execute_batch("DROP TRIGGER fail_visit").unwrap();
    drop(raw);
    let r = sync(&b, &fake);
    assert_eq!(r.pulled, 3);
    assert!(b.household(&h1.id).is_ok());
    assert_eq!(b.visits_of(&h2.id).unwrap().len(), 1);
    assert!(cursor(&b).is_some());
}

#[test]
fn expired_cursor_resnapshots_and_keeps_unsent_edits() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let h = a.add_household(&household("9")).unwrap();
    sync(&a, &fake);
    sync(&b, &fake);

    clock_b.advance(Days::hours(1));
    b.update_household(&h.id, &notes_patch("B")).unwrap();
    sync(&b, &fake);
    clock_a.advance(Days::hours(2));
    a.update_household(&h.id, &notes_patch("A 未发送")).unwrap();
    let h_new = b.add_household(&household("10")).unwrap();
    sync(&b, &fake);

    fake.state.lock().unwrap().epoch += 1;
    fake.ack.store(false, Ordering::SeqCst);
    let r = sync(&a, &fake);
    assert!(r.resnapshot);
    assert_eq!(
        a.household(&h.id).unwrap().notes.as_deref(),
        Some("A 未发送")
    );
    assert!(
        a.household(&h_new.id).is_ok(),
        "snapshot brought new records"
    );
    assert_eq!(pending(&a), 1, "outbox kept");

    fake.ack.store(true, Ordering::SeqCst);
    let r = sync(&a, &fake);
    assert!(!r.resnapshot);
    assert_eq!(r.pushed, 1);
    assert_eq!(fake.value("household", &h.id, "notes"), json!("A 未发送"));
}

#[test]
fn conflicts_arrive_and_are_resolved_through_sync() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let h = a.add_household(&household("5")).unwrap();
    sync(&a, &fake);
    sync(&b, &fake);

    // Both edit the same field without seeing each other's edit.
    clock_a.advance(Days::hours(1));
    a.update_household(&h.id, &notes_patch("独居老人，需每周探访"))
        .unwrap();
    clock_b.advance(Days::hours(2));
    b.update_household(&h.id, &notes_patch("已搬走")).unwrap();
    sync(&a, &fake);
    let r = sync(&b, &fake);
    assert_eq!(r.conflicts, 1, "B's newer edit overwrote A's unseen value");

    sync(&a, &fake);
    let open = a.conflicts(true).unwrap();
    assert_eq!(open.len(), 1);
    let c = &open[0];
    assert_eq!(
        (c.entity.as_str(), c.field.as_str()),
        ("household", "notes")
    );
    assert_eq!(c.kept_value, json!("已搬走"));
    assert_eq!(c.lost_value, json!("独居老人，需每周探访"));
    assert_eq!(a.household(&h.id).unwrap().notes.as_deref(), Some("已搬走"));
    // B stored it from the push answer and adopted the server id from the feed: one row.
    assert_eq!(b.conflicts(false).unwrap().len(), 1);
    assert_eq!(b.conflicts(false).unwrap()[0].id, c.id);

    clock_a.advance(Days::hours(1));
    let resolved = a
        .resolve_conflict(&c.id, &ConflictChoice::TakeLost)
        .unwrap();
    assert_eq!(resolved.status, "resolved");
    assert_eq!(resolved.resolution.as_deref(), Some("take_lost"));
    assert_eq!(
        a.household(&h.id).unwrap().notes.as_deref(),
        Some("独居老人，需每周探访")
    );
    assert!(matches!(
        a.resolve_conflict(&c.id, &ConflictChoice::Keep),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(pending(&a), 2, "field edit and conflict status both queued");
    sync(&a, &fake);
    sync(&b, &fake);
    assert_eq!(
        b.household(&h.id).unwrap().notes.as_deref(),
        Some("独居老人，需每周探访")
    );
    assert!(b.conflicts(true).unwrap().is_empty());
    assert_eq!(b.conflicts(false).unwrap()[0].status, "resolved");
}

#[test]
fn custom_resolution_is_validated() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let h = a.add_household(&household("5")).unwrap();
    let p = a.add_resident(&resident(&h.id, "李明", None)).unwrap();
    sync(&a, &fake);
    sync(&b, &fake);
    clock_a.advance(Days::hours(1));
    let phone = |n: &str| ResidentPatch {
        phone: Some(Some(n.into())),
        ..Default::default()
    };
    a.update_resident(&p.id, &phone("13900000001")).unwrap();
    clock_b.advance(Days::hours(2));
    b.update_resident(&p.id, &phone("13900000002")).unwrap();
    sync(&a, &fake);
    sync(&b, &fake);
    sync(&a, &fake);
    let c = a.conflicts(true).unwrap().remove(0);
    assert_eq!(c.field, "phone");
    let e = a
        .resolve_conflict(&c.id, &ConflictChoice::Custom(json!("12ab")))
        .unwrap_err();
    assert_eq!(validation(e).field, "phone");
    a.resolve_conflict(&c.id, &ConflictChoice::Custom(json!("13900000003")))
        .unwrap();
    assert_eq!(
        a.resident(&p.id).unwrap().phone.as_deref(),
        Some("13900000003")
    );
    assert_eq!(a.search("0000003", 5).unwrap().len(), 1);
}

#[test]
fn children_before_parents_are_parked_until_the_parent_arrives() {
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, _) = device(&fake);
    let h = a.add_household(&household("7")).unwrap();
    let p = a.add_resident(&resident(&h.id, "赵六", None)).unwrap();
    visit(&a, &h.id, clock_a.now(), VisitMode::Phone);
    clock_a.advance(Days::minutes(5));
    sync(&a, &fake);
    // The household is edited after its resident and visit: it comes last in the feed.
    a.update_household(&h.id, &notes_patch("x")).unwrap();
    sync(&a, &fake);
    let opts = SyncOptions {
        pull_limit: 1,
        ..quick()
    };
    let r = b
        .sync(fake.as_ref(), &opts, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(r.parked, 0, "{r:?}");
    assert_eq!(b.resident(&p.id).unwrap().name, "赵六");
    assert_eq!(b.visits_of(&h.id).unwrap().len(), 1);
}

#[test]
fn malformed_and_unknown_records_are_skipped_not_blocking() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    {
        let mut st = fake.state.lock().unwrap();
        let mut put = |entity: &str, id: &str, data: Value| {
            st.rev += 1;
            let rev = st.rev;
            st.records.insert(
                (entity.into(), id.into()),
                Rec {
                    rev,
                    hlc: "000001700000000.00000.srv".into(),
                    data: data.as_object().unwrap().clone(),
                    clocks: Map::new(),
                },
            );
        };
        put(
            "household",
            "h-bad",
            json!({"grid_code": "G1", "care_tier": "zzz"}),
        );
        put("spaceship", "s1", json!({}));
        put(
            "task",
            "t1",
            json!({"kind": "verify_case", "title": "核查电动车充电", "due_on": "2026-11-20",
                   "priority": "high", "source": "assigned", "status": "open"}),
        );
    }
    let r = sync(&a, &fake);
    assert_eq!((r.pulled, r.skipped), (1, 2), "{r:?}");
    let t = a.task("t1").unwrap();
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.sync_status, SyncStatus::Synced);
    assert!(cursor(&a).is_some());
}

#[test]
fn expired_access_token_is_refreshed_and_persisted() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    a.add_household(&household("1")).unwrap();
    fake.expire_access_tokens();
    let r = sync(&a, &fake);
    assert_eq!(r.pushed, 1);
    // The old refresh token was spent; the store holds the rotated one (a second expiry works).
    fake.expire_access_tokens();
    a.add_household(&household("2")).unwrap();
    assert_eq!(sync(&a, &fake).pushed, 1);
    // A session the server ended needs a new sign-in; the outbox is kept.
    fake.expire_access_tokens();
    fake.state.lock().unwrap().valid_refresh.clear();
    a.add_household(&household("3")).unwrap();
    let e = a.sync_now(fake.as_ref()).unwrap_err();
    assert!(e.needs_login(), "{e:?}");
    assert_eq!(pending(&a), 1);
}

#[test]
fn a_second_concurrent_sync_returns_already_running() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    fake.hold_pull.store(true, Ordering::SeqCst);
    std::thread::scope(|s| {
        let first = s.spawn(|| a.sync_now(fake.as_ref()));
        while fake.pulls.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let second = a.sync_now(fake.as_ref());
        assert!(matches!(second, Err(SyncError::AlreadyRunning)));
        fake.hold_pull.store(false, Ordering::SeqCst);
        assert!(first.join().unwrap().is_ok());
    });
    // Free again afterwards.
    assert!(a.sync_now(fake.as_ref()).is_ok());
}

#[test]
fn oversized_batches_are_split_and_an_oversized_change_goes_to_attention() {
    let fake = Fake::new();
    let (a, _) = device(&fake);
    let ids: Vec<String> = (0..7)
        .map(|i| a.add_household(&household(&format!("{i}"))).unwrap().id)
        .collect();
    fake.max_batch.store(2, Ordering::SeqCst);
    fake.huge.lock().unwrap().push(ids[3].clone());
    let r = sync(&a, &fake);
    assert_eq!((r.pushed, r.rejected), (6, 1), "{r:?}");
    let att = a.attention().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(
        (att[0].entity_id.as_str(), att[0].code.as_str()),
        (ids[3].as_str(), "too_large")
    );
    assert_eq!(pending(&a), 0);
}

#[test]
fn pulled_households_and_visits_keep_the_precomputed_due_days_current() {
    use gridwalk_core::tasks::{DueSource, TodayKind};
    let fake = Fake::new();
    let (a, clock_a) = device(&fake);
    let (b, clock_b) = device(&fake);
    let start = morning() - Days::days(40);
    clock_a.set(start);
    let tiers = [CareTier::Close, CareTier::Attention, CareTier::Routine];
    let homes: Vec<Household> = (0..6)
        .map(|i| {
            let mut h = household(&format!("{}", 301 + i));
            h.care_tier = tiers[i % 3];
            a.add_household(&h).unwrap()
        })
        .collect();
    clock_a.set(morning());
    clock_b.set(morning());
    visit(
        &a,
        &homes[0].id,
        morning() - Days::days(2),
        VisitMode::Phone,
    );
    visit(
        &a,
        &homes[1].id,
        morning() - Days::days(20),
        VisitMode::InPerson,
    );
    sync(&a, &fake);
    sync(&b, &fake);
    let due_on = |s: &Store| -> Vec<String> {
        let stored = s.today_from(morning(), None, DueSource::Stored).unwrap();
        let computed = s.today_from(morning(), None, DueSource::Computed).unwrap();
        assert_eq!(stored, computed);
        let mut ids: Vec<String> = stored
            .into_iter()
            .filter(|i| i.kind == TodayKind::VisitDue)
            .filter_map(|i| i.target_id)
            .collect();
        ids.sort();
        ids
    };
    // B has every household A registered, due as on A (all but the one phoned two days ago).
    let on_b = due_on(&b);
    assert_eq!(on_b, due_on(&a));
    assert_eq!(on_b.len(), 5);
    assert!(!on_b.contains(&homes[0].id));
    // A visit and a tier change made on B reach A through the pull.
    visit(
        &b,
        &homes[1].id,
        morning() - Days::hours(1),
        VisitMode::InPerson,
    );
    b.update_household(
        &homes[2].id,
        &HouseholdPatch {
            care_tier: Some(CareTier::Close),
            ..Default::default()
        },
    )
    .unwrap();
    b.set_household_status(&homes[3].id, RecordStatus::MovedOut)
        .unwrap();
    sync(&b, &fake);
    sync(&a, &fake);
    let on_a = due_on(&a);
    assert_eq!(on_a, due_on(&b));
    assert!(!on_a.contains(&homes[1].id) && !on_a.contains(&homes[3].id));
    assert_eq!(on_a.len(), 3);
}
