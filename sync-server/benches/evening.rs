//! The evening peak: N grid workers' phones each sign in, push a day's work and pull, arriving
//! evenly over a window (all devices sync within it), against a real server over loopback HTTP.
//!
//! A day's work is 50 changes, every one valid under the domain rules the server checks: 35
//! visits, a patrol with a 120-fix track, a case found on it, three photo records of the case
//! (metadata only: the bytes go through `/v1/uploads`, benched in `photo_upload`), five new
//! households and five edits of households the worker already had.
//!
//! Afterwards it checks the database: every acknowledged change is stored exactly once (counts
//! per kind equal seeded + acknowledged; every acknowledged id present; `applied_changes` holds
//! each change id once). Prints p50/p99/max of sign-in, push and pull, throughput, the bytes of
//! the pull after the push, errors, refused, lost and duplicated changes, the machine's load,
//! where the server's writes spent their time (waiting for the writer, inside the transaction,
//! committing), and the CPU budget: CPU seconds of the server instances, the generator and
//! PostgreSQL during the evening (from `/proc`), per device, against what the machine's cores
//! give at the arrival rate.
//!
//! Run: `cargo bench -p gridwalk-sync-server --bench evening [-- FLAGS]`. Settings (flags, or
//! the environment variables in brackets):
//! `--devices N` (`GRIDWALK_EVENING_DEVICES`, default 1000), `--window S`
//! (`GRIDWALK_EVENING_WINDOW_S`, default 600: the issue's "all devices within ten minutes"; 0 =
//! all at once), `--argon2 default|light` (`GRIDWALK_EVENING_ARGON2`: the server's real password
//! hashing, or the cheapest), `--backend sqlite|postgres` (`GRIDWALK_EVENING_BACKEND`, default
//! sqlite), `--instances N` (`GRIDWALK_EVENING_INSTANCES`, default 1; PostgreSQL only): N
//! server instances on the one database and one shared blob directory, each on its own port and
//! runtime, device *i* talking to instance *i mod N* (a round-robin load balancer); `--pool N`
//! (`GRIDWALK_EVENING_POOL`): PostgreSQL connections per instance (default the server's, 16);
//! `--writers N` (`GRIDWALK_EVENING_WRITERS`): sync write transactions at once per instance
//! (default the server's, 2; the pool size turns the gate off).
//! PostgreSQL: a fresh database on the server of `GRIDWALK_TEST_POSTGRES`
//! (`scripts/setup-postgres.sh --print-url`), dropped afterwards.
//! `GRIDWALK_BENCH_QUICK=1`: 40 devices over 5 s with light hashing (a smoke run; figures not
//! judged).
//! Targets: SQLite, 1,000 devices: p99 push ≤ 200 ms; PostgreSQL, two instances, 10,000
//! devices: p99 push ≤ 300 ms and pull ≤ 300 ms; always 0 errors, 0 lost, 0 duplicated.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwalk_protocol::{
    Change, LoginRequest, Op, Outcome, PullResponse, PushRequest, PushResponse, Session,
    HEADER_PROTOCOL,
};
use gridwalk_sync_server::config::Argon2Config;
use gridwalk_sync_server::postgres::scratch::{self, ScratchDb};
use gridwalk_sync_server::postgres::PgStorage;
use gridwalk_sync_server::storage::{NewUser, WriteStats};
use gridwalk_sync_server::{conformance, Config, Server};
use serde_json::{json, Map, Value};

type BenchResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PASSWORD: &str = "evening-pass-2026";
const SEEDED_PER_GRID: usize = 20;
const DISTRICT: &str = "640399";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Settings {
    devices: usize,
    window: Duration,
    light: bool,
    quick: bool,
    backend: Backend,
    instances: usize,
    /// PostgreSQL connections per instance (`Config.database_pool` when not given).
    pool: Option<usize>,
    /// Sync write transactions at once per instance (`Config.database_writers` when not given).
    writers: Option<usize>,
}

/// A setting from `--flag value` on the command line, else the environment variable.
fn setting(args: &[String], flag: &str, var: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(var).ok())
}

