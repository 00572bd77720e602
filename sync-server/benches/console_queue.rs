//! The supervisors' case queue at scale: server time of the queue page (`GET /console/queue`,
//! the queries, the counts per status and the rendered HTML) with 100,000 cases, for the filters
//! supervisors use, first page and the keyset page after it.
//!
//! Run: `cargo bench -p gridwalk-sync-server --bench console_queue` (seeding 100,000 cases
//! through the real push and 310,000 case actions takes minutes: 9 on a busy 2-core machine).
//! `GRIDWALK_BENCH_QUICK=1` seeds 2,000 (the test command's smoke run). Target: p99 ≤ 100 ms
//! per page.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use gridwalk_protocol::{Change, Op, Role};
use gridwalk_sync_server::cases::{Action, ActionRequest};
use gridwalk_sync_server::{Config, Principal, Server, UserSpec};
use serde_json::json;
use tower::ServiceExt;

const TARGET_P99_MS: f64 = 100.0;

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn principal(server: &Server, user: &str) -> Principal {
    let s = server
        .admin()
        .issue_session_for_tests(user, &format!("bench-{user}"))
        .expect("session");
    server
        .storage()
        .authenticate(
            &gridwalk_sync_server::auth::token_hash(&s.access_token),
            now_ms(),
        )
        .expect("auth")
        .expect("principal")
}

