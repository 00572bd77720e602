//! Push and pull: scope, idempotency, conflicts, append-only kinds, cursors.

mod common;

use common::*;
use gridwalk_protocol::{Op, Outcome};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn ids(records: &[Value], entity: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["entity"] == entity)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn push_applies_per_change_and_pull_shows_only_scope() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let li = t.login("lijun", "dev-l").await;
    let ms = now();
    let (h1, h2, r1) = (id(), id(), id());
    let res = t
        .push(
            &wang.access_token,
            vec![
                change("household", &h1, Op::Create, &hlc(ms, "w"), household_payload(DEMO_GRID)),
                // Li's grid: not Wang's.
                change("household", &h2, Op::Create, &hlc(ms, "w"), household_payload(DEMO_GRID_2)),
                change("resident", &r1, Op::Create, &hlc(ms + 1, "w"), resident_payload(&h1)),
                // Unknown parent.
                change("resident", &id(), Op::Create, &hlc(ms + 2, "w"), resident_payload(&id())),
                // Malformed payload.
                change("household", &id(), Op::Create, &hlc(ms, "w"), json!({"grid_code": DEMO_GRID, "floor": "x"})),
                // Unknown entity.
                change("spaceship", &id(), Op::Create, &hlc(ms, "w"), json!({})),
                // Bad clock.
                change("household", &id(), Op::Create, "yesterday", household_payload(DEMO_GRID)),
                change("visit", &id(), Op::Create, &hlc(ms + 3, "w"),
                    json!({"household_id": h1, "visited_at": ms, "mode": "in_person", "outcome": "fine", "notes": null})),
            ],
        )
        .await;
    let outcomes: Vec<_> = res.results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes[0], Outcome::Applied);
    assert_eq!(outcomes[1], Outcome::Rejected);
    assert_eq!(res.results[1].reason.as_ref().unwrap().code, "out_of_scope");
    assert_eq!(outcomes[2], Outcome::Applied);
    assert_eq!(
        res.results[3].reason.as_ref().unwrap().code,
        "parent_unknown"
    );
    assert_eq!(res.results[4].reason.as_ref().unwrap().code, "invalid");
    assert!(res.results[4]
        .reason
        .as_ref()
        .unwrap()
        .message
        .contains("floor"));
    assert_eq!(res.results[5].reason.as_ref().unwrap().code, "invalid");
    assert_eq!(res.results[6].reason.as_ref().unwrap().code, "invalid");
    assert_eq!(outcomes[7], Outcome::Applied);
    assert!(res.server_hlc.ends_with(".srv"));
    let revs: Vec<i64> = res.results.iter().filter_map(|r| r.rev).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "{revs:?}");

    let (recs, _) = t.pull_all(&wang.access_token, None).await;
    assert_eq!(ids(&recs, "household"), vec![h1.clone()]);
    assert_eq!(ids(&recs, "resident"), vec![r1.clone()]);
    assert_eq!(ids(&recs, "visit").len(), 1);
    let hh = recs.iter().find(|r| r["id"] == h1.as_str()).unwrap();
    assert_eq!(hh["data"]["room"], "502");
    assert!(hh["clocks"]["room"].is_string());

    // Li (the neighbouring grid) sees none of it; the community admin sees all of it.
    let (recs, _) = t.pull_all(&li.access_token, None).await;
    assert!(recs.is_empty());
    let chen = t.login("chenjing", "dev-c").await;
    let (recs, _) = t.pull_all(&chen.access_token, None).await;
    assert_eq!(recs.len(), 3);

    // Li guesses Wang's household id: same answer as for an id that does not exist.
    let res = t
        .push(
            &li.access_token,
            vec![
                change(
                    "household",
                    &h1,
                    Op::Update,
                    &hlc(ms + 10, "l"),
                    json!({"notes": "x"}),
                ),
                change(
                    "household",
                    &id(),
                    Op::Update,
                    &hlc(ms + 10, "l"),
                    json!({"notes": "x"}),
                ),
                change(
                    "resident",
                    &id(),
                    Op::Create,
                    &hlc(ms + 10, "l"),
                    resident_payload(&h1),
                ),
                change(
                    "resident",
                    &id(),
                    Op::Create,
                    &hlc(ms + 10, "l"),
                    resident_payload(&id()),
                ),
            ],
        )
        .await;
    let r: Vec<_> = res
        .results
        .iter()
        .map(|r| r.reason.clone().unwrap())
        .collect();
    assert_eq!(r[0], r[1]);
    assert_eq!(r[0].code, "out_of_scope");
    assert_eq!(r[2], r[3]);
    assert_eq!(r[2].code, "parent_unknown");
}

