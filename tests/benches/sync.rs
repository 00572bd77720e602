//! Sync benchmark on loopback, through a byte-counting TCP proxy (so the figures include HTTP
//! headers, not just bodies):
//! - push records/s and bytes/record up, for 10,000 households with 30,000 residents;
//! - initial pull records/s and bytes/record down, on a fresh device;
//! - a no-op sync's round trips and bytes;
//! - the bytes of the pull right after a device pushed 1,000 households (no echo), and of the
//!   same pull for a device that sends no cursor with its push (as every phone did before);
//! - p50/p99 push latency of 1,000 simulated devices pushing at once, and where the server's
//!   writes spent their time (waiting for the writer, working, committing; group commit).
//!
//! Push and pull run twice, each against a fresh server: quiet, then under a background CPU load
//! the bench makes itself (one busy thread, `gridwalk_sample::load`). Bytes per record are given
//! as they cross the network (zstd, HTTP headers included) and as the phone encodes and parses
//! them (the JSON bodies, uncompressed).
//!
//! Targets (judged quiet): push ≥ 15,000 and initial pull ≥ 20,000 records/s, ≤ 200 B/record
//! up, ≤ 150 B/record down, a no-op sync in one round trip under 1 KB.
//! `GRIDWALK_BENCH_QUICK=1` runs a small smoke version (figures printed, targets not judged).
//!
//! Backend: SQLite by default; `--database postgres://…` (after `--`) or
//! `GRIDWALK_BENCH_DATABASE=postgres://…` runs every server on a fresh PostgreSQL database made
//! on that server (the URL of a role that may create databases:
//! `scripts/setup-postgres.sh --print-url`).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridwalk_core::sync::{CancelToken, HttpTransport, SyncOptions, SyncPhase};
use gridwalk_core::*;
use gridwalk_e2e::InProcessServer;
use gridwalk_protocol::{Change, Op, PushRequest};
use gridwalk_sample as sample;
use gridwalk_sample::load::BusyThread;

/// Records per second on the bench's 70,000 records, quiet: about ten times what PouchDB 9 does
/// against pouchdb-server on the same machine.
const PUSH_TARGET: f64 = 15_000.0;
const PULL_TARGET: f64 = 20_000.0;

type BenchResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;
/// Bytes up, bytes down, requests.
type Counters = (u64, u64, u64);

/// Counts bytes both ways and HTTP requests (by their protocol header) between a client and
/// the server.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

impl Proxy {
    fn start(target: SocketAddr) -> BenchResult<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (u, d, r) = (up.clone(), down.clone(), requests.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => continue,
                };
                let (u, d, r) = (u.clone(), d.clone(), r.clone());
                std::thread::spawn(move || pipe(client, server, u, Some(r)));
                std::thread::spawn(move || pipe(s2, c2, d, None));
            }
        });
        Ok(Proxy {
            addr,
            up,
            down,
            requests,
        })
    }

    fn counters(&self) -> Counters {
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
            self.requests.load(Ordering::SeqCst),
        )
    }
}

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    bytes: Arc<AtomicU64>,
    reqs: Option<Arc<AtomicU64>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let needle = b"x-gridwalk-protocol:";
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::SeqCst);
        if let Some(r) = &reqs {
            let hits = buf[..n]
                .windows(needle.len())
                .filter(|w| w.eq_ignore_ascii_case(needle))
                .count();
            r.fetch_add(hits as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

struct Sizes {
    households: usize,
    residents: usize,
    devices: usize,
}

/// The PostgreSQL server to bench on (`--database URL` or `GRIDWALK_BENCH_DATABASE`), if any.
fn database_arg() -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != "--database");
    args.next();
    args.next()
        .or_else(|| std::env::var("GRIDWALK_BENCH_DATABASE").ok())
        .filter(|u| !u.trim().is_empty())
}

