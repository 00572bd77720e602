//! One handler per subcommand: open the store, turn arguments into core inputs, call the core,
//! print the result (human or `--json`).
//!
//! The handlers hold no business rules: validation, duplicate checks, outbox rows and the daily
//! list are the core's. What is here is what only a command line needs: defaults (the worker's
//! own grid, today's date, "now"), reading files named on the command line, and refusing to
//! create a store by accident (every command but `init` and `demo` wants an existing one, so a
//! typo in `--db` is reported rather than silently starting an empty store).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use gridwalk_core::cases::VerificationVerdict;
use gridwalk_core::changes;
use gridwalk_core::export::ExportFilter;
use gridwalk_core::geometry::{self, Boundary};
use gridwalk_core::households::HouseholdFilter;
use gridwalk_core::import::ImportOptions;
use gridwalk_core::sheet::SheetFormat;
use gridwalk_core::stats::Period;
use gridwalk_core::store::Settings;
use gridwalk_core::tasks::VisitPolicy;
use gridwalk_core::{
    validate, Address, CareTier, CaseInput, CaseStatus, Code, Gender, GridLevel, HouseholdInput,
    HouseholdPatch, HousingType, OrgUnit, Priority, RecordStatus, Relation, Residency,
    ResidentInput, ResidentPatch, SpecialGroup, Store, TaskInput, TaskKind, TaskSource, TaskStatus,
    TaskTarget, TrackPoint, Urgency, ValidationError, VisitInput, VisitMode, VisitOutcome,
};
use serde_json::json;

use crate::error::CliError;
use crate::ids::{self, Kind, ShortIds};
use crate::input;
use crate::output::{self, print_json};
use crate::{AddressArgs, ExportArgs, FindArgs, HouseholdFieldArgs, ImportArgs, InitArgs};
use crate::{ResidentFieldArgs, VisitArgs};

type Res = Result<(), CliError>;

/// What every handler gets: where the store is and how to print.
pub struct Ctx {
    pub db: PathBuf,
    pub json: bool,
}

impl Ctx {
    /// Opens an existing store; a missing file is an error, not a new empty store.
    pub fn open(&self) -> Result<Store, CliError> {
        if !self.db.exists() {
            return Err(CliError::NoStore(self.db.clone()));
        }
        Ok(self.announce_waits(Store::open(&self.db)?))
    }

    /// A write waiting for another program's (an import in the app) says so on stderr instead
    /// of hanging silently (not with `--json`: stderr then carries only errors).
    pub fn announce_waits(&self, store: Store) -> Store {
        if !self.json {
            store.set_busy_observer(Some(std::sync::Arc::new(|waited| {
                let s = waited.as_secs();
                if s % 2 == 1 {
                    eprintln!("数据库正忙，等待另一程序写入完成…已等待 {s} 秒 / store busy: waiting for another program's write… {s} s");
                }
            })));
        }
        store
    }

    /// Opens an existing store for a command that only reads: read-only, so it works on a
    /// read-only file (a backup, a copy) and never waits for another program's write. A
    /// store of an older schema is opened read-write once, to upgrade it.
    pub fn open_read(&self) -> Result<Store, CliError> {
        if !self.db.exists() {
            return Err(CliError::NoStore(self.db.clone()));
        }
        match Store::open_read_only(&self.db) {
            Err(gridwalk_core::Error::ReadOnly {
                needs_upgrade: true,
                ..
            }) => Ok(self.announce_waits(Store::open(&self.db)?)),
            other => Ok(other?),
        }
    }
}

/// Checks a grid code before it is used and says on stderr when it looks wrong (a typed
/// warning from the core: the org tree was never confirmed by a server, the server does not
/// have the unit, or it is not a grid). An unknown code is an error. With `--json` stderr
/// carries only errors, so the warning is returned for the caller's JSON instead.
fn check_grid(
    ctx: &Ctx,
    store: &Store,
    grid: &str,
) -> Result<Option<gridwalk_core::org::GridWarning>, CliError> {
    let warning = store.check_grid(grid)?;
    if let (Some(w), false) = (warning, ctx.json) {
        eprintln!(
            "注意 / warning: {grid}: {} / {}",
            w.message_zh(),
            w.message_en()
        );
    }
    Ok(warning)
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::file(path, e))
}

fn today_of(store: &Store, settings: &Settings) -> NaiveDate {
    settings.local_date(store.now())
}

// ---- init and org ---------------------------------------------------------------------------

/// Codes of the district, street and community above a grid. A 15-digit grid code follows the
/// usual scheme (6-digit district + 3 street + 3 community + 3 grid); any other code gets
/// derived placeholder codes, replaced when the org tree syncs from the server.
fn parent_codes(grid: &str) -> [String; 3] {
    let digits = grid.len() >= 15 && grid.bytes().all(|b| b.is_ascii_digit());
    if digits {
        [grid[..6].into(), grid[..9].into(), grid[..12].into()]
    } else {
        [
            format!("{grid}-district"),
            format!("{grid}-street"),
            format!("{grid}-community"),
        ]
    }
}

