//! `gridwalk demo`: builds a realistic grid in a fresh store and walks through one working day
//! of its grid worker, narrating each step in Chinese with English in parentheses.
//!
//! Why it exists: it is the quickest way to see what the core does (and a smoke test of the
//! whole stack on realistic data). Everything goes through the same public API as the other
//! commands; the sample data comes from `gridwalk_sample`, so ID numbers, phones, addresses
//! and tracks pass real validation.
//!
//! Time. The core refuses timestamps in the future, and it is right to. The demo therefore runs
//! on a simulated clock ([`SimClock`], installed with `Store::set_now_fn`) that is moved forward
//! step by step and is never allowed past the real clock:
//!
//! - the *demo day* is today when it is already evening in the grid's time zone (so the whole
//!   day, 07:50-18:00, lies in the past), otherwise yesterday, the last complete working day;
//! - the history (households registered 75 days earlier, 60 days of visits and patrols, a few
//!   cases, two assigned tasks) lies before the demo day.
//!
//! Bulk history goes through `Store::write` with the core's own insert functions (the path the
//! ledger importer uses), one transaction per day, so a 300-household grid with ~1,000 visits and
//! ~100 patrols is built in a second or two even with `synchronous = FULL`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Timelike, Utc, Weekday};
use gridwalk_core::changes;
use gridwalk_core::geometry;
use gridwalk_core::households;
use gridwalk_core::residents;
use gridwalk_core::stats::Period;
use gridwalk_core::store::{NowFn, Settings};
use gridwalk_core::tasks::{TodayItem, TodayKind, VisitPolicy};
use gridwalk_core::visits;
use gridwalk_core::{
    CareTier, CaseInput, Code, Error, GeoPoint, Household, HousingType, OrgUnit, Patrol, Priority,
    Relation, Residency, Resident, Store, TaskInput, TaskKind, TaskSource, TaskStatus, TaskTarget,
    TrackPoint, Urgency, ValidationError, VisitInput, VisitMode, VisitOutcome,
};
use gridwalk_sample::{
    grid_centre, sample_case_descriptions, sample_households, sample_org, sample_track,
    sample_visit_note,
};
use serde_json::json;

use crate::error::{validation_line, CliError};
use crate::output::{self, print_json};
use crate::png;

/// Options of `gridwalk demo`.
pub struct DemoOptions {
    pub dir: Option<PathBuf>,
    pub households: usize,
    pub seed: u64,
    /// A sync server seeded with `--demo`: the evening then syncs the day through it.
    pub server: Option<String>,
}

/// Most households a demo grid gets (a very large urban grid).
const MAX_HOUSEHOLDS: usize = 5_000;
/// Days of visit and patrol history before the demo day.
const HISTORY_DAYS: i64 = 60;
/// Households were registered this many days before the demo day.
const REGISTERED_DAYS_AGO: i64 = 75;

/// A clock the demo moves by hand. It never runs ahead of the real clock.
#[derive(Clone)]
struct SimClock(Arc<AtomicI64>);

impl SimClock {
    fn new() -> SimClock {
        SimClock(Arc::new(AtomicI64::new(Utc::now().timestamp_millis())))
    }

    fn set(&self, t: DateTime<Utc>) {
        let t = t.min(Utc::now());
        self.0.store(t.timestamp_millis(), Ordering::SeqCst);
    }

    fn get(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap_or_else(Utc::now)
    }

    fn now_fn(&self) -> NowFn {
        let c = self.clone();
        Arc::new(move || c.get())
    }
}

/// Prints the narration unless `--json` asked for the summary only.
struct Say {
    on: bool,
}

impl Say {
    fn step(&self, time: &str, zh: &str, en: &str) {
        if self.on {
            outln!("\n=== {time}  {zh} ({en}) ===");
        }
    }

    fn line(&self, s: impl AsRef<str>) {
        if self.on {
            outln!("{}", s.as_ref());
        }
    }
}

/// A household of the demo grid with its residents as stored.
struct Home {
    h: Household,
    residents: Vec<Resident>,
}

struct Demo {
    store: Store,
    clock: SimClock,
    say: Say,
    rng: fastrand::Rng,
    seed: u64,
    settings: Settings,
    day: NaiveDate,
    dir: PathBuf,
    grid: OrgUnit,
    centre: GeoPoint,
    homes: Vec<Home>,
    /// The assigned "collect information" task and its household index.
    collect_task: Option<(String, usize)>,
    /// The assigned "call back" task and its household index.
    callback_task: Option<(String, usize)>,
    photos_taken: u32,
}

/// The local day the demo walks through, and whether it is today.
fn demo_day(settings: &Settings, now: DateTime<Utc>) -> (NaiveDate, bool) {
    let local = now.with_timezone(&settings.offset());
    if local.hour() >= 19 {
        (local.date_naive(), true)
    } else {
        (local.date_naive() - Duration::days(1), false)
    }
}

fn interval_days(tier: CareTier) -> i64 {
    match tier {
        CareTier::Close => 7,
        CareTier::Attention => 15,
        CareTier::Routine => 30,
    }
}

/// A sample note for a visit where everything was fine (skips the ones reporting a problem).
fn fine_note(rng: &mut fastrand::Rng, mode: VisitMode) -> &'static str {
    let mut note = sample_visit_note(rng, mode);
    for _ in 0..8 {
        if !note.contains("反映") {
            break;
        }
        note = sample_visit_note(rng, mode);
    }
    note
}

