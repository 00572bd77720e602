//! Targets for the sync server: arbitrary pushes, through the storage API and through HTTP.
//!
//! "The server trusts no phone": whatever a phone sends, the server answers each change in
//! order, never with a 500, never corrupting what it stores. One server (demo organisation, a
//! temporary data folder) lives for the whole process, so records pushed by earlier inputs are
//! there for later ones to edit, as on a real server.
//!
//! - [`server_push`]: the body decoded as a `PushRequest` and applied with `Storage::push`, as
//!   the push handler does; the `batch_id` picks the user (`…leader…` → 网格长 `zhaomin`,
//!   `…street…` → 街道 `liuqiang`, otherwise 网格员 `wangfang`). Checks the answer's shape,
//!   that pushing the batch again replays every applied change with the same revision, and that
//!   every applied record is readable by its author.
//! - [`server_http`]: the body posted to the real router in-process (`tower::ServiceExt::oneshot`),
//!   plain or zstd/gzip-encoded, or used as the pull query string; the answer must be JSON of the
//!   documented shape and never a 5xx.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use gridwalk_protocol::hlc::Stamp;
use gridwalk_protocol::{
    ErrorBody, Outcome, PullResponse, PushRequest, PushResponse, HEADER_PROTOCOL, MAX_BODY_BYTES,
    MAX_PUSH_CHANGES,
};
use gridwalk_sync_server::auth::token_hash;
use gridwalk_sync_server::{Config, Principal, Server, Storage};
use tower::ServiceExt;

/// The wall time pushes are judged at (2025-06-15): fixed, so an input means the same thing in
/// every run.
const NOW_MS: i64 = 1_750_000_000_000;

struct Fixture {
    storage: Arc<dyn Storage>,
    router: axum::Router,
    runtime: tokio::runtime::Runtime,
    worker: Principal,
    leader: Principal,
    street: Principal,
    worker_token: String,
}

/// A data folder for this process; folders of processes that are gone are removed first (the
/// fixture lives until the process exits, so nothing else would clean them up).
fn data_dir() -> PathBuf {
    const PREFIX: &str = "gridwalk-fuzz-server-";
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let alive = PathBuf::from("/proc").join(pid).exists();
            if !alive && PathBuf::from("/proc/self").exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    tmp.join(format!("{PREFIX}{}", std::process::id()))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = data_dir();
        let _ = std::fs::remove_dir_all(&dir);
        let mut config = Config::with_data_dir(&dir).argon2_light();
        // Long enough for the longest fuzz run: an expired token would turn every input into 401.
        config.access_ttl_secs = 7 * 24 * 3600;
        config.refresh_ttl_secs = config.access_ttl_secs;
        config.readers = 1;
        let server = Server::open(config).expect("open the fuzz server");
        server
            .admin()
            .seed_demo()
            .expect("seed the demo organisation");
        let storage = server.storage();
        let principal = |user: &str| -> (Principal, String) {
            let session = server
                .admin()
                .issue_session_for_tests(user, &format!("fuzz-{user}"))
                .expect("session");
            let now = chrono::Utc::now().timestamp_millis();
            let who = storage
                .authenticate(&token_hash(&session.access_token), now)
                .expect("authenticate")
                .expect("fresh session");
            (who, session.access_token)
        };
        let (worker, worker_token) = principal("wangfang");
        let (leader, _) = principal("zhaomin");
        let (street, _) = principal("liuqiang");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture {
            router: server.router(),
            storage,
            runtime,
            worker,
            leader,
            street,
            worker_token,
        }
    })
}

