//! Store benchmark: write throughput against raw SQLite, the daily task list, and search.
//!
//! Run with `cargo bench -p gridwalk-core --bench store`. `GRIDWALK_BENCH_QUICK=1` shrinks
//! every size for a smoke run; `GRIDWALK_BENCH_DIR` puts the database files somewhere other
//! than the system temp folder (the figures depend on the disk's fsync);
//! `GRIDWALK_BENCH_SKIP_IMPORT=1` leaves out the batched-write and ledger-import figures.
//!
//! It reports figures next to the targets of the issue and never fails on a timing: it exits
//! non-zero only when a correctness precondition fails (an import rejects sample rows, a search
//! that must hit returns nothing, the task list is empty…).
//!
//! The per-tap writes, the task list and search are measured twice: quiet, then under a
//! background CPU load the bench makes itself (one busy thread, `gridwalk_sample::load`), as a
//! cheap phone runs with the camera and GPS on. Each line names its mode and the machine's load
//! average at the time; the targets are judged on both.
//!
//! Per-tap writes (one transaction each, synchronous=FULL) are bound by the disk's fsync, which
//! on a shared machine swings from tap to tap; the API and the raw baseline therefore alternate
//! in small chunks (5 households, about 14 taps a side), so a burst of someone else's I/O falls
//! on both. The headline ratio is still all API rows/s over all raw rows/s, so it includes
//! everything a tap costs now and then: the API's search-index fold every 256 new records and
//! both sides' WAL checkpoints. Each run is long enough for several of those (the populated
//! store takes 200 households, about 700 taps a side per mode; 50 households, fewer taps than
//! one checkpoint cycle of the raw side, swung 0.33–1.19× from run to run). Next to it: the
//! median and range of the chunks' ratios, the ratio of per-call medians, and the pages each
//! side wrote to the WAL per tap (`SQLITE_DBSTATUS_CACHE_WRITE`) — what each commit waits for,
//! and the same on any disk.
//!
//! The SIGKILL stress run lives in the kill test: `GRIDWALK_KILL_TRIALS=2000 cargo test -p
//! gridwalk-core --release --test kill`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate};
use gridwalk_core::model::{CaseStatus, VisitMode, VisitOutcome};
use gridwalk_core::tasks::VisitPolicy;
use gridwalk_core::*;
use gridwalk_sample::load::{self, BusyThread};
use gridwalk_sample::{self as sample, SampleHousehold};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, TransactionBehavior};

type BenchResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Columns the entity paths write for a new household / resident (the raw baseline writes the
/// same ones, with the same values).
const HOUSEHOLD_COLS: &str = "id, grid_code, community, building, unit, floor, room,
    address_text, housing_type, care_tier, tags, lat, lng, notes, status, outside_grid,
    created_at, updated_at, hlc, clocks";
const RESIDENT_COLS: &str = "id, household_id, name, id_number, phone, gender, birth_date,
    relation, residency, special_groups, moved_in_on, moved_out_on, status, notes, created_at,
    updated_at, hlc, clocks";

/// Rows of a search result page.
const SEARCH_LIMIT: usize = 20;

struct Config {
    quick: bool,
    /// Households written one tap at a time (their residents too), into an empty store and into
    /// the populated one.
    tap_households: usize,
    populated_tap_households: usize,
    /// Households per chunk of the interleaved API / raw per-tap runs.
    tap_chunk: usize,
    /// Households of the batched import (one ledger row per resident).
    batch_households: usize,
    batch_rounds: usize,
    /// Ledger rows of the import / re-import / dry-run figures (10,000 in a full run).
    ledger_rows: usize,
    small_households: usize,
    small_visits: usize,
    large_households: usize,
    large_visits: usize,
    search_residents: usize,
    today_iters: usize,
    search_per_class: usize,
}

impl Config {
    fn from_env() -> Config {
        let quick = std::env::var("GRIDWALK_BENCH_QUICK").is_ok_and(|v| v == "1");
        if quick {
            Config {
                quick,
                tap_households: 24,
                populated_tap_households: 12,
                tap_chunk: 4,
                batch_households: 120,
                batch_rounds: 1,
                ledger_rows: 600,
                small_households: 100,
                small_visits: 2_000,
                large_households: 1_000,
                large_visits: 20_000,
                search_residents: 3_000,
                today_iters: 30,
                search_per_class: 10,
            }
        } else {
            Config {
                quick,
                tap_households: 200,
                populated_tap_households: 200,
                tap_chunk: 5,
                batch_households: 1_600,
                batch_rounds: 3,
                ledger_rows: 10_000,
                small_households: 500,
                small_visits: 10_000,
                large_households: 10_000,
                large_visits: 200_000,
                search_residents: 30_000,
                today_iters: 250,
                search_per_class: 60,
            }
        }
    }
}

/// Correctness problems found while benchmarking; any of them makes the run exit non-zero.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let w = what();
            eprintln!("PRECONDITION FAILED: {w}");
            self.0.push(w);
        }
    }
}

fn main() {
    let cfg = Config::from_env();
    let mut failures = Failures::default();
    if let Err(e) = run(&cfg, &mut failures) {
        eprintln!("benchmark error: {e}");
        std::process::exit(2);
    }
    if !failures.0.is_empty() {
        eprintln!("{} correctness precondition(s) failed", failures.0.len());
        std::process::exit(1);
    }
}

