//! `gridwalk`: a grid worker's (网格员) day on the command line, over the same offline store the
//! phone apps use.
//!
//! This file holds only the command-line grammar (clap derive) and the dispatch to handlers, so
//! the whole surface of the tool can be read in one place. The handlers live in
//! [`commands`] (one function per subcommand), typed input parsing in [`input`], everything the
//! user sees in [`output`] and [`error`], and the scripted demo in [`demo`]. Help texts are
//! Chinese first, English second: the people who use this are Chinese community workers.
//!
//! Exit codes: 0 success, 2 a value was refused (validation, or a command line clap could not
//! parse), 3 an import refused some of its rows (the others were imported), 1 anything else.

/// `println!` that ends the process quietly when stdout is closed (`gridwalk find 王 | head`)
/// instead of panicking with "failed printing to stdout".
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod commands;
mod demo;
mod demo_sync;
mod error;
mod ids;
mod input;
mod output;
mod png;
mod sync_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use gridwalk_core::{
    CareTier, CaseStatus, Gender, HousingType, Priority, Relation, Residency, SpecialGroup,
    TaskKind, Urgency, VisitMode, VisitOutcome,
};

use crate::error::CliError;

#[derive(Parser, Debug)]
#[command(
    name = "gridwalk",
    version,
    about = "网格员工作台（离线）/ Gridwalk: a grid worker's day, offline",
    long_about = "网格员工作台（离线）：住户与人口信息、走访、巡查轨迹、事件上报、今日待办和工作统计。\n\
                  Gridwalk: households and residents, visits, patrol tracks, case reporting, the daily list and work statistics — all on the device.\n\n\
                  先试试 / try first:  gridwalk demo"
)]
struct Cli {
    /// 设备数据库文件 / device store file
    #[arg(
        long,
        global = true,
        env = "GRIDWALK_DB",
        default_value = "./gridwalk-data/device.db",
        value_name = "PATH"
    )]
    db: PathBuf,

    /// 输出 JSON（供脚本使用；错误以 JSON 写到 stderr）/ machine-readable JSON output
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// 初始化设备数据库和本人网格 / create the store with a minimal org tree
    Init(InitArgs),
    /// 列出组织机构和网格 / list org units and grids
    Grids,
    /// 导入住户台账（CSV UTF-8/GBK 或 xlsx）/ import a household ledger (CSV or xlsx)
    Import(ImportArgs),
    /// 导出台账（住户、人口、走访、巡查、事件；CSV 或 xlsx）/ export a ledger as CSV or xlsx
    Export(ExportArgs),
    /// 住户：登记、修改、查看、列表、迁出 / households
    #[command(subcommand)]
    Household(HouseholdCmd),
    /// 居民：登记、修改、查看、列表、迁出、迁入 / residents
    #[command(subcommand)]
    Resident(ResidentCmd),
    /// 搜索住户和居民（姓名、地址、电话尾号……）/ search households and residents
    Find(FindArgs),
    /// 记录一次走访 / log a visit to a household
    Visit(VisitArgs),
    /// 巡查与轨迹 / patrols and GPS tracks
    #[command(subcommand)]
    Patrol(PatrolCmd),
    /// 事件上报 / cases (hazards and problems)
    #[command(subcommand)]
    Case(CaseCmd),
    /// 任务：新建、完成 / add or finish tasks
    #[command(subcommand)]
    Task(TaskCmd),
    /// 任务列表 / list tasks
    Tasks(TasksArgs),
    /// 今日待办 / the daily list
    Today(TodayArgs),
    /// 工作统计 / work statistics
    Stats(StatsArgs),
    /// 走访频次规则 / visit-frequency policy
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// 数据库状态、待同步变更 / store status and changes waiting to sync
    Status,
    /// 演示：生成一个网格并走完一天 / demo: build a realistic grid and walk through a day
    Demo(DemoArgs),
    /// 登录同步服务器（密码读自 GRIDWALK_PASSWORD 或标准输入）/ sign in to the sync server
    Login(sync_cmds::LoginArgs),
    /// 退出登录（数据保留）/ sign out (data is kept)
    Logout,
    /// 同步：上传本机变更，下载服务器记录 / push local changes, pull the server's records
    Sync(sync_cmds::SyncArgs),
    /// 字段冲突：列出、处理 / field conflicts: list or resolve
    #[command(subcommand)]
    Conflicts(sync_cmds::ConflictsCmd),
    /// 需处理：被服务器拒绝的变更 / changes the server refused
    Attention {
        #[command(subcommand)]
        cmd: Option<sync_cmds::AttentionCmd>,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    /// 网格编码 / grid code (e.g. 640323001001001)
    #[arg(long, value_name = "CODE")]
    grid_code: String,
    /// 网格名称 / grid name (e.g. 幸福社区第1网格)
    #[arg(long, value_name = "NAME")]
    grid_name: String,
    /// 社区名称（默认取自网格名称）/ community name (default: taken from the grid name)
    #[arg(long, value_name = "NAME")]
    community_name: Option<String>,
    /// 街道名称 / street name
    #[arg(long, value_name = "NAME", default_value = "本街道")]
    street_name: String,
    /// 区名称 / district name
    #[arg(long, value_name = "NAME", default_value = "本区")]
    district_name: String,
    /// 上报人（账号或姓名代码）/ reporter id used on cases
    #[arg(long, value_name = "ID")]
    reporter: Option<String>,
    /// 网格边界 GeoJSON 文件 / grid boundary as a GeoJSON file
    #[arg(long, value_name = "FILE")]
    boundary: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// 台账文件 / ledger file (.csv or .xlsx)
    #[arg(required_unless_present_any = ["undo", "list"])]
    file: Option<PathBuf>,
    /// 导入到哪个网格（默认本人网格）/ target grid (default: my grid)
    #[arg(long, value_name = "CODE")]
    grid: Option<String>,
    /// 只检查、不写入 / report what would happen without changing anything
    #[arg(long)]
    dry_run: bool,
    /// 座机区号，补给没有区号的座机 / area code for local landlines (e.g. 0953)
    #[arg(long, value_name = "CODE")]
    area_code: Option<String>,
    /// 台账没有社区列时用的社区（默认网格所属社区）/ community for a sheet without one
    #[arg(long, value_name = "NAME")]
    community: Option<String>,
    /// 退回行文件（默认 <台账>.rejected.csv）/ rejected-rows file (default: <ledger>.rejected.csv)
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// 撤销一次尚未同步的导入 / undo an import that has not synced (id from --list)
    #[arg(long, value_name = "ID", conflicts_with_all = ["file", "list", "dry_run"])]
    undo: Option<String>,
    /// 列出导入记录 / list past imports
    #[arg(long, conflicts_with = "file")]
    list: bool,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// households 住户 | residents 人口 | visits 走访 | patrols 巡查 | cases 事件
    #[arg(value_parser = ["households", "residents", "visits", "patrols", "cases"])]
    what: String,
    /// 输出文件（默认标准输出）/ output file (default: stdout)
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// csv 或 xlsx（默认按文件扩展名，否则 csv）/ csv or xlsx (default: from --out, else csv)
    #[arg(long, value_parser = ["csv", "xlsx"])]
    format: Option<String>,
    /// 只导出某个网格 / only one grid
    #[arg(long, value_name = "CODE")]
    grid: Option<String>,
    /// 起始日期（走访、巡查、事件）/ first day (visits, patrols, cases)
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<String>,
    /// 截止日期（含）/ last day, inclusive
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<String>,
}

