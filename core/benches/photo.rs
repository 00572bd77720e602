//! Photo benchmark: a 12 MP phone-camera JPEG through the pipeline, with time and peak memory.
//!
//! Why a benchmark and not a test: the target (≤ 1 s and ≤ 150 MB for a 4000×3000 camera JPEG
//! on this machine, `bench` profile) is a figure to watch, not a pass/fail a slow shared CI box
//! could flake. The run exits non-zero only when a correctness precondition fails (the photo is
//! refused, its GPS or orientation is lost, the stored size is not what the settings ask).
//!
//! Run with `cargo bench -p gridwalk-core --bench photo`; `GRIDWALK_BENCH_QUICK=1` does one
//! round instead of five (the image stays 12 MP: its size is what is measured).
//!
//! The photo is made at bench time (no binary fixture in the tree): the test fixture's camera
//! scene (gradients, rings and noise, so it compresses like a photo), encoded at quality 92,
//! with an EXIF block like a phone's (orientation 6 — held upright —, capture time, GPS, camera
//! model). Memory is counted by a global allocator that records the peak of live heap bytes
//! during each call (reset before it); the process's VmHWM is printed too, for context (it
//! includes making the test image). Each call's CPU time is printed next to its wall time: on
//! a shared machine the wall time includes waiting for a core.

#[path = "../tests/photo_fixture/mod.rs"]
mod photo_fixture;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gridwalk_core::photos::{self, PhotoOwner, PhotoSettings, PhotoStages};
use gridwalk_core::*;
use gridwalk_sample as sample;
use photo_fixture::ExifSpec;

/// Live heap bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What one call cost: wall time, this thread's CPU time, and the peak heap it added above
/// what was live before it.
struct Cost {
    wall: Duration,
    cpu: Option<Duration>,
    peak: usize,
}

/// This thread's CPU time (`/proc/thread-self/schedstat`, ns). On a shared machine the wall
/// time includes waiting for a core; the CPU time does not.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f`; returns its result and its [`Cost`].
fn measured<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let cpu = thread_cpu();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed();
    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| b.saturating_sub(a));
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, Cost { wall, cpu, peak })
}

/// Median wall time, median CPU time (when known) and the largest peak of some calls.
fn summary(costs: &[Cost]) -> (Duration, Option<Duration>, usize) {
    let mut wall: Vec<Duration> = costs.iter().map(|c| c.wall).collect();
    wall.sort();
    let mut cpu: Vec<Duration> = costs.iter().filter_map(|c| c.cpu).collect();
    cpu.sort();
    let peak = costs.iter().map(|c| c.peak).max().unwrap_or(0);
    (wall[wall.len() / 2], cpu.get(cpu.len() / 2).copied(), peak)
}

fn print_cost(label: &str, costs: &[Cost]) {
    let (wall, cpu, peak) = summary(costs);
    println!("\n{label}:");
    println!(
        "  median {:>7.0} ms wall, {} CPU   target <= {TARGET_MS:.0} ms {}",
        ms(wall),
        cpu.map_or("?".to_string(), |c| format!("{:.0} ms", ms(c))),
        verdict(ms(wall) <= TARGET_MS)
    );
    println!(
        "  peak heap during the call {:>6.1} MB   target <= {TARGET_MB:.0} MB {}",
        mb(peak),
        verdict(mb(peak) <= TARGET_MB)
    );
}

/// `VmHWM` (peak resident set) of this process, in bytes, where /proc has it.
fn vm_hwm() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

const TARGET_MS: f64 = 1000.0;
const TARGET_MB: f64 = 150.0;
const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;

fn main() {
    let quick = std::env::var("GRIDWALK_BENCH_QUICK").is_ok_and(|v| v == "1");
    match run(quick) {
        Ok(failures) if failures.is_empty() => {}
        Ok(failures) => {
            for f in &failures {
                eprintln!("PRECONDITION FAILED: {f}");
            }
            eprintln!("{} correctness precondition(s) failed", failures.len());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("benchmark error: {e}");
            std::process::exit(2);
        }
    }
}