fn settings() -> BenchResult<Settings> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = std::env::var("GRIDWALK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let num = |flag: &str, name: &str, default: u64| -> BenchResult<u64> {
        match setting(&args, flag, name) {
            Some(v) => Ok(v
                .parse()
                .map_err(|_| format!("{flag} / {name}: not a number: {v}"))?),
            None => Ok(default),
        }
    };
    let backend = match setting(&args, "--backend", "GRIDWALK_EVENING_BACKEND").as_deref() {
        None | Some("sqlite") => Backend::Sqlite,
        Some("postgres") => Backend::Postgres,
        Some(other) => return Err(format!("--backend: sqlite or postgres, not {other}").into()),
    };
    let instances = num("--instances", "GRIDWALK_EVENING_INSTANCES", 1)? as usize;
    if instances == 0 || instances > 16 || (backend == Backend::Sqlite && instances != 1) {
        return Err(
            "--instances: 1 on SQLite (one process owns the file), 1-16 on PostgreSQL".into(),
        );
    }
    let light = match setting(&args, "--argon2", "GRIDWALK_EVENING_ARGON2").as_deref() {
        _ if quick => true,
        Some("light") => true,
        Some("default") | None => false,
        Some(other) => return Err(format!("--argon2: {other}").into()),
    };
    let (devices, window) = if quick { (40, 5) } else { (1000, 600) };
    Ok(Settings {
        devices: num("--devices", "GRIDWALK_EVENING_DEVICES", devices)? as usize,
        window: Duration::from_secs(num("--window", "GRIDWALK_EVENING_WINDOW_S", window)?),
        light,
        quick,
        backend,
        instances,
        pool: match setting(&args, "--pool", "GRIDWALK_EVENING_POOL") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("--pool: not a number: {v}"))?,
            ),
            None => None,
        },
        writers: match setting(&args, "--writers", "GRIDWALK_EVENING_WRITERS") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("--writers: not a number: {v}"))?,
            ),
            None => None,
        },
    })
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Grid `i`'s code: one street per 100 grids, one community per 10.
fn grid_code(i: usize) -> String {
    format!(
        "{DISTRICT}{:03}{:03}{:03}",
        i / 100 + 1,
        i / 10 % 10 + 1,
        i % 10 + 1
    )
}

fn org(devices: usize) -> Vec<gridwalk_protocol::OrgUnit> {
    let unit = |code: String, level: &str, parent: Option<String>| gridwalk_protocol::OrgUnit {
        name: format!("{level} {code}"),
        code,
        level: level.into(),
        parent_code: parent,
        boundary: None,
    };
    let mut out = vec![unit(DISTRICT.into(), "district", None)];
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..devices {
        let g = grid_code(i);
        let street = g[..9].to_string();
        let community = g[..12].to_string();
        if seen.insert(street.clone()) {
            out.push(unit(street.clone(), "street", Some(DISTRICT.into())));
        }
        if seen.insert(community.clone()) {
            out.push(unit(community.clone(), "community", Some(street)));
        }
        out.push(unit(g, "grid", Some(community)));
    }
    out
}

fn stamp(ms: i64, node: &str) -> String {
    format!("{ms:015}.00000.{node}")
}

fn change(entity: &str, entity_id: &str, op: Op, hlc: String, payload: Value) -> Change {
    Change {
        change_id: id(),
        entity: entity.into(),
        entity_id: entity_id.into(),
        op,
        hlc,
        payload: obj(payload),
        base: None,
    }
}

fn household_payload(grid: &str, room: usize) -> Value {
    json!({"grid_code": grid, "community": "幸福社区", "building": format!("{}栋", room % 9 + 1),
        "unit": "1单元", "floor": room % 20 + 1, "room": format!("{room}"),
        "housing_type": "owned", "care_tier": "routine", "tags": [], "lat": 37.78, "lng": 107.4,
        "notes": null, "status": "active"})
}

