//! The storage conformance suite: what every [`Storage`] backend must honour, written once and
//! invoked by each backend's tests with [`storage_conformance_tests!`] (as matrix-sdk's
//! `statestore_integration_tests!`). The sync rules live above the trait ([`crate::engine`],
//! [`crate::cases`]); what a backend can still get wrong is ordering and visibility, so that is
//! what is checked here:
//!
//! - **the revision contract** (`Storage::pull`): under concurrent pushes and pulls, no puller
//!   ever passes a revision that commits later — every acknowledged record reaches every
//!   puller, each puller sees revisions in increasing order;
//! - **no echo**: a push that carries the device's cursor is left out of that device's pulls
//!   with a cursor, and only of those; another writer's later revision comes back down;
//! - **pages**: bounded in records and bytes (a larger record alone), in scope, ending;
//! - **idempotent pushes**: a change id is applied once and answered the same when replayed;
//! - **group commit keeps pushes isolated** ([`group_commit_isolation`], with hooks into the
//!   backend's database): one push failing among queued ones fails alone.
//!
//! The functions return `Err(description)` instead of panicking so a backend's own test harness
//! decides how to report; the macro turns them into `#[test]`s.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gridwalk_protocol::{Change, Op, Outcome};
use serde_json::{json, Map, Value};

use crate::admin::{Admin, DEMO_GRID};
use crate::config::Argon2Config;
use crate::engine::Seen;
use crate::storage::{Principal, Storage};

/// Outcome of one conformance check.
pub type Check = std::result::Result<(), String>;

