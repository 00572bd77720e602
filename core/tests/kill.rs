//! Crash safety: a child process writing through the core API is killed with SIGKILL at random
//! points. Every write the API acknowledged must be there afterwards, with its change-tracking
//! row, and the file must pass `PRAGMA integrity_check`.
//!
//! The child is this test binary re-executed on the ignored test [`kill_child_writer`]; it
//! prints `ACK <kind> <id> [detail]` on stdout after each call that returned `Ok`. The same
//! database is reused across trials, so state accumulates and every trial also exercises
//! reopening (WAL recovery) after a crash.
//!
//! `GRIDWALK_KILL_TRIALS` sets the number of trials (default 200; a stress run uses thousands),
//! `GRIDWALK_KILL_SEED` replays the kill schedule of an earlier run (the seed is printed).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, Utc};
use gridwalk_core::*;

mod common;
use common::org;

const DB_ENV: &str = "GRIDWALK_KILL_DB";
const CHILD_SEED_ENV: &str = "GRIDWALK_KILL_CHILD_SEED";
const TRIALS_ENV: &str = "GRIDWALK_KILL_TRIALS";
const SEED_ENV: &str = "GRIDWALK_KILL_SEED";

const GRID: &str = "G1";
/// Region code of the ID numbers the child makes (示范区).
const REGION: &str = "640323";
const CENTRE: GeoPoint = GeoPoint {
    lat: 37.78,
    lng: 107.40,
};

/// Longest wait for the child's first acknowledged write.
const FIRST_ACK_TIMEOUT: StdDuration = StdDuration::from_secs(60);
/// The kill lands 0..=this after the first acknowledged write.
const MAX_KILL_DELAY_US: u64 = 40_000;

// ---------------------------------------------------------------------------------------------
// The child
// ---------------------------------------------------------------------------------------------

fn id_base_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1950, 1, 1).expect("valid date")
}

/// The `k`-th ID number: born `k / 1000` days after 1950-01-01, sequence `k % 1000`. Ordering
/// the numbers as text orders them by `k`.
fn id_number_for(k: u64) -> String {
    let born = id_base_date() + Duration::days((k / 1000) as i64);
    let first17 = format!("{REGION}{}{:03}", born.format("%Y%m%d"), k % 1000);
    let check = validate::id_check_digit(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// The counter after the largest ID number already stored (acknowledged or not).
fn next_id_counter(store: &Store) -> u64 {
    let max: Option<String> = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT max(id_number) FROM residents WHERE id_number LIKE ?1",
                [format!("{REGION}%")],
                |r| r.get(0),
            )?)
        })
        .expect("read max id_number");
    match max {
        None => 0,
        Some(n) => {
            let born = NaiveDate::parse_from_str(&n[6..14], "%Y%m%d").expect("birth date");
            let seq: u64 = n[14..17].parse().expect("sequence");
            (born - id_base_date()).num_days() as u64 * 1000 + seq + 1
        }
    }
}

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = [
    "伟", "芳", "秀英", "敏", "静", "建国", "桂兰", "强", "丽", "志明",
];

fn near_centre(rng: &mut fastrand::Rng) -> GeoPoint {
    GeoPoint {
        lat: CENTRE.lat + (rng.f64() - 0.5) * 0.008,
        lng: CENTRE.lng + (rng.f64() - 0.5) * 0.008,
    }
}

fn ack(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    out.write_fmt(format_args!("ACK {line}\n"))
        .and_then(|()| out.flush())
        .expect("write ACK");
}

fn must<T>(what: &str, r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("child: {what} failed: {e:?}"))
}

/// Writes through the core API until killed. Only runs when `GRIDWALK_KILL_DB` is set (the
/// parent test sets it for the process it spawns).
#[test]
#[ignore = "child process of sigkill_loses_no_acknowledged_write"]
fn kill_child_writer() {
    let Some(path) = std::env::var_os(DB_ENV) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // End the harness's "test kill_child_writer ... " so every ACK starts a line.
    {
        let mut out = std::io::stdout().lock();
        out.write_all(b"\n")
            .and_then(|()| out.flush())
            .expect("stdout");
    }
    child_loop(Path::new(&path), seed);
}