fn main() {
    let quick = std::env::var("GRIDWALK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let sizes = if quick {
        Sizes {
            households: 300,
            residents: 900,
            devices: 50,
        }
    } else {
        Sizes {
            households: 10_000,
            residents: 30_000,
            devices: 1_000,
        }
    };
    let database = database_arg();
    match run(&sizes, quick, database.as_deref()) {
        Ok(misses) if misses == 0 || quick => {}
        Ok(misses) => {
            println!("{misses} target(s) missed");
        }
        Err(e) => {
            eprintln!("sync bench failed: {e}");
            std::process::exit(1);
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISS"
    }
}

/// Fills `store` (signed in) with households and residents spread over its grids.
fn fill(store: &Store, sizes: &Sizes) -> BenchResult<usize> {
    let session = store.session()?.ok_or("not signed in")?;
    let units = store.org_units()?;
    let grids: Vec<&OrgUnit> = units
        .iter()
        .filter(|u| u.level == GridLevel::Grid && session.grids.contains(&u.code))
        .collect();
    if grids.is_empty() {
        return Err("no grid in scope".into());
    }
    let today = store.now().date_naive();
    let per_grid = sizes.households.div_ceil(grids.len());
    let mut ids_seen: HashSet<String> = HashSet::new();
    let mut homes = 0usize;
    let mut people = 0usize;
    let mut household_ids = Vec::new();
    for (i, g) in grids.iter().enumerate() {
        let batch = sample::sample_households(40 + i as u64, g, per_grid, today);
        store.write(|ctx| {
            for sh in &batch {
                if homes >= sizes.households {
                    break;
                }
                let h = households::insert(ctx, &sh.household)?;
                homes += 1;
                for r in &sh.residents {
                    if let Some(n) = &r.id_number {
                        if !ids_seen.insert(n.clone()) {
                            continue;
                        }
                    }
                    let mut r = r.clone();
                    r.household_id = h.id.clone();
                    residents::insert(ctx, &r)?;
                    people += 1;
                }
                household_ids.push(h.id);
            }
            Ok(())
        })?;
    }
    // Top up to the resident count with lodgers spread over the households.
    let mut seed = 900u64;
    let mut k = 0usize;
    while people < sizes.residents {
        let more = sample::sample_households(seed, grids[0], 500, today);
        seed += 1;
        store.write(|ctx| {
            for r in more.iter().flat_map(|sh| &sh.residents) {
                if people >= sizes.residents {
                    break;
                }
                if let Some(n) = &r.id_number {
                    if !ids_seen.insert(n.clone()) {
                        continue;
                    }
                }
                let mut r = r.clone();
                r.household_id = household_ids[k % household_ids.len()].clone();
                r.relation = Relation::Other;
                k += 7919;
                residents::insert(ctx, &r)?;
                people += 1;
            }
            Ok(())
        })?;
    }
    Ok(homes + people)
}

fn sync_opts() -> SyncOptions {
    SyncOptions {
        push_batch: 1000,
        pull_limit: 2000,
        ..SyncOptions::default()
    }
}

fn run(sizes: &Sizes, quick: bool, database: Option<&str>) -> BenchResult<usize> {
    let mut misses = 0;
    println!(
        "sync bench on {}: {} households, {} residents; {} concurrent devices{}",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        sizes.households,
        sizes.residents,
        sizes.devices,
        if quick { " (quick)" } else { "" }
    );
    // Quiet, then under one busy thread; each mode on a fresh server, so both push and pull
    // the same records.
    for loaded in [false, true] {
        let srv = InProcessServer::demo_on(database);
        let proxy = Proxy::start(srv.addr)?;
        let dir = tempfile::tempdir()?;
        let (b, round_misses) = round_trip(sizes, &proxy, dir.path(), loaded)?;
        // Targets are judged quiet (the issue's); the loaded figures are printed beside them.
        if !loaded {
            misses += round_misses;
            // The pull right after a push: what a device downloads back of its own records.
            let url = format!("http://{}", proxy.addr);
            misses += echo_after_push(&srv, &url, &proxy, dir.path(), 1_000)?;
            misses += concurrent_push(&srv, sizes.devices, &b)?;
        }
    }
    Ok(misses)
}

/// (phone thread, whole process) CPU time so far.
type Cpu = (Option<Duration>, Option<Duration>);

fn cpu_now() -> Cpu {
    (sample::load::thread_cpu(), sample::load::process_cpu())
}

/// CPU per 1,000 records: the phone's (this thread: encoding, parsing, merging, SQLite; the
/// HTTP I/O runs on reqwest's thread) and the whole process's (phone, in-process server and,
/// when loaded, the busy thread). Steadier than records/s on a shared machine.
fn print_cpu(what: &str, from: Cpu, to: Cpu, records: usize) {
    let per_k = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!(
            "{:.0} ms",
            b.saturating_sub(a).as_secs_f64() * 1e6 / records.max(1) as f64
        ),
        _ => "n/a".into(),
    };
    println!(
        "  {what} CPU per 1,000 records: phone thread {}, whole process {}",
        per_k(from.0, to.0),
        per_k(from.1, to.1)
    );
}