/// Address parts shared by `household add` and `household edit`.
#[derive(Args, Debug)]
struct AddressArgs {
    /// 社区/村（默认取网格所属社区）/ community or village (default: the grid's community)
    #[arg(long)]
    community: Option<String>,
    /// 楼栋/组 / building or village group
    #[arg(long)]
    building: Option<String>,
    /// 单元 / unit
    #[arg(long)]
    unit: Option<String>,
    /// 楼层 / floor
    #[arg(long, allow_negative_numbers = true)]
    floor: Option<i32>,
    /// 房号/门牌号 / room or house number
    #[arg(long)]
    room: Option<String>,
    /// 补充地址（地标、店名）/ free-text address (landmark, shop)
    #[arg(long, value_name = "TEXT")]
    address_text: Option<String>,
}

/// Non-address household fields shared by `household add` and `household edit`.
#[derive(Args, Debug)]
struct HouseholdFieldArgs {
    #[arg(long, value_name = "TYPE", help = input::help::<HousingType>("住房类型", "housing type"))]
    housing: Option<String>,
    #[arg(long, value_name = "TIER", help = input::help::<CareTier>("关爱等级", "care tier"))]
    care: Option<String>,
    /// 标签，逗号分隔 / tags, comma separated
    #[arg(long, value_name = "A,B")]
    tags: Option<String>,
    /// 纬度 / latitude (WGS-84)
    #[arg(long, allow_negative_numbers = true)]
    lat: Option<f64>,
    /// 经度 / longitude (WGS-84)
    #[arg(long, allow_negative_numbers = true)]
    lng: Option<f64>,
    /// 备注 / notes
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Subcommand, Debug)]
enum HouseholdCmd {
    /// 登记住户 / register a household
    Add {
        /// 网格（默认本人网格）/ grid (default: my grid)
        #[arg(long, value_name = "CODE")]
        grid: Option<String>,
        #[command(flatten)]
        address: AddressArgs,
        #[command(flatten)]
        fields: HouseholdFieldArgs,
    },
    /// 修改住户 / edit a household
    Edit {
        /// 住户编号 / household id
        id: String,
        #[command(flatten)]
        address: AddressArgs,
        #[command(flatten)]
        fields: HouseholdFieldArgs,
        /// 清除位置 / clear the location
        #[arg(long, conflicts_with_all = ["lat", "lng"])]
        clear_location: bool,
    },
    /// 查看住户、家庭成员和最近走访 / show a household, its residents and recent visits
    Show {
        /// 住户编号 / household id
        id: String,
        /// 显示完整身份证号和电话 / show full ID numbers and phones
        #[arg(long)]
        reveal: bool,
    },
    /// 住户列表 / list households
    List {
        /// 只看某个网格 / only one grid
        #[arg(long, value_name = "CODE")]
        grid: Option<String>,
        #[arg(long, value_name = "TIER", help = input::help::<CareTier>("只看某个关爱等级", "only one care tier"))]
        care: Option<String>,
        /// 包括已迁出、已归档 / include moved-out and archived
        #[arg(long)]
        all: bool,
    },
    /// 整户迁出（记录保留）/ mark a household moved out (kept, never deleted)
    MoveOut {
        /// 住户编号 / household id
        id: String,
        /// 归档而不是迁出 / archive instead
        #[arg(long)]
        archive: bool,
    },
}

