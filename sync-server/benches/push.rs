//! Push and pull throughput of the server over loopback (in-process server, real HTTP).
//!
//! Run: `cargo bench -p gridwalk-sync-server --bench push`. Prints records per second for
//! batches of 1000 mixed changes (households, residents, visits) and for paged pulls, plus the
//! size of a no-op pull answer. Target: ≥ 12,000 pushed records/s.

use std::time::Instant;

use gridwalk_protocol::{HEADER_PROTOCOL, MAX_PUSH_CHANGES};
use gridwalk_sync_server::{Config, Server};
use serde_json::{json, Value};

const BATCHES: usize = 30;

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::open(Config::with_data_dir(dir.path()).argon2_light()).expect("open");
    server.admin().seed_demo().expect("demo");
    let session = server
        .admin()
        .issue_session_for_tests("wangfang", "bench-device")
        .expect("session");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let s = server.clone();
    tokio::spawn(async move {
        let _ = gridwalk_sync_server::serve(listener, s, std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let token = session.access_token;
    let grid = gridwalk_sync_server::admin::DEMO_GRID;
    let visited_at = chrono::Utc::now().timestamp_millis() - 10_000_000;
    let mut ms = visited_at;
    let mut stamp = || {
        ms += 1;
        format!("{ms:015}.00000.bench")
    };

    // Bodies are built before timing starts: the figure is the server's, not the client's.
    let mut bodies = Vec::new();
    for b in 0..BATCHES {
        let mut changes: Vec<Value> = Vec::with_capacity(MAX_PUSH_CHANGES);
        while changes.len() + 3 <= MAX_PUSH_CHANGES {
            let h = id();
            changes.push(json!({"change_id": id(), "entity": "household", "entity_id": h,
                "op": "create", "hlc": stamp(), "payload": {"grid_code": grid, "community": "幸福社区",
                "building": "3栋", "unit": "2单元", "floor": 5, "room": "502",
                "housing_type": "rented", "care_tier": "attention", "tags": ["出租"],
                "lat": 37.78, "lng": 107.4, "notes": null, "status": "active"}}));
            changes.push(
                json!({"change_id": id(), "entity": "resident", "entity_id": id(),
                "op": "create", "hlc": stamp(), "payload": {"household_id": h, "name": "张三",
                "id_number": null, "phone": "13800000000", "gender": "male",
                "birth_date": "1960-01-02", "relation": "head", "residency": "registered",
                "special_groups": [], "moved_in_on": null, "moved_out_on": null,
                "status": "active", "notes": null}}),
            );
            changes.push(json!({"change_id": id(), "entity": "visit", "entity_id": id(),
                "op": "create", "hlc": stamp(), "payload": {"household_id": h,
                "visited_at": visited_at, "mode": "in_person", "outcome": "fine", "notes": "正常"}}));
        }
        bodies.push(
            serde_json::to_vec(&json!({"batch_id": format!("b{b}"), "changes": changes}))
                .expect("json"),
        );
    }
    let total: usize = BATCHES * (MAX_PUSH_CHANGES / 3 * 3);

    let started = Instant::now();
    for body in bodies {
        let res = client
            .post(format!("{base}/v1/sync/push"))
            .header(HEADER_PROTOCOL, "1")
            .header("content-type", "application/json")
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .expect("push");
        assert!(res.status().is_success());
        let _ = res.bytes().await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "push: {total} records in {secs:.2} s = {:.0} records/s (batches of {})",
        total as f64 / secs,
        MAX_PUSH_CHANGES / 3 * 3
    );

    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pulled = 0usize;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/v1/sync/pull?limit=2000&cursor={c}"),
            None => format!("{base}/v1/sync/pull?limit=2000"),
        };
        let v: Value = client
            .get(url)
            .header(HEADER_PROTOCOL, "1")
            .bearer_auth(&token)
            .send()
            .await
            .expect("pull")
            .json()
            .await
            .expect("json");
        pulled += v["records"].as_array().map_or(0, Vec::len);
        cursor = v["cursor"].as_str().map(str::to_string);
        if v["has_more"] != true {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "pull: {pulled} records in {secs:.2} s = {:.0} records/s (pages of 2000)",
        pulled as f64 / secs
    );

    let started = Instant::now();
    let n = 200;
    let mut size = 0;
    for _ in 0..n {
        let bytes = client
            .get(format!(
                "{base}/v1/sync/pull?cursor={}",
                cursor.as_deref().unwrap_or("")
            ))
            .header(HEADER_PROTOCOL, "1")
            .bearer_auth(&token)
            .send()
            .await
            .expect("pull")
            .bytes()
            .await
            .expect("body");
        size = bytes.len();
    }
    println!(
        "no-op sync: {size} bytes per answer, {:.2} ms per request",
        started.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
}