/// Wire (compressed, headers included) and body (JSON as encoded / parsed) bytes per record.
fn per_record(bytes: u64, records: usize) -> f64 {
    bytes as f64 / records.max(1) as f64
}

/// One device pushes everything, a fresh device pulls it all, then a no-op sync; returns the
/// fresh device and the number of targets missed.
fn round_trip(
    sizes: &Sizes,
    proxy: &Proxy,
    dir: &std::path::Path,
    loaded: bool,
) -> BenchResult<(Store, usize)> {
    let mut misses = 0;
    let url = format!("http://{}", proxy.addr);
    let mode = if loaded { "loaded" } else { "quiet" };

    // --- Push everything from one device (a street-level user sees every demo grid).
    let a = Store::open(dir.join("a.db"))?;
    let ta = HttpTransport::new(&url)?;
    a.login(
        &ta,
        "liuqiang",
        gridwalk_e2e::DEMO_PASSWORD,
        Some("bench-a"),
    )?;
    let records = fill(&a, sizes)?;
    let load = loaded.then(BusyThread::start);
    println!("[{}]", sample::load::label(loaded));
    let (up0, down0, _) = proxy.counters();
    let (json_up0, _) = ta.body_bytes();
    let cpu0 = cpu_now();
    let t0 = Instant::now();
    let push_end: Mutex<Option<(Instant, Counters, u64)>> = Mutex::new(None);
    let push_cpu = Mutex::new(cpu0);
    let report = a.sync(
        &ta,
        &sync_opts(),
        &mut |p| {
            // The last push report comes after the last push answer (a first sync pulls its
            // snapshot before pushing, so the pull phase is not the end of the push).
            if p.phase == SyncPhase::Push {
                *push_end.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), proxy.counters(), ta.body_bytes().0));
                *push_cpu.lock().unwrap_or_else(|e| e.into_inner()) = cpu_now();
            }
        },
        &CancelToken::new(),
    )?;
    let (t_push, (up1, down1, _), json_up1) = push_end
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or("no pull phase seen")?;
    // Every household and resident, plus the resident-move rows their creation records.
    if report.pushed < records || report.rejected > 0 {
        return Err(format!(
            "pushed {} for {records} records ({} refused)",
            report.pushed, report.rejected
        )
        .into());
    }
    let records = report.pushed;
    let push_s = (t_push - t0).as_secs_f64();
    let push_rate = records as f64 / push_s;
    let up_per = per_record(up1 - up0, records);
    let push_down_per = per_record(down1 - down0, records);
    println!(
        "push [{mode}]: {records} records in {:.2} s = {:.0} records/s [{}]; up {:.1} B/record compressed [{}], {:.1} B/record uncompressed (answers {:.1} B/record down)",
        push_s,
        push_rate,
        verdict(push_rate >= PUSH_TARGET),
        up_per,
        verdict(up_per <= 200.0),
        per_record(json_up1 - json_up0, records),
        push_down_per
    );
    misses += usize::from(push_rate < PUSH_TARGET) + usize::from(up_per > 200.0);
    print_cpu(
        "push",
        cpu0,
        push_cpu.into_inner().unwrap_or_else(|e| e.into_inner()),
        records,
    );
    println!(
        "  (the same sync then pulled {} records back in {:.2} s)",
        report.pulled,
        t0.elapsed().as_secs_f64() - push_s
    );

    // --- Initial pull on a fresh device.
    let b = Store::open(dir.join("b.db"))?;
    let tb = HttpTransport::new(&url)?;
    b.login(
        &tb,
        "liuqiang",
        gridwalk_e2e::DEMO_PASSWORD,
        Some("bench-b"),
    )?;
    let (up0, down0, _) = proxy.counters();
    let (_, json_down0) = tb.body_bytes();
    let cpu0 = cpu_now();
    let t0 = Instant::now();
    let report = b.sync(&tb, &sync_opts(), &mut |_| {}, &CancelToken::new())?;
    let pull_s = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_now();
    drop(load);
    let (up1, down1, _) = proxy.counters();
    let (_, json_down1) = tb.body_bytes();
    let pulled = report.pulled.max(1);
    let pull_rate = report.pulled as f64 / pull_s;
    let down_per = per_record(down1 - down0, pulled);
    println!(
        "initial pull [{mode}]: {} records in {:.2} s = {:.0} records/s [{}]; down {:.1} B/record compressed [{}], {:.1} B/record uncompressed (requests {:.1} B/record up)",
        report.pulled,
        pull_s,
        pull_rate,
        verdict(pull_rate >= PULL_TARGET),
        down_per,
        verdict(down_per <= 150.0),
        per_record(json_down1 - json_down0, pulled),
        per_record(up1 - up0, pulled)
    );
    misses += usize::from(pull_rate < PULL_TARGET) + usize::from(down_per > 150.0);
    print_cpu("initial pull", cpu0, cpu1, pulled);
    if report.pulled < records {
        return Err(format!("pulled {} of {records}", report.pulled).into());
    }

    // --- No-op sync.
    let (up0, down0, r0) = proxy.counters();
    b.sync(&tb, &sync_opts(), &mut |_| {}, &CancelToken::new())?;
    let (up1, down1, r1) = proxy.counters();
    let noop_bytes = (up1 - up0) + (down1 - down0);
    let trips = r1 - r0;
    println!(
        "no-op sync [{mode}]: {trips} round trip(s) [{}], {noop_bytes} bytes incl. headers ({} up, {} down) [{}]",
        verdict(trips == 1),
        up1 - up0,
        down1 - down0,
        verdict(noop_bytes < 1024)
    );
    misses += usize::from(trips != 1) + usize::from(noop_bytes >= 1024);
    Ok((b, misses))
}

