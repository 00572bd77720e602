//! Everything a human reads: tables, local times, labels, masked personal data.
//!
//! Kept apart from the handlers so that all commands (and the demo) look the same, and so the
//! rules for showing data live in one place:
//!
//! - **Tables** are comfy-table, which measures CJK characters as two columns. The ASCII border
//!   preset is used on purpose: box-drawing characters are "ambiguous width" and many Chinese
//!   terminals draw them double-wide, which breaks the frame.
//! - **Times** are shown in the worker's local time from [`Settings::utc_offset_minutes`], not
//!   the machine's zone: the store, not the laptop, knows where the grid is.
//! - **Enumerations** are shown by their Chinese label (the worker's language); headers are
//!   Chinese with English underneath.
//! - **ID numbers and phones** are masked (`640302********123X`, `138****5678`) unless the user
//!   asks with `--reveal`; `--json` output carries the full records, for scripts.
//!
//! Machine output (`--json`) is plain `serde_json` of the core's records and reports.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use gridwalk_core::cases::{self, CASE_TYPES};
use gridwalk_core::geometry::TrackStats;
use gridwalk_core::import::ImportReport;
use gridwalk_core::search::SearchHit;
use gridwalk_core::stats::{Period, WorkStats};
use gridwalk_core::store::Settings;
use gridwalk_core::tasks::{TodayItem, VisitPolicy};
use gridwalk_core::{
    Case, Household, OrgUnit, Patrol, Priority, RecordStatus, Resident, ResidentMove, Task, Visit,
    VisitMode,
};
use serde::Serialize;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::error::CliError;

// ---- primitives ----------------------------------------------------------------------------

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(gridwalk_core::Error::from)?;
    outln!("{text}");
    Ok(())
}

/// A table with bilingual headers (`"中文\nEnglish"`).
pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !headers.is_empty() {
        t.set_header(headers.iter().map(Cell::new).collect::<Vec<_>>());
    }
    t
}

