//! The console's data: warnings raised from synced records, turned into tasks and cleared only
//! by on-site evidence; district-editable rules; masking in every answer and export; audited
//! reveals and a tamper-evident audit chain; scope ("not yours" = "does not exist").

mod common;

use common::*;
use gridwalk_protocol::{Op, Outcome, Role};
use gridwalk_sync_server::admin::DEMO_STREET;
use gridwalk_sync_server::UserSpec;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;
/// A valid GB 11643 ID number (male, born 1990-03-07) and a phone.
const ID_NUMBER: &str = "110101199003070038";
const PHONE: &str = "13912345678";

fn add_user(t: &TestServer, username: &str, role: Role, org: &str) {
    t.server
        .admin()
        .add_user(&UserSpec {
            username: username.into(),
            display_name: username.into(),
            role,
            org_code: org.into(),
            grids: Vec::new(),
            password: DEMO_PASSWORD.into(),
        })
        .unwrap();
}

/// A close-care household of the demo grid, contacted in person `days_ago` days ago.
async fn stale_household(t: &TestServer, token: &str, days_ago: i64, room: &str) -> String {
    let ms = now();
    let h = id();
    let mut p = household_payload(DEMO_GRID);
    p["care_tier"] = json!("close");
    p["room"] = json!(room);
    // No location: only the visit rule is under test here.
    p["lat"] = Value::Null;
    p["lng"] = Value::Null;
    let res = t
        .push(
            token,
            vec![
                change("household", &h, Op::Create, &hlc(ms, "w"), p),
                change(
                    "visit",
                    &id(),
                    Op::Create,
                    &hlc(ms + 1, "w"),
                    json!({"household_id": h, "visited_at": ms - days_ago * DAY,
                           "mode": "in_person", "outcome": "fine", "notes": null}),
                ),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:?}",
        res.results
    );
    h
}

fn warnings_of<'a>(body: &'a Value, target: &str) -> Vec<&'a Value> {
    body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["target_id"] == target && w["kind"] != "outside_grid")
        .collect()
}