/// One worker's day: 50 valid changes over the households they already had.
fn day_of_work(grid: &str, node: &str, households: &[String]) -> Vec<Change> {
    let day_start = now_ms() - 9 * 3600 * 1000;
    let clock = std::cell::Cell::new(day_start);
    let tick = |by: i64| {
        clock.set(clock.get() + by);
        stamp(clock.get(), node)
    };
    let mut out = Vec::with_capacity(50);
    let mut rng = fastrand_like(node);
    // Five new households, then the rounds: 35 visits over old and new homes.
    let mut homes = households.to_vec();
    for k in 0..5 {
        let h = id();
        out.push(change(
            "household",
            &h,
            Op::Create,
            tick(60_000),
            household_payload(grid, 900 + k),
        ));
        homes.push(h);
    }
    for k in 0..35 {
        let h = &homes[(rng() as usize + k) % homes.len()];
        let at = clock.get() + 1000;
        out.push(change(
            "visit",
            &id(),
            Op::Create,
            tick(300_000),
            json!({"household_id": h, "visited_at": at, "mode": "in_person",
                "outcome": if k % 7 == 0 { "needs_follow_up" } else { "fine" },
                "notes": "入户走访，情况正常"}),
        ));
    }
    // Five edits of households they already had (a field nobody else touched today).
    for h in households.iter().take(5) {
        out.push(change(
            "household",
            h,
            Op::Update,
            tick(60_000),
            json!({"notes": format!("{node} 更新了联系方式")}),
        ));
    }
    // The patrol with its track, and a case found on it with three photos.
    let patrol = id();
    let started = clock.get() - 2 * 3600 * 1000;
    let track: Vec<Value> = (0..120)
        .map(|k| {
            json!([
                started + k * 60_000,
                37.78 + k as f64 * 0.0001,
                107.4 + k as f64 * 0.0001,
                8.0
            ])
        })
        .collect();
    out.push(change(
        "patrol",
        &patrol,
        Op::Create,
        tick(60_000),
        json!({"grid_code": grid, "started_at": started, "ended_at": started + 7_140_000,
            "distance_m": 1840.5, "duration_s": 7140, "notes": "例行巡查", "track": track}),
    ));
    let case = id();
    let found = clock.get();
    out.push(change(
        "case",
        &case,
        Op::Create,
        tick(60_000),
        json!({"type_code": "0104", "category_code": "01", "urgency": "normal",
            "grid_code": grid, "description": "楼道堆放杂物，存在治安隐患", "lat": 37.781,
            "lng": 107.401, "household_id": households[0], "patrol_id": patrol,
            "created_at": found, "submitted_at": found, "status": "submitted"}),
    ));
    for k in 0..3 {
        let sha: String = (0..64)
            .map(|i| char::from(b"0123456789abcdef"[(rng() as usize + i) % 16]))
            .collect();
        out.push(change(
            "photo",
            &id(),
            Op::Create,
            tick(1000),
            json!({"owner_kind": "case", "owner_id": case, "sha256": sha,
                "byte_len": 420_000 + k, "mime": "image/jpeg", "taken_at": found,
                "width": 1920, "height": 1440, "lat": 37.781, "lng": 107.401}),
        ));
    }
    out
}

/// A small deterministic generator per device (no shared state between devices).
fn fastrand_like(seed: &str) -> impl FnMut() -> u64 {
    let mut x: u64 = seed.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[derive(Default)]
struct DeviceOutcome {
    login_ms: Option<f64>,
    push_ms: Vec<f64>,
    pull_ms: Vec<f64>,
    pull_bytes: u64,
    errors: Vec<String>,
    refused: usize,
    /// entity → ids acknowledged.
    acked: Vec<(String, String)>,
    acked_changes: usize,
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(T, u64), String> {
        let res = req
            .header(HEADER_PROTOCOL, "1")
            .send()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| format!("body: {e}"))?;
        if !status.is_success() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        let n = body.len() as u64;
        Ok((serde_json::from_slice(&body).map_err(|e| e.to_string())?, n))
    }

    async fn login(&self, user: &str, device: &str) -> Result<Session, String> {
        let req = LoginRequest {
            username: user.into(),
            password: PASSWORD.into(),
            device_id: device.into(),
            device_name: None,
            hand_over: false,
        };
        Ok(self
            .send(
                self.http
                    .post(format!("{}/v1/auth/login", self.base))
                    .json(&req),
            )
            .await?
            .0)
    }

    async fn push(&self, token: &str, req: &PushRequest) -> Result<PushResponse, String> {
        Ok(self
            .send(
                self.http
                    .post(format!("{}/v1/sync/push", self.base))
                    .bearer_auth(token)
                    .json(req),
            )
            .await?
            .0)
    }

    async fn pull(&self, token: &str, cursor: Option<&str>) -> Result<(PullResponse, u64), String> {
        let mut url = format!("{}/v1/sync/pull?limit=500", self.base);
        if let Some(c) = cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        self.send(self.http.get(url).bearer_auth(token)).await
    }
}