/// Generates one `#[test]` per conformance check; `$make` is an expression giving a fresh,
/// empty `(Arc<dyn Storage>, guard)` (evaluated once per test; the guard, such as a temporary
/// directory or a scratch database, lives until the test ends).
#[macro_export]
macro_rules! storage_conformance_tests {
    ($make:expr) => {
        #[test]
        fn conformance_revision_contract() {
            let (s, _guard) = $make;
            if let Err(e) = $crate::conformance::revision_contract(s, 4, 3, 40) {
                panic!("revision contract: {e}");
            }
        }

        #[test]
        fn conformance_no_echo() {
            let (s, _guard) = $make;
            if let Err(e) = $crate::conformance::no_echo(s) {
                panic!("no echo: {e}");
            }
        }

        #[test]
        fn conformance_pull_pages() {
            let (s, _guard) = $make;
            if let Err(e) = $crate::conformance::pull_pages(s) {
                panic!("pull pages: {e}");
            }
        }

        #[test]
        fn conformance_idempotent_push() {
            let (s, _guard) = $make;
            if let Err(e) = $crate::conformance::idempotent_push(s) {
                panic!("idempotent push: {e}");
            }
        }
    };
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Seeds the demo organisation and users into an empty storage.
pub fn seed(storage: &Arc<dyn Storage>) -> Check {
    let light = crate::auth::Passwords::new(Argon2Config {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    });
    Admin::new(storage.clone(), light, 3600, 3600)
        .seed_demo()
        .map(|_| ())
        .map_err(err)
}

/// The caller a session of `username` on `device` would resolve to.
pub fn principal(storage: &dyn Storage, username: &str, device: &str) -> Result<Principal, String> {
    let user = storage
        .login_user(username)
        .map_err(err)?
        .ok_or_else(|| format!("no user {username}"))?;
    let info = storage.user_info(&user.id).map_err(err)?;
    Ok(Principal {
        user_id: user.id,
        role: info.role,
        org_code: info.org_code,
        grids: info.grids,
        device_id: device.to_string(),
        session_id: format!("conformance-{device}"),
    })
}

/// A valid household-create change in `grid`, stamped `ms` by `node`.
pub fn household_create(grid: &str, ms: i64, node: &str) -> Change {
    let payload = json!({"grid_code": grid, "community": "幸福社区", "building": "3栋",
        "unit": "2单元", "floor": 5, "room": "502", "housing_type": "rented",
        "care_tier": "attention", "tags": ["出租"], "lat": 37.78, "lng": 107.4, "notes": null,
        "status": "active"});
    Change {
        change_id: uuid::Uuid::now_v7().to_string(),
        entity: "household".into(),
        entity_id: uuid::Uuid::now_v7().to_string(),
        op: Op::Create,
        hlc: stamp(ms, node),
        payload: obj(payload),
        base: None,
    }
}

/// An update of one household field made over the value stamped `base` (as a phone sends it:
/// the clock of the value the edit replaced).
pub fn household_update(
    id: &str,
    field: &str,
    value: Value,
    base: &str,
    ms: i64,
    node: &str,
) -> Change {
    let mut payload = Map::new();
    payload.insert(field.into(), value);
    let mut based = Map::new();
    based.insert(field.into(), Value::String(base.into()));
    Change {
        change_id: uuid::Uuid::now_v7().to_string(),
        entity: "household".into(),
        entity_id: id.into(),
        op: Op::Update,
        hlc: stamp(ms, node),
        payload,
        base: Some(based),
    }
}

fn stamp(ms: i64, node: &str) -> String {
    format!("{ms:015}.00000.{node}")
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Pulls everything after `after` (pages of `limit`); returns id → rev in feed order checks.
fn drain(
    storage: &dyn Storage,
    who: &Principal,
    after: &mut i64,
    limit: usize,
    skip_echo: bool,
    seen: &mut BTreeMap<String, i64>,
) -> Check {
    let key = who.echo_key();
    loop {
        let page = storage
            .pull(
                who,
                *after,
                limit,
                1 << 20,
                skip_echo.then_some(key.as_str()),
            )
            .map_err(err)?;
        let mut last = *after;
        for r in &page.records {
            if r.rev <= last {
                return Err(format!("revision {} after {last}: not increasing", r.rev));
            }
            last = r.rev;
            seen.insert(r.id.clone(), r.rev);
        }
        if page.next_rev < *after {
            return Err(format!(
                "cursor went back from {} to {}",
                after, page.next_rev
            ));
        }
        *after = page.next_rev;
        if !page.has_more {
            return Ok(());
        }
    }
}

/// `writers` threads push `batches` batches of `per_batch` new households each while `readers`
/// threads pull continuously from their own cursors; afterwards every acknowledged household
/// must be in every reader's feed at its acknowledged revision.
pub fn revision_contract(
    storage: Arc<dyn Storage>,
    writers: usize,
    readers: usize,
    batches: usize,
) -> Check {
    revision_contract_across(&[storage], writers, readers, batches)
}

/// [`revision_contract`] with writers and readers spread over several storages opened on one
/// database (server instances): writer or reader `k` uses `instances[k % n]`.
pub fn revision_contract_across(
    instances: &[Arc<dyn Storage>],
    writers: usize,
    readers: usize,
    batches: usize,
) -> Check {
    let Some(storage) = instances.first() else {
        return Err("no storage".into());
    };
    let on = |k: usize| instances[k % instances.len()].clone();
    seed(storage)?;
    let per_batch = 5;
    let who_reader = principal(&**storage, "zhaomin", "conformance-reader")?;
    let done = Arc::new(AtomicBool::new(false));
    let start = now_ms() - 120_000;
    let mut write_handles = Vec::new();
    for w in 0..writers {
        let storage = on(w);
        write_handles.push(std::thread::spawn(
            move || -> Result<Vec<(String, i64)>, String> {
                let who = principal(&*storage, "wangfang", &format!("conformance-w{w}"))?;
                let node = format!("w{w}");
                let mut acked = Vec::new();
                let mut ms = start;
                for _ in 0..batches {
                    let changes: Vec<Change> = (0..per_batch)
                        .map(|_| {
                            ms += 1;
                            household_create(DEMO_GRID, ms, &node)
                        })
                        .collect();
                    let res = storage
                        .push(&who, &changes, Seen::default(), now_ms())
                        .map_err(err)?;
                    for (c, r) in changes.iter().zip(&res.results) {
                        match (r.outcome, r.rev) {
                            (Outcome::Applied, Some(rev)) => acked.push((c.entity_id.clone(), rev)),
                            _ => return Err(format!("push refused: {:?}", r.reason)),
                        }
                    }
                }
                Ok(acked)
            },
        ));
    }
    let mut read_handles = Vec::new();
    for r in 0..readers {
        let storage = on(r + 1);
        let who = who_reader.clone();
        let done = done.clone();
        read_handles.push(std::thread::spawn(
            move || -> Result<BTreeMap<String, i64>, String> {
                let mut seen = BTreeMap::new();
                let mut after = 0;
                // Small pages so a pull often ends right where writers are committing.
                while !done.load(Ordering::SeqCst) {
                    drain(&*storage, &who, &mut after, 3, false, &mut seen)?;
                }
                drain(&*storage, &who, &mut after, 3, false, &mut seen)?;
                Ok(seen)
            },
        ));
    }
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut failure = None;
    for h in write_handles {
        match h.join() {
            Ok(Ok(list)) => acked.extend(list),
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("writer panicked".into()),
        }
    }
    done.store(true, Ordering::SeqCst);
    let mut views = Vec::new();
    for h in read_handles {
        match h.join() {
            Ok(Ok(v)) => views.push(v),
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("reader panicked".into()),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let expected = writers * batches * per_batch;
    if acked.len() != expected {
        return Err(format!("{} acknowledged of {expected}", acked.len()));
    }
    for (i, view) in views.iter().enumerate() {
        let missing: Vec<_> = acked
            .iter()
            .filter(|(id, rev)| view.get(*id) != Some(rev))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "reader {i} skipped {} acknowledged revision(s), e.g. {:?}",
                missing.len(),
                missing.first()
            ));
        }
    }
    Ok(())
}

/// The echo rules of `docs/protocol.md` ("No echo").
pub fn no_echo(storage: Arc<dyn Storage>) -> Check {
    seed(&storage)?;
    let s = &*storage;
    let a = principal(s, "wangfang", "conformance-a")?;
    let b = principal(s, "zhaomin", "conformance-b")?;
    let old = principal(s, "lijun", "conformance-old")?;
    let mut ms = now_ms() - 60_000;
    let mut tick = || {
        ms += 1;
        ms
    };
    // Both devices up to date.
    let (mut a_after, mut b_after) = (0, 0);
    let mut scratch = BTreeMap::new();
    drain(s, &a, &mut a_after, 100, false, &mut scratch)?;
    drain(s, &b, &mut b_after, 100, false, &mut scratch)?;
    let seen_a = Seen { rev: Some(a_after) };
    let mine: Vec<Change> = (0..10)
        .map(|_| household_create(DEMO_GRID, tick(), "a"))
        .collect();
    let res = s.push(&a, &mine, seen_a, now_ms()).map_err(err)?;
    if res.results.iter().any(|r| r.outcome != Outcome::Applied) {
        return Err("pushes refused".into());
    }
    // A later edit of its own record, in a second push with the same cursor, is still known.
    let edit = household_update(
        &mine[0].entity_id,
        "room",
        json!("503"),
        &mine[0].hlc,
        tick(),
        "a",
    );
    s.push(&a, std::slice::from_ref(&edit), seen_a, now_ms())
        .map_err(err)?;
    let mut got = BTreeMap::new();
    let mut after = a_after;
    drain(s, &a, &mut after, 4, true, &mut got)?;
    if !got.is_empty() {
        let which: Vec<_> = got
            .keys()
            .map(|k| mine.iter().position(|c| &c.entity_id == k))
            .collect();
        return Err(format!(
            "device got {} of its own records back (its changes {which:?})",
            got.len()
        ));
    }
    if after <= a_after {
        return Err("cursor did not move past the skipped revisions".into());
    }
    // Another device gets them all; a snapshot of the writer too.
    let mut got_b = BTreeMap::new();
    drain(s, &b, &mut b_after, 4, true, &mut got_b)?;
    if got_b.len() != mine.len() {
        return Err(format!(
            "other device got {} of {}",
            got_b.len(),
            mine.len()
        ));
    }
    let mut snap = BTreeMap::new();
    drain(s, &a, &mut 0, 4, false, &mut snap)?;
    if mine.iter().any(|c| !snap.contains_key(&c.entity_id)) {
        return Err("a snapshot left out the device's own records".into());
    }
    // Someone else changes one: it comes down again.
    let theirs = household_update(
        &mine[1].entity_id,
        "room",
        json!("601"),
        &mine[1].hlc,
        tick(),
        "b",
    );
    s.push(
        &b,
        std::slice::from_ref(&theirs),
        Seen { rev: Some(b_after) },
        now_ms(),
    )
    .map_err(err)?;
    let mut got = BTreeMap::new();
    drain(s, &a, &mut after, 4, true, &mut got)?;
    if got.keys().collect::<Vec<_>>() != vec![&mine[1].entity_id] {
        return Err(format!(
            "after another writer's edit the device got {got:?}"
        ));
    }
    // A device that pushes over a record it has not pulled gets the merged record back.
    let unseen = household_update(
        &mine[2].entity_id,
        "floor",
        json!(6),
        &mine[2].hlc,
        tick(),
        "b",
    );
    s.push(&b, std::slice::from_ref(&unseen), Seen::default(), now_ms())
        .map_err(err)?;
    let over = household_update(
        &mine[2].entity_id,
        "room",
        json!("602"),
        &mine[2].hlc,
        tick(),
        "a",
    );
    s.push(
        &a,
        std::slice::from_ref(&over),
        Seen { rev: Some(after) },
        now_ms(),
    )
    .map_err(err)?;
    let mut got = BTreeMap::new();
    drain(s, &a, &mut after, 4, true, &mut got)?;
    if !got.contains_key(&mine[2].entity_id) {
        return Err("a merge over an unseen revision was left out".into());
    }
    // An old device (no cursor with its pushes) gets everything back, as before.
    let legacy: Vec<Change> = (0..3)
        .map(|_| household_create(crate::admin::DEMO_GRID_2, tick(), "o"))
        .collect();
    let mut old_after = 0;
    drain(s, &old, &mut old_after, 100, true, &mut BTreeMap::new())?;
    s.push(&old, &legacy, Seen::default(), now_ms())
        .map_err(err)?;
    let mut got = BTreeMap::new();
    drain(s, &old, &mut old_after, 100, true, &mut got)?;
    if legacy.iter().any(|c| !got.contains_key(&c.entity_id)) {
        return Err("a push without a cursor was left out of the pull".into());
    }
    Ok(())
}

/// Pages hold at most `limit` records, stop at the byte bound (a record larger than the bound
/// comes alone), keep the scope, and the cursor of the last page passes everything.
pub fn pull_pages(storage: Arc<dyn Storage>) -> Check {
    seed(&storage)?;
    let s = &*storage;
    let a = principal(s, "wangfang", "conformance-a")?;
    let li = principal(s, "lijun", "conformance-l")?;
    let ms = now_ms() - 1000;
    let mine: Vec<Change> = (0..7)
        .map(|k| household_create(DEMO_GRID, ms + k, "a"))
        .collect();
    let theirs = household_create(crate::admin::DEMO_GRID_2, ms + 10, "l");
    s.push(&a, &mine, Seen::default(), now_ms()).map_err(err)?;
    s.push(
        &li,
        std::slice::from_ref(&theirs),
        Seen::default(),
        now_ms(),
    )
    .map_err(err)?;
    // A byte bound below one record: one record per page.
    let (mut after, mut pages, mut got) = (0, 0, Vec::new());
    loop {
        let page = s.pull(&a, after, 100, 1, None).map_err(err)?;
        if page.records.len() > 1 {
            return Err(format!("{} records on a 1-byte page", page.records.len()));
        }
        got.extend(page.records.iter().map(|r| r.id.clone()));
        after = page.next_rev;
        pages += 1;
        if !page.has_more {
            break;
        }
        if pages > 100 {
            return Err("the feed does not end".into());
        }
    }
    if got.len() != mine.len() || mine.iter().any(|c| !got.contains(&c.entity_id)) {
        return Err(format!(
            "got {} records, expected {}",
            got.len(),
            mine.len()
        ));
    }
    if got.contains(&theirs.entity_id) {
        return Err("a record of another grid was in the feed".into());
    }
    // The record limit.
    let page = s.pull(&a, 0, 3, 1 << 20, None).map_err(err)?;
    if page.records.len() != 3 || !page.has_more {
        return Err(format!(
            "limit 3: {} records, has_more {}",
            page.records.len(),
            page.has_more
        ));
    }
    // The end of the feed: nothing after the last cursor.
    let page = s.pull(&a, after, 100, 1 << 20, None).map_err(err)?;
    if !page.records.is_empty() || page.has_more {
        return Err("records after the end of the feed".into());
    }
    Ok(())
}

/// A change id applied twice is stored once and answered the same.
pub fn idempotent_push(storage: Arc<dyn Storage>) -> Check {
    seed(&storage)?;
    let s = &*storage;
    let a = principal(s, "wangfang", "conformance-a")?;
    let c = household_create(DEMO_GRID, now_ms() - 1000, "a");
    let first = s
        .push(&a, std::slice::from_ref(&c), Seen::default(), now_ms())
        .map_err(err)?;
    let again = s
        .push(&a, std::slice::from_ref(&c), Seen::default(), now_ms())
        .map_err(err)?;
    let (f, g) = (&first.results[0], &again.results[0]);
    if f.outcome != Outcome::Applied || g.rev != f.rev || !g.replayed {
        return Err(format!("first {f:?}, replay {g:?}"));
    }
    let mut got = BTreeMap::new();
    drain(s, &a, &mut 0, 100, false, &mut got)?;
    if got.get(&c.entity_id) != f.rev.as_ref() {
        return Err("the record is not in the feed at its revision".into());
    }
    Ok(())
}

/// What [`group_commit_isolation`] needs from a backend's test harness: its database, reached
/// from outside the storage.
pub trait WriterHooks {
    /// Takes the writer from outside (SQLite: a `BEGIN IMMEDIATE` on another connection;
    /// PostgreSQL: the `sync_state` row `FOR UPDATE` in another transaction), returning once it
    /// is held; the returned function lets it go.
    fn hold_writer(&self) -> Result<Box<dyn FnOnce() + Send>, String>;
    /// Makes the database refuse to write record `id` from now on (a trigger raising an error),
    /// as a constraint, a full disk or a bug would fail one push.
    fn poison_record(&self, id: &str) -> Result<(), String>;
}

/// Group commit keeps pushes isolated: five pushes queued behind a held writer are committed
/// together; the one the database fails is answered an error alone and stores nothing, the
/// other four are stored and acknowledged exactly once (a replay answers `replayed`, at the
/// same revisions), and the failed push's other changes were not remembered (pushed again,
/// they apply).
pub fn group_commit_isolation(storage: Arc<dyn Storage>, hooks: &dyn WriterHooks) -> Check {
    const PUSHES: usize = 5;
    const BAD: usize = 2;
    seed(&storage)?;
    let who: Vec<Principal> = (0..PUSHES)
        .map(|i| principal(&*storage, "wangfang", &format!("group-{i}")))
        .collect::<Result<_, _>>()?;
    let batches: Vec<Vec<Change>> = (0..PUSHES)
        .map(|i| {
            (0..3)
                .map(|_| household_create(DEMO_GRID, now_ms() - 1000, &format!("g{i}")))
                .collect()
        })
        .collect();
    let poisoned = batches[BAD][1].entity_id.clone();
    hooks.poison_record(&poisoned)?;
    let before = storage.write_stats();
    let release = hooks.hold_writer()?;
    let pushers: Vec<_> = (0..PUSHES)
        .map(|i| {
            let (s, w, b) = (storage.clone(), who[i].clone(), batches[i].clone());
            std::thread::spawn(move || s.push(&w, &b, Seen::default(), now_ms()))
        })
        .collect();
    // Every push queues behind the held writer; then one leader takes them all.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    release();
    let answers: Vec<_> = pushers
        .into_iter()
        .map(|h| h.join().map_err(|_| "pusher panicked".to_string()))
        .collect::<Result<_, _>>()?;
    let after = storage.write_stats();
    let (groups, pushed) = (
        after.grouped_writes - before.grouped_writes,
        after.grouped_pushes - before.grouped_pushes,
    );
    if groups != 1 || pushed != PUSHES as u64 {
        return Err(format!(
            "{PUSHES} queued pushes went in {groups} commits carrying {pushed}, not one group"
        ));
    }
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    for (i, answer) in answers.iter().enumerate() {
        match (i == BAD, answer) {
            (true, Ok(r)) => return Err(format!("the poisoned push was answered {r:?}")),
            (true, Err(_)) => {}
            (false, Err(e)) => return Err(format!("push {i} failed with the poisoned one: {e}")),
            (false, Ok(r)) => {
                for (c, res) in batches[i].iter().zip(&r.results) {
                    match (res.outcome, res.rev) {
                        (Outcome::Applied, Some(rev)) => {
                            acked.insert(c.entity_id.clone(), rev);
                        }
                        _ => return Err(format!("push {i}: {res:?}")),
                    }
                }
            }
        }
    }
    // Exactly the four good pushes are stored, at their acknowledged revisions.
    let mut got = BTreeMap::new();
    drain(&*storage, &who[0], &mut 0, 1000, false, &mut got)?;
    for (id, rev) in &acked {
        if got.get(id) != Some(rev) {
            return Err(format!(
                "acknowledged {id} at {rev}, stored {:?}",
                got.get(id)
            ));
        }
    }
    if let Some(c) = batches[BAD].iter().find(|c| got.contains_key(&c.entity_id)) {
        return Err(format!("the failed push's {} was stored", c.entity_id));
    }
    let mut revs: Vec<i64> = acked.values().copied().collect();
    revs.sort_unstable();
    revs.dedup();
    if revs.len() != acked.len() {
        return Err("two records acknowledged at one revision".into());
    }
    // Acknowledged once: a replay changes nothing.
    for i in (0..PUSHES).filter(|i| *i != BAD) {
        let again = storage
            .push(&who[i], &batches[i], Seen::default(), now_ms())
            .map_err(err)?;
        for (c, res) in batches[i].iter().zip(&again.results) {
            if !res.replayed || res.rev != acked.get(&c.entity_id).copied() {
                return Err(format!("replay of push {i}: {res:?}"));
            }
        }
    }
    // The failed push left nothing behind: its good changes apply when pushed again.
    let rest: Vec<Change> = batches[BAD]
        .iter()
        .filter(|c| c.entity_id != poisoned)
        .cloned()
        .collect();
    let retried = storage
        .push(&who[BAD], &rest, Seen::default(), now_ms())
        .map_err(err)?;
    if retried
        .results
        .iter()
        .any(|r| r.outcome != Outcome::Applied || r.replayed)
    {
        return Err(format!(
            "the failed push's changes again: {:?}",
            retried.results
        ));
    }
    Ok(())
}
