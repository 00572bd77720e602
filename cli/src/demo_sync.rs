//! The demo's evening: the worker's phone finds signal and syncs the day, a grid leader's
//! device receives it, the leader moves the hazard case along the closed loop on the server, and
//! the worker's next sync brings the verification task onto her daily list.
//!
//! It talks to a real `gridwalk-server` (started by `scripts/demo.sh`, or any server seeded with
//! `--demo`), so every line it prints is something the sync engine actually did.

use gridwalk_core::sync::{
    CancelToken, HttpTransport, SyncOptions, SyncPhase, SyncReport, UploadOptions,
};
use gridwalk_core::{CaseStatus, Store, TaskKind};
use serde_json::{json, Value};

use crate::error::CliError;

/// Password of the demo server's users (`gridwalk-server serve --demo`).
const DEMO_PASSWORD: &str = "demo-pass";

fn sync_err(e: gridwalk_core::sync::SyncError) -> CliError {
    match e {
        gridwalk_core::sync::SyncError::Store(e) => CliError::Core(e),
        e => CliError::state(
            format!("同步失败：{e}"),
            format!("sync failed [{}]", e.code()),
        ),
    }
}

fn sync_with_progress(store: &Store, t: &HttpTransport, say: bool) -> Result<SyncReport, CliError> {
    let mut last_phase = None;
    let report = store
        .sync(
            t,
            &SyncOptions::default(),
            &mut |p| {
                if !say {
                    return;
                }
                if last_phase != Some(p.phase) {
                    last_phase = Some(p.phase);
                    match p.phase {
                        SyncPhase::Push => outln!("  上传中 / pushing…"),
                        SyncPhase::Pull => outln!("  下载中 / pulling…"),
                        SyncPhase::Done => {}
                    }
                }
                if let (SyncPhase::Push, Some(total)) = (p.phase, p.total) {
                    outln!(
                        "    {}/{} 条变更 / changes, {} 字节 bytes",
                        p.done,
                        total,
                        p.bytes
                    );
                }
            },
            &CancelToken::new(),
        )
        .map_err(sync_err)?;
    if say {
        outln!(
            "  已上传 {} 条（拒绝 {}，冲突 {}），已下载 {} 条；流量 {} / {} 字节 / pushed {} (refused {}, conflicts {}), pulled {}; {} bytes sent / {} received",
            report.pushed,
            report.rejected,
            report.conflicts,
            report.pulled,
            report.bytes_sent,
            report.bytes_received,
            report.pushed,
            report.rejected,
            report.conflicts,
            report.pulled,
            report.bytes_sent,
            report.bytes_received
        );
    }
    Ok(report)
}

fn act(
    leader: &Store,
    t: &HttpTransport,
    server: &str,
    case_id: &str,
    action: &str,
) -> Result<Value, CliError> {
    let url = format!(
        "{}/v1/cases/{case_id}/actions",
        server.trim_end_matches('/')
    );
    let body = json!({"action": action, "assignee": "城管执法中队", "reason": null});
    let resp = t
        .send_authorized(leader, |c, token| {
            c.post(&url).bearer_auth(token).json(&body)
        })
        .map_err(sync_err)?;
    serde_json::from_slice(&resp.body).map_err(|_| {
        CliError::state(
            "服务器返回的事件格式不对",
            "the server answered a case in an unexpected shape",
        )
    })
}

/// Syncs the demo day against `server` and walks the case loop; returns a JSON summary.
pub fn evening(
    store: &Store,
    dir: &std::path::Path,
    server: &str,
    say: bool,
) -> Result<Value, CliError> {
    let t = HttpTransport::new(server).map_err(|e| sync_err(e.into()))?;
    if say {
        outln!("\n── 晚上 / evening ── 回到有信号的地方，登录并同步 / back in signal: sign in and sync");
    }
    let who = store
        .login(&t, "wangfang", DEMO_PASSWORD, Some("王芳的手机"))
        .map_err(sync_err)?;
    if say {
        outln!(
            "  已登录 / signed in: {}（网格 / grids {}）",
            who.display_name,
            who.grids.join(", ")
        );
    }
    let first = sync_with_progress(store, &t, say)?;
    let photos = store
        .upload_photos(
            &t,
            &UploadOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
        )
        .map_err(sync_err)?;
    if say {
        outln!(
            "  照片随后上传（可断点续传）/ photos follow, resumable: {} 张上传 uploaded, {} 张服务器已有 already there, {} 字节 bytes",
            photos.uploaded,
            photos.already_on_server,
            photos.bytes_sent
        );
    }

    // The grid leader's device receives the day.
    let leader = Store::open(dir.join("leader.db"))?;
    let tl = HttpTransport::new(server).map_err(|e| sync_err(e.into()))?;
    leader
        .login(&tl, "zhaomin", DEMO_PASSWORD, Some("网格长平板"))
        .map_err(sync_err)?;
    if say {
        outln!("\n── 网格长 / grid leader ── 赵敏的设备同步 / the leader's device syncs");
    }
    let leader_report = sync_with_progress(&leader, &tl, say)?;

    // The leader moves today's hazard case along the loop on the server.
    let submitted = store.list_cases(Some(CaseStatus::Submitted))?;
    let case = submitted
        .iter()
        .max_by_key(|c| c.submitted_at)
        .ok_or_else(|| CliError::state("今天没有上报的事件", "no case was submitted today"))?;
    let mut status = String::new();
    for action in ["accept", "dispatch", "handle", "request_verification"] {
        let c = act(&leader, &tl, server, &case.id, action)?;
        status = c
            .pointer("/data/status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if say {
            outln!(
                "  事件 / case {} → {action}: 状态 status = {status}",
                &case.id[..8]
            );
        }
    }

    // The worker's next sync brings the new status and a verification task.
    if say {
        outln!("\n── 网格员再次同步 / the worker syncs again ──");
    }
    let second = sync_with_progress(store, &t, say)?;
    let now_case = store.case(&case.id)?;
    let verify_tasks: Vec<_> = store
        .list_tasks(None)?
        .into_iter()
        .filter(|t| {
            t.kind == TaskKind::VerifyCase && t.target.as_ref().is_some_and(|x| x.id == case.id)
        })
        .collect();
    if say {
        outln!(
            "  本机事件状态 / case status on the phone: {}；核查任务 / verification tasks: {}",
            now_case.status.label_zh(),
            verify_tasks.len()
        );
        for task in &verify_tasks {
            outln!("  · {}（{}）", task.title, task.due_on);
        }
    }
    Ok(json!({
        "first_sync": first,
        "photos": photos,
        "leader_sync": leader_report,
        "case": {"id": case.id, "server_status": status, "device_status": now_case.status.as_str()},
        "verification_tasks": verify_tasks.len(),
        "second_sync": second,
    }))
}