fn child_loop(path: &Path, seed: u64) -> ! {
    let store = must("open", Store::open(path));
    if store.org_unit(GRID).is_err() {
        must("org setup", store.upsert_org_units(&org()));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut next_id = next_id_counter(&store);
    let mut homes: Vec<String> = must(
        "recent households",
        store.read(|c| {
            let mut stmt = c.prepare("SELECT id FROM households ORDER BY rowid DESC LIMIT 64")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        }),
    );
    let mut patrol: Option<(String, i64)> =
        must("active patrol", store.active_patrol()).map(|p| (p.id, p.point_count));
    let mut drafts: Vec<String> = must("drafts", store.list_cases(Some(CaseStatus::Draft)))
        .into_iter()
        .map(|c| c.id)
        .collect();
    let cases = gridwalk_sample::sample_case_descriptions();

    for n in 0u64.. {
        let roll = if homes.is_empty() { 0 } else { rng.u32(0..100) };
        match roll {
            0..=19 => {
                let h = must(
                    "add_household",
                    store.add_household(&HouseholdInput {
                        grid_code: GRID.into(),
                        address: Address {
                            community: "幸福社区".into(),
                            building: format!("{}栋", rng.u32(1..=30)),
                            unit: Some(format!("{}单元", rng.u32(1..=3))),
                            floor: Some(rng.i32(1..=18)),
                            room: Some(format!("K{seed:x}-{n}").chars().take(20).collect()),
                            text: None,
                        },
                        housing_type: HousingType::ALL[rng.usize(0..HousingType::ALL.len())],
                        care_tier: CareTier::ALL[rng.usize(0..CareTier::ALL.len())],
                        tags: vec![],
                        location: Some(near_centre(&mut rng)),
                        notes: None,
                    }),
                );
                ack(format_args!("household {}", h.id));
                homes.push(h.id);
            }
            20..=44 => {
                let number = id_number_for(next_id);
                let r = must(
                    "add_resident",
                    store.add_resident(&ResidentInput {
                        household_id: homes[rng.usize(0..homes.len())].clone(),
                        name: format!(
                            "{}{}",
                            SURNAMES[rng.usize(0..SURNAMES.len())],
                            GIVEN[rng.usize(0..GIVEN.len())]
                        ),
                        id_number: Some(number.clone()),
                        phone: Some(format!("139{:08}", next_id % 100_000_000)),
                        gender: None,
                        birth_date: None,
                        relation: Relation::Other,
                        residency: Residency::Registered,
                        special_groups: vec![],
                        moved_in_on: None,
                        notes: None,
                    }),
                );
                next_id += 1;
                ack(format_args!("resident {} {number}", r.id));
            }
            45..=64 => {
                let mode = VisitMode::ALL[rng.usize(0..VisitMode::ALL.len())];
                let v = must(
                    "log_visit",
                    store.log_visit(&VisitInput {
                        household_id: homes[rng.usize(0..homes.len())].clone(),
                        visited_at: Utc::now() - Duration::minutes(rng.i64(0..600)),
                        mode,
                        outcome: if mode == VisitMode::NotAtHome {
                            VisitOutcome::NoContact
                        } else {
                            VisitOutcome::Fine
                        },
                        notes: Some("入户走访，家中一切正常。".into()),
                    }),
                );
                ack(format_args!("visit {}", v.id));
            }
            65..=74 => {
                let id = homes[rng.usize(0..homes.len())].clone();
                let token = format!("rev-{seed:x}-{n}");
                must(
                    "update_household",
                    store.update_household(
                        &id,
                        &HouseholdPatch {
                            notes: Some(Some(token.clone())),
                            ..Default::default()
                        },
                    ),
                );
                ack(format_args!("household_update {id} {token}"));
            }
            75..=89 => match patrol.take() {
                None => {
                    let p = must("start_patrol", store.start_patrol(GRID));
                    ack(format_args!("patrol {}", p.id));
                    patrol = Some((p.id, 0));
                }
                Some((id, points)) if points < 12 => {
                    let now = Utc::now();
                    let fixes: Vec<TrackPoint> = (0..3)
                        .map(|i| {
                            let p = near_centre(&mut rng);
                            TrackPoint {
                                at: now - Duration::milliseconds(2 - i),
                                lat: p.lat,
                                lng: p.lng,
                                accuracy_m: Some(8.0),
                            }
                        })
                        .collect();
                    let (kept, _) = must("add_track_points", store.add_track_points(&id, &fixes));
                    let total = points + kept as i64;
                    ack(format_args!("track {id} {total}"));
                    patrol = Some((id, total));
                }
                Some((id, _)) => {
                    must("stop_patrol", store.stop_patrol(&id, Some("巡查完毕")));
                    ack(format_args!("patrol_stop {id}"));
                }
            },
            _ => match drafts.pop() {
                Some(id) => {
                    must("submit_case", store.submit_case(&id));
                    ack(format_args!("case_submit {id}"));
                }
                None => {
                    let (code, text) = cases[rng.usize(0..cases.len())];
                    let c = must(
                        "draft_case",
                        store.draft_case(&CaseInput {
                            type_code: code.into(),
                            urgency: Urgency::Normal,
                            description: text.into(),
                            location: Some(near_centre(&mut rng)),
                            address: None,
                            grid_code: GRID.into(),
                            household_id: None,
                            patrol_id: None,
                        }),
                    );
                    ack(format_args!("case {}", c.id));
                    drafts.push(c.id);
                }
            },
        }
    }
    unreachable!("the child writes until it is killed")
}

// ---------------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------------

/// One acknowledged write: `ACK <kind> <id> [detail]`.
#[derive(Debug, Clone)]
struct Ack {
    kind: String,
    id: String,
    detail: Option<String>,
}

fn parse_ack(line: &str) -> Ack {
    let mut parts = line.split(' ');
    let (Some(kind), Some(id)) = (parts.next(), parts.next()) else {
        panic!("malformed ACK line {line:?}");
    };
    Ack {
        kind: kind.to_string(),
        id: id.to_string(),
        detail: parts.next().map(str::to_string),
    }
}

/// Kills (SIGKILL) and reaps the child if a trial ends early.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Trial {
    acks: Vec<Ack>,
    torn_tail: bool,
}