/// `幸福社区第1网格` → `幸福社区`.
fn community_from_grid_name(name: &str) -> Option<String> {
    ["社区", "村"].iter().find_map(|m| {
        name.find(m)
            .map(|i| name[..i + m.len()].to_string())
            .filter(|c| c.chars().count() > m.chars().count())
    })
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Res {
    let grid_code = validate::required("grid_code", &a.grid_code)?;
    let grid_name = validate::required("grid_name", &a.grid_name)?;
    if ctx.db.exists() {
        let store = ctx.announce_waits(Store::open(&ctx.db)?);
        if !store.org_units()?.is_empty() {
            if ctx.json {
                print_json(&json!({
                    "created": false,
                    "db": ctx.db,
                    "grids": store.my_grids()?,
                }))?;
            } else {
                outln!(
                    "数据库已存在，未做修改 / store already exists, nothing changed: {}",
                    ctx.db.display()
                );
            }
            return Ok(());
        }
    }
    let boundary = match &a.boundary {
        Some(p) => {
            let bytes = read_file(p)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| ValidationError::new("boundary", Code::InvalidFormat))?;
            Boundary::parse(&text)
                .map_err(|_| ValidationError::new("boundary", Code::InvalidFormat))?;
            Some(text)
        }
        None => None,
    };
    let community = match a.community_name {
        Some(c) => validate::required("community_name", &c)?,
        None => community_from_grid_name(&grid_name).unwrap_or_else(|| "本社区".into()),
    };
    let [d, s, c] = parent_codes(&grid_code);
    let unit = |code: &str, name: &str, level, parent: Option<&str>| OrgUnit {
        code: code.to_string(),
        name: name.to_string(),
        level,
        parent_code: parent.map(str::to_string),
        boundary_geojson: None,
        is_mine: false,
    };
    let mut grid = unit(&grid_code, &grid_name, GridLevel::Grid, Some(&c));
    grid.boundary_geojson = boundary;
    grid.is_mine = true;
    let units = vec![
        unit(&d, &a.district_name, GridLevel::District, None),
        unit(&s, &a.street_name, GridLevel::Street, Some(&d)),
        unit(&c, &community, GridLevel::Community, Some(&s)),
        grid,
    ];
    let store = ctx.announce_waits(Store::open(&ctx.db)?);
    store.upsert_org_units(&units)?;
    let warning = check_grid(ctx, &store, &grid_code)?;
    let mut settings = store.settings()?;
    if let Some(r) = a.reporter {
        settings.reporter = r;
        store.set_settings(&settings)?;
    }
    if ctx.json {
        return print_json(&json!({
            "created": true,
            "db": ctx.db,
            "units": store.org_units()?,
            "warnings": warning.map(|w| w.code()).into_iter().collect::<Vec<_>>(),
        }));
    }
    outln!(
        "已创建数据库 / store created: {}\n本人网格 / my grid: {} {}（{}）",
        ctx.db.display(),
        grid_code,
        grid_name,
        community
    );
    output::print_grids(&store.org_units()?);
    Ok(())
}

pub fn grids(ctx: &Ctx) -> Res {
    let store = ctx.open_read()?;
    let units = store.org_units()?;
    if ctx.json {
        return print_json(&units);
    }
    output::print_grids(&units);
    Ok(())
}

// ---- ledgers --------------------------------------------------------------------------------

pub fn import(ctx: &Ctx, a: ImportArgs) -> Res {
    let store = ctx.open()?;
    if a.list {
        let list = store.ledger_imports()?;
        if ctx.json {
            return print_json(&list);
        }
        output::print_imports(&list, &store.settings()?);
        return Ok(());
    }
    if let Some(id) = &a.undo {
        let undo = store.undo_import(id)?;
        if ctx.json {
            return print_json(&undo);
        }
        outln!(
            "已撤销导入 {id} / import undone: 删除住户 {} households removed · 删除居民 {} residents removed · 恢复住户 {} households restored · 恢复居民 {} residents restored · 撤回待同步变更 {} changes withdrawn",
            undo.households_removed,
            undo.residents_removed,
            undo.households_restored,
            undo.residents_restored,
            undo.changes_withdrawn
        );
        return Ok(());
    }
    let Some(file) = a.file else {
        return Err(ValidationError::new("file", Code::Required).into());
    };
    let grid = input::grid(&store, a.grid)?;
    let bytes = read_file(&file)?;
    let opts = ImportOptions {
        grid_code: grid,
        dry_run: a.dry_run,
        area_code: a.area_code,
        community: a.community,
        file_name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
    };
    let outcome = store.import_ledger_with(&bytes, &opts)?;
    let rejects_path = outcome.rejected_file.as_ref().map(|_| {
        a.rejects.clone().unwrap_or_else(|| {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "ledger".into());
            file.with_file_name(format!("{stem}.rejected.csv"))
        })
    });
    if let (Some(rf), Some(path)) = (&outcome.rejected_file, &rejects_path) {
        std::fs::write(path, &rf.bytes).map_err(|e| CliError::file(path, e))?;
    }
    let report = &outcome.report;
    if ctx.json {
        let mut v = serde_json::to_value(report).map_err(gridwalk_core::Error::from)?;
        if let (Some(obj), Some(p)) = (v.as_object_mut(), &rejects_path) {
            obj.insert("rejected_file".into(), json!(p));
        }
        print_json(&v)?;
    } else {
        output::print_import_report(report);
        if let Some(p) = &rejects_path {
            outln!(
                "退回行已写入 {}（改好后可直接再导入）/ rejected rows written to {} (fix them and import that file)",
                p.display(),
                p.display()
            );
        }
    }
    if report.rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::RowsRefused {
            rows: report.rejected.len(),
            file: rejects_path,
        })
    }
}