fn run(cfg: &Config, failures: &mut Failures) -> BenchResult<()> {
    let dir = match std::env::var_os("GRIDWALK_BENCH_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            tempfile::tempdir_in(d)?
        }
        None => tempfile::tempdir()?,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "gridwalk-core store benchmark{} — {} core(s), files in {}",
        if cfg.quick {
            " (QUICK: reduced sizes)"
        } else {
            ""
        },
        cores,
        dir.path().display()
    );
    println!("pragmas: journal_mode=WAL, synchronous=FULL (API and raw alike)");
    let started = Instant::now();

    println!("\n== writes ==");
    quiet_then_loaded(|loaded| bench_tap_writes(cfg, dir.path(), loaded, failures))?;
    if std::env::var("GRIDWALK_BENCH_SKIP_IMPORT").is_ok_and(|v| v == "1") {
        println!("(batched writes and ledger import skipped: GRIDWALK_BENCH_SKIP_IMPORT=1)");
    } else {
        bench_batch_writes(cfg, dir.path(), failures)?;
        bench_ledger_import(cfg, dir.path(), failures)?;
    }

    println!("\n== task list (Store::today_at with a position) ==");
    let small = build_store(
        &dir.path().join("today_small.db"),
        cfg.small_households,
        None,
        cfg.small_visits,
        11,
    )?;
    quiet_then_loaded(|loaded| {
        bench_today(
            cfg,
            &small,
            "500 households",
            cfg.small_households,
            10.0,
            loaded,
            failures,
        )
    })?;
    drop(small);

    let large = build_store(
        &dir.path().join("large.db"),
        cfg.large_households,
        Some(cfg.search_residents),
        cfg.large_visits,
        23,
    )?;
    quiet_then_loaded(|loaded| {
        bench_today(
            cfg,
            &large,
            "10,000 households",
            cfg.large_households,
            50.0,
            loaded,
            failures,
        )
    })?;

    println!("\n== search (Store::search, limit {SEARCH_LIMIT}) ==");
    quiet_then_loaded(|loaded| bench_search(cfg, &large.store, loaded, failures))?;

    println!("\n== writes into the populated store ==");
    quiet_then_loaded(|loaded| bench_tap_populated(cfg, dir.path(), &large, loaded, failures))?;

    println!(
        "\ntotal benchmark time {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs `f` quiet, then again under one busy thread (see the module docs).
fn quiet_then_loaded(mut f: impl FnMut(bool) -> BenchResult<()>) -> BenchResult<()> {
    for loaded in [false, true] {
        let _load = loaded.then(BusyThread::start);
        f(loaded)?;
    }
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Percentiles {
    p50: StdDuration,
    p99: StdDuration,
    max: StdDuration,
    n: usize,
}

/// Nearest-rank percentiles.
fn percentiles(samples: &[StdDuration]) -> Percentiles {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let rank = |p: f64| {
        let r = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[r.clamp(1, v.len()) - 1]
    };
    Percentiles {
        p50: rank(50.0),
        p99: rank(99.0),
        max: v.last().copied().unwrap_or_default(),
        n: v.len(),
    }
}

/// The worker's local calendar day now (what the store validates dates against).
fn local_today(store: &Store) -> BenchResult<NaiveDate> {
    Ok(store.settings()?.local_date(store.now()))
}

/// A raw connection with the store's pragmas, on a file whose schema a `Store` created.
fn raw_connection(path: &Path) -> BenchResult<Connection> {
    drop(Store::open(path)?);
    let conn = Connection::open(path)?;
    conn.busy_timeout(StdDuration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn placeholders(cols: &str) -> String {
    let n = cols.split(',').count();
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stored values of one entity row, in `cols` order.
fn fetch_row(conn: &Connection, table: &str, cols: &str, id: &str) -> BenchResult<Vec<SqlValue>> {
    let n = cols.split(',').count();
    let mut stmt = conn.prepare_cached(&format!("SELECT {cols} FROM {table} WHERE id = ?1"))?;
    Ok(stmt.query_row([id], |r| (0..n).map(|i| r.get::<_, SqlValue>(i)).collect())?)
}

/// All rows of `table` in insertion order.
fn fetch_all(conn: &Connection, table: &str, cols: &str) -> BenchResult<Vec<Vec<SqlValue>>> {
    let n = cols.split(',').count();
    let mut stmt = conn.prepare(&format!("SELECT {cols} FROM {table} ORDER BY rowid"))?;
    let rows = stmt.query_map([], |r| (0..n).map(|i| r.get::<_, SqlValue>(i)).collect())?;
    Ok(rows.collect::<rusqlite::Result<Vec<Vec<SqlValue>>>>()?)
}

fn raw_insert(conn: &Connection, table: &str, cols: &str, row: &[SqlValue]) -> BenchResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} ({cols}) VALUES ({})",
        placeholders(cols)
    ))?
    .execute(params_from_iter(row.iter()))?;
    Ok(())
}

fn count(conn: &Connection, table: &str) -> BenchResult<i64> {
    Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
}

fn store_count(store: &Store, table: &str) -> BenchResult<i64> {
    Ok(store
        .read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))?)
}

/// Sample households of the org's grids in turn, `per_grid` each, until `count`.
fn sample_many(
    org: &sample::SampleOrg,
    count: usize,
    per_grid: usize,
    seed: u64,
    today: NaiveDate,
) -> Vec<SampleHousehold> {
    let mut out = Vec::with_capacity(count);
    for (g, grid) in org.grids().enumerate() {
        if out.len() >= count {
            break;
        }
        let n = per_grid.min(count - out.len());
        out.extend(sample::sample_households(
            seed * 1000 + g as u64,
            grid,
            n,
            today,
        ));
    }
    out
}