/// Resident fields shared by `resident add` and `resident edit`.
#[derive(Args, Debug)]
struct ResidentFieldArgs {
    /// 身份证号（性别、出生日期自动带出）/ ID number (gender and birth date are derived)
    #[arg(long, value_name = "NUMBER")]
    id_number: Option<String>,
    /// 联系电话 / phone
    #[arg(long)]
    phone: Option<String>,
    #[arg(long, help = input::help::<Relation>("与户主关系（也可填台账写法，如 母亲、儿媳）", "relation to the head"))]
    relation: Option<String>,
    #[arg(long, help = input::help::<Residency>("户籍类型", "residency"))]
    residency: Option<String>,
    #[arg(long, value_name = "A,B", help = input::help::<SpecialGroup>("特殊人群，逗号分隔", "special groups, comma separated"))]
    groups: Option<String>,
    #[arg(long, help = input::help::<Gender>("性别（无身份证号时）", "gender (only without an ID number)"))]
    gender: Option<String>,
    /// 出生日期（无身份证号时）YYYY-MM-DD / birth date (only without an ID number)
    #[arg(long, value_name = "DATE")]
    birth_date: Option<String>,
    /// 备注 / notes
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ResidentCmd {
    /// 登记居民 / register a resident
    Add {
        /// 住户编号 / household id
        #[arg(long, value_name = "ID")]
        household: String,
        /// 姓名 / name
        #[arg(long)]
        name: String,
        /// 迁入日期 YYYY-MM-DD / moved in on
        #[arg(long, value_name = "DATE")]
        moved_in_on: Option<String>,
        #[command(flatten)]
        fields: ResidentFieldArgs,
    },
    /// 修改居民信息 / edit a resident
    Edit {
        /// 居民编号 / resident id
        id: String,
        /// 姓名 / name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: ResidentFieldArgs,
    },
    /// 查看居民和迁移记录 / show a resident and their moves
    Show {
        /// 居民编号 / resident id
        id: String,
        /// 显示完整身份证号和电话 / show full ID number and phone
        #[arg(long)]
        reveal: bool,
    },
    /// 居民列表（编号可只输前几位）/ list residents (ids may be shortened)
    List {
        /// 只看某户 / only one household
        #[arg(long, value_name = "ID")]
        household: Option<String>,
        /// 包括已迁出 / include moved-out
        #[arg(long)]
        all: bool,
    },
    /// 迁出（记录保留）/ record a move-out (the record is kept)
    MoveOut {
        /// 居民编号 / resident id
        id: String,
        /// 迁出日期（默认今天）/ date (default today)
        #[arg(long, value_name = "DATE")]
        on: Option<String>,
        /// 说明 / note
        #[arg(long)]
        note: Option<String>,
    },
    /// 迁入某户 / record a move into a household
    MoveIn {
        /// 居民编号 / resident id
        id: String,
        /// 迁入的住户编号 / household id
        #[arg(long, value_name = "ID")]
        household: String,
        /// 迁入日期（默认今天）/ date (default today)
        #[arg(long, value_name = "DATE")]
        on: Option<String>,
        /// 说明 / note
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Args, Debug)]
struct FindArgs {
    /// 关键字：姓名片段、地址、电话尾号、身份证号片段 / a fragment of a name, address, phone or ID
    query: String,
    /// 最多显示几条 / maximum results
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Args, Debug)]
struct VisitArgs {
    /// 住户编号 / household id
    household_id: String,
    #[arg(long, default_value = "in_person", help = input::help::<VisitMode>("方式（微信、短信均可）", "mode"))]
    mode: String,
    #[arg(long, help = input::help::<VisitOutcome>("结果（未遇时默认 no_contact，否则 fine）", "outcome (default: no_contact when not at home, else fine)"))]
    outcome: Option<String>,
    /// 走访时间（默认现在）RFC3339 或 "YYYY-MM-DD HH:MM" / when (default now)
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// 走访记录 / notes
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Subcommand, Debug)]
enum PatrolCmd {
    /// 开始巡查 / start a patrol now
    Start {
        /// 网格（默认本人网格）/ grid (default: my grid)
        #[arg(long, value_name = "CODE")]
        grid: Option<String>,
    },
    /// 给进行中的巡查添加一个定位点 / add a GPS fix to the running patrol
    Point {
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        #[arg(long, allow_negative_numbers = true)]
        lng: f64,
        /// 精度（米）/ accuracy in metres
        #[arg(long)]
        accuracy: Option<f64>,
        /// 时间（默认现在）/ when (default now)
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// 结束巡查，计算里程和时长 / stop the running patrol
    Stop {
        /// 巡查小结 / notes
        #[arg(long)]
        notes: Option<String>,
    },
    /// 从 GPX 文件导入一次巡查（同一轨迹只记一次）/ import a whole patrol from a GPX file (the same track once)
    ImportGpx {
        /// GPX 文件 / GPX file
        file: PathBuf,
        /// 网格（默认本人网格）/ grid (default: my grid)
        #[arg(long, value_name = "CODE")]
        grid: Option<String>,
        /// 巡查小结 / notes
        #[arg(long)]
        notes: Option<String>,
    },
    /// 查看一次巡查 / show a patrol
    Show {
        /// 巡查编号 / patrol id
        id: String,
    },
    /// 最近的巡查 / recent patrols
    List {
        /// 最近几天 / how many days back
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

#[derive(Subcommand, Debug)]
enum CaseCmd {
    /// 新建事件草稿（巡查中会自动关联；照片带定位时无须 --lat/--lng）/ draft a case (linked to the running patrol; a photo's GPS gives the place)
    #[command(visible_alias = "new")]
    Draft {
        /// 事件类型编码，见 `case types` / sub-type code, see `case types` (e.g. 0203)
        #[arg(long = "type", value_name = "CODE")]
        type_code: String,
        #[arg(long, default_value = "normal", help = input::help::<Urgency>("紧急程度", "urgency"))]
        urgency: String,
        /// 问题描述 / description
        #[arg(long)]
        desc: String,
        #[arg(long, allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, allow_negative_numbers = true)]
        lng: Option<f64>,
        /// 位置描述 / address or place
        #[arg(long)]
        address: Option<String>,
        /// 网格（默认本人网格）/ grid (default: my grid)
        #[arg(long, value_name = "CODE")]
        grid: Option<String>,
        /// 相关住户 / related household id
        #[arg(long, value_name = "ID")]
        household: Option<String>,
        /// 现场照片（可多次）/ photo file (repeatable)
        #[arg(long, value_name = "FILE")]
        photo: Vec<PathBuf>,
    },
    /// 修改草稿（只改给出的项）/ edit a draft (only the fields given)
    Edit {
        /// 事件编号 / case id
        id: String,
        /// 事件类型编码 / sub-type code
        #[arg(long = "type", value_name = "CODE")]
        type_code: Option<String>,
        #[arg(long, help = input::help::<Urgency>("紧急程度", "urgency"))]
        urgency: Option<String>,
        /// 问题描述 / description
        #[arg(long)]
        desc: Option<String>,
        #[arg(long, allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, allow_negative_numbers = true)]
        lng: Option<f64>,
        /// 清除位置（有带定位的照片时改用照片位置）/ clear the location (a photo's GPS is used if there is one)
        #[arg(long, conflicts_with_all = ["lat", "lng"])]
        clear_location: bool,
        /// 位置描述 / address or place
        #[arg(long)]
        address: Option<String>,
        /// 相关住户 / related household id
        #[arg(long, value_name = "ID")]
        household: Option<String>,
    },
    /// 删除草稿及其照片（草稿从未上传，不会同步）/ discard a draft and its photos (nothing syncs)
    Discard {
        /// 事件编号 / case id
        id: String,
        /// 确认删除 / confirm
        #[arg(long)]
        yes: bool,
    },
    /// 给草稿添加照片 / attach a photo to a draft
    Photo {
        /// 事件编号 / case id
        id: String,
        /// 照片文件（JPEG 或 PNG）/ photo file (JPEG or PNG)
        file: PathBuf,
    },
    /// 上报草稿 / submit a draft
    Submit {
        /// 事件编号 / case id
        id: String,
    },
    /// 现场核查：通过（--ok）或不通过（--reject，须 --note 说明原因）/ verify a case on site
    Verify {
        /// 事件编号 / case id
        id: String,
        /// 核查通过：问题已整改 / verified: the problem is fixed
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        ok: bool,
        /// 核查不通过：问题仍在（须 --note）/ rejected: not fixed (needs --note)
        #[arg(long)]
        reject: bool,
        /// 核查情况（不通过时必填）/ what you found (required with --reject)
        #[arg(long)]
        note: Option<String>,
        /// 整改后现场照片（可多次）/ after-photo of the site (repeatable)
        #[arg(long, value_name = "FILE")]
        photo: Vec<PathBuf>,
    },
    /// 查看事件和处理过程 / show a case and its timeline
    Show {
        /// 事件编号 / case id
        id: String,
    },
    /// 事件列表 / list cases
    List {
        #[arg(long, help = input::help::<CaseStatus>("只看某个状态", "only one status"))]
        status: Option<String>,
    },
    /// 事件类型表 / the case type table
    Types,
}

#[derive(Subcommand, Debug)]
enum TaskCmd {
    /// 新建任务（自建）/ add a task of your own
    Add {
        /// 标题 / title
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "custom", help = input::help::<TaskKind>("类型", "kind"))]
        kind: String,
        /// 截止日期（默认今天）/ due date (default today)
        #[arg(long, value_name = "DATE")]
        due: Option<String>,
        #[arg(long, default_value = "normal", help = input::help::<Priority>("优先级", "priority"))]
        priority: String,
        /// 关联住户 / target household id
        #[arg(long, value_name = "ID", group = "target")]
        household: Option<String>,
        /// 关联居民 / target resident id
        #[arg(long, value_name = "ID", group = "target")]
        resident: Option<String>,
        /// 关联事件 / target case id
        #[arg(long = "case", value_name = "ID", group = "target")]
        case_id: Option<String>,
        /// 备注 / notes
        #[arg(long)]
        notes: Option<String>,
    },
    /// 完成任务 / mark a task done
    Done {
        /// 任务编号 / task id
        id: String,
        /// 取消而不是完成 / cancel instead
        #[arg(long)]
        cancel: bool,
    },
}

#[derive(Args, Debug)]
struct TasksArgs {
    /// 包括已完成和已取消 / include done and cancelled tasks
    #[arg(long)]
    all: bool,
}

#[derive(Args, Debug)]
struct TodayArgs {
    /// 当前位置纬度（用于按距离排序）/ your latitude (sorts by distance)
    #[arg(long, allow_negative_numbers = true, requires = "lng")]
    lat: Option<f64>,
    /// 当前位置经度 / your longitude
    #[arg(long, allow_negative_numbers = true, requires = "lat")]
    lng: Option<f64>,
    /// 最多显示几条 / show at most N items
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Args, Debug)]
struct StatsArgs {
    /// 统计周期：day/week/month 或 日/周/月
    #[arg(long, default_value = "day")]
    period: String,
    /// 统计日期（默认今天）YYYY-MM-DD / a day in the period (default today)
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
}