pub fn export(ctx: &Ctx, a: ExportArgs) -> Res {
    let store = ctx.open()?;
    let kind = gridwalk_core::export::parse_kind(&a.what)?;
    let format = match (a.format.as_deref(), &a.out) {
        (Some("xlsx"), _) => SheetFormat::Xlsx,
        (Some(_), _) => SheetFormat::Csv,
        (None, Some(p)) => SheetFormat::from_file_name(&p.to_string_lossy()),
        (None, None) => SheetFormat::Csv,
    };
    let filter = ExportFilter {
        grid_code: a.grid.clone(),
        from: a
            .from
            .as_deref()
            .map(|d| input::date("from", d))
            .transpose()?,
        to: a.to.as_deref().map(|d| input::date("to", d)).transpose()?,
    };
    let write = |w: &mut dyn Write| -> Result<usize, CliError> {
        Ok(store.export_ledger(w, kind, &filter, format)?)
    };
    let n = match &a.out {
        Some(path) => {
            let mut f = std::fs::File::create(path).map_err(|e| CliError::file(path, e))?;
            let n = write(&mut f)?;
            f.sync_all().map_err(|e| CliError::file(path, e))?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write(&mut lock)?
        }
    };
    // With the file on stdout, the summary goes to stderr so the file stays clean.
    let zh = kind.label_zh();
    let en = kind.as_str();
    let f = format.extension();
    match (&a.out, ctx.json) {
        (Some(p), true) => print_json(&json!({"rows": n, "out": p, "format": f}))?,
        (Some(p), false) => outln!(
            "已导出{zh} {n} 行 / exported {n} {en} ({f}) → {}",
            p.display()
        ),
        (None, _) => eprintln!("已导出{zh} {n} 行 / exported {n} {en} ({f})"),
    }
    Ok(())
}

// ---- households -----------------------------------------------------------------------------

/// The typed non-address fields of `household add` / `household edit`.
struct HouseholdFields {
    housing: Option<HousingType>,
    care: Option<CareTier>,
    tags: Option<Vec<String>>,
    location: Option<gridwalk_core::GeoPoint>,
}

fn household_fields(f: &HouseholdFieldArgs) -> Result<HouseholdFields, CliError> {
    Ok(HouseholdFields {
        housing: input::opt_vocab("housing_type", f.housing.as_deref())?,
        care: input::opt_vocab("care_tier", f.care.as_deref())?,
        tags: f.tags.as_deref().map(input::split_list),
        location: input::point("location", f.lat, f.lng)?,
    })
}

pub fn household_add(
    ctx: &Ctx,
    grid: Option<String>,
    addr: AddressArgs,
    fields: HouseholdFieldArgs,
) -> Res {
    let store = ctx.open()?;
    let grid = input::grid(&store, grid)?;
    check_grid(ctx, &store, &grid)?;
    let HouseholdFields {
        housing,
        care,
        tags,
        location,
    } = household_fields(&fields)?;
    let community = match addr.community {
        Some(c) => c,
        None => input::community_of(&store.org_units()?, &grid).unwrap_or_default(),
    };
    let h = store.add_household(&HouseholdInput {
        grid_code: grid,
        address: Address {
            community,
            building: addr.building.unwrap_or_default(),
            unit: addr.unit,
            floor: addr.floor,
            room: addr.room,
            text: addr.address_text,
        },
        housing_type: housing.unwrap_or(HousingType::Owned),
        care_tier: care.unwrap_or(CareTier::Routine),
        tags: tags.unwrap_or_default(),
        location,
        notes: fields.notes,
    })?;
    if ctx.json {
        return print_json(&h);
    }
    outln!(
        "已登记住户 / household added: {}\n编号 id: {}",
        output::household_line(&h),
        h.id
    );
    if h.outside_grid {
        outln!("提示：位置在网格边界外，请核实 / note: the location is outside the grid boundary; please check");
    }
    Ok(())
}

pub fn household_edit(
    ctx: &Ctx,
    id: &str,
    addr: AddressArgs,
    fields: HouseholdFieldArgs,
    clear_location: bool,
) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Household, id)?;
    let old = store.household(id)?;
    let HouseholdFields {
        housing,
        care,
        tags,
        location,
    } = household_fields(&fields)?;
    let address_changed = addr.community.is_some()
        || addr.building.is_some()
        || addr.unit.is_some()
        || addr.floor.is_some()
        || addr.room.is_some()
        || addr.address_text.is_some();
    let address = address_changed.then(|| Address {
        community: addr.community.unwrap_or(old.address.community.clone()),
        building: addr.building.unwrap_or(old.address.building.clone()),
        unit: addr.unit.or(old.address.unit.clone()),
        floor: addr.floor.or(old.address.floor),
        room: addr.room.or(old.address.room.clone()),
        text: addr.address_text.or(old.address.text.clone()),
    });
    let patch = HouseholdPatch {
        address,
        housing_type: housing,
        care_tier: care,
        tags,
        location: if clear_location {
            Some(None)
        } else {
            location.map(Some)
        },
        notes: fields.notes.map(Some),
    };
    let h = store.update_household(id, &patch)?;
    if ctx.json {
        return print_json(&h);
    }
    outln!("已保存 / saved: {}", output::household_line(&h));
    if h.outside_grid {
        outln!("提示：位置在网格边界外，请核实 / note: the location is outside the grid boundary; please check");
    }
    Ok(())
}

pub fn household_show(ctx: &Ctx, id: &str, reveal: bool) -> Res {
    let store = ctx.open_read()?;
    let id = &ids::resolve(&store, Kind::Household, id)?;
    let h = store.household(id)?;
    let residents = store.residents_of(id, true)?;
    let visits = store.visits_of(id)?;
    if ctx.json {
        return print_json(&json!({"household": h, "residents": residents, "visits": visits}));
    }
    let settings = store.settings()?;
    let today = today_of(&store, &settings);
    output::print_household_detail(&h, &residents, &visits, &settings, today, reveal);
    Ok(())
}