fn ratio_line(label: &str, api_rows_s: f64, raw_rows_s: f64) {
    let ratio = api_rows_s / raw_rows_s;
    println!(
        "  {label}: {ratio:.2}x raw  (target >= 0.50x) {}",
        verdict(ratio >= 0.5)
    );
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// Rows written and time taken by the API and by the raw baseline.
#[derive(Default)]
struct TapRun {
    households: usize,
    api_rows: usize,
    api_time: StdDuration,
    /// Latency of each API call.
    api_calls: Vec<StdDuration>,
    raw_rows: usize,
    raw_time: StdDuration,
    /// Latency of each raw transaction.
    raw_calls: Vec<StdDuration>,
    /// API rows/s over raw rows/s of each chunk.
    chunk_ratios: Vec<f64>,
    /// Pages each side wrote to the WAL (`SQLITE_DBSTATUS_CACHE_WRITE`), when SQLite reports it.
    api_pages: Option<i64>,
    raw_pages: Option<i64>,
    /// This thread's CPU time in the API calls and in the raw inserts (the rest of the wall
    /// time is waiting: for the disk's fsync, or for a core).
    api_cpu: StdDuration,
    raw_cpu: StdDuration,
}

/// One tap, one transaction: `Store::add_household` / `add_resident` against raw INSERTs of the
/// same rows (read back from the store: same columns, same values), interleaved chunk by chunk
/// so both see the same disk.
fn tap_compare(
    api: &Store,
    raw: &mut Connection,
    homes: &[SampleHousehold],
    chunk_len: usize,
) -> BenchResult<TapRun> {
    let mut run = TapRun {
        households: homes.len(),
        ..Default::default()
    };
    let api_pages_before = api.read(|c| Ok(pages_written(c)))?;
    let raw_pages_before = pages_written(raw);
    for chunk in homes.chunks(chunk_len) {
        // (table, id) in the order the API wrote them.
        let mut written: Vec<(&str, String)> = Vec::new();
        let c = thread_cpu();
        let t = Instant::now();
        for sh in chunk {
            let c = Instant::now();
            let h = api.add_household(&sh.household)?;
            run.api_calls.push(c.elapsed());
            written.push(("households", h.id.clone()));
            for r in &sh.residents {
                let mut r = r.clone();
                r.household_id = h.id.clone();
                let c = Instant::now();
                let p = api.add_resident(&r)?;
                run.api_calls.push(c.elapsed());
                written.push(("residents", p.id));
            }
        }
        let api_chunk = t.elapsed();
        run.api_time += api_chunk;
        run.api_cpu += cpu_since(c).unwrap_or_default();
        run.api_rows += written.len();

        let rows = api.read(|c| {
            written
                .iter()
                .map(|(table, id)| {
                    let cols = if *table == "households" {
                        HOUSEHOLD_COLS
                    } else {
                        RESIDENT_COLS
                    };
                    fetch_row(c, table, cols, id)
                        .map(|row| (*table, cols, row))
                        .map_err(|e| gridwalk_core::Error::Format {
                            what: "bench",
                            detail: e.to_string(),
                        })
                })
                .collect::<gridwalk_core::Result<Vec<_>>>()
        })?;
        let c = thread_cpu();
        let t = Instant::now();
        for (table, cols, row) in &rows {
            let c = Instant::now();
            let tx = raw.transaction_with_behavior(TransactionBehavior::Immediate)?;
            raw_insert(&tx, table, cols, row)?;
            tx.commit()?;
            run.raw_calls.push(c.elapsed());
        }
        let raw_chunk = t.elapsed();
        run.raw_time += raw_chunk;
        run.raw_cpu += cpu_since(c).unwrap_or_default();
        run.raw_rows += rows.len();
        // Same rows on both sides: the ratio of rates is the ratio of times.
        run.chunk_ratios
            .push(raw_chunk.as_secs_f64() / api_chunk.as_secs_f64());
    }
    let api_pages_after = api.read(|c| Ok(pages_written(c)))?;
    run.api_pages = api_pages_before.zip(api_pages_after).map(|(a, b)| b - a);
    run.raw_pages = raw_pages_before.zip(pages_written(raw)).map(|(a, b)| b - a);
    Ok(run)
}

/// Pages this connection has written to its WAL so far (`SQLITE_DBSTATUS_CACHE_WRITE`): what
/// every tap's commit must get to the disk before it returns, the same on any disk. `None` when
/// SQLite does not report it.
fn pages_written(conn: &Connection) -> Option<i64> {
    let (mut cur, mut high) = (0, 0);
    // SAFETY: the handle is the live connection's; SQLite only writes the two ints.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_WRITE,
            &mut cur,
            &mut high,
            0,
        )
    };
    (rc == rusqlite::ffi::SQLITE_OK).then_some(i64::from(cur))
}

fn print_tap(title: &str, run: &TapRun, loaded: bool) {
    let api_rate = run.api_rows as f64 / run.api_time.as_secs_f64();
    let raw_rate = run.raw_rows as f64 / run.raw_time.as_secs_f64();
    let p = percentiles(&run.api_calls);
    let rp = percentiles(&run.raw_calls);
    println!(
        "{title} ({} households + {} residents, one transaction each) [{}]:",
        run.households,
        run.api_rows - run.households,
        load::label(loaded)
    );
    println!(
        "  API  add_household/add_resident   {api_rate:>9.0} rows/s  (per call p50 {:.2} ms, p99 {:.2} ms; row + outbox + search doc + clock)",
        ms(p.p50),
        ms(p.p99)
    );
    println!(
        "  raw  rusqlite INSERT             {raw_rate:>9.0} rows/s  (per call p50 {:.2} ms, p99 {:.2} ms; entity row only)",
        ms(rp.p50),
        ms(rp.p99)
    );
    ratio_line("per-tap ratio", api_rate, raw_rate);
    let mut ratios = run.chunk_ratios.clone();
    ratios.sort_by(f64::total_cmp);
    if let (Some(lo), Some(hi)) = (ratios.first(), ratios.last()) {
        println!(
            "  chunk by chunk ({} chunks of {} API and raw taps each, interleaved): median {:.2}x, range {lo:.2}-{hi:.2}x; per call p50 {:.2}x",
            ratios.len(),
            run.api_rows / ratios.len().max(1),
            ratios[ratios.len() / 2],
            ms(rp.p50) / ms(p.p50)
        );
    }
    if let (Some(a), Some(r)) = (run.api_pages, run.raw_pages) {
        println!(
            "  pages written to the WAL per tap: API {:.1}, raw {:.1} (each commit waits for them to reach the disk)",
            a as f64 / run.api_rows as f64,
            r as f64 / run.raw_rows as f64
        );
    }
    println!(
        "  CPU time per row: API {:.3} ms, raw {:.3} ms (the rest of each tap waits for fsync or a core)",
        ms(run.api_cpu) / run.api_rows as f64,
        ms(run.raw_cpu) / run.raw_rows as f64
    );
}