/// A grid worker's device, up to date, records `households` new households and syncs: prints the
/// bytes the pull phase of that sync downloads (headers included). Nobody else wrote in between,
/// so everything it would receive is its own records (the echo). Target: under 1 KB.
fn echo_after_push(
    srv: &InProcessServer,
    url: &str,
    proxy: &Proxy,
    dir: &std::path::Path,
    households: usize,
) -> BenchResult<usize> {
    let c = Store::open(dir.join("c.db"))?;
    let tc = HttpTransport::new(url)?;
    c.login(
        &tc,
        "wangfang",
        gridwalk_e2e::DEMO_PASSWORD,
        Some("bench-c"),
    )?;
    c.sync(&tc, &sync_opts(), &mut |_| {}, &CancelToken::new())?;
    let homes = record_households(&c, &c, 77, households)?;
    let pull_start: Mutex<Option<Counters>> = Mutex::new(None);
    let report = c.sync(
        &tc,
        &sync_opts(),
        &mut |p| {
            // The last push report comes after the last push answer: what follows is the pull.
            if p.phase == SyncPhase::Push {
                *pull_start.lock().unwrap_or_else(|e| e.into_inner()) = Some(proxy.counters());
            }
        },
        &CancelToken::new(),
    )?;
    let (up1, down1, _) = proxy.counters();
    let (up0, down0, _) = pull_start
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or("no pull phase seen")?;
    if report.pushed < homes.len() || report.rejected > 0 {
        return Err(format!("echo: pushed {} of {}", report.pushed, homes.len()).into());
    }
    let down = down1 - down0;
    let legacy = legacy_echo(srv, url, proxy, &c, households)?;
    println!(
        "pull after pushing {} households: {} records back, {down} bytes down, {} up, incl. headers [{}] (a device sending no cursor with its push, as before: {} records, {} bytes down)",
        homes.len(),
        report.pulled,
        up1 - up0,
        verdict(down < 1024),
        legacy.0,
        legacy.1
    );
    Ok(usize::from(down >= 1024))
}