/// A GPX 1.1 document of a track, as a phone's tracker app would export it.
fn gpx(points: &[TrackPoint]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gpx version=\"1.1\" creator=\"gridwalk demo\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n\
         <trk><name>网格巡查</name><trkseg>\n",
    );
    for p in points {
        let hdop = p
            .accuracy_m
            .map(|a| format!("<hdop>{:.1}</hdop>", a / 5.0))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<trkpt lat=\"{:.7}\" lon=\"{:.7}\"><time>{}</time>{hdop}</trkpt>",
            p.lat,
            p.lng,
            p.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    s.push_str("</trkseg></trk>\n</gpx>\n");
    s
}

/// A small picture of the scene: sky, wall, an orange e-bike and a cable from a window.
fn photo(variant: u32) -> Vec<u8> {
    let tint = (variant * 37 % 64) as u8;
    png::encode_rgb(64, 48, move |x, y| {
        let cable = (x as i32 - 10 - (y as i32) / 2).abs() <= 0 && y < 30;
        if cable {
            [20, 20, 20]
        } else if (8..=14).contains(&x) && (4..=10).contains(&y) {
            [90, 140, 200] // window
        } else if (24..=44).contains(&x) && (28..=38).contains(&y) {
            [240, 120 + tint, 20] // e-bike
        } else if y < 14 {
            [150, 190, 230 - tint]
        } else if y < 40 {
            [200, 196, 184]
        } else {
            [110, 110, 104]
        }
    })
}

/// Notes of visits that found something (the sample notes are for visits that went fine).
const FOLLOW_UP_NOTES: [&str; 5] = [
    "反映楼道灯损坏，已报物业，下次回访确认。",
    "老人近期血压偏高，提醒按时复查，下周再电话了解。",
    "家中燃气软管老化，已建议更换，下次入户查看。",
    "反映楼上漏水，已联系物业，约定下周回访。",
    "发现楼道堆放杂物，已劝导清理，下次巡查复看。",
];

const PATROL_NOTES: [&str; 5] = [
    "日常巡查，未发现异常。",
    "巡查楼道消防通道和电动车停放情况。",
    "巡查小区出入口和沿街商铺。",
    "重点查看独居老人住户周边，一切正常。",
    "巡查背街小巷，环境卫生良好。",
];

