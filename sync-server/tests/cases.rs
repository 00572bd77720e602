//! The case closed loop: supervisor actions, worker verification events, tasks in the feed.

mod common;

use common::*;
use gridwalk_protocol::{Op, Outcome};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn act(t: &TestServer, token: &str, case: &str, body: Value) -> (StatusCode, Value) {
    t.post(&format!("/v1/cases/{case}/actions"), Some(token), &body)
        .await
}

#[tokio::test]
async fn the_loop_from_report_to_archive() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let c = id();
    let res = t
        .push(
            &wang.access_token,
            vec![
                change("case", &c, Op::Create, &hlc(ms, "w"), case_payload(DEMO_GRID)),
                change("case_event", &id(), Op::Create, &hlc(ms + 1, "w"),
                    json!({"case_id": c, "kind": "submitted", "at": ms, "status": "submitted", "note": null})),
                change("photo", &id(), Op::Create, &hlc(ms + 2, "w"),
                    json!({"owner_kind": "case", "owner_id": c, "sha256": "ab".repeat(32),
                           "byte_len": 1000, "mime": "image/jpeg", "taken_at": ms})),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:?}",
        res.results
    );

    // The device may not set the status itself.
    let res = t
        .push(
            &wang.access_token,
            vec![change(
                "case",
                &c,
                Op::Update,
                &hlc(ms + 3, "w"),
                json!({"status": "closed"}),
            )],
        )
        .await;
    assert_eq!(res.results[0].reason.as_ref().unwrap().code, "server_owned");

    // Workers are not supervisors.
    let (st, body) = t.get("/v1/cases", Some(&wang.access_token)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");

    let (st, body) = t
        .get("/v1/cases?status=submitted", Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["cases"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["cases"][0]["data"]["reporter_user"],
        wang.user.id.as_str()
    );

    // Invalid transition: close a submitted case.
    let (st, body) = act(&t, &lead.access_token, &c, json!({"action": "close"})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "invalid_transition");
    // Unknown action: 400.
    let (st, _) = act(&t, &lead.access_token, &c, json!({"action": "teleport"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    let (st, body) = act(&t, &lead.access_token, &c, json!({"action": "accept"})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "accepted");
    let deadline = body["data"]["deadline_at"].as_i64().unwrap();
    // Category 02, urgent: 12 hours by default.
    let accepted = body["data"]["accepted_at"].as_i64().unwrap();
    assert_eq!(deadline - accepted, 12 * 3_600_000);

    let (st, body) = act(&t, &lead.access_token, &c, json!({"action": "dispatch"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "assignee is required: {body}");
    let (st, _) = act(
        &t,
        &lead.access_token,
        &c,
        json!({"action": "dispatch", "assignee": "城管中队"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = act(&t, &lead.access_token, &c, json!({"action": "handle"})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = act(
        &t,
        &lead.access_token,
        &c,
        json!({"action": "request_verification"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["data"]["status"], "verification_requested");

    // The reporter's device receives the status, a timeline event and a verification task.
    let (recs, cursor) = t.pull_all(&wang.access_token, None).await;
    let case = recs.iter().find(|r| r["id"] == c.as_str()).unwrap();
    assert_eq!(case["data"]["status"], "verification_requested");
    let task = recs
        .iter()
        .find(|r| r["entity"] == "task" && r["data"]["kind"] == "verify_case")
        .unwrap();
    assert_eq!(task["data"]["assignee"], wang.user.id.as_str());
    assert_eq!(task["data"]["target_id"], c.as_str());
    assert_eq!(task["data"]["status"], "open");
    let server_events = recs
        .iter()
        .filter(|r| r["entity"] == "case_event" && r["data"]["kind"] == "server_update")
        .count();
    assert_eq!(server_events, 4);

    // The worker reports the verification failed: back to the handlers.
    let res = t
        .push(&wang.access_token, vec![change("case_event", &id(), Op::Create, &hlc(now(), "w"),
            json!({"case_id": c, "kind": "verification", "at": now(), "status": "rejected", "note": "仍有车辆充电"}))])
        .await;
    assert_eq!(
        res.results[0].outcome,
        Outcome::Applied,
        "{:?}",
        res.results[0]
    );
    let (recs, cursor) = t.pull_all(&wang.access_token, Some(&cursor)).await;
    let case = recs.iter().find(|r| r["id"] == c.as_str()).unwrap();
    assert_eq!(case["data"]["status"], "rejected");
    // The verification task was completed by the event.
    let task = recs.iter().find(|r| r["entity"] == "task").unwrap();
    assert_eq!(task["data"]["status"], "done");

    // A second verification result now is an invalid transition.
    let res = t
        .push(&wang.access_token, vec![change("case_event", &id(), Op::Create, &hlc(now(), "w"),
            json!({"case_id": c, "kind": "verification", "at": now(), "status": "verified", "note": null}))])
        .await;
    assert_eq!(
        res.results[0].reason.as_ref().unwrap().code,
        "invalid_transition"
    );

    for a in ["handle", "request_verification"] {
        let (st, body) = act(&t, &lead.access_token, &c, json!({"action": a})).await;
        assert_eq!(st, StatusCode::OK, "{a}: {body}");
    }
    let res = t
        .push(&wang.access_token, vec![change("case_event", &id(), Op::Create, &hlc(now(), "w"),
            json!({"case_id": c, "kind": "verification", "at": now(), "status": "verified", "note": null}))])
        .await;
    assert_eq!(res.results[0].outcome, Outcome::Applied);
    for (a, status) in [
        ("close", "closed"),
        ("call_back", "closed"),
        ("archive", "archived"),
    ] {
        let (st, body) = act(&t, &lead.access_token, &c, json!({"action": a})).await;
        assert_eq!(st, StatusCode::OK, "{a}: {body}");
        assert_eq!(body["data"]["status"], status);
    }
    let (recs, _) = t.pull_all(&wang.access_token, Some(&cursor)).await;
    assert!(recs
        .iter()
        .any(|r| r["entity"] == "task" && r["data"]["kind"] == "call_back"));
    let (st, _) = act(&t, &lead.access_token, &c, json!({"action": "archive"})).await;
    assert_eq!(st, StatusCode::CONFLICT);
}

#[tokio::test]
async fn return_escalate_overdue_and_scope() {
    let t = start_with(|c| c).await;
    let wang = t.login("wangfang", "dev-w").await;
    let li = t.login("lijun", "dev-l").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let (c1, c2) = (id(), id());
    t.push(
        &wang.access_token,
        vec![
            change(
                "case",
                &c1,
                Op::Create,
                &hlc(ms, "w"),
                case_payload(DEMO_GRID),
            ),
            change(
                "case",
                &c2,
                Op::Create,
                &hlc(ms + 1, "w"),
                case_payload(DEMO_GRID),
            ),
        ],
    )
    .await;

    let (st, body) = act(&t, &lead.access_token, &c1, json!({"action": "return"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "reason required: {body}");
    let (st, body) = act(
        &t,
        &lead.access_token,
        &c1,
        json!({"action": "return", "reason": "位置不清"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["data"]["status"], "returned");
    assert_eq!(body["data"]["return_reason"], "位置不清");

    let (_, body) = act(&t, &lead.access_token, &c2, json!({"action": "escalate"})).await;
    assert_eq!(body["data"]["escalated_to"], DEMO_COMMUNITY);
    let (_, body) = act(&t, &lead.access_token, &c2, json!({"action": "escalate"})).await;
    assert_eq!(body["data"]["escalated_to"], "640323001");
    assert_eq!(body["data"]["status"], "submitted");

    // Overdue: accept with a one-hour deadline two hours ago (storage API, clock in the past).
    t.server
        .admin()
        .set_case_deadline("02", "urgent", 1)
        .unwrap();
    let who = gridwalk_sync_server::Principal {
        user_id: lead.user.id.clone(),
        role: gridwalk_protocol::Role::GridLeader,
        org_code: DEMO_COMMUNITY.into(),
        grids: lead.user.grids.clone(),
        device_id: "dev-z".into(),
        session_id: "s".into(),
    };
    let req = gridwalk_sync_server::cases::ActionRequest {
        action: gridwalk_sync_server::cases::Action::Accept,
        ..Default::default()
    };
    let rec = t
        .server
        .storage()
        .case_action(&who, &c2, &req, now() - 2 * 3_600_000)
        .unwrap()
        .unwrap();
    assert_eq!(rec.data["status"], "accepted");
    let (_, body) = t
        .get("/v1/cases?overdue=true", Some(&lead.access_token))
        .await;
    let overdue = body["cases"].as_array().unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], c2.as_str());
    let (_, body) = t
        .get(
            "/v1/cases?overdue=false&status=returned",
            Some(&lead.access_token),
        )
        .await;
    assert_eq!(body["cases"][0]["id"], c1.as_str());
    let (st, _) = t
        .get("/v1/cases?status=nonsense", Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Another grid's worker cannot act on or see the case; a guessed id is a plain 404.
    let (st, body) = t
        .get(&format!("/v1/cases/{c2}"), Some(&li.access_token))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    let (st, body) = t
        .get(&format!("/v1/cases/{c2}"), Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = t
        .get(&format!("/v1/cases/{}", id()), Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let res = t.push(&li.access_token, vec![change("case_event", &id(), Op::Create, &hlc(now(), "l"),
        json!({"case_id": c2, "kind": "verification", "at": now(), "status": "verified", "note": null}))]).await;
    assert_eq!(
        res.results[0].reason.as_ref().unwrap().code,
        "parent_unknown"
    );
}

#[tokio::test]
async fn supervisor_tasks_reach_the_worker_and_task_status_rules() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let (st, body) = t.post("/v1/tasks", Some(&lead.access_token), &json!({
        "kind": "collect_info", "title": "核对3栋出租户", "assignee": "wangfang", "due_on": "2030-01-01"
    })).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["grid_code"], DEMO_GRID);
    let task_id = body["id"].as_str().unwrap().to_string();
    // To a whole grid.
    let (st, body) = t.post("/v1/tasks", Some(&lead.access_token), &json!({
        "kind": "patrol", "title": "夜间巡查", "grid_code": DEMO_GRID_2, "due_on": "2030-01-01"
    })).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // Bad input: field named.
    let (st, body) = t
        .post(
            "/v1/tasks",
            Some(&lead.access_token),
            &json!({
                "kind": "dance", "title": "x", "due_on": "2030-01-01"
            }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("kind"));
    // Workers may not assign.
    let (st, _) = t
        .post(
            "/v1/tasks",
            Some(&wang.access_token),
            &json!({
                "kind": "patrol", "title": "x", "due_on": "2030-01-01"
            }),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (recs, _) = t.pull_all(&wang.access_token, None).await;
    assert_eq!(recs.iter().filter(|r| r["entity"] == "task").count(), 1);

    let ms = now() + 60_000;
    let res = t
        .push(
            &wang.access_token,
            vec![
                change(
                    "task",
                    &task_id,
                    Op::Update,
                    &hlc(ms, "w"),
                    json!({"assignee": "lijun"}),
                ),
                change(
                    "task",
                    &task_id,
                    Op::Update,
                    &hlc(ms + 1, "w"),
                    json!({"status": "done", "completed_at": ms}),
                ),
                change(
                    "task",
                    &task_id,
                    Op::Update,
                    &hlc(ms + 2, "w"),
                    json!({"status": "open"}),
                ),
                // The worker's own reminder: lands in their grid, assigned to them.
                change(
                    "task",
                    &id(),
                    Op::Create,
                    &hlc(ms + 3, "w"),
                    json!({
            "kind": "custom", "title": "买电池", "target_kind": null, "target_id": null,
            "due_on": "2030-01-02", "priority": "low", "source": "own", "notes": null}),
                ),
            ],
        )
        .await;
    assert_eq!(res.results[0].reason.as_ref().unwrap().code, "server_owned");
    assert_eq!(
        res.results[1].outcome,
        Outcome::Applied,
        "{:?}",
        res.results[1]
    );
    assert_eq!(
        res.results[2].reason.as_ref().unwrap().code,
        "invalid_transition"
    );
    assert_eq!(
        res.results[3].outcome,
        Outcome::Applied,
        "{:?}",
        res.results[3]
    );
}
