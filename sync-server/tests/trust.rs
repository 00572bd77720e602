//! The server trusts no phone: every pushed value is checked with the phone's own rules (the
//! `gridwalk-domain` table), clocks are bounded, and every reference resolves in scope, on create
//! and on update. Each refusal names the field and its validation code; the rest of the batch is
//! applied.

mod common;

use common::*;
use gridwalk_protocol::hlc::MAX_AHEAD_MS;
use gridwalk_protocol::{Op, Outcome, PushResponse};
use serde_json::{json, Value};

fn with(base: Value, extra: Value) -> Value {
    let mut m = obj(base);
    m.extend(obj(extra));
    Value::Object(m)
}

/// (code, field, field_code) of result `i`.
fn reason(res: &PushResponse, i: usize) -> (String, Option<String>, Option<String>) {
    let r = res.results[i].reason.clone().unwrap_or_else(|| {
        panic!(
            "change {i} was {:?}, expected a refusal",
            res.results[i].outcome
        )
    });
    (r.code, r.field, r.field_code)
}

fn invalid(field: &str, code: &str) -> (String, Option<String>, Option<String>) {
    ("invalid".into(), Some(field.into()), Some(code.into()))
}

#[tokio::test]
async fn bad_values_are_refused_per_field_and_the_rest_of_the_batch_applies() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let h = id();
    let good = change(
        "household",
        &h,
        Op::Create,
        &hlc(ms, "w"),
        household_payload(DEMO_GRID),
    );
    let res = t.push(&wang.access_token, vec![good]).await;
    assert_eq!(res.results[0].outcome, Outcome::Applied);

    let resident = |extra: Value| with(resident_payload(&h), extra);
    let household = |extra: Value| with(household_payload(DEMO_GRID), extra);
    let photo = |extra: Value| {
        with(
            json!({"owner_kind": "household", "owner_id": h, "sha256": "ab".repeat(32),
                "byte_len": 1000, "mime": "image/jpeg"}),
            extra,
        )
    };
    let case = |extra: Value| with(case_payload(DEMO_GRID), extra);
    let bad: Vec<(&str, Value, (&str, &str))> = vec![
        // 11010519491231002X is GB 11643's example; the last digit changed breaks the check.
        (
            "resident",
            resident(json!({"id_number": "110105194912310021"})),
            ("id_number", "invalid_checksum"),
        ),
        (
            "resident",
            resident(json!({"birth_date": "2999-01-01"})),
            ("birth_date", "future_date"),
        ),
        (
            "resident",
            resident(json!({"phone": "abc"})),
            ("phone", "invalid_format"),
        ),
        (
            "resident",
            resident(json!({"id_number": "11010519491231002X", "gender": "male"})),
            ("gender", "mismatch"),
        ),
        (
            "resident",
            resident(json!({"special_groups": ["vip"]})),
            ("special_groups", "invalid_value"),
        ),
        (
            "household",
            household(json!({"lat": 91.0, "lng": 107.4})),
            ("lat", "out_of_range"),
        ),
        (
            "household",
            household(json!({"floor": -1000})),
            ("floor", "out_of_range"),
        ),
        (
            "household",
            household(json!({"community": "x".repeat(51)})),
            ("community", "too_long"),
        ),
        (
            "household",
            household(json!({"colour": "red"})),
            ("colour", "unknown_field"),
        ),
        (
            "case",
            case(json!({"type_code": "0203", "category_code": "01"})),
            ("type_code", "mismatch"),
        ),
        (
            "photo",
            photo(json!({"byte_len": -5})),
            ("byte_len", "out_of_range"),
        ),
        (
            "photo",
            photo(json!({"mime": "text/html"})),
            ("mime", "invalid_value"),
        ),
        (
            "visit",
            json!({"household_id": h, "visited_at": ms + 3_600_000, "mode": "in_person", "outcome": "fine"}),
            ("visited_at", "future_date"),
        ),
        (
            "visit",
            json!({"household_id": h, "visited_at": ms, "mode": "not_at_home", "outcome": "fine"}),
            ("outcome", "mismatch"),
        ),
    ];
    let mut changes = Vec::new();
    for (i, (entity, payload, _)) in bad.iter().enumerate() {
        changes.push(change(
            entity,
            &id(),
            Op::Create,
            &hlc(ms + 1 + i as i64, "w"),
            payload.clone(),
        ));
    }
    // A good change after all of them still applies.
    let r = id();
    changes.push(change(
        "resident",
        &r,
        Op::Create,
        &hlc(ms + 100, "w"),
        resident(json!({})),
    ));
    let res = t.push(&wang.access_token, changes).await;
    for (i, (entity, _, (field, code))) in bad.iter().enumerate() {
        assert_eq!(reason(&res, i), invalid(field, code), "{entity} #{i}");
        assert!(!res.results[i]
            .reason
            .as_ref()
            .unwrap()
            .message
            .contains("110105"));
    }
    assert_eq!(res.results[bad.len()].outcome, Outcome::Applied);

    // An update is judged on the record as it would be stored: a gender contradicting the stored
    // ID number is refused.
    let res = t
        .push(
            &wang.access_token,
            vec![
                change("resident", &r, Op::Update, &hlc(ms + 200, "w"), json!({"id_number": "11010519491231002X", "gender": "female", "birth_date": "1949-12-31"})),
                change("resident", &r, Op::Update, &hlc(ms + 201, "w"), json!({"gender": "male"})),
                change("household", &h, Op::Update, &hlc(ms + 202, "w"), json!({"lng": null})),
            ],
        )
        .await;
    assert_ne!(res.results[0].outcome, Outcome::Rejected, "{res:?}");
    assert_eq!(reason(&res, 1), invalid("gender", "mismatch"));
    assert_eq!(reason(&res, 2), invalid("lng", "required"));
}