#[derive(Subcommand, Debug)]
enum PolicyCmd {
    /// 查看走访频次规则 / show the visit policy
    Show,
    /// 标准：连心户每周、关心户半月、放心户每月 / standard policy
    SetStandard,
    /// 盐池：电话半月一次、入户每月一次 / the 盐池 policy
    SetYanchi,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// 演示数据目录（默认新建临时目录）/ directory for the demo store (default: a new temp dir)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// 住户数 / number of households
    #[arg(long, default_value_t = 300)]
    households: usize,
    /// 同步服务器（以 --demo 启动）：傍晚把一天的工作同步上去 / a sync server started with --demo: the evening syncs the day
    #[arg(long, value_name = "URL", env = "GRIDWALK_DEMO_SERVER")]
    server: Option<String>,
    /// 随机种子 / random seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return error::clap_failure(e),
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error::report(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    use commands as c;
    let ctx = c::Ctx {
        db: cli.db,
        json: cli.json,
    };
    match cli.command {
        Command::Init(a) => c::init(&ctx, a),
        Command::Grids => c::grids(&ctx),
        Command::Import(a) => c::import(&ctx, a),
        Command::Export(a) => c::export(&ctx, a),
        Command::Household(cmd) => match cmd {
            HouseholdCmd::Add {
                grid,
                address,
                fields,
            } => c::household_add(&ctx, grid, address, fields),
            HouseholdCmd::Edit {
                id,
                address,
                fields,
                clear_location,
            } => c::household_edit(&ctx, &id, address, fields, clear_location),
            HouseholdCmd::Show { id, reveal } => c::household_show(&ctx, &id, reveal),
            HouseholdCmd::List { grid, care, all } => c::household_list(&ctx, grid, care, all),
            HouseholdCmd::MoveOut { id, archive } => c::household_move_out(&ctx, &id, archive),
        },
        Command::Resident(cmd) => match cmd {
            ResidentCmd::Add {
                household,
                name,
                moved_in_on,
                fields,
            } => c::resident_add(&ctx, household, name, moved_in_on, fields),
            ResidentCmd::Edit { id, name, fields } => c::resident_edit(&ctx, &id, name, fields),
            ResidentCmd::Show { id, reveal } => c::resident_show(&ctx, &id, reveal),
            ResidentCmd::List { household, all } => c::resident_list(&ctx, household, all),
            ResidentCmd::MoveOut { id, on, note } => c::resident_move_out(&ctx, &id, on, note),
            ResidentCmd::MoveIn {
                id,
                household,
                on,
                note,
            } => c::resident_move_in(&ctx, &id, &household, on, note),
        },
        Command::Find(a) => c::find(&ctx, a),
        Command::Visit(a) => c::visit(&ctx, a),
        Command::Patrol(cmd) => match cmd {
            PatrolCmd::Start { grid } => c::patrol_start(&ctx, grid),
            PatrolCmd::Point {
                lat,
                lng,
                accuracy,
                at,
            } => c::patrol_point(&ctx, lat, lng, accuracy, at),
            PatrolCmd::Stop { notes } => c::patrol_stop(&ctx, notes),
            PatrolCmd::ImportGpx { file, grid, notes } => {
                c::patrol_import_gpx(&ctx, &file, grid, notes)
            }
            PatrolCmd::Show { id } => c::patrol_show(&ctx, &id),
            PatrolCmd::List { days } => c::patrol_list(&ctx, days),
        },
        Command::Case(cmd) => match cmd {
            CaseCmd::Draft {
                type_code,
                urgency,
                desc,
                lat,
                lng,
                address,
                grid,
                household,
                photo,
            } => c::case_draft(
                &ctx,
                c::CaseDraft {
                    type_code,
                    urgency,
                    desc,
                    lat,
                    lng,
                    address,
                    grid,
                    household,
                    photos: photo,
                },
            ),
            CaseCmd::Edit {
                id,
                type_code,
                urgency,
                desc,
                lat,
                lng,
                clear_location,
                address,
                household,
            } => c::case_edit(
                &ctx,
                &id,
                c::CaseEdit {
                    type_code,
                    urgency,
                    desc,
                    lat,
                    lng,
                    clear_location,
                    address,
                    household,
                },
            ),
            CaseCmd::Discard { id, yes } => c::case_discard(&ctx, &id, yes),
            CaseCmd::Photo { id, file } => c::case_photo(&ctx, &id, &file),
            CaseCmd::Submit { id } => c::case_submit(&ctx, &id),
            CaseCmd::Verify {
                id,
                ok,
                reject: _,
                note,
                photo,
            } => c::case_verify(&ctx, &id, ok, note, photo),
            CaseCmd::Show { id } => c::case_show(&ctx, &id),
            CaseCmd::List { status } => c::case_list(&ctx, status),
            CaseCmd::Types => c::case_types(&ctx),
        },
        Command::Task(cmd) => match cmd {
            TaskCmd::Add {
                title,
                kind,
                due,
                priority,
                household,
                resident,
                case_id,
                notes,
            } => c::task_add(
                &ctx,
                c::TaskAdd {
                    title,
                    kind,
                    due,
                    priority,
                    household,
                    resident,
                    case_id,
                    notes,
                },
            ),
            TaskCmd::Done { id, cancel } => c::task_done(&ctx, &id, cancel),
        },
        Command::Tasks(a) => c::tasks(&ctx, a.all),
        Command::Today(a) => c::today(&ctx, a.lat, a.lng, a.limit),
        Command::Stats(a) => c::stats(&ctx, &a.period, a.date),
        Command::Policy(cmd) => match cmd {
            PolicyCmd::Show => c::policy(&ctx, None),
            PolicyCmd::SetStandard => c::policy(&ctx, Some(false)),
            PolicyCmd::SetYanchi => c::policy(&ctx, Some(true)),
        },
        Command::Status => c::status(&ctx),
        Command::Login(a) => sync_cmds::login(&ctx, a),
        Command::Logout => sync_cmds::logout(&ctx),
        Command::Sync(a) => sync_cmds::sync(&ctx, a),
        Command::Conflicts(cmd) => sync_cmds::conflicts(&ctx, cmd),
        Command::Attention { cmd } => sync_cmds::attention(&ctx, cmd),
        Command::Demo(a) => demo::run(
            demo::DemoOptions {
                dir: a.dir,
                households: a.households,
                seed: a.seed,
                server: a.server,
            },
            cli.json,
        ),
    }
}
