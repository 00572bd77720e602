//! Shared test harness: an in-process server on a free loopback port with the demo org.
#![allow(dead_code)]

use gridwalk_protocol::{Change, Op, PushRequest, PushResponse, Session, HEADER_PROTOCOL};
use gridwalk_sync_server::{Config, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

#[allow(unused_imports)]
pub use gridwalk_sync_server::admin::{DEMO_COMMUNITY, DEMO_GRID, DEMO_GRID_2, DEMO_PASSWORD};

pub struct TestServer {
    pub base: String,
    pub server: Server,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    /// The test's own PostgreSQL database (`GRIDWALK_TEST_BACKEND=postgres`), dropped last.
    _db: Option<gridwalk_sync_server::postgres::scratch::ScratchDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start() -> TestServer {
    start_with(|c| c).await
}

/// A server on SQLite in a temporary folder, or on a fresh PostgreSQL database when
/// `GRIDWALK_TEST_BACKEND=postgres` (server from `GRIDWALK_TEST_POSTGRES`, which must then be
/// set).
pub async fn start_with(f: impl FnOnce(Config) -> Config) -> TestServer {
    use gridwalk_sync_server::postgres::scratch;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(dir.path()).argon2_light();
    let db = if scratch::e2e_on_postgres() {
        let url = std::env::var(scratch::TEST_URL_VAR)
            .expect("GRIDWALK_TEST_BACKEND=postgres needs GRIDWALK_TEST_POSTGRES");
        let db = scratch::ScratchDb::create(&url).unwrap();
        config.database = Some(db.url.clone());
        config.database_pool = 8;
        Some(db)
    } else {
        None
    };
    let config = f(config);
    let server = Server::open(config).unwrap();
    server.admin().seed_demo().unwrap();
    serve_on_free_port(server, dir, db).await
}

/// Another instance on `config` (the database and blob directory of a running one), served on
/// its own port: what a load balancer would put next to it.
pub async fn start_instance(config: Config) -> TestServer {
    let server = Server::open(config).unwrap();
    serve_on_free_port(server, tempfile::tempdir().unwrap(), None).await
}

async fn serve_on_free_port(
    server: Server,
    dir: tempfile::TempDir,
    db: Option<gridwalk_sync_server::postgres::scratch::ScratchDb>,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = server.clone();
    tokio::spawn(async move {
        gridwalk_sync_server::serve(listener, s, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        base: format!("http://{addr}"),
        server,
        client: reqwest::Client::new(),
        _dir: dir,
        _db: db,
        stop: Some(tx),
    }
}

impl TestServer {
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(HEADER_PROTOCOL, "1");
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// POST JSON; returns status and JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let res = self
            .req(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let res = self.req(Method::GET, path, token).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn login(&self, user: &str, device: &str) -> Session {
        let (s, body) = self
            .post(
                "/v1/auth/login",
                None,
                &json!({"username": user, "password": DEMO_PASSWORD, "device_id": device}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn push(&self, token: &str, changes: Vec<Change>) -> PushResponse {
        let req = PushRequest {
            batch_id: uuid::Uuid::now_v7().to_string(),
            changes,
            cursor: None,
        };
        let (s, body) = self
            .post(
                "/v1/sync/push",
                Some(token),
                &serde_json::to_value(&req).unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// Pulls every page from `cursor`; returns records and the final cursor.
    pub async fn pull_all(&self, token: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
        let mut cursor = cursor.map(str::to_string);
        let mut out = Vec::new();
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/sync/pull?limit=50&cursor={c}"),
                None => "/v1/sync/pull?limit=50".to_string(),
            };
            let (s, body) = self.get(&path, Some(token)).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            out.extend(body["records"].as_array().unwrap().iter().cloned());
            cursor = Some(body["cursor"].as_str().unwrap().to_string());
            if !body["has_more"].as_bool().unwrap() {
                return (out, cursor.unwrap());
            }
        }
    }
}

pub fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A valid HLC stamp at `ms` from `node`.
pub fn hlc(ms: i64, node: &str) -> String {
    format!("{ms:015}.00000.{node}")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

pub fn change(entity: &str, entity_id: &str, op: Op, hlc: &str, payload: Value) -> Change {
    Change {
        change_id: id(),
        entity: entity.into(),
        entity_id: entity_id.into(),
        op,
        hlc: hlc.into(),
        payload: obj(payload),
        base: None,
    }
}

pub fn household_payload(grid: &str) -> Value {
    json!({
        "grid_code": grid, "community": "幸福社区", "building": "3栋", "unit": "2单元",
        "floor": 5, "room": "502", "address_text": null, "housing_type": "owned",
        "care_tier": "routine", "tags": [], "lat": 37.78, "lng": 107.4, "notes": null,
        "status": "active"
    })
}

pub fn resident_payload(household_id: &str) -> Value {
    json!({
        "household_id": household_id, "name": "张三", "id_number": null, "phone": "13800000000",
        "gender": "male", "birth_date": "1960-01-02", "relation": "head",
        "residency": "registered", "special_groups": ["elderly_alone"], "moved_in_on": null,
        "moved_out_on": null, "status": "active", "notes": null
    })
}

pub fn case_payload(grid: &str) -> Value {
    json!({
        "category_code": "02", "type_code": "0203", "urgency": "urgent",
        "description": "楼道电动车充电", "lat": 37.78, "lng": 107.4, "address": "3栋",
        "grid_code": grid, "outside_grid": false, "household_id": null, "patrol_id": null,
        "reporter": "王芳", "created_at": now() - 1000, "submitted_at": now(), "photos": []
    })
}

/// A small file that passes the server's JPEG header check (SOI, APP0, DQT, SOF0, SOS, EOI),
/// distinct per `seed`.
pub fn jpeg(seed: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    b.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend([0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01]);
    b.extend([
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x01, 0x01, 0x11, 0x00,
    ]);
    b.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    b.extend((0..2000u32).map(|i| ((i * 31 + u32::from(seed) * 7) % 250) as u8));
    b.extend([0xFF, 0xD9]);
    b
}

pub fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