/// Per-tap writes into fresh files.
fn bench_tap_writes(
    cfg: &Config,
    dir: &Path,
    loaded: bool,
    failures: &mut Failures,
) -> BenchResult<()> {
    let api = Store::open(dir.join(format!("tap_api_{loaded}.db")))?;
    let org = sample::sample_org(1);
    api.upsert_org_units(&org.units)?;
    let mut raw = raw_connection(&dir.join(format!("tap_raw_{loaded}.db")))?;
    let today = local_today(&api)?;
    let grid = org.my_grid().ok_or("sample org has no grid")?;
    let homes = sample::sample_households(101, grid, cfg.tap_households, today);
    let run = tap_compare(&api, &mut raw, &homes, cfg.tap_chunk)?;
    let stored = store_count(&api, "households")? + store_count(&api, "residents")?;
    let raw_stored = count(&raw, "households")? + count(&raw, "residents")?;
    failures.check(
        stored as usize == run.api_rows && raw_stored as usize == run.raw_rows,
        || {
            format!(
                "per-tap rows: api wrote {} (stored {stored}), raw {} (stored {raw_stored})",
                run.api_rows, run.raw_rows
            )
        },
    );
    print_tap("per tap into an empty store", &run, loaded);
    Ok(())
}

/// Per-tap writes into the large store, against raw inserts into a copy of it.
fn bench_tap_populated(
    cfg: &Config,
    dir: &Path,
    built: &Built,
    loaded: bool,
    failures: &mut Failures,
) -> BenchResult<()> {
    let api = &built.store;
    let copy = dir.join(format!("large_raw_{loaded}.db"));
    let copy_str = copy.to_str().ok_or("temp path is not UTF-8")?.to_string();
    api.read(|c| {
        c.execute("VACUUM INTO ?1", [&copy_str])?;
        Ok(())
    })?;
    let mut raw = raw_connection(&copy)?;
    let before = store_count(api, "households")? + store_count(api, "residents")?;
    let today = local_today(api)?;
    let seed = if loaded { 304 } else { 303 };
    let mut homes =
        sample::sample_households(seed, &built.my_grid, cfg.populated_tap_households, today);
    // Leave out people whose (sample) ID number the store already holds.
    api.read(|c| {
        let mut stmt = c.prepare("SELECT 1 FROM residents WHERE id_number = ?1")?;
        for sh in &mut homes {
            let mut keep = Vec::new();
            for r in sh.residents.drain(..) {
                if !stmt.exists([&r.id_number])? {
                    keep.push(r);
                }
            }
            sh.residents = keep;
        }
        Ok(())
    })?;
    let run = tap_compare(api, &mut raw, &homes, cfg.tap_chunk)?;
    let after = store_count(api, "households")? + store_count(api, "residents")?;
    failures.check((after - before) as usize == run.api_rows, || {
        format!(
            "populated per-tap: api wrote {} rows, store grew by {}",
            run.api_rows,
            after - before
        )
    });
    print_tap(
        &format!(
            "per tap into the populated store ({} households / {} residents)",
            store_count(api, "households")?,
            store_count(api, "residents")?
        ),
        &run,
        loaded,
    );
    Ok(())
}

/// The ledger as a desk would type it: one row per resident, a row without a name for an
/// empty dwelling.
fn ledger_csv(homes: &[SampleHousehold]) -> BenchResult<(Vec<u8>, usize)> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "社区",
        "楼栋",
        "单元",
        "楼层",
        "房号",
        "详细地址",
        "住房类型",
        "关爱等级",
        "标签",
        "纬度",
        "经度",
        "户备注",
        "姓名",
        "身份证号",
        "联系电话",
        "性别",
        "出生日期",
        "与户主关系",
        "户籍类型",
        "特殊人群",
        "迁入日期",
        "备注",
    ])?;
    let date = |d: Option<NaiveDate>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let mut rows = 0;
    for sh in homes {
        let h = &sh.household;
        let a = &h.address;
        let house = vec![
            a.community.clone(),
            a.building.clone(),
            a.unit.clone().unwrap_or_default(),
            a.floor.map(|f| f.to_string()).unwrap_or_default(),
            a.room.clone().unwrap_or_default(),
            a.text.clone().unwrap_or_default(),
            h.housing_type.label_zh().to_string(),
            h.care_tier.label_zh().to_string(),
            h.tags.join("、"),
            h.location.map(|p| p.lat.to_string()).unwrap_or_default(),
            h.location.map(|p| p.lng.to_string()).unwrap_or_default(),
            h.notes.clone().unwrap_or_default(),
        ];
        if sh.residents.is_empty() {
            let mut rec = house.clone();
            rec.extend(std::iter::repeat_n(String::new(), 10));
            w.write_record(&rec)?;
            rows += 1;
        }
        for r in &sh.residents {
            let mut rec = house.clone();
            rec.extend([
                r.name.clone(),
                r.id_number.clone().unwrap_or_default(),
                r.phone.clone().unwrap_or_default(),
                r.gender
                    .map(|g| g.label_zh().to_string())
                    .unwrap_or_default(),
                date(r.birth_date),
                r.relation.label_zh().to_string(),
                r.residency.label_zh().to_string(),
                r.special_groups
                    .iter()
                    .map(|g| g.label_zh())
                    .collect::<Vec<_>>()
                    .join("、"),
                date(r.moved_in_on),
                r.notes.clone().unwrap_or_default(),
            ]);
            w.write_record(&rec)?;
            rows += 1;
        }
    }
    Ok((w.into_inner().map_err(|e| e.to_string())?, rows))
}

