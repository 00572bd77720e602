//! Two server instances on one PostgreSQL database and one shared blob directory, as behind a
//! load balancer: a device's requests alternate between them (push on one, pull on the other,
//! case actions on both, an upload started on one and finished on the other, a session
//! refreshed on the other, refresh-token reuse caught across them), and the end state is the
//! one a single instance reaches with the same requests — on PostgreSQL and on SQLite.
//!
//! Also: the console's audit log stays one hash chain when both instances append at once.
//!
//! PostgreSQL comes from `GRIDWALK_TEST_POSTGRES` (`scripts/setup-postgres.sh --print-url`);
//! without it the PostgreSQL runs are skipped with a line on stderr, or fail when
//! `GRIDWALK_REQUIRE_POSTGRES=1` (the test command).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use gridwalk_protocol::{Op, Session};
use gridwalk_sync_server::postgres::scratch::{self, ScratchDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Ids fixed per scenario, so two runs name the same records.
fn fixed(n: u32) -> String {
    format!("0190aaaa-0000-7000-8000-{n:012}")
}

/// The end state as the API shows it, with what legitimately differs between two runs taken
/// out: times and clocks (each run has its own), revisions, generated ids of server-made
/// records, and user ids (made at seeding) replaced by user names.
#[derive(Debug, PartialEq, Eq)]
struct EndState {
    /// Per user: every record of their scope (a pull from the start), normalised, sorted.
    feeds: BTreeMap<String, Vec<String>>,
    /// The grid leader's case list.
    cases: Vec<String>,
    /// What each step answered (statuses and outcomes).
    steps: Vec<String>,
}

fn normalise(v: &Value, users: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "rev" | "hlc" | "clocks"))
                .map(|(k, v)| (k.clone(), normalise(v, users)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalise(v, users)).collect()),
        // Times and days: every run has its own clock.
        Value::Number(n) if n.as_i64().is_some_and(|t| t > 1_000_000_000_000) => json!("<time>"),
        Value::String(s) if is_day(s) => json!("<day>"),
        Value::String(s) => match users.get(s) {
            Some(name) => json!(format!("<user {name}>")),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// `YYYY-MM-DD` (a task's due day: a run across midnight would move it).
fn is_day(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// A record in the end state: server-made records (timeline events, tasks) have random ids,
/// so they are named by their content only.
fn record_line(r: &Value, users: &BTreeMap<String, String>) -> String {
    let mut r = normalise(r, users);
    let server_made = matches!(r["entity"].as_str(), Some("case_event" | "task"))
        && !r["id"].as_str().is_some_and(|i| i.starts_with("0190aaaa"));
    if server_made {
        r["id"] = json!("<generated>");
    }
    r.to_string()
}

async fn refresh(t: &TestServer, s: &Session, device: &str) -> (StatusCode, Value) {
    t.post(
        "/v1/auth/refresh",
        None,
        &json!({"refresh_token": s.refresh_token, "device_id": device}),
    )
    .await
}

async fn act(t: &TestServer, token: &str, case: &str, body: Value) -> String {
    let (st, body) = t
        .post(&format!("/v1/cases/{case}/actions"), Some(token), &body)
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    format!("case {}", body["data"]["status"])
}

async fn patch(t: &TestServer, token: &str, loc: &str, offset: usize, chunk: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(chunk));
    let res = t
        .req(Method::PATCH, loc, Some(token))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .header("upload-checksum", format!("sha256 {sum}"))
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap();
    let h = |k: &str| {
        res.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    format!(
        "patch {} offset {} complete {}",
        res.status(),
        h("upload-offset"),
        h("upload-complete")
    )
}

/// The scenario. `a` and `b` are the two instances (the same one for the reference run).
async fn scenario(a: &TestServer, b: &TestServer) -> EndState {
    let mut steps = Vec::new();
    let ms = now();
    let wang = a.login("wangfang", "w-phone").await;
    let li = b.login("lijun", "l-phone").await;
    let lead = b.login("zhaomin", "z-phone").await;
    let users: BTreeMap<String, String> = [&wang, &li, &lead]
        .iter()
        .map(|s| (s.user.id.clone(), s.user.username.clone()))
        .collect();
    let photo_bytes = jpeg(21);
    let (h1, v1, c1, e1, p1, h2, v2) = (
        fixed(1),
        fixed(2),
        fixed(3),
        fixed(4),
        fixed(5),
        fixed(6),
        fixed(7),
    );

    // Her day's work, pushed on A.
    let res = a
        .push(
            &wang.access_token,
            vec![
                change(
                    "household",
                    &h1,
                    Op::Create,
                    &hlc(ms, "w"),
                    household_payload(DEMO_GRID),
                ),
                change(
                    "visit",
                    &v1,
                    Op::Create,
                    &hlc(ms + 1, "w"),
                    json!({"household_id": h1, "visited_at": ms, "mode": "in_person",
                           "outcome": "fine", "notes": null}),
                ),
                change(
                    "case",
                    &c1,
                    Op::Create,
                    &hlc(ms + 2, "w"),
                    case_payload(DEMO_GRID),
                ),
                change(
                    "case_event",
                    &e1,
                    Op::Create,
                    &hlc(ms + 3, "w"),
                    json!({"case_id": c1, "kind": "submitted", "at": ms, "status": "submitted",
                           "note": null}),
                ),
                change(
                    "photo",
                    &p1,
                    Op::Create,
                    &hlc(ms + 4, "w"),
                    json!({"owner_kind": "case", "owner_id": c1, "sha256": sha(&photo_bytes),
                           "byte_len": photo_bytes.len(), "mime": "image/jpeg", "taken_at": ms,
                           "width": 640, "height": 480, "lat": null, "lng": null}),
                ),
            ],
        )
        .await;
    steps.push(format!(
        "push A {:?}",
        res.results.iter().map(|r| r.outcome).collect::<Vec<_>>()
    ));
    // A colleague of the next grid pushes on B.
    let res = b
        .push(
            &li.access_token,
            vec![change(
                "household",
                &h2,
                Op::Create,
                &hlc(ms + 5, "l"),
                household_payload(DEMO_GRID_2),
            )],
        )
        .await;
    steps.push(format!("push B {:?}", res.results[0].outcome));
    // Her pull lands on B: nothing of hers comes back (no echo), her colleague's grid is not
    // hers.
    let (recs, cursor) = b.pull_all(&wang.access_token, None).await;
    steps.push(format!(
        "pull B: {:?}",
        recs.iter()
            .map(|r| format!("{} {}", r["entity"], r["id"]))
            .collect::<BTreeSet<_>>()
    ));

    // The grid leader works the case on both instances.
    steps.push(act(a, &lead.access_token, &c1, json!({"action": "accept"})).await);
    steps.push(
        act(
            b,
            &lead.access_token,
            &c1,
            json!({"action": "dispatch", "assignee": "城管中队"}),
        )
        .await,
    );
    steps.push(act(a, &lead.access_token, &c1, json!({"action": "handle"})).await);
    steps.push(
        act(
            b,
            &lead.access_token,
            &c1,
            json!({"action": "request_verification"}),
        )
        .await,
    );

    // The photo: started on A, the connection drops, finished on B.
    let (st, body) = a
        .post(
            "/v1/uploads",
            Some(&wang.access_token),
            &json!({"sha256": sha(&photo_bytes), "length": photo_bytes.len(), "photo_id": p1}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let loc = body["location"].as_str().unwrap().to_string();
    let (x, y) = photo_bytes.split_at(700);
    steps.push(patch(a, &wang.access_token, &loc, 0, x).await);
    steps.push(patch(b, &wang.access_token, &loc, 700, y).await);
    let dl = |t: &TestServer| {
        t.req(
            Method::GET,
            &format!("/v1/uploads/blobs/{}?photo_id={p1}", sha(&photo_bytes)),
            Some(&lead.access_token),
        )
        .send()
    };
    let got = dl(a).await.unwrap().bytes().await.unwrap();
    steps.push(format!(
        "download A same bytes {}",
        got.to_vec() == photo_bytes
    ));

    // Her access token expires; the refresh reaches B, the next push A.
    let (st, body) = refresh(b, &wang, "w-phone").await;
    steps.push(format!("refresh B {st}"));
    let wang2: Session = serde_json::from_value(body).unwrap();
    let res = a
        .push(
            &wang2.access_token,
            vec![
                change(
                    "visit",
                    &v2,
                    Op::Create,
                    &hlc(now(), "w"),
                    json!({"household_id": h1, "visited_at": now(), "mode": "phone",
                           "outcome": "fine", "notes": "电话回访"}),
                ),
                change(
                    "case_event",
                    &fixed(8),
                    Op::Create,
                    &hlc(now() + 1, "w"),
                    json!({"case_id": c1, "kind": "verification", "at": now(),
                           "status": "verified", "note": null}),
                ),
            ],
        )
        .await;
    steps.push(format!(
        "push A after refresh {:?}",
        res.results.iter().map(|r| r.outcome).collect::<Vec<_>>()
    ));
    let (recs, _) = a.pull_all(&wang2.access_token, Some(&cursor)).await;
    steps.push(format!(
        "pull A after refresh: {:?}",
        recs.iter()
            .map(|r| record_line(r, &users))
            .collect::<BTreeSet<_>>()
    ));
    steps.push(act(b, &lead.access_token, &c1, json!({"action": "close"})).await);
    // The first refresh token comes back on A: reuse, the whole family ends on both.
    let (st, _) = refresh(a, &wang, "w-phone").await;
    steps.push(format!("refresh reused A {st}"));
    let (st, _) = b
        .get("/v1/sync/pull?limit=10", Some(&wang2.access_token))
        .await;
    steps.push(format!("pull B with the ended session {st}"));

    // The end state, read through each instance (they must agree) .
    let wang3 = b.login("wangfang", "w-phone").await;
    let mut feeds = BTreeMap::new();
    for (name, token) in [
        ("wangfang", &wang3.access_token),
        ("lijun", &li.access_token),
        ("zhaomin", &lead.access_token),
    ] {
        let mut seen = Vec::new();
        for t in [a, b] {
            let (recs, _) = t.pull_all(token, None).await;
            let mut lines: Vec<String> = recs.iter().map(|r| record_line(r, &users)).collect();
            lines.sort();
            seen.push(lines);
        }
        assert_eq!(
            seen[0], seen[1],
            "{name}: both instances show the same feed"
        );
        feeds.insert(name.to_string(), seen.remove(0));
    }
    let (st, body) = b.get("/v1/cases", Some(&lead.access_token)).await;
    assert_eq!(st, StatusCode::OK);
    let mut cases: Vec<String> = body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| record_line(c, &users))
        .collect();
    cases.sort();
    EndState {
        feeds,
        cases,
        steps,
    }
}

/// The PostgreSQL server of the tests, or `None` (skipped). These tests choose their backends
/// themselves, so the end-to-end pass on PostgreSQL (`GRIDWALK_TEST_BACKEND=postgres`) does not
/// run them a second time.
fn pg_url(test: &str) -> Option<String> {
    if scratch::e2e_on_postgres() {
        eprintln!("{test}: already run in the pass that picks its own backends");
        return None;
    }
    scratch::test_url(test)
}

/// A fresh database, dropped with the guard.
async fn scratch_db(url: &str) -> ScratchDb {
    ScratchDb::create(url).unwrap()
}

#[tokio::test]
async fn two_instances_on_one_postgres_end_where_one_instance_ends() {
    let Some(url) = pg_url("two_instances_on_one_postgres_end_where_one_instance_ends") else {
        return;
    };
    // Two instances: one database, one blob directory, two ports.
    let db = scratch_db(&url).await;
    let shared = tempfile::tempdir().unwrap();
    let (db_url, blob_dir) = (db.url.clone(), shared.path().to_path_buf());
    let a = start_with(move |mut c| {
        c.database = Some(db_url);
        c.database_pool = 8;
        c.blob_dir = Some(blob_dir);
        c
    })
    .await;
    let b = start_instance(a.server.config().clone()).await;
    let two = scenario(&a, &b).await;

    // The reference: one instance on its own database.
    let db1 = scratch_db(&url).await;
    let db1_url = db1.url.clone();
    let one = start_with(move |mut c| {
        c.database = Some(db1_url);
        c.database_pool = 8;
        c
    })
    .await;
    let single = scenario(&one, &one).await;
    assert_eq!(two, single, "two instances end where one ends");

    // And SQLite, one instance, ends there too: the rules are the same above both backends.
    let lite = start().await;
    let on_sqlite = scenario(&lite, &lite).await;
    assert_eq!(two, on_sqlite, "PostgreSQL ends where SQLite ends");

    // The scenario did what it says (so equal end states are not equally empty).
    let steps = two.steps.join("\n");
    for expected in [
        "patch 204 No Content offset 700 complete -",
        "patch 204 No Content offset ",
        "complete true",
        "download A same bytes true",
        "refresh B 200 OK",
        "refresh reused A 401 Unauthorized",
        "pull B with the ended session 401 Unauthorized",
        "case \"closed\"",
    ] {
        assert!(steps.contains(expected), "{expected} in\n{steps}");
    }
    assert_eq!(two.feeds["wangfang"].len(), single.feeds["wangfang"].len());
    assert!(
        two.feeds["zhaomin"].len() >= 8,
        "{:?}",
        two.feeds["zhaomin"]
    );
    drop((a, b, one));
    drop((db, db1));
}

#[tokio::test]
async fn the_audit_chain_stays_one_chain_when_two_instances_append_at_once() {
    use gridwalk_sync_server::console::audit;
    use gridwalk_sync_server::console::data_store::AuditDraft;
    use gridwalk_sync_server::postgres::PgStorage;
    use gridwalk_sync_server::Storage;
    use std::sync::Arc;

    let Some(url) = pg_url("the_audit_chain_stays_one_chain_when_two_instances_append_at_once")
    else {
        return;
    };
    let db = scratch_db(&url).await;
    let db_url = db.url.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let a: Arc<dyn Storage> = Arc::new(PgStorage::open(&db_url, 4).unwrap());
        let b: Arc<dyn Storage> = Arc::new(PgStorage::open(&db_url, 4).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|k| {
                let s = if k % 2 == 0 { a.clone() } else { b.clone() };
                std::thread::spawn(move || {
                    for n in 0..25 {
                        let draft = AuditDraft {
                            at: 1_700_000_000_000 + n,
                            user_id: format!("u{k}"),
                            username: format!("user{k}"),
                            action: "reveal".into(),
                            entity: "resident".into(),
                            record_id: format!("r{k}-{n}"),
                            field: "id_number".into(),
                            reason: "核实身份".into(),
                        };
                        s.append_audit(&draft, audit::entry_hash).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rows = a.audit_rows(0, 1000).unwrap();
        let head = b.audit_head().unwrap();
        (rows, head)
    })
    .await
    .unwrap();
    let (rows, head) = rows;
    assert_eq!(rows.len(), 200);
    let mut prev = audit::GENESIS.to_string();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1, "no gaps, no forks");
        assert_eq!(r.prev_hash, prev, "entry {} chains to {}", r.seq, i);
        assert_eq!(r.hash, audit::entry_hash(&r.prev_hash, r.seq, &r.draft));
        prev = r.hash.clone();
    }
    assert_eq!(head, Some((200, prev)));
    drop(db);
}