pub fn household_list(ctx: &Ctx, grid: Option<String>, care: Option<String>, all: bool) -> Res {
    let store = ctx.open_read()?;
    let filter = HouseholdFilter {
        grid_code: grid,
        care_tier: input::opt_vocab("care_tier", care.as_deref())?,
        include_inactive: all,
    };
    let list = store.list_households(&filter)?;
    if ctx.json {
        return print_json(&list);
    }
    let mut rows = Vec::with_capacity(list.len());
    for h in list {
        let residents = store.residents_of(&h.id, false)?.len();
        let last_visit = store
            .visits_of(&h.id)?
            .into_iter()
            .find(|v| v.mode != VisitMode::NotAtHome)
            .map(|v| v.visited_at);
        rows.push(output::HouseholdRow {
            household: h,
            residents,
            last_visit,
        });
    }
    let short = ShortIds::load(&store, Kind::Household)?;
    output::print_households(&rows, &store.settings()?, &|id| short.short(id));
    Ok(())
}

pub fn household_move_out(ctx: &Ctx, id: &str, archive: bool) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Household, id)?;
    let status = if archive {
        RecordStatus::Archived
    } else {
        RecordStatus::MovedOut
    };
    let h = store.set_household_status(id, status)?;
    if ctx.json {
        return print_json(&h);
    }
    outln!(
        "已标记为{} / marked {}: {}（记录保留 / the record is kept）",
        status.label_zh(),
        status.label_en(),
        h.address.one_line()
    );
    Ok(())
}

// ---- residents ------------------------------------------------------------------------------

struct ResidentFields {
    relation: Option<Relation>,
    residency: Option<Residency>,
    groups: Option<Vec<SpecialGroup>>,
    gender: Option<Gender>,
    birth_date: Option<NaiveDate>,
}

fn resident_fields(f: &ResidentFieldArgs) -> Result<ResidentFields, CliError> {
    Ok(ResidentFields {
        relation: input::opt_vocab("relation", f.relation.as_deref())?,
        residency: input::opt_vocab("residency", f.residency.as_deref())?,
        groups: f
            .groups
            .as_deref()
            .map(|g| input::vocab_list("special_groups", g))
            .transpose()?,
        gender: input::opt_vocab("gender", f.gender.as_deref())?,
        birth_date: f
            .birth_date
            .as_deref()
            .map(|d| input::date("birth_date", d))
            .transpose()?,
    })
}

pub fn resident_add(
    ctx: &Ctx,
    household: String,
    name: String,
    moved_in_on: Option<String>,
    f: ResidentFieldArgs,
) -> Res {
    let store = ctx.open()?;
    let household = ids::resolve(&store, Kind::Household, &household)?;
    let parsed = resident_fields(&f)?;
    let moved_in_on = moved_in_on
        .as_deref()
        .map(|d| input::date("moved_in_on", d))
        .transpose()?;
    let r = store.add_resident(&ResidentInput {
        household_id: household,
        name,
        id_number: f.id_number,
        phone: f.phone,
        gender: parsed.gender,
        birth_date: parsed.birth_date,
        relation: parsed.relation.unwrap_or(Relation::Other),
        residency: parsed.residency.unwrap_or(Residency::Registered),
        special_groups: parsed.groups.unwrap_or_default(),
        moved_in_on,
        notes: f.notes,
    })?;
    if ctx.json {
        return print_json(&r);
    }
    outln!(
        "已登记居民 / resident added: {}（{}）\n编号 id: {}",
        r.name,
        r.relation.label_zh(),
        r.id
    );
    if r.id_number.is_some() {
        outln!(
            "身份证号已校验，性别、出生日期已自动带出 / ID number checked; gender and birth date derived: {} {}",
            r.gender.map(|g| g.label_zh()).unwrap_or("—"),
            r.birth_date.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}

pub fn resident_edit(ctx: &Ctx, id: &str, name: Option<String>, f: ResidentFieldArgs) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Resident, id)?;
    let parsed = resident_fields(&f)?;
    let patch = ResidentPatch {
        name,
        id_number: f.id_number.map(Some),
        phone: f.phone.map(Some),
        gender: parsed.gender.map(Some),
        birth_date: parsed.birth_date.map(Some),
        relation: parsed.relation,
        residency: parsed.residency,
        special_groups: parsed.groups,
        notes: f.notes.map(Some),
    };
    let r = store.update_resident(id, &patch)?;
    if ctx.json {
        return print_json(&r);
    }
    outln!("已保存 / saved: {}（{}）", r.name, r.id);
    Ok(())
}

pub fn resident_show(ctx: &Ctx, id: &str, reveal: bool) -> Res {
    let store = ctx.open_read()?;
    let id = &ids::resolve(&store, Kind::Resident, id)?;
    let r = store.resident(id)?;
    let moves = store.resident_moves(id)?;
    if ctx.json {
        return print_json(&json!({"resident": r, "moves": moves}));
    }
    let settings = store.settings()?;
    output::print_resident_detail(&r, &moves, today_of(&store, &settings), reveal);
    Ok(())
}

pub fn resident_list(ctx: &Ctx, household: Option<String>, all: bool) -> Res {
    let store = ctx.open_read()?;
    let households = match household {
        Some(h) => vec![store.household(&ids::resolve(&store, Kind::Household, &h)?)?],
        None => store.list_households(&HouseholdFilter {
            grid_code: None,
            care_tier: None,
            include_inactive: all,
        })?,
    };
    let mut rows = Vec::new();
    for h in households {
        for r in store.residents_of(&h.id, all)? {
            rows.push((r, h.clone()));
        }
    }
    if ctx.json {
        let list: Vec<_> = rows.iter().map(|(r, _)| r).collect();
        return print_json(&list);
    }
    let short = ShortIds::load(&store, Kind::Resident)?;
    let short_h = ShortIds::load(&store, Kind::Household)?;
    output::print_resident_list(
        &rows,
        today_of(&store, &store.settings()?),
        &|id| short.short(id),
        &|id| short_h.short(id),
    );
    Ok(())
}

