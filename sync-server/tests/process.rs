//! The binary as a process: prints its address, survives SIGKILL with every acknowledged push.
//! On PostgreSQL (`GRIDWALK_TEST_BACKEND=postgres`) the process gets `--database` through its
//! environment variable, on a scratch database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use gridwalk_protocol::HEADER_PROTOCOL;
use serde_json::{json, Value};

fn start(data: &std::path::Path, database: Option<&str>) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridwalk-server"));
    if let Some(url) = database {
        cmd.env("GRIDWALK_SERVER_DATABASE", url);
    }
    let mut child = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--insecure-fast-hash",
        ])
        .env("GRIDWALK_SERVER_DATA", data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (child, format!("http://{addr}"))
}

fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> Value {
    let c = reqwest::blocking::Client::new();
    let mut r = c
        .post(format!("{base}{path}"))
        .header(HEADER_PROTOCOL, "1")
        .json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().unwrap()
}

#[test]
fn acknowledged_pushes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = gridwalk_sync_server::postgres::scratch::e2e_on_postgres().then(|| {
        let url = std::env::var("GRIDWALK_TEST_POSTGRES").unwrap();
        gridwalk_sync_server::postgres::scratch::ScratchDb::create(&url).unwrap()
    });
    let database = db.as_ref().map(|d| d.url.as_str());
    let (mut child, base) = start(dir.path(), database);
    let s = post(
        &base,
        "/v1/auth/login",
        None,
        &json!({"username": "wangfang", "password": "demo-pass", "device_id": "p1"}),
    );
    let token = s["access_token"].as_str().unwrap().to_string();
    let ms = chrono::Utc::now().timestamp_millis();
    let mut acked = Vec::new();
    for b in 0..5 {
        let changes: Vec<Value> = (0..50)
            .map(|i| {
                json!({"change_id": uuid::Uuid::now_v7().to_string(), "entity": "household",
                    "entity_id": uuid::Uuid::now_v7().to_string(), "op": "create",
                    "hlc": format!("{:015}.00000.p1", ms + b * 100 + i),
                    "payload": {"grid_code": "640323001001001", "community": "幸福社区",
                        "building": "1栋", "housing_type": "owned", "care_tier": "routine"}})
            })
            .collect();
        let res = post(
            &base,
            "/v1/sync/push",
            Some(&token),
            &json!({"batch_id": format!("b{b}"), "changes": changes}),
        );
        acked.extend(
            res["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["outcome"] == "applied")
                .map(|r| r["change_id"].as_str().unwrap().to_string()),
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), 250);

    let (mut child, base) = start(dir.path(), database);
    let s = post(
        &base,
        "/v1/auth/login",
        None,
        &json!({"username": "wangfang", "password": "demo-pass", "device_id": "p1"}),
    );
    let token = s["access_token"].as_str().unwrap();
    let res = reqwest::blocking::Client::new()
        .get(format!("{base}/v1/sync/pull?limit=2000"))
        .header(HEADER_PROTOCOL, "1")
        .bearer_auth(token)
        .send()
        .unwrap();
    let v: Value = res.json().unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 250);
    child.kill().unwrap();
    child.wait().unwrap();
}
