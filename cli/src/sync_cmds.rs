//! Sync from the command line: `login`, `logout`, `sync`, `conflicts`, `attention`.
//!
//! These drive the core's sync engine (`gridwalk_core::sync`) over HTTP exactly as a phone
//! would, so a worker without a phone (or a tester) can sign in, push the day's work and pull
//! what the supervisors did. The password is never taken from a visible place by default: it is
//! read from `GRIDWALK_PASSWORD` or from the first line of standard input. Sync errors are shown
//! with their machine-readable code; conflict values on sensitive fields (ID numbers, phones)
//! are masked unless `--reveal` is given, as in `household show`.

use std::io::BufRead;

use clap::{Args, Subcommand};
use gridwalk_core::sync::{
    CancelToken, ConflictChoice, HttpTransport, SyncError, SyncOptions, SyncPhase, SyncProgress,
    UploadOptions, UploadProgress,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use gridwalk_core::Store;

use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{self, print_json};

type Res = Result<(), CliError>;

/// Opens an existing store (sync never creates one: a typo in `--db` must not sign in an
/// empty store).
fn open(ctx: &Ctx) -> Result<Store, CliError> {
    if !ctx.db.exists() {
        return Err(CliError::NoStore(ctx.db.clone()));
    }
    Ok(ctx.announce_waits(Store::open(&ctx.db)?))
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// 同步服务器地址 / sync server address (e.g. http://127.0.0.1:8787)
    #[arg(long, env = "GRIDWALK_SERVER", value_name = "URL")]
    pub server: String,
    /// 用户名 / user name
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// 设备名称 / device name shown to administrators
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// 服务器地址（默认登录时的地址）/ server address (default: the one signed in to)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// 每页拉取记录数 / records per pull page
    #[arg(long, value_name = "N")]
    pub page: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum ConflictsCmd {
    /// 列出冲突（默认只列未处理的）/ list conflicts (open ones unless --all)
    List {
        /// 包括已处理的 / include resolved ones
        #[arg(long)]
        all: bool,
        /// 显示完整身份证号和电话 / show full ID numbers and phones
        #[arg(long)]
        reveal: bool,
    },
    /// 处理冲突 / resolve a conflict
    Resolve {
        /// 冲突编号 / conflict id
        id: String,
        /// 保留当前值 / keep the current value
        #[arg(long, conflicts_with_all = ["take_lost", "value"])]
        keep: bool,
        /// 恢复被覆盖的值 / put back the overwritten value
        #[arg(long, conflicts_with = "value")]
        take_lost: bool,
        /// 填写新值（JSON 或文本）/ a new value (JSON, or plain text)
        #[arg(long, value_name = "VALUE")]
        value: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AttentionCmd {
    /// 列出被服务器拒绝的变更 / list changes the server refused
    List,
    /// 重新提交 / queue a refused change again
    Retry {
        /// 变更编号 / change id
        change_id: String,
    },
    /// 放弃该变更（不再上传，本机记录保留）/ drop a refused change (the local record stays)
    Discard {
        /// 变更编号 / change id
        change_id: String,
        /// 确认放弃 / confirm
        #[arg(long)]
        yes: bool,
    },
}

/// Shows a sync error with its code, Chinese first.
fn sync_err(e: SyncError) -> CliError {
    match e {
        SyncError::Store(e) => CliError::Core(e),
        e => {
            let hint = if e.needs_login() {
                "；请运行 `gridwalk login` / run `gridwalk login`"
            } else {
                ""
            };
            CliError::state(format!("{e}{hint}"), format!("[{}]", e.code()))
        }
    }
}

fn transport(url: &str) -> Result<HttpTransport, CliError> {
    HttpTransport::new(url).map_err(|e| sync_err(e.into()))
}

fn read_password() -> Result<String, CliError> {
    if let Ok(p) = std::env::var("GRIDWALK_PASSWORD") {
        return Ok(p);
    }
    eprintln!("密码 / password:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::file("<stdin>", e))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Signing in is how a new device starts, so `login` (alone among the sync commands) creates
/// the store when it does not exist yet; the org tree comes from the server.
pub fn login(ctx: &Ctx, a: LoginArgs) -> Res {
    let store = ctx.announce_waits(Store::open(&ctx.db)?);
    let t = transport(&a.server)?;
    let password = read_password()?;
    let info = store
        .login(&t, &a.user, &password, a.device_name.as_deref())
        .map_err(sync_err)?;
    if ctx.json {
        return print_json(&info);
    }
    outln!(
        "已登录 / signed in: {} ({}) @ {}",
        info.display_name,
        info.username,
        info.server_url
    );
    outln!("网格 / grids: {}", info.grids.join(", "));
    Ok(())
}

pub fn logout(ctx: &Ctx) -> Res {
    let store = open(ctx)?;
    // The server ends the session too when it can be reached; offline, the local sign-out
    // still happens.
    let told = match store.session()? {
        Some(s) => store.logout_everywhere(&transport(&s.server_url)?)?,
        None => {
            store.logout()?;
            true
        }
    };
    if ctx.json {
        return print_json(&json!({"signed_in": false, "server_told": told}));
    }
    outln!("已退出登录；本机数据和未同步的变更都保留 / signed out; local data and unsynced changes are kept");
    if !told {
        outln!("未能通知服务器（离线），登录凭据将自行过期 / the server could not be told (offline); the session's tokens will expire on their own");
    }
    Ok(())
}

pub fn sync(ctx: &Ctx, a: SyncArgs) -> Res {
    let store = open(ctx)?;
    let url = match a.server {
        Some(u) => u,
        None => {
            store
                .session()?
                .ok_or_else(|| sync_err(SyncError::NotSignedIn))?
                .server_url
        }
    };
    let t = transport(&url)?;
    let mut opts = SyncOptions::default();
    if let Some(p) = a.page {
        opts.pull_limit = p;
    }
    let bar = if ctx.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    let style = ProgressStyle::with_template("{spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    let mut on_progress = |p: &SyncProgress| {
        let kb = p.bytes as f64 / 1024.0;
        let msg = match (p.phase, p.total) {
            (SyncPhase::Push, Some(total)) => {
                format!("上传 / push {}/{} ({kb:.1} KiB)", p.done, total)
            }
            (SyncPhase::Push, None) => format!("上传 / push {} ({kb:.1} KiB)", p.done),
            (SyncPhase::Pull, _) => format!("下载 / pull {} ({kb:.1} KiB)", p.done),
            (SyncPhase::Done, _) => format!("完成 / done ({kb:.1} KiB)"),
        };
        bar.set_message(msg);
        bar.tick();
    };
    let result = store.sync(&t, &opts, &mut on_progress, &CancelToken::new());
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            return Err(sync_err(e));
        }
    };
    // Photos follow the records: the case text is on the server already, its pictures resume
    // from wherever an earlier run stopped.
    let mut on_upload = |p: &UploadProgress| {
        bar.set_message(format!(
            "照片 / photos {}/{} ({:.1}/{:.1} KiB)",
            p.photos_done,
            p.photos_total,
            p.bytes_done as f64 / 1024.0,
            p.bytes_total as f64 / 1024.0
        ));
        bar.tick();
    };
    let photos = store.upload_photos(
        &t,
        &UploadOptions::default(),
        &mut on_upload,
        &CancelToken::new(),
    );
    bar.finish_and_clear();
    let photos = photos.map_err(sync_err)?;
    if ctx.json {
        return print_json(&json!({"records": report, "photos": photos}));
    }
    let rows = vec![
        ("已上传 / pushed".into(), report.pushed.to_string()),
        ("被拒绝 / refused".into(), report.rejected.to_string()),
        ("新冲突 / conflicts".into(), report.conflicts.to_string()),
        ("已下载 / pulled".into(), report.pulled.to_string()),
        ("已跳过 / skipped".into(), report.skipped.to_string()),
        (
            "待上级记录 / waiting for parent".into(),
            report.parked.to_string(),
        ),
        ("重试 / retries".into(), report.retries.to_string()),
        (
            "照片 / photos (uploaded/already there/failed)".into(),
            format!(
                "{} / {} / {}",
                photos.uploaded, photos.already_on_server, photos.failed
            ),
        ),
        (
            "流量 / bytes (sent/received)".into(),
            format!("{} / {}", report.bytes_sent, report.bytes_received),
        ),
    ];
    outln!("{}", output::kv_table(rows));
    if report.resnapshot {
        outln!("同步位置已过期，已重新下载全部数据（未上传的修改已保留）/ the sync cursor had expired: took a fresh snapshot (unsent edits kept)");
    }
    if report.rejected > 0 {
        outln!("有变更被拒绝，请运行 `gridwalk attention` 查看 / some changes were refused: see `gridwalk attention`");
    }
    Ok(())
}

/// Shows a conflict value, masking ID numbers and phones unless `reveal`.
fn shown(field: &str, v: &Value, reveal: bool) -> String {
    let text = match v {
        Value::Null => return "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match field {
        "id_number" => output::mask_id(Some(&text), reveal),
        "phone" => output::mask_phone(Some(&text), reveal),
        _ => output::clip(&text, 40),
    }
}

pub fn conflicts(ctx: &Ctx, cmd: ConflictsCmd) -> Res {
    let store = match cmd {
        ConflictsCmd::List { .. } => ctx.open_read()?,
        _ => open(ctx)?,
    };
    match cmd {
        ConflictsCmd::List { all, reveal } => {
            let list = store.conflicts(!all)?;
            if ctx.json {
                return print_json(&list);
            }
            if list.is_empty() {
                outln!("没有冲突 / no conflicts");
                return Ok(());
            }
            let settings = store.settings()?;
            let mut t = output::table(&[
                "编号\nid",
                "记录\nrecord",
                "字段\nfield",
                "当前值\nkept",
                "被覆盖的值\nlost",
                "发现时间\ndetected",
                "状态\nstatus",
            ]);
            for c in &list {
                t.add_row(vec![
                    c.id.clone(),
                    format!("{} {}", c.entity, c.entity_id),
                    c.field.clone(),
                    shown(&c.field, &c.kept_value, reveal),
                    shown(&c.field, &c.lost_value, reveal),
                    output::local_dt(&settings, c.detected_at),
                    match &c.resolution {
                        Some(r) => format!("{} ({r})", c.status),
                        None => c.status.clone(),
                    },
                ]);
            }
            outln!("{t}");
            Ok(())
        }
        ConflictsCmd::Resolve {
            id,
            keep,
            take_lost,
            value,
        } => {
            let choice = match (keep, take_lost, value) {
                (true, _, _) => ConflictChoice::Keep,
                (_, true, _) => ConflictChoice::TakeLost,
                (_, _, Some(v)) => {
                    ConflictChoice::Custom(serde_json::from_str(&v).unwrap_or(Value::String(v)))
                }
                _ => {
                    return Err(CliError::state(
                        "请选择 --keep、--take-lost 或 --value",
                        "choose --keep, --take-lost or --value",
                    ))
                }
            };
            let c = store.resolve_conflict(&id, &choice)?;
            if ctx.json {
                return print_json(&c);
            }
            outln!(
                "冲突已处理，将在下次同步时上传 / conflict resolved; it syncs next time ({})",
                c.id
            );
            Ok(())
        }
    }
}

pub fn attention(ctx: &Ctx, cmd: Option<AttentionCmd>) -> Res {
    let cmd = cmd.unwrap_or(AttentionCmd::List);
    let store = match cmd {
        AttentionCmd::List => ctx.open_read()?,
        _ => open(ctx)?,
    };
    match cmd {
        AttentionCmd::List => {
            let items = store.attention()?;
            if ctx.json {
                return print_json(&items);
            }
            if items.is_empty() {
                outln!("没有需要处理的变更 / nothing needs attention");
                return Ok(());
            }
            let mut t = output::table(&[
                "变更\nchange",
                "记录\nrecord",
                "原因\nreason",
                "说明\nmessage",
                "次数\nattempts",
            ]);
            for i in &items {
                t.add_row(vec![
                    i.change_id.clone(),
                    format!("{} {} ({})", i.entity, i.entity_id, i.op),
                    // The field to fix, when the server named one.
                    match (&i.field, &i.field_code) {
                        (Some(f), Some(c)) => format!("{}\n字段 field: {f} [{c}]", i.code),
                        (Some(f), None) => format!("{}\n字段 field: {f}", i.code),
                        _ => i.code.clone(),
                    },
                    i.message.clone(),
                    i.attempts.to_string(),
                ]);
            }
            outln!("{t}");
            outln!("重新提交 / retry: gridwalk attention retry <change>；放弃 / discard: gridwalk attention discard <change> --yes");
            Ok(())
        }
        AttentionCmd::Retry { change_id } => {
            store.retry_attention(&change_id)?;
            if ctx.json {
                return print_json(&json!({"change_id": change_id, "state": "pending"}));
            }
            outln!("已重新排队，下次同步时上传 / queued again; it is pushed by the next sync");
            Ok(())
        }
        AttentionCmd::Discard { change_id, yes } => {
            if !yes {
                return Err(CliError::state(
                    "放弃变更需要 --yes 确认（该变更将不会上传）",
                    "discarding needs --yes (the change will never be sent)",
                ));
            }
            store.discard_attention(&change_id)?;
            if ctx.json {
                return print_json(&json!({"change_id": change_id, "state": "discarded"}));
            }
            outln!("已放弃该变更；本机记录保留 / change discarded; the local record is kept");
            Ok(())
        }
    }
}