fn run(quick: bool) -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
    let rounds = if quick { 1 } else { 5 };
    let mut failures = Vec::new();
    println!(
        "gridwalk-core photo benchmark{} — {WIDTH}x{HEIGHT} camera JPEG, {rounds} round(s)",
        if quick { " (QUICK)" } else { "" }
    );
    let t = Instant::now();
    let bytes = photo_fixture::with_exif(
        &photo_fixture::jpeg(WIDTH, HEIGHT, 12),
        &ExifSpec {
            orientation: Some(6),
            taken: Some("2026:11:18 08:30:00"),
            offset: Some("+08:00"),
            gps: Some((37.78, 107.40)),
            model: Some("Redmi Note 12"),
        },
    );
    println!(
        "input: {:.1} MB JPEG (quality 92, EXIF orientation 6 + time + GPS), made in {:.0} ms",
        mb(bytes.len()),
        ms(t.elapsed())
    );

    let settings = PhotoSettings::default();
    let offset = chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let now = chrono::Utc::now();

    // The pipeline alone (pure: no store, no files), stage by stage.
    let mut costs = Vec::new();
    let mut stages = PhotoStages::default();
    for _ in 0..rounds {
        let (out, cost) = measured(|| photos::process_profiled(&bytes, &settings, offset, now));
        let (photo, s) = out?;
        costs.push(cost);
        stages = s;
        // Upright (orientation 6 turns 4000x3000 into portrait), bounded by max_side, at most
        // one DCT-scaling step under it, with the EXIF facts kept as fields.
        let long = photo.width.max(photo.height);
        if !(photo.height > photo.width
            && long <= settings.max_side
            && long * 16 >= settings.max_side * 15)
        {
            failures.push(format!(
                "stored size {}x{} (max side {})",
                photo.width, photo.height, settings.max_side
            ));
        }
        if photo.location.is_none() || photo.taken_at.is_none() || photo.orientation != 6 {
            failures.push("EXIF GPS, time or orientation lost".into());
        }
        if photo.thumb.is_empty() || photo.jpeg.len() < 50_000 {
            failures.push(format!(
                "implausible output: {} byte photo, {} byte thumbnail",
                photo.jpeg.len(),
                photo.thumb.len()
            ));
        }
    }
    print_cost(
        "photos::process (decode, orient, resize, encode, thumbnail, hash)",
        &costs,
    );
    println!("  stages of the last round (wall):");
    for (name, d) in stages.list() {
        println!("    {name:<22} {:>7.1} ms", ms(d));
    }
    println!(
        "  decoded at {}x{} (scale 1/{}), stored {}x{}, thumbnail {}x{}",
        stages.decoded.0,
        stages.decoded.1,
        stages.scale_denom,
        stages.stored.0,
        stages.stored.1,
        stages.thumb.0,
        stages.thumb.1
    );

    // Through the store: the pipeline plus files (temp, fsync, rename) and the row.
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("photo_bench.db"))?;
    let org = sample::sample_org(1);
    let grid = org.my_grid().ok_or("sample org has no grid")?;
    store.upsert_org_units(&org.units)?;
    let mut store_costs = Vec::new();
    for round in 0..rounds {
        let case = store.draft_case(&CaseInput {
            type_code: "0203".into(),
            urgency: Urgency::Normal,
            description: format!("楼道堆物 {round}"),
            location: None,
            address: None,
            grid_code: grid.code.clone(),
            household_id: None,
            patrol_id: None,
        })?;
        let owner = PhotoOwner::Case(case.id.clone());
        let (meta, cost) = measured(|| store.add_photo(&owner, &bytes, None));
        if meta?.location.is_none() {
            failures.push("stored photo lost its GPS".into());
        }
        store_costs.push(cost);
    }
    print_cost(
        "Store::add_photo (the pipeline + atomic files + row)",
        &store_costs,
    );
    if let Some(hwm) = vm_hwm() {
        println!(
            "\nprocess VmHWM {:.1} MB (includes making the {WIDTH}x{HEIGHT} test image)",
            mb(hwm)
        );
    }
    Ok(failures)
}