/// A two-column label / value table without a header.
pub fn kv_table(rows: Vec<(String, String)>) -> Table {
    let mut t = table(&[]);
    for (k, v) in rows {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    t
}

/// `2025-03-15 08:30` in the worker's time zone.
pub fn local_dt(s: &Settings, at: DateTime<Utc>) -> String {
    at.with_timezone(&s.offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// `08:30` in the worker's time zone.
pub fn local_hm(s: &Settings, at: DateTime<Utc>) -> String {
    at.with_timezone(&s.offset()).format("%H:%M").to_string()
}

/// `640302********123X`: region and last four kept.
pub fn mask_id(id: Option<&str>, reveal: bool) -> String {
    match id {
        None => "—".into(),
        Some(v) if reveal => v.into(),
        Some(v) => {
            let chars: Vec<char> = v.chars().collect();
            if chars.len() < 10 {
                return "*".repeat(chars.len());
            }
            let head: String = chars[..6].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
        }
    }
}

/// `138****5678`.
pub fn mask_phone(phone: Option<&str>, reveal: bool) -> String {
    match phone {
        None => "—".into(),
        Some(v) if reveal => v.into(),
        Some(v) => {
            let chars: Vec<char> = v.chars().collect();
            if chars.len() < 7 {
                return "*".repeat(chars.len());
            }
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
        }
    }
}

/// `850 m` or `2.4 km`.
pub fn distance(m: f64) -> String {
    if m < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

/// `1小时05分 (1h05m)` / `35分12秒 (35m12s)`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}小时{m:02}分 ({h}h{m:02}m)")
    } else {
        format!("{m}分{s:02}秒 ({m}m{s:02}s)")
    }
}

/// Cuts `s` to at most `width` terminal columns, ending with `…` when cut.
pub fn clip(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Full years from `birth` to `today`.
pub fn age(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0)
}

fn opt(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("—").to_string()
}

fn priority_cell(p: Priority) -> Cell {
    let c = Cell::new(p.label_zh());
    match p {
        Priority::Urgent => c.fg(Color::Red),
        Priority::High => c.fg(Color::DarkYellow),
        _ => c,
    }
}

fn status_zh(s: RecordStatus) -> &'static str {
    s.label_zh()
}

/// `幸福社区 3栋 2单元 502 · 出租 · 关心户`.
pub fn household_line(h: &Household) -> String {
    format!(
        "{} · {} · {}",
        h.address.one_line(),
        h.housing_type.label_zh(),
        h.care_tier.label_zh()
    )
}

/// Zh labels of a list of special groups, joined with `、`.
fn groups_zh(r: &Resident) -> String {
    if r.special_groups.is_empty() {
        "—".into()
    } else {
        r.special_groups
            .iter()
            .map(|g| g.label_zh())
            .collect::<Vec<_>>()
            .join("、")
    }
}

// ---- org ------------------------------------------------------------------------------------

pub fn print_grids(units: &[OrgUnit]) {
    let mut t = table(&[
        "编码\ncode",
        "名称\nname",
        "层级\nlevel",
        "上级\nparent",
        "边界\nboundary",
        "本人\nmine",
    ]);
    for u in units {
        t.add_row(vec![
            u.code.clone(),
            u.name.clone(),
            u.level.label_zh().into(),
            opt(u.parent_code.as_deref()),
            if u.boundary_geojson.is_some() {
                "有".into()
            } else {
                "—".into()
            },
            if u.is_mine {
                "★".into()
            } else {
                String::new()
            },
        ]);
    }
    outln!("{t}");
}

// ---- households and residents ---------------------------------------------------------------

/// One row of `household list`: the household, its active residents, its last contact.
pub struct HouseholdRow {
    pub household: Household,
    pub residents: usize,
    pub last_visit: Option<DateTime<Utc>>,
}

pub fn print_households(rows: &[HouseholdRow], s: &Settings, short: &dyn Fn(&str) -> String) {
    let mut t = table(&[
        "编号\nid",
        "地址\naddress",
        "住房\nhousing",
        "关爱等级\ncare",
        "人数\npeople",
        "最近走访\nlast visit",
        "标签\ntags",
    ]);
    for r in rows {
        let h = &r.household;
        let mut addr = h.address.one_line();
        if h.status != RecordStatus::Active {
            addr.push_str(&format!("（{}）", status_zh(h.status)));
        }
        t.add_row(vec![
            Cell::new(short(&h.id)),
            Cell::new(addr),
            Cell::new(h.housing_type.label_zh()),
            Cell::new(h.care_tier.label_zh()),
            Cell::new(r.residents),
            Cell::new(
                r.last_visit
                    .map(|v| local_dt(s, v))
                    .unwrap_or_else(|| "—".into()),
            ),
            Cell::new(if h.tags.is_empty() {
                "—".into()
            } else {
                h.tags.join("、")
            }),
        ]);
    }
    outln!("{t}");
    outln!("共 {} 户 / {} households", rows.len(), rows.len());
}

/// `resident list`: one row per resident, with their household's address.
pub fn print_resident_list(
    rows: &[(Resident, Household)],
    today: NaiveDate,
    short: &dyn Fn(&str) -> String,
    short_household: &dyn Fn(&str) -> String,
) {
    let mut t = table(&[
        "编号\nid",
        "姓名\nname",
        "关系\nrelation",
        "年龄\nage",
        "特殊人群\ngroups",
        "户编号\nhousehold",
        "地址\naddress",
    ]);
    for (r, h) in rows {
        let mut name = r.name.clone();
        if r.status != RecordStatus::Active {
            name.push_str(&format!("（{}）", status_zh(r.status)));
        }
        t.add_row(vec![
            short(&r.id),
            name,
            r.relation.label_zh().to_string(),
            r.birth_date
                .map(|b| age(b, today).to_string())
                .unwrap_or_else(|| "—".into()),
            groups_zh(r),
            short_household(&h.id),
            h.address.one_line(),
        ]);
    }
    outln!("{t}");
    outln!("共 {} 人 / {} residents", rows.len(), rows.len());
}

pub fn print_household_detail(
    h: &Household,
    residents: &[Resident],
    visits: &[Visit],
    s: &Settings,
    today: NaiveDate,
    reveal: bool,
) {
    let mut rows = vec![
        ("编号 id".to_string(), h.id.clone()),
        ("地址 address".into(), h.address.one_line()),
        (
            "楼层 floor".into(),
            h.address
                .floor
                .map(|f| f.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        ("网格 grid".into(), h.grid_code.clone()),
        ("住房类型 housing".into(), h.housing_type.label_zh().into()),
        ("关爱等级 care tier".into(), h.care_tier.label_zh().into()),
        ("状态 status".into(), status_zh(h.status).into()),
        (
            "标签 tags".into(),
            if h.tags.is_empty() {
                "—".into()
            } else {
                h.tags.join("、")
            },
        ),
        (
            "位置 location".into(),
            match h.location {
                Some(p) => {
                    let mut v = format!("{:.6}, {:.6}", p.lat, p.lng);
                    if h.outside_grid {
                        v.push_str("（在网格边界外 / outside the grid boundary）");
                    }
                    v
                }
                None => "—".into(),
            },
        ),
        ("备注 notes".into(), opt(h.notes.as_deref())),
        ("登记 created".into(), local_dt(s, h.created_at)),
        ("同步 sync".into(), h.sync_status.label_zh().into()),
    ];
    if let Some(last) = visits.iter().find(|v| v.mode != VisitMode::NotAtHome) {
        rows.push((
            "最近联系 last contact".into(),
            format!("{} {}", local_dt(s, last.visited_at), last.mode.label_zh()),
        ));
    }
    outln!("{}", kv_table(rows));
    outln!("\n家庭成员 / residents ({})", residents.len());
    print_residents(residents, today, reveal);
    let shown = visits.len().min(10);
    outln!("\n最近走访 / recent visits ({shown}/{})", visits.len());
    print_visits(&visits[..shown], s);
}

pub fn print_residents(residents: &[Resident], today: NaiveDate, reveal: bool) {
    let mut t = table(&[
        "编号\nid",
        "姓名\nname",
        "性别\ngender",
        "年龄\nage",
        "关系\nrelation",
        "户籍\nresidency",
        "特殊人群\ngroups",
        "身份证号\nID number",
        "电话\nphone",
        "状态\nstatus",
    ]);
    for r in residents {
        t.add_row(vec![
            r.id.clone(),
            r.name.clone(),
            r.gender.map(|g| g.label_zh()).unwrap_or("—").into(),
            r.birth_date
                .map(|b| age(b, today).to_string())
                .unwrap_or_else(|| "—".into()),
            r.relation.label_zh().into(),
            r.residency.label_zh().into(),
            groups_zh(r),
            mask_id(r.id_number.as_deref(), reveal),
            mask_phone(r.phone.as_deref(), reveal),
            status_zh(r.status).into(),
        ]);
    }
    outln!("{t}");
}

pub fn print_resident_detail(r: &Resident, moves: &[ResidentMove], today: NaiveDate, reveal: bool) {
    let rows = vec![
        ("编号 id".to_string(), r.id.clone()),
        ("姓名 name".into(), r.name.clone()),
        ("住户 household".into(), r.household_id.clone()),
        (
            "性别 gender".into(),
            r.gender.map(|g| g.label_zh()).unwrap_or("—").into(),
        ),
        (
            "出生日期 birth date".into(),
            r.birth_date
                .map(|b| format!("{b}（{} 岁）", age(b, today)))
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "身份证号 ID number".into(),
            mask_id(r.id_number.as_deref(), reveal),
        ),
        ("电话 phone".into(), mask_phone(r.phone.as_deref(), reveal)),
        ("与户主关系 relation".into(), r.relation.label_zh().into()),
        ("户籍 residency".into(), r.residency.label_zh().into()),
        ("特殊人群 groups".into(), groups_zh(r)),
        ("状态 status".into(), status_zh(r.status).into()),
        (
            "迁入 moved in".into(),
            r.moved_in_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "迁出 moved out".into(),
            r.moved_out_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        ("备注 notes".into(), opt(r.notes.as_deref())),
        ("同步 sync".into(), r.sync_status.label_zh().into()),
    ];
    outln!("{}", kv_table(rows));
    if !moves.is_empty() {
        outln!("\n迁移记录 / moves");
        let mut t = table(&["日期\ndate", "类型\nkind", "住户\nhousehold", "说明\nnote"]);
        for m in moves {
            t.add_row(vec![
                m.on.to_string(),
                m.kind.label_zh().into(),
                m.household_id.clone(),
                opt(m.note.as_deref()),
            ]);
        }
        outln!("{t}");
    }
}

pub fn print_visits(visits: &[Visit], s: &Settings) {
    let mut t = table(&["时间\ntime", "方式\nmode", "结果\noutcome", "记录\nnotes"]);
    for v in visits {
        t.add_row(vec![
            local_dt(s, v.visited_at),
            v.mode.label_zh().into(),
            v.outcome.label_zh().into(),
            clip(&opt(v.notes.as_deref()), 48),
        ]);
    }
    outln!("{t}");
}

pub fn print_search(
    hits: &[SearchHit],
    short_household: &dyn Fn(&str) -> String,
    short_resident: &dyn Fn(&str) -> String,
) {
    let mut t = table(&[
        "类型\nkind",
        "名称\nname",
        "地址\naddress",
        "状态\nstatus",
        "编号\nid",
        "户编号\nhousehold",
    ]);
    for h in hits {
        t.add_row(vec![
            if h.kind == "resident" {
                "居民".to_string()
            } else {
                "住户".to_string()
            },
            h.title.clone(),
            h.address.clone(),
            if h.active { "在册" } else { "已迁出" }.into(),
            if h.kind == "resident" {
                short_resident(&h.id)
            } else {
                short_household(&h.id)
            },
            if h.kind == "resident" {
                short_household(&h.household_id)
            } else {
                String::new()
            },
        ]);
    }
    outln!("{t}");
}

pub fn print_import_report(r: &ImportReport) {
    if r.dry_run {
        outln!("【试导入，未写入任何数据】/ dry run: nothing was written");
    }
    outln!(
        "编码 encoding: {} · 数据行 rows: {} · 导入 accepted: {} · 退回 rejected: {}",
        r.encoding,
        r.rows_total,
        r.rows_accepted,
        r.rejected.len()
    );
    outln!(
        "住户 households: 新建 created {} · 并入已有 matched {} · 更新 updated {}",
        r.households_created,
        r.households_matched,
        r.households_updated
    );
    outln!(
        "居民 residents: 新登记 created {} · 更新 updated {} · 无变化 unchanged {}",
        r.residents_created,
        r.residents_updated,
        r.residents_unchanged
    );
    outln!(
        "合并单元格补全 cells filled down: {} · 15位身份证号转18位 IDs converted: {} · 写入备注的行 rows with notes added: {}",
        r.filled_cells,
        r.ids_converted,
        r.rows_with_notes
    );
    if let Some(id) = &r.import_id {
        outln!(
            "导入编号 import id: {id}（同步前可撤销：gridwalk import --undo {id} / undo before sync）"
        );
    }
    if !r.ignored_columns.is_empty() {
        outln!(
            "未识别的列（已忽略）/ ignored columns: {}",
            r.ignored_columns.join("、")
        );
    }
    if !r.rejected.is_empty() {
        outln!(
            "\n退回的行（均未保存，请修改后重新导入）/ rejected rows (nothing of them was saved):"
        );
        let mut t = table(&["行\nline", "字段\nfield", "代码\ncode", "说明\nmessage"]);
        for row in &r.rejected {
            for e in &row.errors {
                let mut msg = format!("{} / {}", e.code.message_zh(), e.code.message_en());
                if let Some(h) = row.hints.iter().find(|h| h.field == e.field) {
                    msg.push_str(&format!("\n{}\n{}", h.zh, h.en));
                }
                t.add_row(vec![
                    row.line.to_string(),
                    format!("{} {}", gridwalk_core::ledger::field_zh(&e.field), e.field),
                    e.code.as_str().into(),
                    msg,
                ]);
            }
        }
        outln!("{t}");
    }
}

/// The journal of ledger imports.
pub fn print_imports(list: &[gridwalk_core::import::LedgerImport], s: &Settings) {
    if list.is_empty() {
        outln!("还没有导入记录 / no imports yet");
        return;
    }
    let mut t = table(&[
        "导入编号\nimport id",
        "时间\nat",
        "文件\nfile",
        "网格\ngrid",
        "导入/退回\naccepted/refused",
        "新建/更新\ncreated/updated",
        "状态\nstate",
    ]);
    for i in list {
        t.add_row(vec![
            i.id.clone(),
            i.imported_at
                .with_timezone(&s.offset())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            i.file_name.clone().unwrap_or_default(),
            i.grid_code.clone(),
            format!("{}/{}", i.rows_accepted, i.rows_rejected),
            format!("{}/{}", i.created, i.updated),
            if i.undone_at.is_some() {
                "已撤销 undone".into()
            } else {
                "有效 in effect".into()
            },
        ]);
    }
    outln!("{t}");
}

// ---- the daily list ------------------------------------------------------------------------

fn due_cell(item: &TodayItem, s: &Settings, today: NaiveDate) -> Cell {
    if item.overdue_days > 0 {
        let n = item.overdue_days;
        return Cell::new(format!("逾期{n}天 ({n}d late)")).fg(Color::Red);
    }
    let local = item.due.with_timezone(&s.offset());
    let hm = local.format("%H:%M").to_string();
    if local.date_naive() == today {
        if hm == "00:00" {
            Cell::new("今天 (today)")
        } else {
            Cell::new(format!("{hm}前 (by {hm})"))
        }
    } else {
        Cell::new(local.format("%m-%d").to_string())
    }
}

/// The daily list as a table; `limit` cuts it (the total is still printed).
pub fn print_today(items: &[TodayItem], s: &Settings, today: NaiveDate, limit: Option<usize>) {
    let shown = limit.unwrap_or(items.len()).min(items.len());
    let mut t = table(&[
        "#",
        "优先级\npriority",
        "事项\nwhat",
        "地点\nwhere",
        "期限\ndue",
        "距离\ndistance",
    ]);
    for (i, item) in items[..shown].iter().enumerate() {
        t.add_row(vec![
            Cell::new(i + 1),
            priority_cell(item.priority),
            Cell::new(&item.title),
            Cell::new(opt(Some(&item.detail))),
            due_cell(item, s, today),
            Cell::new(item.distance_m.map(distance).unwrap_or_else(|| "—".into())),
        ]);
    }
    outln!("{t}");
    let overdue = items.iter().filter(|i| i.overdue_days > 0).count();
    if shown < items.len() {
        outln!(
            "显示 {shown}/{} 项，其中逾期 {overdue} 项 / showing {shown} of {} items, {overdue} overdue",
            items.len(),
            items.len()
        );
    } else {
        outln!(
            "共 {} 项，其中逾期 {overdue} 项 / {} items, {overdue} overdue",
            items.len(),
            items.len()
        );
    }
}

// ---- patrols --------------------------------------------------------------------------------

pub fn print_patrol(p: &Patrol, s: &Settings, track: Option<&TrackStats>) {
    let mut rows = vec![
        ("编号 id".to_string(), p.id.clone()),
        ("网格 grid".into(), p.grid_code.clone()),
        ("开始 started".into(), local_dt(s, p.started_at)),
        (
            "结束 ended".into(),
            p.ended_at
                .map(|e| local_dt(s, e))
                .unwrap_or_else(|| "进行中 (running)".into()),
        ),
        ("时长 duration".into(), duration(p.duration_s)),
        ("里程 distance".into(), distance(p.distance_m)),
        ("定位点 fixes".into(), p.point_count.to_string()),
    ];
    if p.ended_at.is_some() {
        rows.push((
            "计入考核 counts".into(),
            if p.counts {
                "是 / yes".into()
            } else {
                format!(
                    "否：不足 {} 分钟或 {} 米 / no: under {} min or {} m",
                    s.min_patrol_minutes,
                    s.min_patrol_distance_m,
                    s.min_patrol_minutes,
                    s.min_patrol_distance_m
                )
            },
        ));
    }
    if let Some(t) = track {
        let dropped = (p.point_count as usize).saturating_sub(t.kept_points);
        rows.push((
            "滤除漂移点 GPS glitches dropped".into(),
            dropped.to_string(),
        ));
    }
    rows.push(("小结 notes".into(), opt(p.notes.as_deref())));
    rows.push((
        "巡查中上报事件 cases".into(),
        if p.case_ids.is_empty() {
            "—".into()
        } else {
            p.case_ids.join("\n")
        },
    ));
    rows.push(("同步 sync".into(), p.sync_status.label_zh().into()));
    outln!("{}", kv_table(rows));
}

pub fn print_patrols(ps: &[Patrol], s: &Settings) {
    let mut t = table(&[
        "编号\nid",
        "开始\nstarted",
        "时长\nduration",
        "里程\ndistance",
        "定位点\nfixes",
        "事件\ncases",
        "计入\ncounts",
    ]);
    for p in ps {
        t.add_row(vec![
            p.id.clone(),
            local_dt(s, p.started_at),
            if p.ended_at.is_some() {
                duration(p.duration_s)
            } else {
                "进行中 (running)".into()
            },
            distance(p.distance_m),
            p.point_count.to_string(),
            p.case_ids.len().to_string(),
            match (p.ended_at.is_some(), p.counts) {
                (false, _) => "—".into(),
                (true, true) => "是 yes".into(),
                (true, false) => "否（过短）no (too short)".into(),
            },
        ]);
    }
    outln!("{t}");
}

// ---- cases ----------------------------------------------------------------------------------

/// `电动车违规充电 (e-bike charging hazard)`.
pub fn case_type_label(code: &str) -> String {
    match cases::case_type(code) {
        Some(t) => format!("{} ({})", t.zh, t.en),
        None => code.to_string(),
    }
}

pub fn print_case(c: &Case, s: &Settings) {
    let category = cases::category_of(&c.category_code)
        .map(|(_, zh, en)| format!("{zh} ({en})"))
        .unwrap_or_else(|| c.category_code.clone());
    let rows = vec![
        ("编号 id".to_string(), c.id.clone()),
        (
            "类型 type".into(),
            format!("{} {}", c.type_code, case_type_label(&c.type_code)),
        ),
        ("大类 category".into(), category),
        ("紧急程度 urgency".into(), c.urgency.label_zh().into()),
        ("状态 status".into(), c.status.label_zh().into()),
        ("描述 description".into(), c.description.clone()),
        (
            "位置 location".into(),
            match c.location {
                Some(p) => {
                    let mut v = format!("{:.6}, {:.6}", p.lat, p.lng);
                    if c.outside_grid {
                        v.push_str("（在网格边界外 / outside the grid boundary）");
                    }
                    v
                }
                None => "—".into(),
            },
        ),
        ("地点 address".into(), opt(c.address.as_deref())),
        ("网格 grid".into(), c.grid_code.clone()),
        ("上报人 reporter".into(), c.reporter.clone()),
        ("创建 created".into(), local_dt(s, c.created_at)),
        (
            "上报 submitted".into(),
            c.submitted_at
                .map(|t| local_dt(s, t))
                .unwrap_or_else(|| "—".into()),
        ),
        ("巡查 patrol".into(), opt(c.patrol_id.as_deref())),
        ("照片 photos".into(), c.photos.len().to_string()),
        ("同步 sync".into(), c.sync_status.label_zh().into()),
    ];
    outln!("{}", kv_table(rows));
    if !c.events.is_empty() {
        outln!("\n处理过程 / timeline");
        let mut t = table(&["时间\ntime", "事项\nevent", "状态\nstatus", "说明\nnote"]);
        for e in &c.events {
            t.add_row(vec![
                local_dt(s, e.at),
                e.kind.label_zh().into(),
                e.status.map(|s| s.label_zh()).unwrap_or("").into(),
                clip(e.note.as_deref().unwrap_or(""), 40),
            ]);
        }
        outln!("{t}");
    }
}

pub fn print_cases(cs: &[Case], s: &Settings) {
    let mut t = table(&[
        "编号\nid",
        "类型\ntype",
        "紧急\nurgency",
        "状态\nstatus",
        "创建\ncreated",
        "描述\ndescription",
        "照片\nphotos",
    ]);
    for c in cs {
        let ty = cases::case_type(&c.type_code)
            .map(|t| t.zh.to_string())
            .unwrap_or_else(|| c.type_code.clone());
        t.add_row(vec![
            c.id.clone(),
            ty,
            c.urgency.label_zh().into(),
            c.status.label_zh().into(),
            local_dt(s, c.created_at),
            clip(&c.description, 36),
            c.photos.len().to_string(),
        ]);
    }
    outln!("{t}");
}

pub fn print_case_types() {
    let mut t = table(&["编码\ncode", "大类\ncategory", "类型\ntype", "English"]);
    for ct in CASE_TYPES {
        let cat = cases::category_of(ct.code)
            .map(|(_, zh, _)| zh)
            .unwrap_or("");
        t.add_row(vec![ct.code, cat, ct.zh, ct.en]);
    }
    outln!("{t}");
}

// ---- tasks, policy, stats -------------------------------------------------------------------

pub fn print_tasks(ts: &[Task]) {
    let mut t = table(&[
        "编号\nid",
        "类型\nkind",
        "标题\ntitle",
        "截止\ndue",
        "优先级\npriority",
        "来源\nsource",
        "状态\nstatus",
    ]);
    for task in ts {
        t.add_row(vec![
            Cell::new(&task.id),
            Cell::new(task.kind.label_zh()),
            Cell::new(&task.title),
            Cell::new(task.due_on),
            priority_cell(task.priority),
            Cell::new(task.source.label_zh()),
            Cell::new(task.status.label_zh()),
        ]);
    }
    outln!("{t}");
}

pub fn print_policy(p: &VisitPolicy) {
    let mut t = table(&[
        "关爱等级\ncare tier",
        "规则\nrule",
        "算数的方式\nmodes that count",
        "间隔（天）\nevery N days",
    ]);
    for r in &p.rules {
        t.add_row(vec![
            r.care_tier.label_zh().to_string(),
            r.rule.clone(),
            r.modes
                .iter()
                .map(|m| m.label_zh())
                .collect::<Vec<_>>()
                .join("、"),
            r.interval_days.to_string(),
        ]);
    }
    outln!("{t}");
}

fn period_zh(p: Period) -> &'static str {
    match p {
        Period::Day => "日 (day)",
        Period::Week => "周 (week)",
        Period::Month => "月 (month)",
    }
}

pub fn print_stats(st: &WorkStats) {
    let by_mode = if st.visits_by_mode.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = st
            .visits_by_mode
            .iter()
            .map(|(code, n)| {
                let label = code
                    .parse::<VisitMode>()
                    .map(|m| m.label_zh())
                    .unwrap_or(code.as_str());
                format!("{label} {n}")
            })
            .collect();
        format!("（{}）", parts.join("，"))
    };
    let by_cat = if st.cases_by_category.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = st
            .cases_by_category
            .iter()
            .map(|(code, n)| {
                let label = cases::category_of(code)
                    .map(|c| c.1)
                    .unwrap_or(code.as_str());
                format!("{label} {n}")
            })
            .collect();
        format!("（{}）", parts.join("，"))
    };
    let span = if st.from == st.to {
        st.from.to_string()
    } else {
        format!("{} ~ {}", st.from, st.to)
    };
    let rows = vec![
        (
            "统计周期 period".to_string(),
            format!("{} {span}", period_zh(st.period)),
        ),
        (
            "走访次数 visits".into(),
            format!("{}{by_mode}", st.visits_total),
        ),
        (
            "走访户数 households reached".into(),
            st.households_visited.to_string(),
        ),
        (
            "巡查次数 patrols".into(),
            if st.patrols_too_short > 0 {
                format!(
                    "{}（另有 {} 次过短未计入 / {} too short, not counted）",
                    st.patrols, st.patrols_too_short, st.patrols_too_short
                )
            } else {
                st.patrols.to_string()
            },
        ),
        ("巡查时长 patrol time".into(), duration(st.patrol_seconds)),
        (
            "巡查里程 patrol distance".into(),
            distance(st.patrol_distance_m),
        ),
        (
            "上报事件 cases filed".into(),
            format!("{}{by_cat}", st.cases_total),
        ),
    ];
    outln!("{}", kv_table(rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_identifies_a_row() {
        assert_eq!(
            mask_id(Some("11010519491231002X"), false),
            "110105********002X"
        );
        assert_eq!(
            mask_id(Some("11010519491231002X"), true),
            "11010519491231002X"
        );
        assert_eq!(mask_phone(Some("13800138000"), false), "138****8000");
        assert_eq!(mask_phone(None, false), "—");
    }

    #[test]
    fn small_formats() {
        assert_eq!(distance(850.4), "850 m");
        assert_eq!(distance(2430.0), "2.4 km");
        assert_eq!(duration(35 * 60 + 12), "35分12秒 (35m12s)");
        assert_eq!(duration(3900), "1小时05分 (1h05m)");
        assert_eq!(clip("幸福社区第一网格", 9), "幸福社区…");
        assert_eq!(clip("short", 9), "short");
        let b = NaiveDate::from_ymd_opt(1950, 6, 1).unwrap();
        assert_eq!(age(b, NaiveDate::from_ymd_opt(2025, 5, 31).unwrap()), 74);
        assert_eq!(age(b, NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()), 75);
    }
}