fn day_or_today(store: &Store, field: &str, on: Option<String>) -> Result<NaiveDate, CliError> {
    match on {
        Some(d) => Ok(input::date(field, &d)?),
        None => Ok(today_of(store, &store.settings()?)),
    }
}

pub fn resident_move_out(ctx: &Ctx, id: &str, on: Option<String>, note: Option<String>) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Resident, id)?;
    let on = day_or_today(&store, "on", on)?;
    let r = store.move_out_resident(id, on, note.as_deref())?;
    if ctx.json {
        return print_json(&r);
    }
    outln!(
        "已迁出 / moved out: {}，{}（记录保留 / the record is kept）",
        r.name,
        on
    );
    Ok(())
}

pub fn resident_move_in(
    ctx: &Ctx,
    id: &str,
    household: &str,
    on: Option<String>,
    note: Option<String>,
) -> Res {
    let store = ctx.open()?;
    let household = &ids::resolve(&store, Kind::Household, household)?;
    let id = &ids::resolve(&store, Kind::Resident, id)?;
    let on = day_or_today(&store, "on", on)?;
    let r = store.move_in_resident(id, household, on, note.as_deref())?;
    if ctx.json {
        return print_json(&r);
    }
    let h = store.household(household)?;
    outln!(
        "已迁入 / moved in: {} → {}，{}",
        r.name,
        h.address.one_line(),
        on
    );
    Ok(())
}

// ---- search and visits ----------------------------------------------------------------------

pub fn find(ctx: &Ctx, a: FindArgs) -> Res {
    let store = ctx.open_read()?;
    let hits = store.search(&a.query, a.limit)?;
    if ctx.json {
        return print_json(&hits);
    }
    if hits.is_empty() {
        outln!("没有找到 / nothing found");
        return Ok(());
    }
    let households = ShortIds::load(&store, Kind::Household)?;
    let residents = ShortIds::load(&store, Kind::Resident)?;
    output::print_search(&hits, &|id| households.short(id), &|id| residents.short(id));
    outln!("{} 条结果 / {} result(s)", hits.len(), hits.len());
    Ok(())
}

pub fn visit(ctx: &Ctx, a: VisitArgs) -> Res {
    let store = ctx.open()?;
    let settings = store.settings()?;
    let mode: VisitMode = input::vocab("mode", &a.mode)?;
    let outcome = match a.outcome.as_deref() {
        Some(o) => input::vocab("outcome", o)?,
        None if mode == VisitMode::NotAtHome => VisitOutcome::NoContact,
        None => VisitOutcome::Fine,
    };
    let visited_at = match a.at.as_deref() {
        Some(t) => input::instant("visited_at", t, settings.offset())?,
        None => store.now(),
    };
    let v = store.log_visit(&VisitInput {
        household_id: ids::resolve(&store, Kind::Household, &a.household_id)?,
        visited_at,
        mode,
        outcome,
        notes: a.notes,
    })?;
    if ctx.json {
        return print_json(&v);
    }
    let h = store.household(&v.household_id)?;
    outln!(
        "已记录走访 / visit logged: {} {} · {} · {}",
        output::local_dt(&settings, v.visited_at),
        h.address.one_line(),
        v.mode.label_zh(),
        v.outcome.label_zh()
    );
    if mode == VisitMode::NotAtHome {
        outln!("未遇不计入走访，今天稍后再访 / not at home does not count; try again later today");
    }
    Ok(())
}

// ---- patrols --------------------------------------------------------------------------------

fn running_patrol(store: &Store) -> Result<gridwalk_core::Patrol, CliError> {
    store.active_patrol()?.ok_or_else(|| {
        CliError::state(
            "没有进行中的巡查，请先 `gridwalk patrol start`",
            "no patrol is running; start one with `gridwalk patrol start`",
        )
    })
}

pub fn patrol_start(ctx: &Ctx, grid: Option<String>) -> Res {
    let store = ctx.open()?;
    let grid = input::grid(&store, grid)?;
    check_grid(ctx, &store, &grid)?;
    let p = store.start_patrol(&grid)?;
    if ctx.json {
        return print_json(&p);
    }
    let settings = store.settings()?;
    outln!(
        "巡查开始 / patrol started {}\n编号 id: {}",
        output::local_dt(&settings, p.started_at),
        p.id
    );
    Ok(())
}

pub fn patrol_point(
    ctx: &Ctx,
    lat: f64,
    lng: f64,
    accuracy: Option<f64>,
    at: Option<String>,
) -> Res {
    let store = ctx.open()?;
    let settings = store.settings()?;
    let p = running_patrol(&store)?;
    validate::coordinates("point", gridwalk_core::GeoPoint { lat, lng })?;
    let at = match at.as_deref() {
        Some(t) => input::instant("at", t, settings.offset())?,
        None => store.now(),
    };
    let (kept, skipped) = store.add_track_points(
        &p.id,
        &[TrackPoint {
            at,
            lat,
            lng,
            accuracy_m: accuracy,
        }],
    )?;
    if ctx.json {
        return print_json(&json!({"patrol_id": p.id, "kept": kept, "skipped": skipped}));
    }
    if kept == 1 {
        outln!(
            "已记录定位点 / fix recorded ({})",
            output::local_hm(&settings, at)
        );
    } else {
        outln!("该点时间或精度无效，已跳过 / fix skipped (time before the start or in the future, or bad accuracy)");
    }
    Ok(())
}