/// Pulls until the feed is exhausted; returns the cursor, per-request latencies and bytes.
async fn pull_all(
    client: &Client,
    token: &str,
    mut cursor: Option<String>,
    latencies: &mut Vec<f64>,
) -> Result<(Option<String>, u64), String> {
    let mut bytes = 0;
    loop {
        let t = Instant::now();
        let (page, n) = client.pull(token, cursor.as_deref()).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes += n;
        cursor = Some(page.cursor);
        if !page.has_more {
            return Ok((cursor, bytes));
        }
    }
}

/// One device's evening: sign in, push (retrying a failed request with the same changes, as the
/// phone does), pull.
async fn evening(
    client: Arc<Client>,
    user: String,
    device: String,
    changes: Vec<Change>,
    cursor: Option<String>,
) -> DeviceOutcome {
    let mut out = DeviceOutcome::default();
    let t = Instant::now();
    let session = match client.login(&user, &device).await {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(format!("login: {e}"));
            return out;
        }
    };
    out.login_ms = Some(t.elapsed().as_secs_f64() * 1000.0);
    let token = session.access_token;
    let req = PushRequest {
        batch_id: id(),
        changes,
        cursor: cursor.clone(),
    };
    let mut answer = None;
    for attempt in 0..3 {
        let t = Instant::now();
        match client.push(&token, &req).await {
            Ok(r) => {
                out.push_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                answer = Some(r);
                break;
            }
            Err(e) => {
                out.errors.push(format!("push attempt {attempt}: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let Some(answer) = answer else {
        return out;
    };
    for (c, r) in req.changes.iter().zip(&answer.results) {
        match r.outcome {
            Outcome::Applied | Outcome::Merged => {
                out.acked_changes += 1;
                if c.op == Op::Create {
                    out.acked.push((c.entity.clone(), c.entity_id.clone()));
                }
            }
            _ => {
                out.refused += 1;
                if out.refused == 1 {
                    out.errors
                        .push(format!("refused {}: {:?}", c.entity, r.reason));
                }
            }
        }
    }
    match pull_all(&client, &token, cursor, &mut out.pull_ms).await {
        Ok((_, bytes)) => out.pull_bytes = bytes,
        Err(e) => out.errors.push(format!("pull: {e}")),
    }
    out
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn line(name: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{name}: n {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.99),
        pct(&v, 1.0)
    )
}

fn main() {
    match run() {
        Ok(0) => {}
        Ok(failures) => {
            eprintln!("evening bench: {failures} check(s) failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("evening bench failed: {e}");
            std::process::exit(1);
        }
    }
}

fn run() -> BenchResult<usize> {
    let s = settings()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::with_data_dir(dir.path());
    if s.light {
        config = config.argon2_light();
    }
    if let Ok(v) = std::env::var("GRIDWALK_EVENING_GROUP") {
        config.push_group_limit = v
            .parse()
            .map_err(|_| format!("GRIDWALK_EVENING_GROUP: {v}"))?;
    }
    // Every phone of the load generator comes from one loopback address: the per-address
    // sign-in rule (meant for one guesser) is widened; the per-account rule stays.
    config.login_throttle.address.max_failures = 1_000_000;
    // PostgreSQL: a database of its own, dropped at the end; the instances share it and one
    // blob directory.
    let scratch_db = match s.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let url = scratch::test_url("evening bench")
                .ok_or("--backend postgres needs GRIDWALK_TEST_POSTGRES")?;
            let db = ScratchDb::create(&url)?;
            config.database = Some(db.url.clone());
            config.blob_dir = Some(dir.path().join("shared"));
            if let Some(n) = s.pool {
                config.database_pool = n;
            }
            if let Some(n) = s.writers {
                config.database_writers = n;
            }
            Some(db)
        }
    };
    let argon = config.argon2;
    let servers: Vec<Server> = (0..s.instances)
        .map(|_| Server::open(config.clone()))
        .collect::<Result<_, _>>()?;
    let server = servers[0].clone();
    let storage = server.storage();
    println!(
        "evening bench: {} devices over {} s on {} ({} instance{}), argon2 {}, {} (load {}){}",
        s.devices,
        s.window.as_secs(),
        match s.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        },
        s.instances,
        if s.instances == 1 { "" } else { "s" },
        if s.light { "light" } else { "default" },
        match s.backend {
            Backend::Sqlite => format!(
                "group commit up to {} pushes",
                server.config().push_group_limit
            ),
            Backend::Postgres => format!(
                "{} connections and {} writers per instance",
                server.config().database_pool,
                server.config().database_writers
            ),
        },
        load(),
        if s.quick { " (quick)" } else { "" }
    );

    // --- Setup (untimed): the organisation, one worker per grid, 20 households per grid, and
    // each device's cursor from its last sync.
    let setup = Instant::now();
    storage.put_org_units(&org(s.devices))?;
    let hash = gridwalk_sync_server::auth::Passwords::new(if s.light {
        Argon2Config {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
    } else {
        argon
    })
    .hash(PASSWORD)?;
    // Four threads at once (untimed, but 10,000 workers one by one take minutes).
    let seed_one = |i: usize| -> BenchResult<Vec<String>> {
        let user = format!("w{i:05}");
        storage.add_user(
            &NewUser {
                username: user.clone(),
                display_name: format!("网格员{i}"),
                role: gridwalk_protocol::Role::GridWorker,
                org_code: grid_code(i),
                grids: Vec::new(),
                password_hash: hash.clone(),
            },
            now_ms(),
        )?;
        let who = conformance::principal(&*storage, &user, &format!("phone-{i}"))?;
        let grid = grid_code(i);
        let mut ms = now_ms() - 30 * 24 * 3600 * 1000;
        let changes: Vec<Change> = (0..SEEDED_PER_GRID)
            .map(|k| {
                ms += 1000;
                change(
                    "household",
                    &id(),
                    Op::Create,
                    stamp(ms, "seed"),
                    household_payload(&grid, k),
                )
            })
            .collect();
        let res = storage.push(&who, &changes, Default::default(), now_ms())?;
        if res.results.iter().any(|r| r.outcome != Outcome::Applied) {
            return Err(format!("seed refused: {:?}", res.results[0].reason).into());
        }
        Ok(changes.into_iter().map(|c| c.entity_id).collect())
    };
    const SEEDERS: usize = 4;
    let mut seeded: Vec<Vec<String>> = vec![Vec::new(); s.devices];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SEEDERS)
            .map(|w| {
                let seed_one = &seed_one;
                let devices = s.devices;
                scope.spawn(move || {
                    (w..devices)
                        .step_by(SEEDERS)
                        .map(|i| Ok((i, seed_one(i)?)))
                        .collect::<BenchResult<Vec<_>>>()
                })
            })
            .collect();
        for w in workers {
            for (i, ids) in w.join().map_err(|_| "a seeding thread panicked")?? {
                seeded[i] = ids;
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    // Each instance on its own port and its own runtime (its own blocking pool), as separate
    // processes would be; the phones' client on a runtime of its own.
    let mut bases = Vec::new();
    let mut runtimes = Vec::new();
    for srv in &servers {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        bases.push(format!("http://{}", listener.local_addr()?));
        let srt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("server")
            .enable_all()
            .build()?;
        let srv = srv.clone();
        srt.spawn(async move {
            if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                let _ = gridwalk_sync_server::serve(l, srv, std::future::pending()).await;
            }
        });
        runtimes.push(srt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(PHONES)
        .enable_all()
        .build()?;
    let clients: Vec<Arc<Client>> = bases
        .into_iter()
        .map(|base| {
            Ok::<_, reqwest::Error>(Arc::new(Client {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()?,
                base,
            }))
        })
        .collect::<Result<_, _>>()?;
    let client_of = |i: usize| clients[i % clients.len()].clone();
    // Yesterday's sync: every device's cursor (a session issued without hashing, untimed).
    let admin = server.admin();
    let cursors: Vec<Option<String>> = rt.block_on(async {
        let mut out = Vec::with_capacity(s.devices);
        // Sixteen devices at a time.
        for first in (0..s.devices).step_by(16) {
            let mut pulls = Vec::new();
            for i in first..(first + 16).min(s.devices) {
                let session = admin
                    .issue_session_for_tests(&format!("w{i:05}"), &format!("phone-{i}"))
                    .map_err(|e| e.to_string())?;
                let client = client_of(i);
                pulls.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    pull_all(&client, &session.access_token, None, &mut lat)
                        .await
                        .map(|(cursor, _)| cursor)
                }));
            }
            for p in pulls {
                out.push(p.await.map_err(|e| e.to_string())??);
            }
        }
        Ok::<_, String>(out)
    })?;
    let db = match s.backend {
        Backend::Sqlite => Db::Sqlite(server.config().db_path()),
        Backend::Postgres => Db::Postgres(Box::new(PgStorage::open(
            server.config().database.as_deref().unwrap_or_default(),
            2,
        )?)),
    };
    let seeded_counts = db.count_by_entity()?;
    let applied_before = db.count_applied()?;
    println!(
        "setup: {} grids, {} households in {:.1} s",
        s.devices,
        s.devices * SEEDED_PER_GRID,
        setup.elapsed().as_secs_f64()
    );

    // --- The evening.
    let days: Vec<Vec<Change>> = (0..s.devices)
        .map(|i| day_of_work(&grid_code(i), &format!("d{i}"), &seeded[i]))
        .collect();
    let per_device = days.first().map_or(0, Vec::len);
    let load_start = load();
    let write_stats = || {
        servers.iter().fold(WriteStats::default(), |a, srv| {
            let w = srv.storage().write_stats();
            WriteStats {
                writes: a.writes + w.writes,
                wait_ns: a.wait_ns + w.wait_ns,
                work_ns: a.work_ns + w.work_ns,
                commit_ns: a.commit_ns + w.commit_ns,
                db_ns: a.db_ns + w.db_ns,
                statements: a.statements + w.statements,
                grouped_writes: a.grouped_writes + w.grouped_writes,
                grouped_pushes: a.grouped_pushes + w.grouped_pushes,
            }
        })
    };
    let stats0 = write_stats();
    let cpu0 = Cpu::now();
    let t0 = Instant::now();
    let gap = s.window.as_secs_f64() / s.devices.max(1) as f64;
    let outcomes: Vec<DeviceOutcome> = rt.block_on(async {
        let mut tasks = Vec::with_capacity(s.devices);
        for (i, (changes, cursor)) in days.into_iter().zip(cursors).enumerate() {
            let client = client_of(i);
            let at = t0 + Duration::from_secs_f64(gap * i as f64);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                evening(
                    client,
                    format!("w{i:05}"),
                    format!("phone-{i}"),
                    changes,
                    cursor,
                )
                .await
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| DeviceOutcome {
                errors: vec![format!("task: {e}")],
                ..DeviceOutcome::default()
            }));
        }
        out
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = Cpu::now().since(&cpu0);
    let load_end = load();

    // --- Figures.
    let pushes: Vec<f64> = outcomes.iter().flat_map(|o| o.push_ms.clone()).collect();
    let pulls: Vec<f64> = outcomes.iter().flat_map(|o| o.pull_ms.clone()).collect();
    let logins: Vec<f64> = outcomes.iter().filter_map(|o| o.login_ms).collect();
    let errors: usize = outcomes.iter().map(|o| o.errors.len()).sum();
    let refused: usize = outcomes.iter().map(|o| o.refused).sum();
    let acked_changes: usize = outcomes.iter().map(|o| o.acked_changes).sum();
    println!("{}", line("sign-in", logins));
    // The issue's targets: SQLite p99 push ≤ 200 ms; PostgreSQL p99 push and pull ≤ 300 ms.
    let (push_target, pull_target) = match s.backend {
        Backend::Sqlite => (200.0, None),
        Backend::Postgres => (300.0, Some(300.0)),
    };
    let p99 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        pct(&v, 0.99)
    };
    let verdict = |p: f64, target: f64| {
        if p <= target {
            format!("ok, target {target} ms")
        } else {
            format!("MISS, target {target} ms")
        }
    };
    let push_p99 = p99(&pushes);
    println!(
        "{} [{}]",
        line(&format!("push ({per_device} changes)"), pushes),
        verdict(push_p99, push_target)
    );
    let pull_p99 = p99(&pulls);
    match pull_target {
        Some(t) => println!("{} [{}]", line("pull", pulls), verdict(pull_p99, t)),
        None => println!("{}", line("pull", pulls)),
    }
    let mut pull_bytes: Vec<f64> = outcomes.iter().map(|o| o.pull_bytes as f64).collect();
    pull_bytes.sort_by(f64::total_cmp);
    println!(
        "pull after the push: p50 {:.0} B, max {:.0} B per device (bodies)",
        pct(&pull_bytes, 0.5),
        pct(&pull_bytes, 1.0)
    );
    println!(
        "throughput: {acked_changes} changes acknowledged in {elapsed:.1} s = {:.0} changes/s, {:.1} devices/s",
        acked_changes as f64 / elapsed,
        s.devices as f64 / elapsed
    );
    println!("load during the run: {load_start} at start, {load_end} at end");
    let (w, w0) = (write_stats(), stats0);
    let w = WriteStats {
        writes: w.writes - w0.writes,
        wait_ns: w.wait_ns - w0.wait_ns,
        work_ns: w.work_ns - w0.work_ns,
        commit_ns: w.commit_ns - w0.commit_ns,
        db_ns: w.db_ns - w0.db_ns,
        statements: w.statements - w0.statements,
        grouped_writes: w.grouped_writes - w0.grouped_writes,
        grouped_pushes: w.grouped_pushes - w0.grouped_pushes,
    };
    if w.writes > 0 {
        println!(
            "server writes (all instances): {} transactions ({} of them carrying {} pushes); per transaction: waiting for the writer {:.2} ms, in the transaction {:.2} ms, commit {:.2} ms",
            w.writes,
            w.grouped_writes,
            w.grouped_pushes,
            w.wait_ns as f64 / w.writes as f64 / 1e6,
            w.work_ns as f64 / w.writes as f64 / 1e6,
            w.commit_ns as f64 / w.writes as f64 / 1e6,
        );
        if w.grouped_pushes > 0 {
            println!(
                "per push: in the transaction {:.2} ms, of which waiting for the database {:.2} ms ({:.1} statements); commit {:.2} ms",
                w.work_ns as f64 / w.grouped_pushes as f64 / 1e6,
                w.db_ns as f64 / w.grouped_pushes as f64 / 1e6,
                w.statements as f64 / w.grouped_pushes as f64,
                w.commit_ns as f64 / w.grouped_pushes as f64 / 1e6,
            );
        }
    }
    cpu.print(s.devices, elapsed);
    for o in outcomes.iter().filter(|o| !o.errors.is_empty()).take(3) {
        println!("  e.g. {}", o.errors[0]);
    }

    // --- Exactly once.
    let after = db.count_by_entity()?;
    let mut acked_by_entity: HashMap<String, Vec<String>> = HashMap::new();
    for o in &outcomes {
        for (e, i) in &o.acked {
            acked_by_entity
                .entry(e.clone())
                .or_default()
                .push(i.clone());
        }
    }
    let present = db.present_ids(&acked_by_entity)?;
    let acked_creates: usize = acked_by_entity.values().map(Vec::len).sum();
    let lost = acked_creates - present;
    let mut duplicated = 0usize;
    for (entity, n) in &after {
        let expected = seeded_counts.get(entity).copied().unwrap_or(0)
            + acked_by_entity.get(entity).map_or(0, Vec::len);
        duplicated += n.saturating_sub(expected);
    }
    let applied = db.count_applied()? - applied_before;
    duplicated += applied.saturating_sub(acked_changes);
    let lost = lost + acked_changes.saturating_sub(applied);
    println!(
        "errors {errors}, refused {refused}, lost {lost}, duplicated {duplicated} (of {acked_changes} acknowledged changes)"
    );
    drop(db);
    for srt in runtimes {
        srt.shutdown_background();
    }
    drop(servers);
    drop(scratch_db);
    Ok(usize::from(errors > 0)
        + usize::from(refused > 0)
        + usize::from(lost > 0)
        + usize::from(duplicated > 0))
}