/// Replays the entity rows of `api` into `raw` in one transaction; returns (rows, time).
fn raw_batch(api: &Store, raw: &mut Connection) -> BenchResult<(usize, StdDuration)> {
    let rows = api.read(|c| {
        let h = fetch_all(c, "households", HOUSEHOLD_COLS);
        let r = fetch_all(c, "residents", RESIDENT_COLS);
        match (h, r) {
            (Ok(h), Ok(r)) => Ok((h, r)),
            (Err(e), _) | (_, Err(e)) => Err(gridwalk_core::Error::Format {
                what: "bench",
                detail: e.to_string(),
            }),
        }
    })?;
    let t = Instant::now();
    let tx = raw.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for row in &rows.0 {
        raw_insert(&tx, "households", HOUSEHOLD_COLS, row)?;
    }
    for row in &rows.1 {
        raw_insert(&tx, "residents", RESIDENT_COLS, row)?;
    }
    tx.commit()?;
    Ok((rows.0.len() + rows.1.len(), t.elapsed()))
}

/// Batched: `Store::import_ledger` (and the entity API in one `Store::write`) against raw
/// INSERTs of the same rows in one transaction.
fn bench_batch_writes(cfg: &Config, dir: &Path, failures: &mut Failures) -> BenchResult<()> {
    let org = sample::sample_org(1);
    let grid = org.my_grid().ok_or("sample org has no grid")?;
    let probe = Store::open_in_memory()?;
    let today = local_today(&probe)?;
    drop(probe);
    let homes = sample::sample_households(202, grid, cfg.batch_households, today);
    let (csv, csv_rows) = ledger_csv(&homes)?;

    let t = Instant::now();
    let ledger_ctx = gridwalk_core::ledger::LedgerContext::new(&grid.code, today);
    let parsed = gridwalk_core::ledger::parse_ledger(&csv, &ledger_ctx)?;
    let parse_time = t.elapsed();
    failures.check(
        parsed.rejected.is_empty() && parsed.rows.len() == csv_rows,
        || {
            format!(
                "ledger parse: {} of {csv_rows} rows, rejected {:?}",
                parsed.rows.len(),
                parsed.rejected.first()
            )
        },
    );

    let mut import = (0usize, StdDuration::ZERO, 0usize, StdDuration::ZERO);
    let mut direct = (0usize, StdDuration::ZERO, 0usize, StdDuration::ZERO);
    for round in 0..cfg.batch_rounds {
        // Import of the ledger file.
        let api = Store::open(dir.join(format!("batch_import_{round}.db")))?;
        api.upsert_org_units(&org.units)?;
        let mut raw = raw_connection(&dir.join(format!("batch_import_raw_{round}.db")))?;
        let t = Instant::now();
        let report = api.import_ledger(&csv, &grid.code)?;
        let took = t.elapsed();
        failures.check(report.rejected.is_empty(), || {
            format!("import rejected sample rows: {:?}", report.rejected.first())
        });
        let rows = report.households_created + report.residents_created;
        let (raw_rows, raw_took) = raw_batch(&api, &mut raw)?;
        failures.check(rows == raw_rows, || {
            format!("import wrote {rows} entity rows, raw replay {raw_rows}")
        });
        import.0 += rows;
        import.1 += took;
        import.2 += raw_rows;
        import.3 += raw_took;
        drop(api);

        // The same households through the entity API, one transaction, no file parsing.
        let api = Store::open(dir.join(format!("batch_direct_{round}.db")))?;
        api.upsert_org_units(&org.units)?;
        let mut raw = raw_connection(&dir.join(format!("batch_direct_raw_{round}.db")))?;
        let t = Instant::now();
        let rows = api.write(|ctx| {
            let mut n = 0;
            for sh in &homes {
                let h = households::insert(ctx, &sh.household)?;
                n += 1;
                for r in &sh.residents {
                    let mut r = r.clone();
                    r.household_id = h.id.clone();
                    residents::insert(ctx, &r)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        let took = t.elapsed();
        let (raw_rows, raw_took) = raw_batch(&api, &mut raw)?;
        failures.check(rows == raw_rows, || {
            format!("entity batch wrote {rows} rows, raw replay {raw_rows}")
        });
        direct.0 += rows;
        direct.1 += took;
        direct.2 += raw_rows;
        direct.3 += raw_took;
    }

    let rate = |rows: usize, t: StdDuration| rows as f64 / t.as_secs_f64();
    println!(
        "batched, one transaction ({} ledger lines -> {} entity rows, {} round(s)):",
        csv_rows,
        import.0 / cfg.batch_rounds,
        cfg.batch_rounds
    );
    let (ia, ir) = (rate(import.0, import.1), rate(import.2, import.3));
    println!(
        "  API  Store::import_ledger         {ia:>9.0} rows/s  ({:.0} ms per import, of which CSV parse ~{:.0} ms)",
        ms(import.1) / cfg.batch_rounds as f64,
        ms(parse_time)
    );
    println!(
        "  API  households/residents::insert {:>9.0} rows/s  (one Store::write, no file parsing)",
        rate(direct.0, direct.1)
    );
    println!("  raw  rusqlite INSERT             {ir:>9.0} rows/s  (entity rows only)");
    ratio_line("import_ledger ratio", ia, ir);
    ratio_line(
        "entity batch ratio",
        rate(direct.0, direct.1),
        rate(direct.2, direct.3),
    );
    Ok(())
}

/// This thread's CPU time to the nanosecond (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), where
/// Linux has it: `/proc/thread-self/schedstat` only moves at scheduler ticks, too coarse for
/// one call of a millisecond.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu() -> Option<StdDuration> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec (64-bit Linux layout) for the call's duration.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (rc == 0).then(|| StdDuration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu() -> Option<StdDuration> {
    None
}

fn cpu_since(start: Option<StdDuration>) -> Option<StdDuration> {
    start.zip(thread_cpu()).map(|(a, b)| b.saturating_sub(a))
}

/// The CPU time of the same calls (this thread's, from the kernel): a wall-clock tail far
/// above the CPU tail is time spent waiting for a core, not work.
fn cpu_note(cpu: &[StdDuration]) -> String {
    if cpu.is_empty() {
        return String::new();
    }
    let p = percentiles(cpu);
    format!(
        "; CPU time p50 {:.2} ms  p99 {:.2} ms",
        ms(p.p50),
        ms(p.p99)
    )
}

/// A ledger of `cfg.ledger_rows` rows through `Store::import_ledger_with`: the first import,
/// the same file again (idempotent: every row matched, nothing written) and a dry run.
fn bench_ledger_import(cfg: &Config, dir: &Path, failures: &mut Failures) -> BenchResult<()> {
    let org = sample::sample_org(1);
    let grid = org.my_grid().ok_or("sample org has no grid")?;
    let store = Store::open(dir.join("ledger_import.db"))?;
    store.upsert_org_units(&org.units)?;
    let today = local_today(&store)?;
    // About 2.7 rows per household: grow the sample until the ledger has enough rows.
    let mut households = cfg.ledger_rows * 10 / 27;
    let (csv, rows) = loop {
        let homes = sample::sample_households(303, grid, households, today);
        let (csv, rows) = ledger_csv(&homes)?;
        if rows >= cfg.ledger_rows || households > cfg.ledger_rows {
            break (csv, rows);
        }
        households += households / 20 + 1;
    };
    let opts = gridwalk_core::import::ImportOptions::new(&grid.code);
    let rate = |t: StdDuration| rows as f64 / t.as_secs_f64();

    let t = Instant::now();
    let c = thread_cpu();
    let dry = store.import_ledger_with(
        &csv,
        &gridwalk_core::import::ImportOptions {
            dry_run: true,
            ..opts.clone()
        },
    )?;
    let dry_took = t.elapsed();
    let dry_cpu = cpu_since(c);
    let t = Instant::now();
    let c = thread_cpu();
    let first = store.import_ledger_with(&csv, &opts)?.report;
    let first_took = t.elapsed();
    let first_cpu = cpu_since(c);
    let t = Instant::now();
    let c = thread_cpu();
    let again = store.import_ledger_with(&csv, &opts)?.report;
    let again_took = t.elapsed();
    let again_cpu = cpu_since(c);
    failures.check(
        first.rejected.is_empty() && first.rows_accepted == rows,
        || {
            format!(
                "ledger import: {} of {rows} rows, first rejection {:?}",
                first.rows_accepted,
                first.rejected.first()
            )
        },
    );
    failures.check(
        again.residents_created == 0
            && again.residents_updated == 0
            && again.residents_unchanged == first.residents_created
            && again.import_id.is_none(),
        || format!("re-import was not idempotent: {again:?}"),
    );
    failures.check(
        dry.report.residents_created == first.residents_created,
        || "dry run reported other counts than the import".into(),
    );
    println!(
        "ledger import ({rows} rows, {} households, {} residents; accepted {}, refused {}):",
        first.households_created,
        first.residents_created,
        first.rows_accepted,
        first.rejected.len()
    );
    // Rows per second of wall time, and of this thread's CPU time (on a shared machine the
    // wall time includes waiting for a core).
    let cpu_rate =
        |c: Option<StdDuration>| c.map_or("?".to_string(), |c| format!("{:.0}", rate(c)));
    println!(
        "  first import        {:>9.0} rows/s  ({:.0} ms; {} rows/s of CPU time)",
        rate(first_took),
        ms(first_took),
        cpu_rate(first_cpu)
    );
    println!(
        "  same file again     {:>9.0} rows/s  ({:.0} ms, all unchanged; {} rows/s of CPU time)",
        rate(again_took),
        ms(again_took),
        cpu_rate(again_cpu)
    );
    println!(
        "  dry run             {:>9.0} rows/s  ({:.0} ms, rolled back; {} rows/s of CPU time)",
        rate(dry_took),
        ms(dry_took),
        cpu_rate(dry_cpu)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data for the read benchmarks
// ---------------------------------------------------------------------------------------------

struct Built {
    store: Store,
    position: GeoPoint,
    my_grid: OrgUnit,
}

/// A store with `households` sample households (500 per grid), their residents (topped up to
/// `min_residents` when given), `visits` visits over the past 90 days, and some tasks, cases,
/// drafts and a patrol. Bulk parts go through the entity functions in large transactions.
fn build_store(
    path: &Path,
    households_n: usize,
    min_residents: Option<usize>,
    visits_n: usize,
    seed: u64,
) -> BenchResult<Built> {
    let t = Instant::now();
    let store = Store::open(path)?;
    let grids = households_n.div_ceil(500).max(1);
    let org = sample::sample_org(grids);
    store.upsert_org_units(&org.units)?;
    let my_grid = org.my_grid().ok_or("sample org has no grid")?.clone();
    let position = sample::grid_centre(&my_grid);
    let today = local_today(&store)?;
    let homes = sample_many(&org, households_n, 500, seed, today);

    // Households and residents, a grid's worth per transaction. ID numbers are unique per
    // grid; the rare clash between grids is skipped (the store would refuse it).
    let mut ids_seen: HashSet<String> = HashSet::new();
    let mut tiers: Vec<(String, CareTier)> = Vec::with_capacity(homes.len());
    let mut people = 0usize;
    for chunk in homes.chunks(500) {
        store.write(|ctx| {
            for sh in chunk {
                let h = households::insert(ctx, &sh.household)?;
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
                tiers.push((h.id, h.care_tier));
            }
            Ok(())
        })?;
    }

    // Top up with more people (lodgers, relatives) spread over the existing households.
    if let Some(min) = min_residents {
        let mut extra_seed = seed * 7 + 1;
        let mut k = 0usize;
        while people < min {
            let more = sample::sample_households(extra_seed, &my_grid, 500, today);
            extra_seed += 1;
            store.write(|ctx| {
                for r in more.iter().flat_map(|sh| &sh.residents) {
                    if people >= min {
                        break;
                    }
                    if let Some(n) = &r.id_number {
                        if !ids_seen.insert(n.clone()) {
                            continue;
                        }
                    }
                    let mut r = r.clone();
                    r.household_id = tiers[k % tiers.len()].0.clone();
                    r.relation = Relation::Other;
                    k += 7919;
                    residents::insert(ctx, &r)?;
                    people += 1;
                }
                Ok(())
            })?;
        }
    }

    // Visits over the past 90 days; close-care households are visited most.
    let now = store.now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let weights: Vec<u32> = tiers
        .iter()
        .map(|(_, t)| match t {
            CareTier::Close => 6,
            CareTier::Attention => 3,
            CareTier::Routine => 2,
        })
        .collect();
    let total: u32 = weights.iter().sum();
    let pick_household = |rng: &mut fastrand::Rng| {
        let mut x = rng.u32(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    };
    let mut done = 0;
    while done < visits_n {
        let n = (visits_n - done).min(20_000);
        store.write(|ctx| {
            for _ in 0..n {
                let h = pick_household(&mut rng);
                let mode = match rng.u32(0..100) {
                    0..=49 => VisitMode::InPerson,
                    50..=79 => VisitMode::Phone,
                    80..=89 => VisitMode::Messaging,
                    _ => VisitMode::NotAtHome,
                };
                let outcome = match (mode, rng.u32(0..10)) {
                    (VisitMode::NotAtHome, _) => VisitOutcome::NoContact,
                    (_, 0) => VisitOutcome::ProblemFound,
                    (_, 1) => VisitOutcome::NeedsFollowUp,
                    _ => VisitOutcome::Fine,
                };
                let ago = Duration::seconds(rng.i64(60..90 * 86_400));
                visits::insert(
                    ctx,
                    &VisitInput {
                        household_id: tiers[h].0.clone(),
                        visited_at: now - ago,
                        mode,
                        outcome,
                        notes: Some(sample::sample_visit_note(&mut rng, mode).to_string()),
                    },
                )?;
            }
            Ok(())
        })?;
        done += n;
    }

    // Tasks, drafts, cases waiting for verification, a finished patrol.
    let extras = (households_n / 12).clamp(10, 400);
    store.write(|ctx| {
        for i in 0..extras {
            let (id, _) = &tiers[rng.usize(0..tiers.len())];
            let kind = [
                TaskKind::VisitHousehold,
                TaskKind::CallBack,
                TaskKind::CollectInfo,
            ][i % 3];
            tasks::insert_task(
                ctx,
                &TaskInput {
                    kind,
                    title: format!("{}（第{}项）", kind.label_zh(), i + 1),
                    target: Some(TaskTarget {
                        kind: "household".into(),
                        id: id.clone(),
                    }),
                    due_on: today + Duration::days(rng.i64(-6..=6)),
                    priority: [Priority::Low, Priority::Normal, Priority::High][i % 3],
                    source: TaskSource::Assigned,
                    notes: None,
                },
            )?;
        }
        Ok(())
    })?;
    let descriptions = sample::sample_case_descriptions();
    let case_count = (extras / 4).max(6);
    for i in 0..case_count {
        let (code, text) = descriptions[i % descriptions.len()];
        let at = GeoPoint {
            lat: position.lat + (rng.f64() - 0.5) * 0.003,
            lng: position.lng + (rng.f64() - 0.5) * 0.003,
        };
        let c = store.draft_case(&CaseInput {
            type_code: code.into(),
            urgency: [Urgency::Normal, Urgency::Urgent][i % 2],
            description: text.into(),
            location: Some(at),
            address: None,
            grid_code: my_grid.code.clone(),
            household_id: None,
            patrol_id: None,
        })?;
        if i % 2 == 0 {
            store.submit_case(&c.id)?;
            // What a pull from the platform would set: the case is back for on-site checking.
            store.write(|ctx| {
                ctx.tx.execute(
                    "UPDATE cases SET status = ?2 WHERE id = ?1",
                    rusqlite::params![c.id, CaseStatus::VerificationRequested],
                )?;
                Ok(())
            })?;
        }
    }
    let p = store.start_patrol(&my_grid.code)?;
    store.stop_patrol(&p.id, Some("巡查正常"))?;

    println!(
        "  built store: {} households, {} residents, {} visits, {} tasks, {} cases in {:.1} s",
        store_count(&store, "households")?,
        store_count(&store, "residents")?,
        store_count(&store, "visits")?,
        store_count(&store, "tasks")?,
        store_count(&store, "cases")?,
        t.elapsed().as_secs_f64()
    );
    Ok(Built {
        store,
        position,
        my_grid,
    })
}

// ---------------------------------------------------------------------------------------------
// Task list
// ---------------------------------------------------------------------------------------------

fn bench_today(
    cfg: &Config,
    built: &Built,
    label: &str,
    households_n: usize,
    target_ms: f64,
    loaded: bool,
    failures: &mut Failures,
) -> BenchResult<()> {
    let store = &built.store;
    let label = if cfg.quick {
        format!("{households_n} households (quick; full run: {label})")
    } else {
        label.to_string()
    };
    for (policy_name, policy) in [
        ("standard policy", VisitPolicy::standard()),
        ("盐池 policy", VisitPolicy::yanchi()),
    ] {
        store.set_visit_policy(&policy)?;
        let now = store.now();
        // Warm the statement cache and the page cache, as an app that has been open would.
        let mut items = 0;
        for _ in 0..5 {
            items = store.today_at(now, Some(built.position))?.len();
        }
        failures.check(items > 0, || format!("task list @{label} is empty"));
        let mut samples = Vec::with_capacity(cfg.today_iters);
        let mut cpu = Vec::with_capacity(cfg.today_iters);
        for _ in 0..cfg.today_iters {
            let c = thread_cpu();
            let t = Instant::now();
            let list = store.today_at(now, Some(built.position))?;
            samples.push(t.elapsed());
            cpu.extend(cpu_since(c));
            std::hint::black_box(list);
        }
        let p = percentiles(&samples);
        println!(
            "task list @{label}, {policy_name} ({items} items, {} runs) [{}]: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (target p99 <= {target_ms:.0} ms) {}{}",
            p.n,
            load::label(loaded),
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            verdict(ms(p.p99) <= target_ms),
            cpu_note(&cpu)
        );
    }
    store.set_visit_policy(&VisitPolicy::standard())?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

struct Person {
    name: String,
    id_number: Option<String>,
    phone: Option<String>,
}

fn bench_search(
    cfg: &Config,
    store: &Store,
    loaded: bool,
    failures: &mut Failures,
) -> BenchResult<()> {
    let people: Vec<Person> = store.read(|c| {
        let mut stmt = c.prepare("SELECT name, id_number, phone FROM residents ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| {
            Ok(Person {
                name: r.get(0)?,
                id_number: r.get(1)?,
                phone: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })?;
    let buildings: Vec<String> = store.read(|c| {
        let mut stmt = c.prepare("SELECT DISTINCT building FROM households ORDER BY 1")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    })?;
    println!(
        "  {} residents, {} households indexed [{}]",
        people.len(),
        store_count(store, "households")?,
        load::label(loaded)
    );

    let mut rng = fastrand::Rng::with_seed(7);
    let n = cfg.search_per_class;
    let chars = |s: &str| s.chars().collect::<Vec<_>>();
    let pick_people = |f: &dyn Fn(&Person, &mut fastrand::Rng) -> Option<String>,
                       rng: &mut fastrand::Rng| {
        let mut out = Vec::new();
        for _ in 0..n * 50 {
            if out.len() >= n {
                break;
            }
            let p = &people[rng.usize(0..people.len())];
            if let Some(q) = f(p, rng) {
                out.push(q);
            }
        }
        out
    };
    let two = pick_people(
        &|p, _| {
            let c = chars(&p.name);
            match c.len() {
                2 => Some(p.name.clone()),
                3 => Some(c[1..].iter().collect()),
                _ => None,
            }
        },
        &mut rng,
    );
    let three = pick_people(
        &|p, _| (chars(&p.name).len() == 3).then(|| p.name.clone()),
        &mut rng,
    );
    let phone = pick_people(
        &|p, _| {
            p.phone
                .as_ref()
                .filter(|s| s.len() == 11)
                .map(|s| s[7..].to_string())
        },
        &mut rng,
    );
    let id6 = pick_people(
        &|p, rng| {
            let o = rng.usize(0..=11);
            p.id_number.as_ref().map(|s| s[o..o + 6].to_string())
        },
        &mut rng,
    );
    let mut k = 0;
    let mut address = Vec::new();
    while address.len() < n {
        k += 1;
        let q = match k % 3 {
            0 => buildings[rng.usize(0..buildings.len())].clone(),
            1 => format!("{}单元", rng.u32(1..=3)),
            _ => format!(
                "{} {}单元",
                buildings[rng.usize(0..buildings.len())],
                rng.u32(1..=2)
            ),
        };
        address.push(q);
    }
    let misses: Vec<String> = ["龘龘", "查无此人", "靐龘麤", "Zzyzx", "无名氏龘", "鱻鱻鱻"]
        .iter()
        .cycle()
        .take(n)
        .map(|s| s.to_string())
        .collect();

    let classes: [(&str, &Vec<String>, bool); 6] = [
        ("2-char name", &two, true),
        ("3-char name", &three, true),
        ("4-digit phone", &phone, true),
        ("6-digit ID fragment", &id6, true),
        ("address (\"3栋\", \"2单元\")", &address, true),
        ("miss", &misses, false),
    ];
    // Warm-up.
    for (_, qs, _) in &classes {
        for q in qs.iter().take(3) {
            std::hint::black_box(store.search(q, SEARCH_LIMIT)?);
        }
    }
    let mut all = Vec::new();
    let mut all_cpu = Vec::new();
    let mut lines = String::new();
    for (name, qs, must_hit) in &classes {
        failures.check(!qs.is_empty(), || {
            format!("no {name} queries could be drawn")
        });
        let mut samples = Vec::with_capacity(qs.len());
        for q in qs.iter() {
            let c = thread_cpu();
            let t = Instant::now();
            let hits = store.search(q, SEARCH_LIMIT)?;
            samples.push(t.elapsed());
            all_cpu.extend(cpu_since(c));
            if *must_hit {
                failures.check(!hits.is_empty(), || {
                    format!("search {q:?} ({name}) found nothing")
                });
            } else {
                failures.check(hits.is_empty(), || {
                    format!("search {q:?} should miss, found {}", hits.len())
                });
            }
        }
        let p = percentiles(&samples);
        // Two-character names (most Chinese given names) have their own target.
        let two_target = if *name == "2-char name" {
            format!("  (target p50 <= 10 ms) {}", verdict(ms(p.p50) <= 10.0))
        } else {
            String::new()
        };
        writeln!(
            lines,
            "  {name:<26} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({} queries){two_target}",
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            p.n
        )?;
        all.extend(samples);
    }
    print!("{lines}");
    let p = percentiles(&all);
    println!(
        "search over {} residents, all queries [{}]: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (target p99 <= 10 ms) {}{}",
        people.len(),
        load::label(loaded),
        ms(p.p50),
        ms(p.p99),
        ms(p.max),
        verdict(ms(p.p99) <= 10.0),
        cpu_note(&all_cpu)
    );
    Ok(())
}