#[tokio::test]
async fn replayed_batches_apply_once() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let h = id();
    let batch = vec![
        change(
            "household",
            &h,
            Op::Create,
            &hlc(ms, "w"),
            household_payload(DEMO_GRID),
        ),
        change(
            "visit",
            &id(),
            Op::Create,
            &hlc(ms + 1, "w"),
            json!({"household_id": h, "visited_at": ms, "mode": "phone", "outcome": "fine", "notes": null}),
        ),
        change(
            "household",
            &h,
            Op::Update,
            &hlc(ms + 2, "w"),
            json!({"notes": "门口有狗"}),
        ),
    ];
    let first = t.push(&wang.access_token, batch.clone()).await;
    assert!(first
        .results
        .iter()
        .all(|r| !r.replayed && r.outcome == Outcome::Applied));
    let (recs, cursor) = t.pull_all(&wang.access_token, None).await;
    assert_eq!(recs.len(), 2);
    for _ in 0..4 {
        let again = t.push(&wang.access_token, batch.clone()).await;
        for (a, b) in again.results.iter().zip(&first.results) {
            assert!(a.replayed);
            assert_eq!(a.rev, b.rev);
            assert_eq!(a.outcome, b.outcome);
        }
    }
    // Nothing new was written.
    let (recs, _) = t.pull_all(&wang.access_token, Some(&cursor)).await;
    assert!(recs.is_empty());
    // Another user cannot claim the change ids.
    let chen = t.login("chenjing", "dev-c").await;
    let res = t.push(&chen.access_token, batch.clone()).await;
    assert!(res.results.iter().all(|r| r.outcome == Outcome::Rejected));
}

#[tokio::test]
async fn concurrent_edits_merge_per_field_and_record_conflicts() {
    let t = start().await;
    let wang = t.login("wangfang", "phone-1").await;
    let lead = t.login("zhaomin", "phone-2").await;
    let ms = now();
    let h = id();
    let create_hlc = hlc(ms, "p1");
    t.push(
        &wang.access_token,
        vec![change(
            "household",
            &h,
            Op::Create,
            &create_hlc,
            household_payload(DEMO_GRID),
        )],
    )
    .await;

    // Both edit `notes` having seen the created value; they also edit different fields.
    let mut a = change(
        "household",
        &h,
        Op::Update,
        &hlc(ms + 10, "p1"),
        json!({"notes": "from wang", "room": "503"}),
    );
    a.base = Some(obj(json!({"notes": create_hlc, "room": create_hlc})));
    let mut b = change(
        "household",
        &h,
        Op::Update,
        &hlc(ms + 20, "p2"),
        json!({"notes": "from zhao", "care_tier": "close"}),
    );
    b.base = Some(obj(json!({"notes": create_hlc, "care_tier": create_hlc})));
    // The later edit arrives first; the earlier one loses on `notes` and is recorded.
    let rb = t.push(&lead.access_token, vec![b]).await;
    assert_eq!(rb.results[0].outcome, Outcome::Applied);
    let ra = t.push(&wang.access_token, vec![a]).await;
    assert_eq!(ra.results[0].outcome, Outcome::Merged);
    let c = &ra.results[0].conflicts[0];
    assert_eq!(c.field, "notes");
    assert_eq!(c.kept, json!("from zhao"));
    assert_eq!(c.lost, json!("from wang"));

    // A sequential edit (saw the current value) does not conflict.
    let (recs, _) = t.pull_all(&wang.access_token, None).await;
    let hh = recs.iter().find(|r| r["id"] == h.as_str()).unwrap();
    assert_eq!(hh["data"]["notes"], "from zhao");
    assert_eq!(hh["data"]["room"], "503");
    assert_eq!(hh["data"]["care_tier"], "close");
    let conflict = recs.iter().find(|r| r["entity"] == "conflict").unwrap();
    assert_eq!(conflict["data"]["entity_id"], h.as_str());
    assert_eq!(conflict["data"]["status"], "open");
    assert_eq!(conflict["data"]["lost_value"], "from wang");
    let notes_clock = hh["clocks"]["notes"].as_str().unwrap().to_string();
    let mut seq = change(
        "household",
        &h,
        Op::Update,
        &hlc(ms + 30, "p1"),
        json!({"notes": "agreed"}),
    );
    seq.base = Some(obj(json!({"notes": notes_clock})));
    let r = t.push(&wang.access_token, vec![seq]).await;
    assert_eq!(r.results[0].outcome, Outcome::Applied);

    // The conflict can be resolved from a device.
    let cid = conflict["id"].as_str().unwrap();
    let seen = conflict["clocks"]["status"].clone();
    let mut resolve = change(
        "conflict",
        cid,
        Op::Update,
        &hlc(ms + 60_000, "p2"),
        json!({"status": "resolved", "resolution": "kept", "resolved_at": ms + 40}),
    );
    resolve.base = Some(obj(
        json!({"status": seen, "resolution": seen, "resolved_at": seen}),
    ));
    let r = t.push(&lead.access_token, vec![resolve]).await;
    assert_eq!(r.results[0].outcome, Outcome::Applied, "{:?}", r.results[0]);
}