/// Name of the phones' (the load generator's) runtime threads, told apart from the servers'.
const PHONES: &str = "phones";

/// Clock ticks per second of `/proc` CPU times (Linux's `USER_HZ`, 100 on every architecture
/// it runs on: part of the kernel's ABI).
const TICKS: f64 = 100.0;

/// CPU seconds spent so far, from `/proc`: this process (server instances and phones), the
/// phones' runtime threads alone, every PostgreSQL process (with its exited backends, counted
/// in the postmaster's children time) and the whole machine (busy and total).
#[derive(Debug, Default, Clone, Copy)]
struct Cpu {
    process: f64,
    phones: f64,
    postgres: f64,
    machine_busy: f64,
    machine_total: f64,
}

/// utime, stime, cutime, cstime (seconds) and the command name of a `/proc/.../stat` file.
fn stat_times(path: &std::path::Path) -> Option<(String, [f64; 4])> {
    let text = std::fs::read_to_string(path).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    // Fields after the command: state is field 3, utime 14 … cstime 17.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / TICKS
    };
    Some((comm, [t(14), t(15), t(16), t(17)]))
}

impl Cpu {
    fn now() -> Cpu {
        let mut cpu = Cpu::default();
        if let Some((_, t)) = stat_times(std::path::Path::new("/proc/self/stat")) {
            cpu.process = t[0] + t[1];
        }
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                if let Some((comm, t)) = stat_times(&task.path().join("stat")) {
                    if comm.starts_with(PHONES) {
                        cpu.phones += t[0] + t[1];
                    }
                }
            }
        }
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                if let Some((comm, t)) = stat_times(&p.path().join("stat")) {
                    if comm == "postgres" {
                        cpu.postgres += t.iter().sum::<f64>();
                    }
                }
            }
        }
        if let Ok(text) = std::fs::read_to_string("/proc/stat") {
            if let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) {
                let v: Vec<f64> = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
                cpu.machine_total = v.iter().sum::<f64>() / TICKS;
                cpu.machine_busy = cpu.machine_total - idle / TICKS;
            }
        }
        cpu
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            process: self.process - before.process,
            phones: self.phones - before.phones,
            postgres: self.postgres - before.postgres,
            machine_busy: self.machine_busy - before.machine_busy,
            machine_total: self.machine_total - before.machine_total,
        }
    }

    /// The CPU budget of the run: seconds spent, per device, and what the machine had.
    fn print(&self, devices: usize, elapsed: f64) {
        let n = devices.max(1) as f64;
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
        let ours = self.process + self.postgres;
        println!(
            "cpu: {:.1} s servers, {:.1} s phones (the generator), {:.1} s PostgreSQL = {:.1} s in {elapsed:.1} s; per device {:.0} ms servers, {:.0} ms PostgreSQL, {:.0} ms with the generator",
            self.process - self.phones,
            self.phones,
            self.postgres,
            ours,
            (self.process - self.phones) / n * 1e3,
            self.postgres / n * 1e3,
            ours / n * 1e3,
        );
        println!(
            "cpu budget: the machine was {:.0} % busy ({:.1} of {:.1} core-seconds; {:.1} s not ours); {cores} cores carry {:.1} devices/s at {:.0} ms per device (10,000 in ten minutes need 16.7/s)",
            100.0 * self.machine_busy / self.machine_total.max(1e-9),
            self.machine_busy,
            self.machine_total,
            (self.machine_busy - ours).max(0.0),
            cores / (ours / n).max(1e-9),
            ours / n * 1e3,
        );
    }
}