fn run_trial(db: &Path, child_seed: u64, delay: StdDuration) -> Trial {
    let exe = std::env::current_exe().expect("test binary path");
    let child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "kill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, db)
        .env(CHILD_SEED_ENV, child_seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child writer");
    let mut guard = ChildGuard(Some(child));
    let child = guard.0.as_mut().expect("child");
    let stdout = child.stdout.take().expect("child stdout");
    let stderr = child.stderr.take().expect("child stderr");

    let (tx, rx) = mpsc::channel::<Ack>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return false,
                // No newline: the line was cut by the kill, so it was never acknowledged.
                Ok(_) if buf.last() != Some(&b'\n') => return true,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
                    if let Some(rest) = line.strip_prefix("ACK ") {
                        if tx.send(parse_ack(rest)).is_err() {
                            return false;
                        }
                    }
                }
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });

    let mut acks = Vec::new();
    match rx.recv_timeout(FIRST_ACK_TIMEOUT) {
        Ok(a) => acks.push(a),
        Err(e) => {
            drop(guard);
            panic!(
                "child wrote no ACK ({e}); its stderr:\n{}",
                err_reader.join().unwrap_or_default()
            );
        }
    }
    std::thread::sleep(delay);
    if let Ok(Some(status)) = child.try_wait() {
        panic!(
            "child exited by itself ({status}); its stderr:\n{}",
            err_reader.join().unwrap_or_default()
        );
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    guard.0 = None;
    assert_eq!(status.signal(), Some(9), "child was not killed by SIGKILL");
    let torn_tail = reader.join().expect("stdout reader");
    drop(err_reader);
    acks.extend(rx.try_iter());
    Trial { acks, torn_tail }
}

fn exists(c: &rusqlite::Connection, sql: &str, params: &[&str]) -> rusqlite::Result<bool> {
    c.prepare_cached(sql)?
        .exists(rusqlite::params_from_iter(params.iter()))
}

/// Every acknowledged write is stored, with its outbox row; returns the problems found.
fn check_acks(store: &Store, acks: &[Ack]) -> Vec<String> {
    let outbox = |entity: &str, op: &str| {
        format!("SELECT 1 FROM outbox WHERE entity = '{entity}' AND entity_id = ?1 AND op = '{op}'")
    };
    store
        .read(|c| {
            let mut problems = Vec::new();
            for a in acks {
                let id = a.id.as_str();
                let detail = a.detail.as_deref().unwrap_or("");
                let ok = match a.kind.as_str() {
                    "household" => {
                        exists(c, "SELECT 1 FROM households WHERE id = ?1", &[id])?
                            && exists(c, &outbox("household", "create"), &[id])?
                    }
                    "resident" => {
                        exists(
                            c,
                            "SELECT 1 FROM residents WHERE id = ?1 AND id_number = ?2",
                            &[id, detail],
                        )? && exists(c, &outbox("resident", "create"), &[id])?
                    }
                    "visit" => {
                        exists(c, "SELECT 1 FROM visits WHERE id = ?1", &[id])?
                            && exists(c, &outbox("visit", "create"), &[id])?
                    }
                    "household_update" => exists(
                        c,
                        "SELECT 1 FROM outbox WHERE entity = 'household' AND entity_id = ?1
                           AND op = 'update' AND instr(payload, ?2) > 0",
                        &[id, detail],
                    )?,
                    "patrol" => {
                        exists(c, "SELECT 1 FROM patrols WHERE id = ?1", &[id])?
                            && exists(c, &outbox("patrol", "create"), &[id])?
                    }
                    "track" => {
                        let n: i64 = c.query_row(
                            "SELECT count(*) FROM track_points WHERE patrol_id = ?1",
                            [id],
                            |r| r.get(0),
                        )?;
                        n >= detail.parse::<i64>().unwrap_or(i64::MAX)
                    }
                    "patrol_stop" => {
                        exists(
                            c,
                            "SELECT 1 FROM patrols WHERE id = ?1 AND ended_at IS NOT NULL",
                            &[id],
                        )? && exists(c, &outbox("patrol", "update"), &[id])?
                    }
                    "case" => exists(c, "SELECT 1 FROM cases WHERE id = ?1", &[id])?,
                    "case_submit" => {
                        exists(
                            c,
                            "SELECT 1 FROM cases WHERE id = ?1 AND status = 'submitted'",
                            &[id],
                        )? && exists(c, &outbox("case", "create"), &[id])?
                    }
                    other => {
                        problems.push(format!("unknown ACK kind {other:?}"));
                        true
                    }
                };
                if !ok {
                    problems.push(format!("acknowledged write lost: {a:?}"));
                }
            }
            Ok(problems)
        })
        .expect("check acknowledged writes")
}