#[tokio::test]
async fn append_only_kinds_and_patrols() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let (h, v, p) = (id(), id(), id());
    let visit = json!({"household_id": h, "visited_at": ms, "mode": "in_person", "outcome": "fine", "notes": "ok"});
    let res = t
        .push(
            &wang.access_token,
            vec![
                change(
                    "household",
                    &h,
                    Op::Create,
                    &hlc(ms, "w"),
                    household_payload(DEMO_GRID),
                ),
                change("visit", &v, Op::Create, &hlc(ms + 1, "w"), visit.clone()),
                // Same visit id again (another change id): no second write.
                change("visit", &v, Op::Create, &hlc(ms + 2, "w"), visit.clone()),
                change(
                    "visit",
                    &v,
                    Op::Update,
                    &hlc(ms + 3, "w"),
                    json!({"notes": "edited"}),
                ),
                change(
                    "patrol",
                    &p,
                    Op::Create,
                    &hlc(ms + 4, "w"),
                    json!({"grid_code": DEMO_GRID, "started_at": ms - 60_000}),
                ),
                change(
                    "patrol",
                    &p,
                    Op::Update,
                    &hlc(ms + 5, "w"),
                    json!({
                    "ended_at": ms, "notes": null, "distance_m": 812.5, "duration_s": 60,
                    "track": [[ms - 60_000, 37.78, 107.4, 5.0], [ms, 37.781, 107.401, null]]}),
                ),
            ],
        )
        .await;
    assert_eq!(res.results[1].rev, res.results[2].rev);
    assert_eq!(res.results[3].reason.as_ref().unwrap().code, "invalid");
    assert_eq!(res.results[5].outcome, Outcome::Applied);
    let (recs, _) = t.pull_all(&wang.access_token, None).await;
    let visit_rec = recs.iter().find(|r| r["id"] == v.as_str()).unwrap();
    assert_eq!(visit_rec["data"]["notes"], "ok");
    assert!(visit_rec.get("clocks").is_none());
    let patrol = recs.iter().find(|r| r["id"] == p.as_str()).unwrap();
    assert_eq!(patrol["data"]["distance_m"], 812.5);
    assert_eq!(patrol["data"]["grid_code"], DEMO_GRID);
}