pub fn patrol_stop(ctx: &Ctx, notes: Option<String>) -> Res {
    let store = ctx.open()?;
    let p = running_patrol(&store)?;
    let done = store.stop_patrol(&p.id, notes.as_deref())?;
    show_patrol(ctx, &store, &done, "巡查结束 / patrol stopped")
}

fn show_patrol(ctx: &Ctx, store: &Store, p: &gridwalk_core::Patrol, title: &str) -> Res {
    let track = store.track_of(&p.id)?;
    if ctx.json {
        return print_json(&json!({"patrol": p, "track": track}));
    }
    if !title.is_empty() {
        outln!("{title}");
    }
    let stats = geometry::track_stats(&track);
    output::print_patrol(p, &store.settings()?, Some(&stats));
    Ok(())
}

pub fn patrol_import_gpx(
    ctx: &Ctx,
    file: &Path,
    grid: Option<String>,
    notes: Option<String>,
) -> Res {
    let store = ctx.open()?;
    let grid = input::grid(&store, grid)?;
    check_grid(ctx, &store, &grid)?;
    let bytes = read_file(file)?;
    let p = match store.import_gpx_patrol(&grid, &bytes, notes.as_deref()) {
        Err(gridwalk_core::Error::InvalidState { id, state, .. })
            if state == "already_imported" =>
        {
            return Err(CliError::state(
                format!("这条轨迹已导入过，未重复记录（巡查 {id}）"),
                format!("this track was imported before; nothing recorded twice (patrol {id})"),
            ));
        }
        other => other?,
    };
    show_patrol(ctx, &store, &p, "已导入巡查 / patrol imported")
}

pub fn patrol_show(ctx: &Ctx, id: &str) -> Res {
    let store = ctx.open_read()?;
    let id = &ids::resolve(&store, Kind::Patrol, id)?;
    let p = store.patrol(id)?;
    show_patrol(ctx, &store, &p, "")
}

pub fn patrol_list(ctx: &Ctx, days: u32) -> Res {
    let store = ctx.open_read()?;
    let now = store.now();
    let from = now - Duration::days(i64::from(days.clamp(1, 3660)));
    // The range query leaves `case_ids` empty; the single-patrol read fills it.
    let ps = store
        .patrols_between(from, now + Duration::days(1))?
        .iter()
        .map(|p| store.patrol(&p.id))
        .collect::<Result<Vec<_>, _>>()?;
    if ctx.json {
        return print_json(&ps);
    }
    output::print_patrols(&ps, &store.settings()?);
    Ok(())
}

// ---- cases ----------------------------------------------------------------------------------

/// The arguments of `case draft`.
pub struct CaseDraft {
    pub type_code: String,
    pub urgency: String,
    pub desc: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub address: Option<String>,
    pub grid: Option<String>,
    pub household: Option<String>,
    pub photos: Vec<PathBuf>,
}