/// Records `n` sample households of the demo grid (its unit read from `template`) in `store`.
fn record_households(
    store: &Store,
    template: &Store,
    seed: u64,
    n: usize,
) -> BenchResult<Vec<sample::SampleHousehold>> {
    let unit = template
        .org_units()?
        .into_iter()
        .find(|u| u.code == gridwalk_e2e::DEMO_GRID)
        .ok_or("demo grid missing")?;
    let homes = sample::sample_households(seed, &unit, n, store.now().date_naive());
    store.write(|ctx| {
        for sh in &homes {
            households::insert(ctx, &sh.household)?;
        }
        Ok(())
    })?;
    Ok(homes)
}

/// The same evening for a device that does not send its cursor with its push (every phone
/// before "no echo"): pushes `households` new households, then pulls with its cursor. Returns
/// the records and bytes (headers included) that pull downloads.
fn legacy_echo(
    srv: &InProcessServer,
    url: &str,
    proxy: &Proxy,
    template: &Store,
    households: usize,
) -> BenchResult<(usize, u64)> {
    use gridwalk_core::sync::Transport;
    let scratch = Store::open_in_memory()?;
    scratch.upsert_org_units(&template.org_units()?)?;
    record_households(&scratch, template, 78, households)?;
    let changes: Vec<Change> = scratch
        .read(|c| changes::list(c, "pending", 10_000_000))?
        .into_iter()
        .map(|e| Change {
            op: if e.op == "create" {
                Op::Create
            } else {
                Op::Update
            },
            payload: e.payload.as_object().cloned().unwrap_or_default(),
            change_id: e.change_id,
            entity: e.entity,
            entity_id: e.entity_id,
            hlc: e.hlc,
            base: e.base,
        })
        .collect();
    let token = srv
        .server
        .admin()
        .issue_session_for_tests("wangfang", "bench-legacy")?
        .access_token;
    let t = HttpTransport::new(url)?;
    let limit = sync_opts().pull_limit;
    let mut cursor: Option<String> = None;
    loop {
        let page = t.pull(&token, cursor.as_deref(), limit)?;
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    for batch in changes.chunks(gridwalk_protocol::MAX_PUSH_CHANGES) {
        t.push(
            &token,
            &PushRequest {
                batch_id: new_id(),
                changes: batch.to_vec(),
                cursor: None,
            },
        )?;
    }
    let (_, down0, _) = proxy.counters();
    let mut records = 0;
    loop {
        let page = t.pull(&token, cursor.as_deref(), limit)?;
        records += page.records.len();
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    let (_, down1, _) = proxy.counters();
    Ok((records, down1 - down0))
}

/// `devices` devices (sessions issued directly) each push one household with three residents at
/// the same moment; prints p50/p99 latency.
fn concurrent_push(srv: &InProcessServer, devices: usize, template: &Store) -> BenchResult<usize> {
    // Real change payloads, taken from a scratch store's outbox.
    let scratch = Store::open_in_memory()?;
    scratch.upsert_org_units(&template.org_units()?)?;
    let grid = gridwalk_e2e::DEMO_GRID;
    let today = scratch.now().date_naive();
    let unit = template
        .org_units()?
        .into_iter()
        .find(|u| u.code == grid)
        .ok_or("demo grid missing")?;
    let homes = sample::sample_households(7, &unit, devices * 2, today);
    // One write per device's household; the outbox is read once and split at the seq where
    // each write ended.
    let mut ends: Vec<i64> = Vec::new();
    for sh in homes
        .iter()
        .filter(|h| h.residents.len() >= 2)
        .take(devices)
    {
        scratch.write(|ctx| {
            let h = households::insert(ctx, &sh.household)?;
            for r in sh.residents.iter().take(3) {
                let mut r = r.clone();
                r.household_id = h.id.clone();
                r.id_number = None;
                residents::insert(ctx, &r)?;
            }
            Ok(())
        })?;
        ends.push(
            scratch.read(|c| Ok(c.query_row("SELECT max(seq) FROM outbox", [], |r| r.get(0))?))?,
        );
    }
    let all = scratch.read(|c| changes::list(c, "pending", 10_000_000))?;
    let mut batches: Vec<Vec<Change>> = vec![Vec::new(); ends.len()];
    for e in all {
        let group = ends.partition_point(|end| *end < e.seq);
        let op = if e.op == "create" {
            Op::Create
        } else {
            Op::Update
        };
        if let Some(batch) = batches.get_mut(group) {
            batch.push(Change {
                op,
                payload: e.payload.as_object().cloned().unwrap_or_default(),
                change_id: e.change_id,
                entity: e.entity,
                entity_id: e.entity_id,
                hlc: e.hlc,
                base: e.base,
            });
        }
    }
    let admin = srv.server.admin();
    let mut jobs = Vec::new();
    for (i, changes) in batches.into_iter().enumerate() {
        let s = admin.issue_session_for_tests("wangfang", &format!("bench-device-{i}"))?;
        let body = serde_json::to_vec(&PushRequest {
            batch_id: new_id(),
            changes,
            cursor: None,
        })?;
        jobs.push((s.access_token, body));
    }
    let n = jobs.len();
    let url = format!("{}/v1/sync/push", srv.url);
    let stats0 = srv.server.storage().write_stats();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let latencies: Vec<Duration> = rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| e.to_string())?;
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for (token, body) in jobs {
            let client = client.clone();
            let url = url.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(token)
                    .header(gridwalk_protocol::HEADER_PROTOCOL, "1")
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = res.status();
                let _ = res.bytes().await;
                if !status.is_success() {
                    return Err(format!("push answered {status}"));
                }
                Ok::<Duration, String>(t.elapsed())
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.map_err(|e| e.to_string())??);
        }
        Ok::<Vec<Duration>, String>(out)
    })?;
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{n} devices pushing at once (1 household + residents each): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    // Where the pushes waited: the server's write transactions during the burst.
    let w = srv.server.storage().write_stats();
    let writes = (w.writes - stats0.writes).max(1);
    println!(
        "  server: {} pushes in {} commits; per commit {:.2} ms waiting for the writer, {:.2} ms working, {:.2} ms committing",
        w.grouped_pushes - stats0.grouped_pushes,
        w.grouped_writes - stats0.grouped_writes,
        (w.wait_ns - stats0.wait_ns) as f64 / writes as f64 / 1e6,
        (w.work_ns - stats0.work_ns) as f64 / writes as f64 / 1e6,
        (w.commit_ns - stats0.commit_ns) as f64 / writes as f64 / 1e6,
    );
    Ok(0)
}