/// The database the checks read: the SQLite file, or the PostgreSQL database of the instances.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(Box<PgStorage>),
}

impl Db {
    fn count_by_entity(&self) -> BenchResult<HashMap<String, usize>> {
        let sql = "SELECT entity, count(*) AS n FROM records GROUP BY entity";
        match self {
            Db::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>("entity")?,
                        r.get::<_, i64>("n")? as usize,
                    ))
                })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            Db::Postgres(pg) => Ok(pg.read(|tx| {
                tx.query(sql, &[])?
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<_, String>("entity")?,
                            r.try_get::<_, i64>("n")? as usize,
                        ))
                    })
                    .collect()
            })?),
        }
    }

    fn count_applied(&self) -> BenchResult<usize> {
        let sql = "SELECT count(*) AS n FROM applied_changes";
        match self {
            Db::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                Ok(c.query_row(sql, [], |r| r.get::<_, i64>("n"))? as usize)
            }
            Db::Postgres(pg) => {
                Ok(pg.read(|tx| Ok(tx.query_one(sql, &[])?.try_get::<_, i64>("n")? as usize))?)
            }
        }
    }

    /// How many of the acknowledged created ids are stored.
    fn present_ids(&self, acked: &HashMap<String, Vec<String>>) -> BenchResult<usize> {
        match self {
            Db::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                let mut stmt =
                    c.prepare_cached("SELECT 1 FROM records WHERE entity = ?1 AND id = ?2")?;
                let mut n = 0;
                for (entity, ids) in acked {
                    for i in ids {
                        n += usize::from(stmt.exists(rusqlite::params![entity, i])?);
                    }
                }
                Ok(n)
            }
            Db::Postgres(pg) => {
                let mut n = 0;
                for (entity, ids) in acked {
                    for chunk in ids.chunks(5000) {
                        let chunk = chunk.to_vec();
                        n += pg.read(|tx| {
                            Ok(tx
                                .query_one(
                                    "SELECT count(*) AS n FROM records
                                     WHERE entity = $1 AND id = ANY($2)",
                                    &[entity, &chunk],
                                )?
                                .try_get::<_, i64>("n")? as usize)
                        })?;
                    }
                }
                Ok(n)
            }
        }
    }
}