#[tokio::test]
async fn stamps_far_ahead_of_the_server_clock_are_refused_and_cannot_move_it() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let ms = now();
    let year_2100 = 4_102_444_800_000;
    let res = t
        .push(
            &wang.access_token,
            vec![
                change(
                    "household",
                    &id(),
                    Op::Create,
                    &hlc(year_2100, "w"),
                    household_payload(DEMO_GRID),
                ),
                change(
                    "household",
                    &id(),
                    Op::Create,
                    "999999999999999.99999.w",
                    household_payload(DEMO_GRID),
                ),
                change(
                    "household",
                    &id(),
                    Op::Create,
                    &hlc(ms + MAX_AHEAD_MS + 60_000, "w"),
                    household_payload(DEMO_GRID),
                ),
                change(
                    "household",
                    &id(),
                    Op::Create,
                    "1000000000000000.00000.w",
                    household_payload(DEMO_GRID),
                ),
                change(
                    "household",
                    &id(),
                    Op::Create,
                    &format!("{ms:015}.00000.no dots."),
                    household_payload(DEMO_GRID),
                ),
                // Within the bound: a phone a little fast is fine.
                change(
                    "household",
                    &id(),
                    Op::Create,
                    &hlc(ms + 60_000, "w"),
                    household_payload(DEMO_GRID),
                ),
            ],
        )
        .await;
    for i in 0..3 {
        assert_eq!(reason(&res, i).0, "clock_ahead", "#{i}");
        assert!(res.results[i]
            .reason
            .as_ref()
            .unwrap()
            .message
            .contains("手机时间"));
    }
    assert_eq!(
        reason(&res, 3),
        ("invalid".into(), Some("hlc".into()), None)
    );
    assert_eq!(
        reason(&res, 4),
        ("invalid".into(), Some("hlc".into()), None)
    );
    assert_eq!(res.results[5].outcome, Outcome::Applied);
    // The server's clock stayed in the present and in its fixed width.
    let server_wall: i64 = res.server_hlc[..15].parse().unwrap();
    assert_eq!(res.server_hlc.find('.'), Some(15), "{}", res.server_hlc);
    assert!(server_wall <= now() + MAX_AHEAD_MS, "{}", res.server_hlc);
}