/// A console cookie for `user` (a session row made directly, as sign-in would).
fn console_cookie(server: &Server, user: &str) -> String {
    let u = server
        .storage()
        .login_user(user)
        .expect("user")
        .expect("exists");
    let token = gridwalk_sync_server::auth::new_token();
    let now = now_ms();
    server
        .storage()
        .console_start_session(
            &u.id,
            &gridwalk_sync_server::auth::token_hash(&token),
            "bench-csrf",
            now,
            now + 3_600_000,
        )
        .expect("console session");
    format!("gw_console={token}")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("GRIDWALK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n_cases: usize = if quick { 2_000 } else { 100_000 };
    let iterations = if quick { 10 } else { 100 };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::open(Config::with_data_dir(dir.path()).argon2_light()).expect("open");
    server.admin().seed_demo().expect("demo");
    let storage = server.storage();

    // One worker per demo grid, each filing cases in their grid.
    let grids: Vec<String> = gridwalk_sync_server::admin::demo_bootstrap()
        .org
        .into_iter()
        .filter(|u| u.level == "grid")
        .map(|u| u.code)
        .collect();
    let mut workers = Vec::new();
    for (i, g) in grids.iter().enumerate() {
        let name = format!("bench{i}");
        server
            .admin()
            .add_user(&UserSpec {
                username: name.clone(),
                display_name: format!("网格员{i}"),
                role: Role::GridWorker,
                org_code: g.clone(),
                grids: Vec::new(),
                password: "bench-pass".into(),
            })
            .expect("worker");
        workers.push(principal(&server, &name));
    }

    let started = Instant::now();
    let types = gridwalk_domain::taxonomy::CASE_TYPES;
    let urgencies = ["normal", "normal", "normal", "urgent", "emergency"];
    let base = now_ms() - 6 * 86_400_000;
    let mut ids: Vec<String> = Vec::with_capacity(n_cases);
    let mut stamp = base;
    let per_batch = 500;
    let mut k = 0usize;
    while k < n_cases {
        let w = &workers[(k / per_batch) % workers.len()];
        let grid = w.grids[0].clone();
        let mut changes = Vec::with_capacity(per_batch);
        for _ in 0..per_batch.min(n_cases - k) {
            let t = types[k % types.len()];
            let c = id();
            stamp += 1;
            let at = base + (k as i64 % 5000) * 60_000;
            let payload = json!({
                "category_code": &t.code[..2], "type_code": t.code,
                "urgency": urgencies[k % urgencies.len()],
                "description": format!("第{k}号事件"), "lat": 37.78, "lng": 107.4,
                "address": format!("幸福小区{}栋", k % 40 + 1), "grid_code": grid,
                "outside_grid": false, "household_id": null, "patrol_id": null,
                "reporter": null, "created_at": at, "submitted_at": at, "photos": []
            });
            changes.push(Change {
                change_id: id(),
                entity: "case".into(),
                entity_id: c.clone(),
                op: Op::Create,
                hlc: format!("{stamp:015}.00000.bench"),
                payload: payload.as_object().cloned().expect("object"),
                base: None,
            });
            ids.push(c);
            k += 1;
        }
        let res = storage
            .push(w, &changes, Default::default(), now_ms())
            .expect("push");
        assert!(
            res.results
                .iter()
                .all(|r| r.outcome == gridwalk_protocol::Outcome::Applied),
            "cases applied"
        );
    }
    let pushed = started.elapsed();

    // Move cases along the loop at past times, so statuses and deadline lights are mixed.
    let district = principal(&server, "gaojian");
    let chain = [
        Action::Accept,
        Action::Dispatch,
        Action::Handle,
        Action::RequestVerification,
        Action::Verify,
        Action::Close,
        Action::Archive,
    ];
    let mut actions = 0usize;
    for (i, c) in ids.iter().enumerate() {
        let steps = match i % 10 {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 | 9 => 3,
            5 => 4,
            6 => 5,
            7 => 6,
            _ => 7,
        };
        let at = base + (i as i64 % 7000) * 60_000;
        for a in &chain[..steps] {
            let req = ActionRequest {
                action: *a,
                assignee: Some("城管中队".into()),
                ..Default::default()
            };
            storage
                .case_action(&district, c, &req, at)
                .expect("action")
                .expect("allowed");
            actions += 1;
        }
    }
    println!(
        "seeded {n_cases} cases in {:.1} s ({:.1} s pushing, {actions} case actions)",
        started.elapsed().as_secs_f64(),
        pushed.as_secs_f64()
    );

    let router = server.router();
    let cookies = [
        ("district", console_cookie(&server, "gaojian")),
        ("street", console_cookie(&server, "liuqiang")),
        ("leader", console_cookie(&server, "zhaomin")),
    ];
    let leader_reporter = workers[0].user_id.clone();
    let scenarios: Vec<(&str, usize, String)> = vec![
        ("district, all cases", 0, String::new()),
        ("street, all cases", 1, String::new()),
        ("leader (community), all cases", 2, String::new()),
        ("district, status = handling", 0, "status=handling".into()),
        ("district, overdue only", 0, "overdue=1".into()),
        (
            "district, category 02 + urgent",
            0,
            "category=02&urgency=urgent".into(),
        ),
        ("leader, one grid", 2, format!("grid={}", grids[0])),
        (
            "leader, one reporter",
            2,
            format!("reporter={leader_reporter}"),
        ),
        ("leader, closed", 2, "status=closed".into()),
    ];
    println!(
        "case queue page (GET /console/queue: queries, counts, HTML), {n_cases} cases, {iterations} runs × 2 pages:"
    );
    let mut worst: f64 = 0.0;
    for (name, who, query) in &scenarios {
        let cookie = &cookies[*who].1;
        let mut times = Vec::with_capacity(iterations * 2);
        let mut rows_seen = 0usize;
        for _ in 0..iterations {
            let mut path = format!("/console/queue?{query}");
            for _page in 0..2 {
                let req = Request::get(&path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .expect("request");
                let t0 = Instant::now();
                let res = router.clone().oneshot(req).await.expect("answer");
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), 16 << 20)
                    .await
                    .expect("body");
                times.push(t0.elapsed());
                assert_eq!(status, StatusCode::OK, "{name}");
                let html = String::from_utf8_lossy(&body);
                rows_seen += html.matches("<tr data-case=").count();
                // Follow the page's own "next" link (keyset).
                match html
                    .split("rel=\"next\" href=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                {
                    Some(next) => path = next.replace("&amp;", "&"),
                    None => break,
                }
            }
        }
        times.sort();
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        worst = worst.max(p99);
        println!(
            "  {name:<34} p50 {p50:6.1} ms  p99 {p99:6.1} ms  ({} rows/page avg)",
            rows_seen / times.len().max(1)
        );
    }
    println!(
        "worst p99 {worst:.1} ms (target ≤ {TARGET_P99_MS:.0} ms): {}",
        if worst <= TARGET_P99_MS {
            "met"
        } else {
            "MISSED"
        }
    );
}