#[tokio::test]
async fn cursors_page_and_expire() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let changes: Vec<_> = (0..120)
        .map(|i| {
            change(
                "household",
                &id(),
                Op::Create,
                &hlc(ms + i, "w"),
                household_payload(DEMO_GRID),
            )
        })
        .collect();
    t.push(&wang.access_token, changes).await;
    let (recs, cursor) = t.pull_all(&wang.access_token, None).await;
    assert_eq!(recs.len(), 120);
    let revs: Vec<i64> = recs.iter().map(|r| r["rev"].as_i64().unwrap()).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]));

    // A no-op sync: one empty page, well under 1 KB.
    let res = t
        .req(
            reqwest::Method::GET,
            &format!("/v1/sync/pull?cursor={cursor}"),
            Some(&wang.access_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.len() < 1024, "{} bytes", bytes.len());
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["records"], json!([]));
    assert_eq!(body["has_more"], false);

    // Garbage cursor: 400. A cursor from another server database: 410.
    let (st, body) = t
        .get("/v1/sync/pull?cursor=nonsense!", Some(&wang.access_token))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let other = start().await;
    let w2 = other.login("wangfang", "dev-w").await;
    let (_, foreign) = other.pull_all(&w2.access_token, None).await;
    let (st, body) = t
        .get(
            &format!("/v1/sync/pull?cursor={foreign}"),
            Some(&wang.access_token),
        )
        .await;
    assert_eq!(st, StatusCode::GONE);
    assert_eq!(body["error"]["code"], "cursor_expired");

    // The scope grows (a second grid): old cursors expire, the snapshot has the new grid.
    let li = t.login("lijun", "dev-l").await;
    let lh = id();
    t.push(
        &li.access_token,
        vec![change(
            "household",
            &lh,
            Op::Create,
            &hlc(ms, "l"),
            household_payload(DEMO_GRID_2),
        )],
    )
    .await;
    t.server
        .admin()
        .add_user_grid("wangfang", DEMO_GRID_2)
        .unwrap();
    let (st, body) = t
        .get(
            &format!("/v1/sync/pull?cursor={cursor}"),
            Some(&wang.access_token),
        )
        .await;
    assert_eq!(st, StatusCode::GONE);
    assert_eq!(body["error"]["code"], "cursor_expired");
    let (recs, _) = t.pull_all(&wang.access_token, None).await;
    assert_eq!(recs.len(), 121);
    assert!(recs.iter().any(|r| r["id"] == lh.as_str()));
}

/// JSON bytes of a pulled record's `data` and `clocks`, as the page bound counts them.
fn record_bytes(r: &Value) -> usize {
    let clocks = r.get("clocks").cloned().unwrap_or_else(|| json!({}));
    serde_json::to_string(&r["data"]).unwrap().len() + serde_json::to_string(&clocks).unwrap().len()
}

fn patrol(ms: i64, fixes: usize) -> Value {
    let track: Vec<Value> = (0..fixes)
        .map(|i| {
            json!([
                ms - 3_600_000 + i as i64 * 250,
                37.78 + i as f64 * 1e-6,
                107.4,
                5.0
            ])
        })
        .collect();
    json!({"grid_code": DEMO_GRID, "started_at": ms - 3_600_000, "ended_at": ms,
        "notes": null, "distance_m": 4000.0, "duration_s": 3600, "track": track})
}