#[tokio::test]
async fn every_reference_resolves_in_scope_on_create_and_on_update() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let li = t.login("lijun", "dev-l").await;
    let ms = now();
    // Li's grid holds a household, a patrol and a case.
    let (lh, lp, lc) = (id(), id(), id());
    let res = t
        .push(
            &li.access_token,
            vec![
                change(
                    "household",
                    &lh,
                    Op::Create,
                    &hlc(ms, "l"),
                    household_payload(DEMO_GRID_2),
                ),
                change(
                    "patrol",
                    &lp,
                    Op::Create,
                    &hlc(ms, "l"),
                    json!({"grid_code": DEMO_GRID_2, "started_at": ms - 1000}),
                ),
                change(
                    "case",
                    &lc,
                    Op::Create,
                    &hlc(ms, "l"),
                    case_payload(DEMO_GRID_2),
                ),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{res:?}"
    );
    // Wang's own records.
    let (wh, wc, wr) = (id(), id(), id());
    let res = t
        .push(
            &wang.access_token,
            vec![
                change(
                    "household",
                    &wh,
                    Op::Create,
                    &hlc(ms, "w"),
                    household_payload(DEMO_GRID),
                ),
                change(
                    "case",
                    &wc,
                    Op::Create,
                    &hlc(ms, "w"),
                    case_payload(DEMO_GRID),
                ),
                change(
                    "resident",
                    &wr,
                    Op::Create,
                    &hlc(ms, "w"),
                    resident_payload(&wh),
                ),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{res:?}"
    );

    let foreign: Vec<(&str, String, Op, Value, &str)> = vec![
        (
            "case",
            wc.clone(),
            Op::Update,
            json!({"household_id": lh}),
            "household_id",
        ),
        (
            "case",
            wc.clone(),
            Op::Update,
            json!({"patrol_id": lp}),
            "patrol_id",
        ),
        (
            "case",
            id(),
            Op::Create,
            with(case_payload(DEMO_GRID), json!({"household_id": lh})),
            "household_id",
        ),
        (
            "resident",
            wr.clone(),
            Op::Update,
            json!({"household_id": lh}),
            "household_id",
        ),
        (
            "resident",
            id(),
            Op::Create,
            resident_payload(&lh),
            "household_id",
        ),
        (
            "visit",
            id(),
            Op::Create,
            json!({"household_id": lh, "visited_at": ms, "mode": "phone", "outcome": "fine"}),
            "household_id",
        ),
        (
            "resident_move",
            id(),
            Op::Create,
            json!({"resident_id": wr, "kind": "transfer", "household_id": lh, "on": "2024-01-01"}),
            "household_id",
        ),
        (
            "case_event",
            id(),
            Op::Create,
            json!({"case_id": lc, "kind": "edited", "at": ms}),
            "case_id",
        ),
        (
            "photo",
            id(),
            Op::Create,
            json!({"owner_kind": "case", "owner_id": lc, "sha256": "cd".repeat(32)}),
            "owner_id",
        ),
        (
            "photo",
            id(),
            Op::Create,
            json!({"owner_kind": "patrol", "owner_id": lp, "sha256": "cd".repeat(32)}),
            "owner_id",
        ),
        (
            "task",
            id(),
            Op::Create,
            json!({"kind": "visit_household", "title": "看看", "due_on": "2030-01-01", "target_kind": "household", "target_id": lh}),
            "target_id",
        ),
        // An explicit grid of Wang's does not make Li's household a valid target.
        (
            "task",
            id(),
            Op::Create,
            json!({"kind": "visit_household", "title": "看看", "due_on": "2030-01-01", "grid_code": DEMO_GRID, "target_kind": "household", "target_id": lh}),
            "target_id",
        ),
    ];
    let changes = foreign
        .iter()
        .enumerate()
        .map(|(i, (e, eid, op, p, _))| {
            change(e, eid, *op, &hlc(ms + 10 + i as i64, "w"), p.clone())
        })
        .collect();
    let res = t.push(&wang.access_token, changes).await;
    for (i, (e, _, op, _, field)) in foreign.iter().enumerate() {
        let (code, f, _) = reason(&res, i);
        assert_eq!(code, "parent_unknown", "{e} {op:?} #{i}");
        assert_eq!(f.as_deref(), Some(*field), "{e} #{i}");
        assert!(
            res.results[i]
                .reason
                .as_ref()
                .unwrap()
                .message
                .contains(field),
            "{e} #{i}"
        );
    }
    // The same references to records of Wang's own grid are fine.
    let res = t
        .push(
            &wang.access_token,
            vec![change(
                "case",
                &wc,
                Op::Update,
                &hlc(ms + 100, "w"),
                json!({"household_id": wh}),
            )],
        )
        .await;
    assert_eq!(res.results[0].outcome, Outcome::Applied, "{res:?}");
}

#[tokio::test]
async fn a_supervisor_task_targets_only_records_of_its_grid() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let zhao = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let wh = id();
    t.push(
        &wang.access_token,
        vec![change(
            "household",
            &wh,
            Op::Create,
            &hlc(ms, "w"),
            household_payload(DEMO_GRID),
        )],
    )
    .await;
    // Target in grid 1, task (and assignee) in grid 2: lijun could never see the household.
    let (status, body) = t
        .post(
            "/v1/tasks",
            Some(&zhao.access_token),
            &json!({"kind": "visit_household", "title": "走访", "due_on": "2030-01-01",
                "grid_code": DEMO_GRID_2, "assignee": "lijun",
                "target_kind": "household", "target_id": wh}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    let (status, body) = t
        .post(
            "/v1/tasks",
            Some(&zhao.access_token),
            &json!({"kind": "visit_household", "title": "走访", "due_on": "2030-01-01",
                "assignee": "wangfang", "target_kind": "household", "target_id": wh}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["grid_code"], DEMO_GRID, "{body}");
}