/// Applies a pushed batch through `Storage::push` and checks what the server answered and kept.
pub fn server_push(data: &[u8]) {
    let Ok(req) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    if req.changes.len() > MAX_PUSH_CHANGES {
        return; // refused with 413 before storage is reached
    }
    let fx = fixture();
    let who = if req.batch_id.contains("leader") {
        &fx.leader
    } else if req.batch_id.contains("street") {
        &fx.street
    } else {
        &fx.worker
    };
    let first = fx
        .storage
        .push(who, &req.changes, Default::default(), NOW_MS)
        .expect("a push never fails as a whole");
    check_answer(&req, &first);

    // The device did not get the answer and pushes the batch again.
    let second = fx
        .storage
        .push(who, &req.changes, Default::default(), NOW_MS)
        .expect("a retried push never fails as a whole");
    check_answer(&req, &second);
    for (a, b) in first.results.iter().zip(&second.results) {
        if a.outcome != Outcome::Rejected {
            let mut replay = a.clone();
            replay.replayed = true;
            assert_eq!(b, &replay, "a retried change is answered as the first time");
        }
    }

    // Every applied change left a record its author can read, at a revision at least the
    // answer's (a later change in the batch may have moved it on). A replayed answer is the
    // stored result of the first change with that id, which may have named another record.
    for (c, r) in req.changes.iter().zip(&first.results) {
        if r.outcome == Outcome::Rejected || r.replayed {
            continue;
        }
        let rec = fx
            .storage
            .get_record(who, &c.entity, &c.entity_id)
            .expect("read back")
            .unwrap_or_else(|| panic!("applied {} {} is not readable", c.entity, c.entity_id));
        assert!(Stamp::parse(&rec.hlc).is_ok(), "stored hlc {}", rec.hlc);
        assert!(rec.rev >= r.rev.unwrap_or(0));
    }
}

fn check_answer(req: &PushRequest, res: &PushResponse) {
    assert_eq!(
        res.results.len(),
        req.changes.len(),
        "one result per change"
    );
    assert!(
        Stamp::parse(&res.server_hlc).is_ok(),
        "server_hlc {}",
        res.server_hlc
    );
    for (c, r) in req.changes.iter().zip(&res.results) {
        assert_eq!(r.change_id, c.change_id, "results in request order");
        match r.outcome {
            Outcome::Rejected => {
                assert!(r.reason.is_some() && r.rev.is_none(), "{r:?}");
                assert!(r.conflicts.is_empty());
            }
            _ => assert!(r.reason.is_none() && r.rev.is_some_and(|v| v > 0), "{r:?}"),
        }
    }
}

/// Sends the body to the router in-process. The first byte picks how:
/// 0 plain JSON push; 1 the rest zstd-compressed here (a well-formed compressed push);
/// 2 the rest as a zstd body as is; 3 as a gzip body as is; 4 the rest as the pull query string.
pub fn server_http(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let push = |encoding: Option<&str>, bytes: Vec<u8>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/v1/sync/push")
            .header(HEADER_PROTOCOL, "1")
            .header(header::AUTHORIZATION, format!("Bearer {}", fx.worker_token))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(e) = encoding {
            b = b.header(header::CONTENT_ENCODING, e);
        }
        b.body(Body::from(bytes)).expect("request")
    };
    let (req, is_pull) = match mode % 5 {
        0 => (push(None, body.to_vec()), false),
        1 => {
            let Ok(z) = zstd::bulk::compress(body, 1) else {
                return;
            };
            (push(Some("zstd"), z), false)
        }
        2 => (push(Some("zstd"), body.to_vec()), false),
        3 => (push(Some("gzip"), body.to_vec()), false),
        _ => {
            let Ok(query) = std::str::from_utf8(body) else {
                return;
            };
            let Ok(req) = Request::builder()
                .method(Method::GET)
                .uri(format!("/v1/sync/pull?{query}"))
                .header(HEADER_PROTOCOL, "1")
                .header(header::AUTHORIZATION, format!("Bearer {}", fx.worker_token))
                .body(Body::empty())
            else {
                return; // not a URI: no client could send it
            };
            (req, true)
        }
    };
    let (status, bytes) = fx.runtime.block_on(async {
        let res = fx
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 4 * MAX_BODY_BYTES)
            .await
            .expect("answer body");
        (status, bytes)
    });
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status == StatusCode::OK {
        if is_pull {
            let page: PullResponse = serde_json::from_slice(&bytes).expect("a pull page");
            assert!(Stamp::parse(&page.server_hlc).is_ok());
        } else {
            let answer: PushResponse = serde_json::from_slice(&bytes).expect("a push answer");
            assert!(Stamp::parse(&answer.server_hlc).is_ok());
        }
    } else {
        let err: ErrorBody = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status} answer is not an ErrorBody ({e})"));
        assert!(!err.error.code.is_empty());
    }
}