pub fn run(opts: DemoOptions, json_out: bool) -> Result<(), CliError> {
    if !(1..=MAX_HOUSEHOLDS).contains(&opts.households) {
        return Err(ValidationError::new("households", Code::OutOfRange).into());
    }
    let dir = match opts.dir {
        Some(d) => d,
        None => {
            std::env::temp_dir().join(format!("gridwalk-demo-{}", uuid::Uuid::now_v7().simple()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| CliError::file(&dir, e))?;
    let db = dir.join("device.db");
    if db.exists() {
        return Err(CliError::state(
            format!("{} 里已经有数据库，请换一个目录", dir.display()),
            format!(
                "{} already holds a store; choose another --dir",
                dir.display()
            ),
        ));
    }

    let started = std::time::Instant::now();
    let clock = SimClock::new();
    let mut store = Store::open(&db)?;
    store.set_now_fn(clock.now_fn());
    let settings = Settings {
        reporter: "wgy-0001".into(),
        ..Settings::default()
    };
    let (day, is_today) = demo_day(&settings, Utc::now());
    let org = sample_org(12);
    let grid = org
        .my_grid()
        .cloned()
        .ok_or_else(|| CliError::state("示例数据没有本人网格", "the sample org has no own grid"))?;
    let mut demo = Demo {
        store,
        clock,
        say: Say { on: !json_out },
        rng: fastrand::Rng::with_seed(opts.seed),
        seed: opts.seed,
        settings,
        day,
        dir: dir.clone(),
        centre: grid_centre(&grid),
        grid,
        homes: Vec::new(),
        collect_task: None,
        callback_task: None,
        photos_taken: 0,
    };

    demo.say.line(format!(
        "演示数据目录 / demo directory: {}\n数据库 / store: {}",
        dir.display(),
        db.display()
    ));
    demo.build(&org.units, opts.households)?;
    demo.say.line(format!(
        "\n演示日 / demo day: {day}（{}）",
        if is_today {
            "今天 / today"
        } else {
            "昨天：今天还没过完，演示不会写入未来的时间 / yesterday: today is not over, and the demo never writes future times"
        }
    ));
    let summary = demo.walk_day()?;
    demo.clock.set(Utc::now());
    let synced = match &opts.server {
        Some(url) => Some(crate::demo_sync::evening(
            &demo.store,
            &dir,
            url,
            !json_out,
        )?),
        None => None,
    };

    if json_out {
        return print_json(&json!({
            "dir": dir,
            "db": db,
            "day": day,
            "households": demo.homes.len(),
            "residents": demo.homes.iter().map(|h| h.residents.len()).sum::<usize>(),
            "today_morning": summary.morning_items,
            "today_evening": summary.evening_items,
            "stats": summary.stats,
            "outbox": {"pending": summary.pending, "attention": summary.attention},
            "sync": synced,
            "seconds": started.elapsed().as_secs_f64(),
        }));
    }
    outln!(
        "\n演示完成，用时 {:.1} 秒 / demo finished in {:.1} s. 接着试试 / try next:",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let db_arg = shell_quote(&db.display().to_string());
    for cmd in [
        "today --limit 10",
        "household list --care 连心户",
        "find 幸福",
        "case list",
        &format!("stats --period week --date {day}"),
        "status",
    ] {
        outln!("  gridwalk --db {db_arg} {cmd}");
    }
    Ok(())
}

/// Quotes a path for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Figures the demo reports at the end.
struct DaySummary {
    morning_items: usize,
    evening_items: usize,
    stats: gridwalk_core::stats::WorkStats,
    pending: i64,
    attention: i64,
}

impl Demo {
    /// UTC instant of local `h:m` on `day`.
    fn at(&self, day: NaiveDate, h: i64, m: i64) -> DateTime<Utc> {
        self.settings.day_start(day) + Duration::minutes(h * 60 + m)
    }

    fn hm(&self, t: DateTime<Utc>) -> String {
        output::local_hm(&self.settings, t)
    }

    fn now_hm(&self) -> String {
        self.hm(self.clock.get())
    }

    fn next_photo(&mut self) -> Vec<u8> {
        self.photos_taken += 1;
        photo(self.photos_taken)
    }

    // ---- history ----------------------------------------------------------------------------

    fn build(&mut self, units: &[OrgUnit], count: usize) -> Result<(), CliError> {
        let registered = self.day - Duration::days(REGISTERED_DAYS_AGO);
        self.clock.set(self.at(registered, 9, 0));
        self.store.upsert_org_units(units)?;
        self.store.set_settings(&self.settings)?;
        self.store.set_visit_policy(&VisitPolicy::standard())?;

        let samples = sample_households(self.seed, &self.grid, count, registered);
        self.homes = self.store.write(|ctx| {
            let mut homes = Vec::with_capacity(samples.len());
            for s in &samples {
                let h = households::insert(ctx, &s.household)?;
                let mut people = Vec::with_capacity(s.residents.len());
                for r in &s.residents {
                    let mut r = r.clone();
                    r.household_id = h.id.clone();
                    people.push(residents::insert(ctx, &r)?);
                }
                homes.push(Home {
                    h,
                    residents: people,
                });
            }
            Ok(homes)
        })?;
        let people: usize = self.homes.iter().map(|h| h.residents.len()).sum();
        let path: Vec<&str> = units
            .iter()
            .filter(|u| {
                self.grid.code.starts_with(u.code.as_str()) && u.code.len() <= self.grid.code.len()
            })
            .map(|u| u.name.as_str())
            .collect();
        self.say.step(
            &format!("{registered}"),
            "建立网格台账",
            "building the grid's ledger",
        );
        self.say.line(format!(
            "{}：{} 户、{} 人（身份证号均通过校验）/ {} households, {} residents (all ID numbers valid)",
            path.join(" › "),
            self.homes.len(),
            people,
            self.homes.len(),
            people
        ));
        let by_tier = |t: CareTier| self.homes.iter().filter(|h| h.h.care_tier == t).count();
        self.say.line(format!(
            "放心户 {}，关心户 {}，连心户 {} / routine, attention, close care",
            by_tier(CareTier::Routine),
            by_tier(CareTier::Attention),
            by_tier(CareTier::Close)
        ));

        self.history()
    }

    /// Visits planned for each day of the history, with their times.
    fn plan_visits(&mut self) -> BTreeMap<NaiveDate, Vec<VisitInput>> {
        let first = self.day - Duration::days(HISTORY_DAYS);
        let mut plan: BTreeMap<NaiveDate, Vec<VisitInput>> = BTreeMap::new();
        let mut rng = self.rng.fork();
        for i in 0..self.homes.len() {
            let tier = self.homes[i].h.care_tier;
            let id = self.homes[i].h.id.clone();
            let interval = interval_days(tier);
            // About one household in twenty slipped through the net and is overdue today.
            let stop = if rng.f64() < 0.05 {
                self.day - Duration::days(interval + rng.i64(2..12))
            } else {
                self.day
            };
            let mut d = first + Duration::days(rng.i64(0..interval));
            while d < stop {
                let weights: [u32; 3] = match tier {
                    CareTier::Close => [60, 32, 8],
                    CareTier::Attention => [50, 35, 15],
                    CareTier::Routine => [45, 35, 20],
                };
                let r = rng.u32(0..100);
                let mode = if r < weights[0] {
                    VisitMode::InPerson
                } else if r < weights[0] + weights[1] {
                    VisitMode::Phone
                } else {
                    VisitMode::Messaging
                };
                let mut start = 9 * 60 + rng.i64(0..480);
                if mode == VisitMode::InPerson && rng.f64() < 0.07 {
                    // Nobody home: a second try a few hours later the same day.
                    start = 9 * 60 + rng.i64(0..240);
                    plan.entry(d).or_default().push(VisitInput {
                        household_id: id.clone(),
                        visited_at: self.at(d, 0, start),
                        mode: VisitMode::NotAtHome,
                        outcome: VisitOutcome::NoContact,
                        notes: Some(sample_visit_note(&mut rng, VisitMode::NotAtHome).into()),
                    });
                    start += 180 + rng.i64(0..120);
                }
                let o = rng.u32(0..100);
                let outcome = if o < 85 {
                    VisitOutcome::Fine
                } else if o < 96 {
                    VisitOutcome::NeedsFollowUp
                } else {
                    VisitOutcome::ProblemFound
                };
                let note = if outcome == VisitOutcome::Fine {
                    fine_note(&mut rng, mode)
                } else {
                    FOLLOW_UP_NOTES[rng.usize(..FOLLOW_UP_NOTES.len())]
                };
                plan.entry(d).or_default().push(VisitInput {
                    household_id: id.clone(),
                    visited_at: self.at(d, 0, start),
                    mode,
                    outcome,
                    notes: Some(note.into()),
                });
                // Workers tend to come back a little before the visit falls due.
                d += Duration::days((interval - rng.i64(0..=2)).max(1));
            }
        }
        plan
    }

    fn history(&mut self) -> Result<(), CliError> {
        let first = self.day - Duration::days(HISTORY_DAYS);
        let mut plan = self.plan_visits();
        let descriptions = sample_case_descriptions();
        let (mut visit_count, mut patrol_count, mut case_count) = (0usize, 0usize, 0usize);
        let mut d = first;
        while d < self.day {
            let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            let chance = if weekend { 0.4 } else { 0.9 };
            for (slot, (h, m)) in [(8, 20), (15, 0)].into_iter().enumerate() {
                if self.rng.f64() >= chance {
                    continue;
                }
                let late = self.rng.i64(0..40);
                let start = self.at(d, h, m + late);
                let minutes = self.rng.u32(25..45);
                let from = match self.homes.get(self.rng.usize(..self.homes.len().max(1))) {
                    Some(home) => home.h.location.unwrap_or(self.centre),
                    None => self.centre,
                };
                let seed = self.seed ^ (d.num_days_from_ce() as u64) << 8 ^ slot as u64;
                let track = sample_track(seed, from, start, minutes);
                let Some(end) = track.last().map(|p| p.at) else {
                    continue;
                };
                self.clock.set(end + Duration::minutes(1));
                let note = PATROL_NOTES[self.rng.usize(..PATROL_NOTES.len())];
                let patrol = self.store.import_gpx_patrol(
                    &self.grid.code,
                    gpx(&track).as_bytes(),
                    Some(note),
                )?;
                patrol_count += 1;
                // Now and then the patrol found something and filed it from the spot.
                if slot == 0 && case_count < 8 && self.rng.f64() < 0.12 && !descriptions.is_empty()
                {
                    let (code, text) = descriptions[case_count % descriptions.len()];
                    self.past_case(&patrol, &track, code, text)?;
                    case_count += 1;
                }
            }
            if d == self.day - Duration::days(2) {
                self.assign_tasks(d)?;
            }
            if let Some(vs) = plan.remove(&d) {
                self.clock.set(self.at(d, 19, 30));
                visit_count += vs.len();
                self.store.write(|ctx| {
                    for v in &vs {
                        visits::insert(ctx, v)?;
                    }
                    Ok(())
                })?;
            }
            d += Duration::days(1);
        }
        self.say.step(
            &format!("{first} ~ {}", self.day - Duration::days(1)),
            "过去 60 天的工作",
            "the last 60 days of work",
        );
        self.say.line(format!(
            "走访 {visit_count} 次、巡查 {patrol_count} 次（GPX 轨迹导入）、上报事件 {case_count} 件 / {visit_count} visits, {patrol_count} patrols (imported as GPX), {case_count} cases filed"
        ));
        Ok(())
    }

    fn past_case(
        &mut self,
        patrol: &Patrol,
        track: &[TrackPoint],
        code: &str,
        text: &str,
    ) -> Result<(), CliError> {
        let Some(spot) = track.get(track.len() / 2).copied() else {
            return Ok(());
        };
        let end = patrol.ended_at.unwrap_or(spot.at);
        self.clock.set(end + Duration::minutes(3));
        let urgency = if code.starts_with("02") && self.rng.bool() {
            Urgency::Urgent
        } else {
            Urgency::Normal
        };
        let c = self.store.draft_case(&CaseInput {
            type_code: code.into(),
            urgency,
            description: text.into(),
            location: Some(GeoPoint {
                lat: spot.lat,
                lng: spot.lng,
            }),
            address: Some(format!("{}附近", self.grid.name)),
            grid_code: self.grid.code.clone(),
            household_id: None,
            patrol_id: Some(patrol.id.clone()),
        })?;
        let bytes = self.next_photo();
        let name = format!(
            "IMG_{}.png",
            spot.at
                .with_timezone(&self.settings.offset())
                .format("%Y%m%d_%H%M%S")
        );
        self.store
            .attach_photo_bytes(&c.id, &name, "image/png", &bytes, Some(spot.at))?;
        self.clock.set(end + Duration::minutes(5));
        self.store.submit_case(&c.id)?;
        Ok(())
    }

    /// Two tasks the community assigns two days before the demo day.
    fn assign_tasks(&mut self, d: NaiveDate) -> Result<(), CliError> {
        self.clock.set(self.at(d, 10, 0));
        let rented = self
            .homes
            .iter()
            .position(|h| {
                matches!(
                    h.h.housing_type,
                    HousingType::Rented | HousingType::GroupRental
                )
            })
            .or_else(|| self.homes.iter().position(|h| !h.residents.is_empty()))
            .unwrap_or(0);
        let Some(home) = self.homes.get(rented) else {
            return Ok(());
        };
        let t = self.store.add_task(&TaskInput {
            kind: TaskKind::CollectInfo,
            title: "新入住租户信息登记".into(),
            target: Some(TaskTarget {
                kind: "household".into(),
                id: home.h.id.clone(),
            }),
            due_on: self.day,
            priority: Priority::High,
            source: TaskSource::Assigned,
            notes: Some("房东报告有新租户入住 / the landlord reported a new tenant".into()),
        })?;
        self.collect_task = Some((t.id, rented));

        let other = self
            .homes
            .iter()
            .enumerate()
            .position(|(i, h)| {
                i != rented && !h.residents.is_empty() && h.h.care_tier != CareTier::Routine
            })
            .or_else(|| {
                self.homes
                    .iter()
                    .enumerate()
                    .position(|(i, h)| i != rented && !h.residents.is_empty())
            });
        if let Some(i) = other {
            let t = self.store.add_task(&TaskInput {
                kind: TaskKind::CallBack,
                title: "回访：楼上漏水问题是否已解决".into(),
                target: Some(TaskTarget {
                    kind: "household".into(),
                    id: self.homes[i].h.id.clone(),
                }),
                due_on: d + Duration::days(1),
                priority: Priority::Normal,
                source: TaskSource::Assigned,
                notes: None,
            })?;
            self.callback_task = Some((t.id, i));
        }
        Ok(())
    }

    // ---- the day ----------------------------------------------------------------------------

    fn print_list(&self, items: &[TodayItem], top: usize) {
        if self.say.on {
            output::print_today(items, &self.settings, self.day, Some(top));
        }
    }

    fn walk_day(&mut self) -> Result<DaySummary, CliError> {
        // Morning: the daily list.
        self.clock.set(self.at(self.day, 8, 0));
        let morning = self.store.today(Some(self.centre))?;
        self.say.step(
            &self.now_hm(),
            "早上打开今日待办（前 10 项，按优先级、期限、距离排序）",
            "the morning's daily list, top 10 by priority, due time and distance",
        );
        self.print_list(&morning, 10);

        // Morning patrol with a hazard on the way.
        self.morning_patrol()?;

        // Visits to due households.
        let not_home = self.visits(&morning)?;

        // Census update, the refused ID number, search.
        self.census()?;
        self.bad_id_number()?;
        self.search()?;

        // Afternoon patrol and the second try at the household nobody answered.
        self.afternoon_patrol()?;
        if let Some(i) = not_home {
            self.clock.set(self.at(self.day, 16, 30));
            self.say.step(
                &self.now_hm(),
                "再访上午未遇的住户",
                "second try at the household that was out this morning",
            );
            let v = self.store.log_visit(&VisitInput {
                household_id: self.homes[i].h.id.clone(),
                visited_at: self.clock.get(),
                mode: VisitMode::InPerson,
                outcome: VisitOutcome::Fine,
                notes: Some("下午再访，家中有人，情况正常。".into()),
            })?;
            self.say.line(format!(
                "{}  {} · {} · {}",
                self.hm(v.visited_at),
                self.homes[i].h.address.one_line(),
                v.mode.label_zh(),
                v.outcome.label_zh()
            ));
        }

        // Evening: what is left, the day's figures, the outbox.
        self.clock.set(self.at(self.day, 18, 0));
        let evening = self.store.today(Some(self.centre))?;
        self.say.step(
            &self.now_hm(),
            "傍晚的今日待办",
            "the daily list in the evening",
        );
        self.print_list(&evening, 10);
        self.say.line(format!(
            "早上 {} 项 → 傍晚 {} 项 / {} items this morning → {} now",
            morning.len(),
            evening.len(),
            morning.len(),
            evening.len()
        ));

        let stats = self.store.stats(Period::Day, self.day)?;
        self.say
            .step(&self.now_hm(), "今日工作统计", "the day's statistics");
        if self.say.on {
            output::print_stats(&stats);
        }

        let (pending, attention) = self.store.read(changes::counts)?;
        let integrity = self.store.integrity_check()?;
        self.say.step(&self.now_hm(), "同步状态", "sync status");
        self.say.line(format!(
            "{pending} 条变更待同步（含演示生成的历史数据），需处理 {attention} 条；没有信号也不会丢，连上网络后自动上传 / {pending} changes waiting to sync (the demo's history included), {attention} need attention; kept safely until there is signal"
        ));
        self.say
            .line(format!("数据库完整性检查 / integrity check: {integrity}"));

        Ok(DaySummary {
            morning_items: morning.len(),
            evening_items: evening.len(),
            stats,
            pending,
            attention,
        })
    }

    /// Feeds a track to the running patrol one minute of fixes at a time, as a phone would.
    /// `on_minute(self, minute, fix)` runs after each batch.
    fn feed(
        &mut self,
        patrol_id: &str,
        track: &[TrackPoint],
        mut on_minute: impl FnMut(&mut Self, usize, &TrackPoint) -> Result<(), CliError>,
    ) -> Result<(usize, usize), CliError> {
        let (mut kept, mut skipped) = (0, 0);
        for (minute, batch) in track.chunks(6).enumerate() {
            let Some(last) = batch.last() else { continue };
            self.clock.set(last.at + Duration::seconds(2));
            let (k, s) = self.store.add_track_points(patrol_id, batch)?;
            kept += k;
            skipped += s;
            on_minute(self, minute, last)?;
        }
        Ok((kept, skipped))
    }

    fn patrol_report(&self, p: &Patrol) -> Result<(), CliError> {
        let track = self.store.track_of(&p.id)?;
        let stats = geometry::track_stats(&track);
        let dropped = track.len().saturating_sub(stats.kept_points);
        self.say.line(format!(
            "巡查结束 / patrol stopped {}：里程 {}，时长 {}，定位点 {} 个，滤除漂移点 {} 个 / distance, duration, fixes, GPS glitches dropped",
            self.hm(p.ended_at.unwrap_or(p.started_at)),
            output::distance(p.distance_m),
            output::duration(p.duration_s),
            p.point_count,
            dropped
        ));
        Ok(())
    }

    fn morning_patrol(&mut self) -> Result<(), CliError> {
        let start = self.at(self.day, 8, 10);
        self.clock.set(start);
        self.say.step(
            &self.now_hm(),
            "早巡开始（一日双巡）",
            "morning patrol starts: two patrols a day",
        );
        let patrol = self.store.start_patrol(&self.grid.code)?;
        let track = sample_track(self.seed.wrapping_add(101), self.centre, start, 30);
        let (code, text) = sample_case_descriptions()
            .iter()
            .copied()
            .find(|(c, _)| *c == "0203")
            .unwrap_or(("0203", "楼下有住户从窗口拉线给电动车飞线充电"));
        let pid = patrol.id.clone();
        let (kept, skipped) = self.feed(&pid, &track, |demo, minute, fix| {
            if minute == 15 {
                demo.hazard(&pid, code, text, fix)?;
            }
            Ok(())
        })?;
        self.clock.set(self.at(self.day, 8, 41));
        let done = self
            .store
            .stop_patrol(&pid, Some("早巡：发现电动车飞线充电一处，已上报。"))?;
        self.say.line(format!(
            "手机陆续交来 {} 个定位点（{kept} 个保存，{skipped} 个无效）/ fixes handed over in 1-minute batches",
            kept + skipped
        ));
        self.patrol_report(&done)
    }

    fn hazard(
        &mut self,
        patrol_id: &str,
        code: &str,
        text: &str,
        fix: &TrackPoint,
    ) -> Result<(), CliError> {
        // The building the description names ("5栋…"), when the grid has it.
        let building = text
            .split_once('栋')
            .map(|(n, _)| format!("{n}栋"))
            .filter(|b| self.homes.iter().any(|h| &h.h.address.building == b));
        let address = match building {
            Some(b) => format!("{} {b} 楼下", self.homes[0].h.address.community),
            None => format!("{}内", self.grid.name),
        };
        self.say.step(
            &self.now_hm(),
            "巡查途中发现隐患，拍照、起草事件",
            "a hazard on the way: photo and draft case",
        );
        let c = self.store.draft_case(&CaseInput {
            type_code: code.into(),
            urgency: Urgency::Urgent,
            description: text.into(),
            location: Some(GeoPoint {
                lat: fix.lat,
                lng: fix.lng,
            }),
            address: Some(address.clone()),
            grid_code: self.grid.code.clone(),
            household_id: None,
            patrol_id: Some(patrol_id.into()),
        })?;
        // The "camera" writes a file; the app hands its bytes to the store.
        let camera = self.dir.join("camera");
        std::fs::create_dir_all(&camera).map_err(|e| CliError::file(&camera, e))?;
        let local = self.clock.get().with_timezone(&self.settings.offset());
        let name = format!("IMG_{}.png", local.format("%Y%m%d_%H%M%S"));
        let file = camera.join(&name);
        let bytes = self.next_photo();
        std::fs::write(&file, &bytes).map_err(|e| CliError::file(&file, e))?;
        let meta = self.store.attach_photo_bytes(
            &c.id,
            &name,
            "image/png",
            &bytes,
            Some(self.clock.get()),
        )?;
        self.say.line(format!(
            "类型 {} {} · {} · {}\n照片 photo: {}（{} 字节 bytes）",
            c.type_code,
            output::case_type_label(&c.type_code),
            Urgency::Urgent.label_zh(),
            address,
            file.display(),
            meta.byte_len
        ));
        self.say.line(format!("描述 / description: {text}"));
        self.clock.set(self.clock.get() + Duration::seconds(50));
        let c = self.store.submit_case(&c.id)?;
        self.say.line(format!(
            "{} 已上报 / submitted: 状态「{}」，关联本次巡查 / linked to this patrol\n事件编号 / case id: {}",
            self.now_hm(),
            c.status.label_zh(),
            c.id
        ));
        Ok(())
    }

    /// Five or six visits to households on the morning list; the second is not at home.
    /// Returns the index of that household.
    fn visits(&mut self, morning: &[TodayItem]) -> Result<Option<usize>, CliError> {
        let index_of = |id: &str, homes: &[Home]| homes.iter().position(|h| h.h.id == id);
        let mut chosen: Vec<usize> = morning
            .iter()
            .filter(|i| i.kind == TodayKind::VisitDue)
            .filter_map(|i| i.target_id.as_deref())
            .filter_map(|id| index_of(id, &self.homes))
            .filter(|&i| !self.homes[i].residents.is_empty())
            .take(6)
            .collect();
        // A small demo grid may have fewer households due: fill up with others.
        for i in 0..self.homes.len() {
            if chosen.len() >= 5 {
                break;
            }
            if !chosen.contains(&i) && !self.homes[i].residents.is_empty() {
                chosen.push(i);
            }
        }
        self.say
            .step("09:00", "走访到期住户", "visiting households that are due");
        let mut not_home = None;
        let mut minutes = 9 * 60;
        for (n, &i) in chosen.iter().enumerate() {
            let at = self.at(self.day, 0, minutes);
            self.clock.set(at + Duration::minutes(4));
            let tier = self.homes[i].h.care_tier;
            let (mode, outcome, note) = if n == 1 {
                not_home = Some(i);
                (
                    VisitMode::NotAtHome,
                    VisitOutcome::NoContact,
                    "敲门无人应答，计划当天下午再访。".to_string(),
                )
            } else if n == 3 {
                (
                    VisitMode::InPerson,
                    VisitOutcome::NeedsFollowUp,
                    "反映楼道照明损坏，已报物业维修，明天回访确认。".to_string(),
                )
            } else {
                let mode = if tier == CareTier::Routine && n % 2 == 0 {
                    VisitMode::Phone
                } else {
                    VisitMode::InPerson
                };
                (
                    mode,
                    VisitOutcome::Fine,
                    fine_note(&mut self.rng, mode).to_string(),
                )
            };
            self.store.log_visit(&VisitInput {
                household_id: self.homes[i].h.id.clone(),
                visited_at: at,
                mode,
                outcome,
                notes: Some(note.clone()),
            })?;
            self.say.line(format!(
                "{}  {} · {} · {} · {} — {}",
                self.hm(at),
                self.homes[i].h.address.one_line(),
                tier.label_zh(),
                mode.label_zh(),
                outcome.label_zh(),
                note
            ));
            minutes += 25;
        }
        if not_home.is_some() {
            self.say.line(
                "未遇不算走访，这户留在今日待办里，下午再去 / not at home does not count: the household stays on the list for a second try",
            );
        }

        // The assigned call-back, done by phone.
        if let Some((task, i)) = self.callback_task.clone() {
            let at = self.at(self.day, 0, minutes);
            self.clock.set(at + Duration::minutes(3));
            self.store.log_visit(&VisitInput {
                household_id: self.homes[i].h.id.clone(),
                visited_at: at,
                mode: VisitMode::Phone,
                outcome: VisitOutcome::Fine,
                notes: Some("电话回访上次反映的问题，已解决，表示满意。".into()),
            })?;
            let t = self.store.finish_task(&task, TaskStatus::Done)?;
            self.say.line(format!(
                "{}  电话回访并完成上级派发的任务 / call-back done, assigned task closed: {}",
                self.hm(at),
                t.title
            ));
        }
        Ok(not_home)
    }

    /// A new tenant registered with a valid ID number, and one resident moving out.
    fn census(&mut self) -> Result<(), CliError> {
        self.clock.set(self.at(self.day, 11, 35));
        self.say.step(
            &self.now_hm(),
            "人口信息更新：新租户登记、一人迁出",
            "census update: a new tenant, one move-out",
        );
        let target = self
            .collect_task
            .as_ref()
            .map(|t| t.1)
            .or_else(|| self.homes.iter().position(|h| !h.residents.is_empty()))
            .unwrap_or(0);
        let Some(home_id) = self.homes.get(target).map(|h| h.h.id.clone()) else {
            return Ok(());
        };
        // People from a different sample draw: valid, and not yet on this device.
        let newcomers = sample_households(self.seed.wrapping_add(7_919), &self.grid, 12, self.day);
        let mut added = None;
        for mut r in newcomers.into_iter().flat_map(|h| h.residents) {
            let adult = r.birth_date.is_some_and(|b| output::age(b, self.day) >= 20);
            if !adult || r.id_number.is_none() {
                continue;
            }
            r.household_id = home_id.clone();
            r.relation = Relation::Tenant;
            r.residency = Residency::Floating;
            r.special_groups.clear();
            r.moved_in_on = Some(self.day - Duration::days(2));
            r.notes = Some("新入住租户 / new tenant".into());
            match self.store.add_resident(&r) {
                Ok(saved) => {
                    added = Some(saved);
                    break;
                }
                Err(Error::Validation(v)) if v.code == Code::Duplicate => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(r) = &added {
            self.say.line(format!(
                "新租户 / new tenant: {} → {}\n身份证号 {} 校验通过；性别「{}」、出生日期 {} 由身份证号自动带出 / ID number checked; gender and birth date derived",
                r.name,
                self.homes[target].h.address.one_line(),
                output::mask_id(r.id_number.as_deref(), false),
                r.gender.map(|g| g.label_zh()).unwrap_or("—"),
                r.birth_date.map(|d| d.to_string()).unwrap_or_default()
            ));
            self.homes[target].residents.push(r.clone());
            if let Some((task, _)) = self.collect_task.clone() {
                let t = self.store.finish_task(&task, TaskStatus::Done)?;
                self.say.line(format!("完成任务 / task done: {}", t.title));
            }
        }

        // Someone grown up moves away for work; the record stays, marked moved out.
        let leaver = self.homes.iter().enumerate().find_map(|(i, h)| {
            if i == target || h.residents.len() < 2 {
                return None;
            }
            h.residents
                .iter()
                .position(|r| r.relation == Relation::Child)
                .or_else(|| {
                    h.residents
                        .iter()
                        .position(|r| r.relation != Relation::Head)
                })
                .map(|j| (i, j))
        });
        if let Some((i, j)) = leaver {
            self.clock.set(self.at(self.day, 11, 40));
            let r = self.store.move_out_resident(
                &self.homes[i].residents[j].id,
                self.day,
                Some("到外地工作"),
            )?;
            self.say.line(format!(
                "迁出 / moved out: {}（{}）← {}，记录保留、可查 / the record is kept",
                r.name,
                r.relation.label_zh(),
                self.homes[i].h.address.one_line()
            ));
            self.homes[i].residents[j] = r;
        }
        Ok(())
    }

    /// A typo in an ID number is refused where it is typed, with the field and a code.
    fn bad_id_number(&mut self) -> Result<(), CliError> {
        self.clock.set(self.at(self.day, 11, 45));
        self.say.step(
            &self.now_hm(),
            "录入身份证号时输错一位",
            "an ID number typed with one wrong digit",
        );
        let Some((home, good)) = self.homes.iter().find_map(|h| {
            h.residents
                .iter()
                .find_map(|r| r.id_number.clone())
                .map(|id| (h.h.id.clone(), id))
        }) else {
            return Ok(());
        };
        // Same number, another check character.
        let last = good.chars().last().unwrap_or('0');
        let wrong_check = "0123456789X".chars().find(|c| *c != last).unwrap_or('1');
        let mut bad: String = good.chars().take(17).collect();
        bad.push(wrong_check);
        let attempt = self.store.add_resident(&gridwalk_core::ResidentInput {
            household_id: home,
            name: "杨晓梅".into(),
            id_number: Some(bad),
            phone: None,
            gender: None,
            birth_date: None,
            relation: Relation::Other,
            residency: Residency::Registered,
            special_groups: Vec::new(),
            moved_in_on: None,
            notes: None,
        });
        match attempt {
            Err(Error::Validation(v)) => {
                self.say.line(validation_line(&v));
                self.say.line(format!(
                    "字段 field = {}，代码 code = {}；号码本身不会显示或写入日志，这条记录没有保存 / the number is never echoed, and nothing was saved",
                    v.field,
                    v.code.as_str()
                ));
            }
            Err(e) => return Err(e.into()),
            Ok(_) => self
                .say
                .line("（该号码意外通过校验 / the number unexpectedly passed)"),
        }
        Ok(())
    }

    fn print_hits(&self, hits: &[gridwalk_core::search::SearchHit]) {
        if !self.say.on || hits.is_empty() {
            return;
        }
        let mut t = output::table(&["类型\nkind", "名称\nname", "地址\naddress", "状态\nstatus"]);
        for h in hits.iter().take(5) {
            t.add_row(vec![
                if h.kind == "resident" {
                    "居民"
                } else {
                    "住户"
                },
                h.title.as_str(),
                h.address.as_str(),
                if h.active { "在册" } else { "已迁出" },
            ]);
        }
        outln!("{t}");
    }

    /// Searching by two characters of a given name and by the last four digits of a phone.
    fn search(&mut self) -> Result<(), CliError> {
        self.clock.set(self.at(self.day, 12, 0));
        self.say.step(
            &self.now_hm(),
            "查找居民：名字里的两个字、电话尾号",
            "finding people by two characters of a name and by the last four phone digits",
        );
        let people = || self.homes.iter().flat_map(|h| &h.residents);
        // Two characters of a given name; the most common one, so the search finds several.
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in people().filter(|r| r.status == gridwalk_core::RecordStatus::Active) {
            let chars: Vec<char> = r.name.chars().collect();
            if chars.len() == 3 {
                *counts.entry(chars[1..].iter().collect()).or_default() += 1;
            }
        }
        let fragment = counts
            .into_iter()
            .max_by_key(|(q, n)| (*n, std::cmp::Reverse(q.clone())))
            .map(|(q, _)| q)
            .or_else(|| people().next().map(|r| r.name.clone()));
        if let Some(q) = fragment {
            let hits = self.store.search(&q, 50)?;
            self.say.line(format!(
                "搜索「{q}」：{} 条 / {} hit(s), up to 5 shown",
                hits.len(),
                hits.len()
            ));
            self.print_hits(&hits);
        }
        let tail = people()
            .filter_map(|r| r.phone.as_deref())
            .find(|p| p.len() >= 4)
            .map(|p| p[p.len() - 4..].to_string());
        if let Some(q) = tail {
            let hits = self.store.search(&q, 50)?;
            self.say.line(format!(
                "搜索电话尾号「{q}」：{} 条 / phone ending in {q}: {} hit(s)",
                hits.len(),
                hits.len()
            ));
            self.print_hits(&hits);
        }
        Ok(())
    }

    fn afternoon_patrol(&mut self) -> Result<(), CliError> {
        let start = self.at(self.day, 15, 0);
        self.clock.set(start);
        self.say
            .step(&self.now_hm(), "午巡开始", "afternoon patrol starts");
        let patrol = self.store.start_patrol(&self.grid.code)?;
        let from = self
            .homes
            .iter()
            .rev()
            .find_map(|h| h.h.location)
            .unwrap_or(self.centre);
        let track = sample_track(self.seed.wrapping_add(202), from, start, 40);
        let pid = patrol.id.clone();
        self.feed(&pid, &track, |_, _, _| Ok(()))?;
        self.clock.set(self.at(self.day, 15, 41));
        let done = self.store.stop_patrol(&pid, Some(PATROL_NOTES[1]))?;
        self.patrol_report(&done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_day_is_today_only_in_the_evening() {
        let s = Settings::default();
        let evening = DateTime::parse_from_rfc3339("2025-03-15T19:30:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            demo_day(&s, evening),
            (NaiveDate::from_ymd_opt(2025, 3, 15).unwrap(), true)
        );
        let morning = DateTime::parse_from_rfc3339("2025-03-15T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            demo_day(&s, morning),
            (NaiveDate::from_ymd_opt(2025, 3, 14).unwrap(), false)
        );
    }

    #[test]
    fn sim_clock_never_runs_ahead() {
        let c = SimClock::new();
        c.set(Utc::now() + Duration::days(1));
        assert!(c.get() <= Utc::now());
        let past = Utc::now() - Duration::days(3);
        c.set(past);
        assert_eq!(c.get().timestamp_millis(), past.timestamp_millis());
    }

    #[test]
    fn gpx_round_trips_through_the_core() {
        let t0 = Utc::now() - Duration::hours(2);
        let track = sample_track(5, gridwalk_sample::SAMPLE_CENTRE, t0, 5);
        let parsed = geometry::parse_gpx(gpx(&track).as_bytes()).unwrap();
        assert_eq!(parsed.len(), track.len());
        assert_eq!(parsed[0].at.timestamp(), track[0].at.timestamp());
        assert!((parsed[3].lat - track[3].lat).abs() < 1e-6);
    }
}