/// Whole-file invariants: every entity row has its outbox row and search-index row, even the
/// writes that committed but were killed before they could be acknowledged.
fn check_invariants(store: &Store) -> Vec<String> {
    let checks: [(&str, &str); 5] = [
        (
            "households without an outbox create row",
            "SELECT count(*) FROM households h WHERE NOT EXISTS (SELECT 1 FROM outbox o
               WHERE o.entity = 'household' AND o.entity_id = h.id AND o.op = 'create')",
        ),
        (
            "residents without an outbox create row",
            "SELECT count(*) FROM residents r WHERE NOT EXISTS (SELECT 1 FROM outbox o
               WHERE o.entity = 'resident' AND o.entity_id = r.id AND o.op = 'create')",
        ),
        (
            "visits without an outbox create row",
            "SELECT count(*) FROM visits v WHERE NOT EXISTS (SELECT 1 FROM outbox o
               WHERE o.entity = 'visit' AND o.entity_id = v.id AND o.op = 'create')",
        ),
        (
            "households and residents minus search-index rows",
            "SELECT (SELECT count(*) FROM households) + (SELECT count(*) FROM residents)
                  - (SELECT count(*) FROM search_docs)",
        ),
        (
            "running patrols beyond one",
            "SELECT max(count(*) - 1, 0) FROM patrols WHERE ended_at IS NULL",
        ),
    ];
    store
        .read(|c| {
            let mut problems = Vec::new();
            for (what, sql) in checks {
                let n: i64 = c.query_row(sql, [], |r| r.get(0))?;
                if n != 0 {
                    problems.push(format!("{what}: {n}"));
                }
            }
            Ok(problems)
        })
        .expect("check invariants")
}

fn verify(db: &Path, acks: &[Ack], when: &str) {
    let store = Store::open(db).unwrap_or_else(|e| panic!("{when}: reopen failed: {e:?}"));
    let mut problems = check_acks(&store, acks);
    problems.extend(check_invariants(&store));
    let integrity = store.integrity_check().expect("integrity_check");
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    assert!(problems.is_empty(), "{when}:\n{}", problems.join("\n"));
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let trials: usize = std::env::var(TRIALS_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("kill test: {trials} trials, seed {seed} ({SEED_ENV}={seed} replays the schedule)");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("field.db");
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let mut all: Vec<Ack> = Vec::new();
    let mut torn = 0;
    for trial in 0..trials {
        let delay = StdDuration::from_micros(rng.u64(0..=MAX_KILL_DELAY_US));
        let t = run_trial(&db, seed.wrapping_add(trial as u64), delay);
        torn += usize::from(t.torn_tail);
        verify(
            &db,
            &t.acks,
            &format!("trial {trial} (seed {seed}, kill {delay:?} after the first ACK)"),
        );
        all.extend(t.acks);
    }
    // Once more at the end: nothing acknowledged in an early trial was lost later.
    verify(&db, &all, &format!("final check (seed {seed})"));

    let store = Store::open(&db).expect("reopen");
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &all {
        *by_kind.entry(a.kind.as_str()).or_default() += 1;
    }
    let stored: i64 = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM households) + (SELECT count(*) FROM residents)
                      + (SELECT count(*) FROM visits)",
                [],
                |r| r.get(0),
            )?)
        })
        .expect("count rows");
    let acked_creates = ["household", "resident", "visit"]
        .iter()
        .map(|k| by_kind.get(k).copied().unwrap_or(0))
        .sum::<usize>();
    println!(
        "kill test: {trials} trials in {:.1} s, {} acknowledged writes checked {:?}; \
         {} household/resident/visit rows committed but killed before their ACK; \
         {torn} torn final line(s) ignored; integrity_check ok",
        started.elapsed().as_secs_f64(),
        all.len(),
        by_kind,
        stored - acked_creates as i64,
    );
    assert!(
        all.len() >= trials,
        "every trial acknowledges at least one write"
    );
}