fn grid_count(body: &Value, grid: &str) -> Value {
    body["board"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grid_code"] == grid)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn stale_visit_warning_becomes_a_task_and_clears_only_with_an_on_site_visit() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    // Contacted 10 days ago; close care is due every 7 days: 3 days overdue, yellow.
    let h = stale_household(&t, &wang.access_token, 10, "502").await;
    // Contacted 2 days ago: not due, no warning.
    let fresh = stale_household(&t, &wang.access_token, 2, "503").await;

    let (st, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let w = warnings_of(&body, &h);
    assert_eq!(w.len(), 1, "{body}");
    assert_eq!(w[0]["kind"], "visit_overdue");
    assert_eq!(w[0]["level"], "yellow");
    assert!(warnings_of(&body, &fresh).is_empty());
    assert_eq!(grid_count(&body, DEMO_GRID)["yellow"], 1);
    assert_eq!(
        grid_count(&body, DEMO_GRID_2)["yellow"],
        0,
        "other grids are green"
    );
    let key = w[0]["key"].as_str().unwrap().to_string();

    // Workers do not use the console.
    let (st, _) = t
        .get("/console/data/warnings", Some(&wang.access_token))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Turned into a task for the grid's worker; it reaches her device.
    let (st, task) = t
        .post(
            "/console/data/warnings/task",
            Some(&lead.access_token),
            &json!({"key": key}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{task}");
    assert_eq!(task["data"]["kind"], "visit_household");
    assert_eq!(task["data"]["target_id"], h.as_str());
    let task_id = task["id"].as_str().unwrap().to_string();
    let (records, _) = t.pull_all(&wang.access_token, None).await;
    assert!(records.iter().any(|r| r["id"] == task_id.as_str()));
    // A second task for the same warning is refused while the first is open.
    let (st, _) = t
        .post(
            "/console/data/warnings/task",
            Some(&lead.access_token),
            &json!({"key": key}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // A phone call satisfies the policy but is no on-site verification: still raised.
    let ms = now();
    t.push(&wang.access_token, vec![change("visit", &id(), Op::Create, &hlc(ms, "w"),
        json!({"household_id": h, "visited_at": ms, "mode": "phone", "outcome": "fine", "notes": null}))])
        .await;
    // Ticking the task off without a visit does not clear it either.
    let res = t
        .push(
            &wang.access_token,
            vec![change(
                "task",
                &task_id,
                Op::Update,
                &hlc(ms + 1, "w"),
                json!({"status": "done", "completed_at": ms}),
            )],
        )
        .await;
    assert_eq!(
        res.results[0].outcome,
        Outcome::Applied,
        "{:?}",
        res.results
    );
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    let w = warnings_of(&body, &h);
    assert_eq!(w.len(), 1, "{body}");
    assert_eq!(w[0]["task"]["status"], "done");
    assert_eq!(w[0]["task"]["awaiting_evidence"], true);

    // The in-person visit synced: cleared to zero.
    t.push(&wang.access_token, vec![change("visit", &id(), Op::Create, &hlc(ms + 2, "w"),
        json!({"household_id": h, "visited_at": ms + 2, "mode": "in_person", "outcome": "fine", "notes": null}))])
        .await;
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert!(warnings_of(&body, &h).is_empty(), "{body}");
    assert_eq!(grid_count(&body, DEMO_GRID)["yellow"], 0);
}

#[tokio::test]
async fn districts_change_the_rules_and_the_warnings_follow() {
    let t = start().await;
    add_user(&t, "district1", Role::District, "640323");
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let boss = t.login("district1", "dev-d").await;
    let h = stale_household(&t, &wang.access_token, 10, "601").await;
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert_eq!(warnings_of(&body, &h)[0]["level"], "yellow");

    let (_, mut rules) = t
        .get("/console/data/warning-rules", Some(&lead.access_token))
        .await;
    rules["red_after_days"] = json!(2);
    let put = |token: String, body: Value| {
        let t = &t;
        async move {
            let res = t
                .req(Method::PUT, "/console/data/warning-rules", Some(&token))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                res.status(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Only the district edits the rules.
    let (st, _) = put(lead.access_token.clone(), rules.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, b) = put(boss.access_token.clone(), rules.clone()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert_eq!(warnings_of(&body, &h)[0]["level"], "red");

    // Close care no longer warned: the warning is gone; a bad value is refused by field.
    rules["visit_tiers"] = json!(["attention"]);
    let (st, _) = put(boss.access_token.clone(), rules.clone()).await;
    assert_eq!(st, StatusCode::OK);
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert!(warnings_of(&body, &h).is_empty());
    rules["hazard_categories"] = json!(["99"]);
    let (st, b) = put(boss.access_token.clone(), rules).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hazard_categories[0]"),
        "{b}"
    );
}

#[tokio::test]
async fn hazards_stay_red_until_closed_and_unaccepted_cases_turn_yellow() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let c = id();
    // Category 02 (public safety) is a hazard by default.
    t.push(
        &wang.access_token,
        vec![change(
            "case",
            &c,
            Op::Create,
            &hlc(ms, "w"),
            case_payload(DEMO_GRID),
        )],
    )
    .await;
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    let w = warnings_of(&body, &c);
    assert_eq!(w.len(), 1, "{body}");
    assert_eq!(
        (w[0]["kind"].as_str(), w[0]["level"].as_str()),
        (Some("hazard_open"), Some("red"))
    );
    // Walk the loop to closed: the warning clears.
    for a in [
        json!({"action": "accept"}),
        json!({"action": "dispatch", "assignee": "消防站"}),
        json!({"action": "handle"}),
        json!({"action": "request_verification"}),
        json!({"action": "verify"}),
        json!({"action": "close"}),
    ] {
        let (st, b) = t
            .post(
                &format!("/v1/cases/{c}/actions"),
                Some(&lead.access_token),
                &a,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    assert!(warnings_of(&body, &c).is_empty(), "{body}");

    // A household located outside its grid's boundary is flagged yellow.
    let h = id();
    t.push(
        &wang.access_token,
        vec![change(
            "household",
            &h,
            Op::Create,
            &hlc(ms + 9, "w"),
            household_payload(DEMO_GRID),
        )],
    )
    .await;
    let (_, body) = t
        .get("/console/data/warnings", Some(&lead.access_token))
        .await;
    let outside: Vec<&Value> = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["target_id"] == h.as_str() && w["kind"] == "outside_grid")
        .collect();
    assert_eq!(outside.len(), 1, "{body}");
    assert_eq!(outside[0]["level"], "yellow");
    let (_, m) = t.get("/console/data/map", Some(&lead.access_token)).await;
    assert!(m["outside"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o[0] == h.as_str()));
}

#[tokio::test]
async fn ledgers_mask_every_answer_and_reveals_are_audited_in_a_chain() {
    let t = start().await;
    add_user(&t, "street2", Role::Street, "640323002");
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let chen = t.login("chenjing", "dev-c").await;
    let other = t.login("street2", "dev-s2").await;
    let ms = now();
    let h = id();
    let r = id();
    let mut rp = resident_payload(&h);
    rp["id_number"] = json!(ID_NUMBER);
    rp["phone"] = json!(PHONE);
    rp["birth_date"] = json!("1990-03-07");
    let mut hp = household_payload(DEMO_GRID);
    hp["room"] = json!("0101");
    let res = t
        .push(
            &wang.access_token,
            vec![
                change("household", &h, Op::Create, &hlc(ms, "w"), hp),
                change("resident", &r, Op::Create, &hlc(ms + 1, "w"), rp),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:?}",
        res.results
    );

    // Masked in the page answer; the clear values appear nowhere in it.
    let res = t
        .req(
            Method::GET,
            "/console/data/ledgers/residents",
            Some(&lead.access_token),
        )
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(!text.contains(ID_NUMBER) && !text.contains(PHONE), "{text}");
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["rows"][0]["id_number"], "110101********0038");
    assert_eq!(page["rows"][0]["phone"], "139****5678");
    // Search by the last four digits finds her; the middle digits do not.
    let (_, p) = t
        .get(
            "/console/data/ledgers/residents?q=0038",
            Some(&lead.access_token),
        )
        .await;
    assert_eq!(p["total"], 1);
    let (_, p) = t
        .get(
            "/console/data/ledgers/residents?q=19900307",
            Some(&lead.access_token),
        )
        .await;
    assert_eq!(p["total"], 0);
    // Nor in warnings, the map or a masked export.
    for path in [
        "/console/data/warnings",
        "/console/data/map",
        "/console/data/ledgers/households",
        "/console/data/ledgers/export?kind=residents&format=csv",
    ] {
        let res = t
            .req(Method::GET, path, Some(&lead.access_token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let bytes = res.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(ID_NUMBER) && !text.contains(PHONE),
            "{path}: {text}"
        );
    }

    // A reveal needs a reason; another street's supervisor gets "no such record".
    let (st, _) = t
        .post(
            "/console/data/ledgers/reveal",
            Some(&lead.access_token),
            &json!({"resident_id": r, "field": "id_number", "reason": "  "}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, b) = t
        .post(
            "/console/data/ledgers/reveal",
            Some(&other.access_token),
            &json!({"resident_id": r, "field": "id_number", "reason": "看看"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b}");
    let (st, b_missing) = t
        .post(
            "/console/data/ledgers/reveal",
            Some(&other.access_token),
            &json!({"resident_id": id(), "field": "id_number", "reason": "看看"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(b, b_missing, "not yours looks like does not exist");
    let (st, b) = t
        .post(
            "/console/data/ledgers/reveal",
            Some(&lead.access_token),
            &json!({"resident_id": r, "field": "id_number", "reason": "核实低保申请"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["value"], ID_NUMBER);
    assert_eq!(b["audit_seq"], 1);
    let (st, b) = t
        .post(
            "/console/data/ledgers/reveal",
            Some(&lead.access_token),
            &json!({"resident_id": r, "field": "phone", "reason": "联系家属"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["value"], PHONE);

    // Unmasked export: a grid leader may not; the community may, with a reason, audited; the
    // .xlsx keeps the ID number, phone and room as text.
    let export = json!({"kind": "residents", "format": "xlsx", "reason": "民政部门核对"});
    let (st, _) = t
        .post(
            "/console/data/ledgers/export",
            Some(&lead.access_token),
            &export,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = t
        .post(
            "/console/data/ledgers/export",
            Some(&chen.access_token),
            &json!({"kind": "residents", "format": "xlsx"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "no reason");
    let res = t
        .req(
            Method::POST,
            "/console/data/ledgers/export",
            Some(&chen.access_token),
        )
        .json(&export)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap().to_vec();
    {
        use calamine::{Data, Reader, Xlsx};
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        let headers: Vec<String> = (0..range.width() as u32)
            .map(|c| {
                range
                    .get_value((0, c))
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            })
            .collect();
        let col = |h: &str| headers.iter().position(|x| x == h).unwrap() as u32;
        assert_eq!(
            range.get_value((1, col("身份证号"))),
            Some(&Data::String(ID_NUMBER.into()))
        );
        assert_eq!(
            range.get_value((1, col("手机号"))),
            Some(&Data::String(PHONE.into()))
        );
        assert!(range
            .get_value((1, col("住址")))
            .unwrap()
            .to_string()
            .contains("0101"));
    }
    // The unmasked CSV protects the numbers from Excel (`="…"` text formulas), audited too.
    let res = t
        .req(
            Method::POST,
            "/console/data/ledgers/export",
            Some(&chen.access_token),
        )
        .json(&json!({"kind": "residents", "format": "csv", "reason": "民政部门核对"}))
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "UTF-8 BOM for Excel");
    // `="…"` inside a quoted CSV field: Excel shows the text, digits intact.
    assert!(csv.contains(&format!("\"=\"\"{ID_NUMBER}\"\"\"")), "{csv}");
    assert!(csv.contains(&format!("\"=\"\"{PHONE}\"\"\"")), "{csv}");
    assert!(csv.contains("在册"), "status as a label: {csv}");
    // The masked xlsx of households keeps the room 0101 as text.
    let res = t
        .req(
            Method::GET,
            "/console/data/ledgers/export?kind=households&format=xlsx",
            Some(&lead.access_token),
        )
        .send()
        .await
        .unwrap();
    {
        use calamine::{Data, Reader, Xlsx};
        let mut wb: Xlsx<_> =
            Xlsx::new(std::io::Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(range.get_value((1, 6)), Some(&Data::String("0101".into())));
    }

    // Two reveals and two unmasked exports, chained; the audit page is the district's.
    let storage = t.server.storage();
    let v = gridwalk_sync_server::console::audit::verify(&*storage).unwrap();
    assert_eq!((v.entries, v.first_break), (4, None));
    let (st, _) = t.get("/console/data/audit", Some(&chen.access_token)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Another street sees nothing of this one.
    let (_, p) = t
        .get("/console/data/ledgers/residents", Some(&other.access_token))
        .await;
    assert_eq!(p["total"], 0);
    let (_, p) = t
        .get(
            &format!("/console/data/ledgers/residents?unit={DEMO_STREET}"),
            Some(&other.access_token),
        )
        .await;
    assert_eq!(p["total"], 0);
    let (_, w) = t
        .get("/console/data/warnings", Some(&other.access_token))
        .await;
    assert!(w["warnings"].as_array().unwrap().is_empty());
    assert!(w["board"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| !g["grid_code"].as_str().unwrap().starts_with(DEMO_STREET)));
    let (_, m) = t.get("/console/data/map", Some(&other.access_token)).await;
    assert!(m["cases"].as_array().unwrap().is_empty());
    assert!(m["grids"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| !g["code"].as_str().unwrap().starts_with(DEMO_STREET)));
}

#[tokio::test]
async fn a_tampered_audit_log_fails_verification_naming_the_entry() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let h = id();
    let r = id();
    let mut rp = resident_payload(&h);
    rp["phone"] = json!(PHONE);
    t.push(
        &wang.access_token,
        vec![
            change(
                "household",
                &h,
                Op::Create,
                &hlc(ms, "w"),
                household_payload(DEMO_GRID),
            ),
            change("resident", &r, Op::Create, &hlc(ms + 1, "w"), rp),
        ],
    )
    .await;
    for reason in ["一", "二", "三", "四"] {
        let (st, _) = t
            .post(
                "/console/data/ledgers/reveal",
                Some(&lead.access_token),
                &json!({"resident_id": r, "field": "phone", "reason": reason}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
    }
    // The binary checks the stored log of either backend.
    let data_dir = t.server.config().data_dir.clone();
    let database = t.server.config().database.clone();
    let run = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gridwalk-server"));
        cmd.args(["audit", "verify", "--data"]).arg(&data_dir);
        if let Some(url) = &database {
            cmd.args(["--database", url]);
        }
        cmd.output().unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4"));

    // Tampering straight in the database, as someone with access to it would.
    let db = Tamper::open(&t).await;
    // An edited reason breaks entry 2.
    db.exec("UPDATE audit_log SET reason = '改' WHERE seq = 2")
        .await;
    let out = run();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("entry 2 does not match its hash"), "{err}");
    db.exec("UPDATE audit_log SET reason = '二' WHERE seq = 2")
        .await;
    assert!(run().status.success(), "restored");
    // A removed middle entry shows as a gap; a removed last entry against the head.
    db.exec("DELETE FROM audit_log WHERE seq = 4").await;
    let err = String::from_utf8_lossy(&run().stderr).to_string();
    assert!(err.contains("the last append was entry 4"), "{err}");
    db.exec("DELETE FROM audit_log WHERE seq = 2").await;
    let err = String::from_utf8_lossy(&run().stderr).to_string();
    assert!(err.contains("entry 2 is missing before entry 3"), "{err}");
}

/// A direct connection to the test server's database (SQLite file or PostgreSQL).
enum Tamper {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Tamper {
    async fn open(t: &TestServer) -> Tamper {
        match t.server.config().database.clone() {
            Some(url) => {
                let (c, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                Tamper::Postgres(c)
            }
            None => {
                Tamper::Sqlite(rusqlite::Connection::open(t.server.config().db_path()).unwrap())
            }
        }
    }

    async fn exec(&self, sql: &str) {
        match self {
            Tamper::Sqlite(c) => {
                c.execute(sql, []).unwrap();
            }
            Tamper::Postgres(c) => {
                c.batch_execute(sql).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn work_statistics_count_each_workers_own_records() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let li = t.login("lijun", "dev-l").await;
    let lead = t.login("zhaomin", "dev-z").await;
    let ms = now();
    let h = id();
    let patrol = |minutes: i64, metres: f64| {
        json!({"grid_code": DEMO_GRID, "started_at": ms - minutes * 60_000 - 1000,
               "ended_at": ms - 1000, "notes": null, "distance_m": metres,
               "duration_s": minutes * 60, "track": [[ms - 1000, 37.78, 107.40, 5.0]]})
    };
    let res = t
        .push(&wang.access_token, vec![
            change("household", &h, Op::Create, &hlc(ms, "w"), household_payload(DEMO_GRID)),
            change("visit", &id(), Op::Create, &hlc(ms + 1, "w"),
                json!({"household_id": h, "visited_at": ms - 5000, "mode": "in_person", "outcome": "fine", "notes": null})),
            change("visit", &id(), Op::Create, &hlc(ms + 2, "w"),
                json!({"household_id": h, "visited_at": ms - 4000, "mode": "phone", "outcome": "fine", "notes": null})),
            change("patrol", &id(), Op::Create, &hlc(ms + 3, "w"), patrol(40, 2500.0)),
            change("patrol", &id(), Op::Create, &hlc(ms + 4, "w"), patrol(2, 50.0)),
            change("case", &id(), Op::Create, &hlc(ms + 5, "w"), case_payload(DEMO_GRID)),
        ])
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:?}",
        res.results
    );
    let _ = li;
    let (st, body) = t
        .get("/console/data/workers?period=day", Some(&lead.access_token))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let line = |name: &str| {
        body["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["username"] == name)
            .cloned()
            .unwrap()
    };
    let w = line("wangfang");
    assert_eq!(w["figures"]["visits"]["in_person"], 1);
    assert_eq!(w["figures"]["visits"]["phone"], 1);
    assert_eq!(
        w["figures"]["patrols"], 1,
        "the 2-minute patrol does not count"
    );
    assert_eq!(w["figures"]["patrols_too_short"], 1);
    assert_eq!(w["figures"]["patrol_quota"], 2);
    assert_eq!(w["figures"]["patrol_km"], 2.5);
    assert_eq!(w["figures"]["cases_filed"], 1);
    assert!(w["last_sync"].as_i64().unwrap() >= ms - 60_000);
    let l = line("lijun");
    assert_eq!(l["figures"]["patrols"], 0);
    assert!(l["figures"]["visits"].as_object().unwrap().is_empty());
    // Summed per grid and community.
    let unit = |code: &str| {
        body["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["code"] == code)
            .cloned()
            .unwrap()
    };
    assert_eq!(unit(DEMO_GRID)["figures"]["patrols"], 1);
    assert_eq!(unit(DEMO_COMMUNITY)["workers"], 2);
    assert_eq!(unit(DEMO_COMMUNITY)["figures"]["cases_filed"], 1);
}