pub fn case_draft(ctx: &Ctx, a: CaseDraft) -> Res {
    let store = ctx.open()?;
    let grid = input::grid(&store, a.grid)?;
    check_grid(ctx, &store, &grid)?;
    let urgency: Urgency = input::vocab("urgency", &a.urgency)?;
    let location = input::point("location", a.lat, a.lng)?;
    // Photos are checked before anything is saved, so a typo does not leave a stray draft.
    for p in &a.photos {
        if !p.is_file() {
            return Err(CliError::file(
                p,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }
    let patrol = store.active_patrol()?;
    // The draft and its photos are saved together or not at all: a photo that cannot be read
    // leaves no draft behind.
    let files: Vec<&Path> = a.photos.iter().map(PathBuf::as_path).collect();
    let c = store.draft_case_with_photo_files(
        &CaseInput {
            type_code: a.type_code,
            urgency,
            description: a.desc,
            location,
            address: a.address,
            grid_code: grid,
            household_id: a
                .household
                .map(|h| ids::resolve(&store, Kind::Household, &h))
                .transpose()?,
            patrol_id: patrol.as_ref().map(|p| p.id.clone()),
        },
        &files,
    )?;
    if ctx.json {
        return print_json(&c);
    }
    outln!(
        "已保存事件草稿 / draft saved: {} · {} · 照片 photos {}\n编号 id: {}",
        output::case_type_label(&c.type_code),
        c.urgency.label_zh(),
        c.photos.len(),
        c.id
    );
    if patrol.is_some() {
        outln!("已关联进行中的巡查 / linked to the running patrol");
    }
    if a.lat.is_none() && c.location.is_some() {
        outln!("位置取自照片定位 / location taken from the photo's GPS");
    }
    outln!("上报 / submit: gridwalk case submit {}", c.id);
    Ok(())
}

/// What `case edit` may change; absent fields keep the draft's value.
pub struct CaseEdit {
    pub type_code: Option<String>,
    pub urgency: Option<String>,
    pub desc: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub clear_location: bool,
    pub address: Option<String>,
    pub household: Option<String>,
}

pub fn case_edit(ctx: &Ctx, id: &str, e: CaseEdit) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    let c = store.case(id)?;
    let location = match input::point("location", e.lat, e.lng)? {
        Some(p) => Some(p),
        None if e.clear_location => None,
        None => c.location,
    };
    let urgency = match e.urgency {
        Some(u) => input::vocab("urgency", &u)?,
        None => c.urgency,
    };
    let c = store.update_draft(
        id,
        &CaseInput {
            type_code: e.type_code.unwrap_or(c.type_code),
            urgency,
            description: e.desc.unwrap_or(c.description),
            location,
            address: e.address.or(c.address),
            grid_code: c.grid_code,
            household_id: match e.household {
                Some(h) => Some(ids::resolve(&store, Kind::Household, &h)?),
                None => c.household_id,
            },
            patrol_id: c.patrol_id,
        },
    )?;
    if ctx.json {
        return print_json(&c);
    }
    outln!(
        "已修改草稿 / draft updated: {} · {}\n编号 id: {}",
        output::case_type_label(&c.type_code),
        c.urgency.label_zh(),
        c.id
    );
    Ok(())
}

pub fn case_discard(ctx: &Ctx, id: &str, yes: bool) -> Res {
    if !yes {
        return Err(CliError::state(
            "删除草稿需要 --yes 确认（草稿及其照片将被删除）",
            "discarding a draft needs --yes (the draft and its photos are deleted)",
        ));
    }
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    store.discard_draft(id)?;
    if ctx.json {
        return print_json(&json!({"id": id, "discarded": true}));
    }
    outln!("已删除草稿及其照片 / draft and its photos discarded: {id}");
    Ok(())
}

pub fn case_photo(ctx: &Ctx, id: &str, file: &Path) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    if !file.is_file() {
        return Err(CliError::file(
            file,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let meta = store.attach_photo(id, file)?;
    if ctx.json {
        return print_json(&meta);
    }
    outln!(
        "已添加照片 / photo attached: {} ({} bytes, {})",
        meta.file_name,
        meta.byte_len,
        meta.mime
    );
    Ok(())
}

pub fn case_submit(ctx: &Ctx, id: &str) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    let c = store.submit_case(id)?;
    if ctx.json {
        return print_json(&c);
    }
    outln!(
        "已上报 / submitted: {} · {}，等待同步到平台 / waiting to sync",
        output::case_type_label(&c.type_code),
        c.status.label_zh()
    );
    Ok(())
}

pub fn case_verify(
    ctx: &Ctx,
    id: &str,
    ok: bool,
    note: Option<String>,
    photos: Vec<PathBuf>,
) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    for p in &photos {
        if !p.is_file() {
            return Err(CliError::file(
                p,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }
    let verdict = if ok {
        VerificationVerdict::Verified
    } else {
        VerificationVerdict::Rejected
    };
    let files: Vec<&Path> = photos.iter().map(PathBuf::as_path).collect();
    let c = store.verify_case_files(id, verdict, note.as_deref(), &files)?;
    if ctx.json {
        return print_json(&c);
    }
    let (zh, en) = match verdict {
        VerificationVerdict::Verified => ("核查通过", "verified"),
        VerificationVerdict::Rejected => ("核查不通过", "rejected"),
    };
    outln!(
        "已记录现场核查 / verification recorded: {zh} / {en} · 照片 photos {}
同步后平台更新事件状态 / the case's status follows at the next sync",
        files.len()
    );
    Ok(())
}

pub fn case_show(ctx: &Ctx, id: &str) -> Res {
    let store = ctx.open_read()?;
    let id = &ids::resolve(&store, Kind::Case, id)?;
    let c = store.case(id)?;
    if ctx.json {
        return print_json(&c);
    }
    output::print_case(&c, &store.settings()?);
    Ok(())
}

pub fn case_list(ctx: &Ctx, status: Option<String>) -> Res {
    let store = ctx.open_read()?;
    let status: Option<CaseStatus> = input::opt_vocab("status", status.as_deref())?;
    let cs = store.list_cases(status)?;
    if ctx.json {
        return print_json(&cs);
    }
    output::print_cases(&cs, &store.settings()?);
    Ok(())
}

pub fn case_types(ctx: &Ctx) -> Res {
    if ctx.json {
        return print_json(&json!({
            "categories": gridwalk_core::cases::CATEGORIES
                .iter()
                .map(|(code, zh, en)| json!({"code": code, "zh": zh, "en": en}))
                .collect::<Vec<_>>(),
            "types": gridwalk_core::cases::CASE_TYPES,
        }));
    }
    output::print_case_types();
    Ok(())
}

// ---- tasks and the daily list ---------------------------------------------------------------

/// The arguments of `task add`.
pub struct TaskAdd {
    pub title: String,
    pub kind: String,
    pub due: Option<String>,
    pub priority: String,
    pub household: Option<String>,
    pub resident: Option<String>,
    pub case_id: Option<String>,
    pub notes: Option<String>,
}

pub fn task_add(ctx: &Ctx, a: TaskAdd) -> Res {
    let store = ctx.open()?;
    let kind: TaskKind = input::vocab("kind", &a.kind)?;
    let priority: Priority = input::vocab("priority", &a.priority)?;
    let due_on = day_or_today(&store, "due_on", a.due)?;
    let target = [
        ("household", Kind::Household, a.household),
        ("resident", Kind::Resident, a.resident),
        ("case", Kind::Case, a.case_id),
    ]
    .into_iter()
    .find_map(|(name, kind, id)| id.map(|id| (name, kind, id)))
    .map(|(name, kind, id)| -> Result<TaskTarget, CliError> {
        Ok(TaskTarget {
            kind: name.into(),
            id: ids::resolve(&store, kind, &id)?,
        })
    })
    .transpose()?;
    let t = store.add_task(&TaskInput {
        kind,
        title: a.title,
        target,
        due_on,
        priority,
        source: TaskSource::Own,
        notes: a.notes,
    })?;
    if ctx.json {
        return print_json(&t);
    }
    outln!(
        "已新建任务 / task added: {}（{}，截止 due {}）\n编号 id: {}",
        t.title,
        t.kind.label_zh(),
        t.due_on,
        t.id
    );
    Ok(())
}

pub fn task_done(ctx: &Ctx, id: &str, cancel: bool) -> Res {
    let store = ctx.open()?;
    let id = &ids::resolve(&store, Kind::Task, id)?;
    let status = if cancel {
        TaskStatus::Cancelled
    } else {
        TaskStatus::Done
    };
    let t = store.finish_task(id, status)?;
    if ctx.json {
        return print_json(&t);
    }
    outln!("{} / {}: {}", status.label_zh(), status.label_en(), t.title);
    Ok(())
}

pub fn tasks(ctx: &Ctx, all: bool) -> Res {
    let store = ctx.open_read()?;
    let ts = store.list_tasks(if all { None } else { Some(TaskStatus::Open) })?;
    if ctx.json {
        return print_json(&ts);
    }
    if ts.is_empty() {
        outln!("没有待办任务 / no open tasks");
        return Ok(());
    }
    output::print_tasks(&ts);
    Ok(())
}

pub fn today(ctx: &Ctx, lat: Option<f64>, lng: Option<f64>, limit: Option<usize>) -> Res {
    let store = ctx.open_read()?;
    let position = input::point("position", lat, lng)?;
    let items = store.today(position)?;
    if ctx.json {
        let shown = limit.unwrap_or(items.len()).min(items.len());
        return print_json(&items[..shown]);
    }
    let settings = store.settings()?;
    let today = today_of(&store, &settings);
    outln!("今日待办 / today: {today}");
    if items.is_empty() {
        outln!("今天没有待办事项 / nothing to do today");
        return Ok(());
    }
    output::print_today(&items, &settings, today, limit);
    Ok(())
}

// ---- statistics, policy, status -------------------------------------------------------------

pub fn stats(ctx: &Ctx, period: &str, date: Option<String>) -> Res {
    let store = ctx.open_read()?;
    let period: Period = input::enum_value("period", period)?;
    let day = day_or_today(&store, "date", date)?;
    let st = store.stats(period, day)?;
    if ctx.json {
        return print_json(&st);
    }
    outln!("工作统计 / work statistics");
    output::print_stats(&st);
    Ok(())
}

pub fn policy(ctx: &Ctx, set: Option<bool>) -> Res {
    let store = if set.is_some() {
        ctx.open()?
    } else {
        ctx.open_read()?
    };
    if let Some(yanchi) = set {
        let p = if yanchi {
            VisitPolicy::yanchi()
        } else {
            VisitPolicy::standard()
        };
        store.set_visit_policy(&p)?;
    }
    let p = store.visit_policy()?;
    if ctx.json {
        return print_json(&p);
    }
    if set.is_some() {
        outln!("已更新走访规则 / visit policy updated");
    }
    output::print_policy(&p);
    Ok(())
}

pub fn status(ctx: &Ctx) -> Res {
    let store = ctx.open_read()?;
    let settings = store.settings()?;
    let (pending, attention) = store.read(changes::counts)?;
    let households = store.list_households(&HouseholdFilter::default())?;
    let mut residents = 0usize;
    for h in &households {
        residents += store.residents_of(&h.id, false)?.len();
    }
    let integrity = store.integrity_check()?;
    let active = store.active_patrol()?;
    let open_tasks = store.list_tasks(Some(TaskStatus::Open))?.len();
    let drafts = store.list_cases(Some(CaseStatus::Draft))?.len();
    if ctx.json {
        return print_json(&json!({
            "db": store.path(),
            "device_id": store.device_id(),
            "settings": settings,
            "households": households.len(),
            "residents": residents,
            "outbox": {"pending": pending, "attention": attention},
            "integrity": integrity,
            "active_patrol": active,
            "open_tasks": open_tasks,
            "draft_cases": drafts,
        }));
    }
    let mine: Vec<String> = store
        .my_grids()?
        .into_iter()
        .map(|g| format!("{} {}", g.code, g.name))
        .collect();
    let rows = vec![
        (
            "数据库 store".to_string(),
            store.path().display().to_string(),
        ),
        ("设备 device".into(), store.device_id().to_string()),
        ("本人网格 my grids".into(), mine.join("\n")),
        ("上报人 reporter".into(), settings.reporter.clone()),
        ("在册住户 households".into(), households.len().to_string()),
        ("在册居民 residents".into(), residents.to_string()),
        (
            "待同步变更 changes waiting to sync".into(),
            pending.to_string(),
        ),
        ("需处理 needs attention".into(), attention.to_string()),
        ("待办任务 open tasks".into(), open_tasks.to_string()),
        ("事件草稿 draft cases".into(), drafts.to_string()),
        (
            "进行中的巡查 running patrol".into(),
            active
                .map(|p| {
                    format!(
                        "{}（{} 起）",
                        p.id,
                        output::local_hm(&settings, p.started_at)
                    )
                })
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "完整性检查 integrity".into(),
            if integrity == "ok" {
                "ok".into()
            } else {
                format!("异常 / problem: {integrity}")
            },
        ),
    ];
    outln!("{}", output::kv_table(rows));
    if attention > 0 {
        outln!("有 {attention} 条变更被平台退回，需要处理 / {attention} changes were refused by the server and need attention");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_codes_follow_the_admin_scheme() {
        assert_eq!(
            parent_codes("640323001001001"),
            [
                "640323".to_string(),
                "640323001".into(),
                "640323001001".into()
            ]
        );
        assert_eq!(parent_codes("G1")[2], "G1-community");
    }

    #[test]
    fn community_comes_from_the_grid_name() {
        assert_eq!(
            community_from_grid_name("幸福社区第1网格").as_deref(),
            Some("幸福社区")
        );
        assert_eq!(
            community_from_grid_name("王家村二组").as_deref(),
            Some("王家村")
        );
        assert_eq!(community_from_grid_name("第1网格"), None);
    }
}