#[tokio::test]
async fn pull_pages_are_bounded_in_bytes() {
    const BOUND: usize = 256 * 1024;
    let t = start_with(|mut c| {
        c.pull_page_bytes = BOUND;
        c
    })
    .await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let mut sent = Vec::new();
    let mut changes = Vec::new();
    // Long patrol tracks (~90 KB each), one track larger than a whole page, and small records.
    for i in 0..12 {
        let (entity, payload) = match i {
            5 => ("patrol", patrol(ms, 12_000)),
            i if i % 3 == 2 => ("household", household_payload(DEMO_GRID)),
            _ => ("patrol", patrol(ms, 2_500)),
        };
        let rid = id();
        changes.push(change(entity, &rid, Op::Create, &hlc(ms + i, "w"), payload));
        sent.push(rid);
    }
    let res = t.push(&wang.access_token, changes).await;
    assert!(res.results.iter().all(|r| r.outcome == Outcome::Applied));

    let mut cursor: Option<String> = None;
    let mut got = Vec::new();
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/sync/pull?limit=2000&cursor={c}"),
            None => "/v1/sync/pull?limit=2000".to_string(),
        };
        let (st, body) = t.get(&path, Some(&wang.access_token)).await;
        assert_eq!(st, StatusCode::OK);
        let records = body["records"].as_array().unwrap().clone();
        let bytes: usize = records.iter().map(record_bytes).sum();
        assert!(!records.is_empty() || body["has_more"] == false);
        if records.len() > 1 {
            assert!(bytes <= BOUND, "{} records, {bytes} bytes", records.len());
        }
        pages.push((records.len(), bytes));
        got.extend(records);
        cursor = Some(body["cursor"].as_str().unwrap().to_string());
        if body["has_more"] == false {
            break;
        }
        assert!(pages.len() < 50, "the feed does not end");
    }
    // Every record exactly once, in revision order, across pages.
    let got_ids: Vec<String> = got
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(got_ids, sent, "{pages:?}");
    let revs: Vec<i64> = got.iter().map(|r| r["rev"].as_i64().unwrap()).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]));
    // The big track came alone; pages are neither one huge page nor one record each.
    let big = record_bytes(&got[5]);
    assert!(big > BOUND, "{big}");
    assert!(pages.contains(&(1, big)), "{pages:?}");
    assert!(pages.len() >= 4, "{pages:?}");
    assert!(pages.iter().any(|(n, _)| *n >= 2), "{pages:?}");
    // Nothing more after the last cursor.
    let (recs, _) = t.pull_all(&wang.access_token, cursor.as_deref()).await;
    assert!(recs.is_empty());
}

/// No echo over HTTP: a push that carries the device's cursor is left out of its next pull
/// (the cursor still moves); a push without one (every older phone) comes back as before; a
/// snapshot (no cursor) leaves nothing out; a cursor from another scope is ignored.
#[tokio::test]
async fn pushes_with_a_cursor_do_not_come_back() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let tok = &wang.access_token;
    let (_, cursor) = t.pull_all(tok, None).await;
    let ms = now();
    let mine: Vec<_> = (0..5)
        .map(|k| {
            change(
                "household",
                &id(),
                Op::Create,
                &hlc(ms + k, "w"),
                household_payload(DEMO_GRID),
            )
        })
        .collect();
    let body = json!({"batch_id": "b1", "changes": mine, "cursor": cursor});
    let (s, res) = t.post("/v1/sync/push", Some(tok), &body).await;
    assert_eq!(s, StatusCode::OK, "{res}");
    assert!(res["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["outcome"] == "applied"));
    let (records, next) = t.pull_all(tok, Some(&cursor)).await;
    assert!(records.is_empty(), "own records came back: {records:?}");
    assert_ne!(next, cursor, "the cursor moves past the skipped revisions");

    // An older phone: no cursor in its pushes, everything comes back.
    let legacy = id();
    t.push(
        tok,
        vec![change(
            "household",
            &legacy,
            Op::Create,
            &hlc(ms + 10, "w"),
            household_payload(DEMO_GRID),
        )],
    )
    .await;
    let (records, _) = t.pull_all(tok, Some(&next)).await;
    assert_eq!(ids(&records, "household"), vec![legacy.clone()]);

    // A snapshot leaves nothing out.
    let (all, _) = t.pull_all(tok, None).await;
    let all_ids = ids(&all, "household");
    assert!(mine.iter().all(|c| all_ids.contains(&c.entity_id)));

    // A cursor of another scope (Li's) in a push is ignored: the records come back.
    let li = t.login("lijun", "dev-l").await;
    let (_, li_cursor) = t.pull_all(&li.access_token, None).await;
    let (_, before) = t.pull_all(tok, None).await;
    let stray = id();
    let body = json!({"batch_id": "b2", "cursor": li_cursor, "changes": [change(
        "household", &stray, Op::Create, &hlc(ms + 20, "w"), household_payload(DEMO_GRID))]});
    let (s, _) = t.post("/v1/sync/push", Some(tok), &body).await;
    assert_eq!(s, StatusCode::OK);
    let (records, _) = t.pull_all(tok, Some(&before)).await;
    assert_eq!(ids(&records, "household"), vec![stray]);
}
