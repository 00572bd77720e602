//! The console's data over HTTP (JSON, CSV and .xlsx under `/console/data`): warnings and the
//! board, warning rules, turning a warning into a task, work statistics, the map, ledgers, a
//! reveal, exports and the audit log.
//!
//! Every handler takes the caller as a [`Principal`] and refuses grid workers; every answer is
//! built by the modules beside this one from the caller's grids only, so a unit or record of
//! another street answers exactly like one that does not exist (an empty list, or 404).
//! ID numbers and phones leave masked, except from `reveal` and an unmasked export, both
//! audited before the value is sent.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gridwalk_protocol::codes;
use gridwalk_sheet::SheetFormat;
use serde::Deserialize;

use super::ledger_export::{self, ExportRefusal, LedgerKind};
use super::ledgers::{self, Ledger, LedgerQuery, RevealRefusal};
use super::map_data::{self as map, MapQuery};
use super::warning_data::{self, ToTask, ToTaskRefusal};
use super::warning_rules::{self, WarningRules};
use super::workers::{self, Period};
use super::{audit, data_store::AuditRow};
use crate::error::ApiError;
use crate::http::{blocking, now_ms, WireJson};
use crate::storage::Principal;
use crate::AppState;

/// The data routes (nested under `/console/data` by `http::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/warnings", get(warnings))
        .route("/warnings/task", post(warning_task))
        .route("/warning-rules", get(get_rules).put(put_rules))
        .route("/workers", get(worker_stats))
        .route("/map", get(map_data))
        .route("/ledgers/households", get(households))
        .route("/ledgers/residents", get(residents))
        .route("/ledgers/reveal", post(reveal))
        .route("/ledgers/export", get(export_masked).post(export_unmasked))
        .route("/audit", get(audit_log))
}

/// The caller of a data route: a device token (`Authorization: Bearer`, scripts and tests) or
/// the console's browser session cookie. With the cookie, every state change must carry the
/// session's CSRF token in `x-csrf-token` and not be marked cross-site by the browser.
pub struct Caller(pub Principal);

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Principal::from_request_parts(parts, state)
                .await
                .map(Caller);
        }
        let ctx = super::session::Ctx::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::token_expired())?;
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        if !safe {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if super::csrf::cross_site(&parts.headers) || !super::csrf::matches(&ctx.csrf, given) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    super::csrf::REFUSED,
                    "CSRF 校验失败 / CSRF check failed",
                ));
            }
        }
        Ok(Caller(ctx.who))
    }
}

fn supervisor(who: &Principal) -> Result<(), ApiError> {
    if who.role.is_supervisor() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

fn bad_query() -> ApiError {
    ApiError::bad_request("查询参数无效 / malformed query string")
}

type Q<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

#[derive(Debug, Deserialize, Default)]
pub struct UnitQuery {
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

async fn warnings(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<UnitQuery>,
) -> Result<Json<warning_data::WarningReport>, ApiError> {
    supervisor(&who)?;
    let Query(q) = q.map_err(|_| bad_query())?;
    Ok(Json(
        blocking(&state, move |s| {
            warning_data::report(s, &who, q.unit.as_deref(), now_ms())
        })
        .await?,
    ))
}

async fn warning_task(
    State(state): State<AppState>,
    Caller(who): Caller,
    WireJson(req): WireJson<ToTask>,
) -> Result<(StatusCode, Json<gridwalk_protocol::ServerRecord>), ApiError> {
    supervisor(&who)?;
    let r = blocking(&state, move |s| {
        warning_data::to_task(s, &who, &req, now_ms())
    })
    .await?;
    match r {
        Ok(t) => Ok((StatusCode::CREATED, Json(t.to_wire()))),
        Err(ToTaskRefusal::NotFound) => Err(ApiError::not_found()),
        Err(ToTaskRefusal::AlreadyTasked(id)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::INVALID_TRANSITION,
            format!("该预警已有未完成的任务 {id} / this warning already has an open task {id}"),
        )),
        Err(ToTaskRefusal::Refused(reason)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID,
            reason.message,
        )),
    }
}

async fn get_rules(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<WarningRules>, ApiError> {
    supervisor(&who)?;
    Ok(Json(
        blocking(&state, move |s| warning_rules::load(s)).await?,
    ))
}

async fn put_rules(
    State(state): State<AppState>,
    Caller(who): Caller,
    WireJson(rules): WireJson<WarningRules>,
) -> Result<Json<WarningRules>, ApiError> {
    if !warning_rules::may_edit(who.role) {
        return Err(ApiError::forbidden());
    }
    let saved = rules.clone();
    blocking(&state, move |s| {
        warning_rules::save(s, &rules, &who.user_id, now_ms())
    })
    .await?
    .map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID,
            format!(
                "规则无效：{} ({}) / invalid rule: {} ({})",
                e.field,
                e.code.as_str(),
                e.field,
                e.code.as_str()
            ),
        )
    })?;
    Ok(Json(saved))
}

async fn worker_stats(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<UnitQuery>,
) -> Result<Json<workers::WorkStats>, ApiError> {
    supervisor(&who)?;
    let Query(q) = q.map_err(|_| bad_query())?;
    Ok(Json(
        blocking(&state, move |s| {
            workers::stats(
                s,
                &who,
                q.unit.as_deref(),
                q.period.unwrap_or_default(),
                now_ms(),
            )
        })
        .await?,
    ))
}

async fn map_data(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<MapQuery>,
) -> Result<Json<map::MapData>, ApiError> {
    supervisor(&who)?;
    let Query(q) = q.map_err(|_| bad_query())?;
    let tile = state.config.console_tile_url.clone();
    Ok(Json(
        blocking(&state, move |s| map::data(s, &who, &q, tile, now_ms())).await?,
    ))
}

async fn households(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<LedgerQuery>,
) -> Result<Json<ledgers::Page<ledgers::HouseholdRow>>, ApiError> {
    supervisor(&who)?;
    let Query(q) = q.map_err(|_| bad_query())?;
    Ok(Json(
        blocking(&state, move |s| {
            let l = Ledger::load(s, &who, q.unit.as_deref())?;
            Ok(ledgers::page(
                l.household_rows(q.q.as_deref()),
                q.offset,
                q.limit,
            ))
        })
        .await?,
    ))
}

async fn residents(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<LedgerQuery>,
) -> Result<Json<ledgers::Page<ledgers::ResidentRow>>, ApiError> {
    supervisor(&who)?;
    let Query(q) = q.map_err(|_| bad_query())?;
    Ok(Json(
        blocking(&state, move |s| {
            let l = Ledger::load(s, &who, q.unit.as_deref())?;
            Ok(ledgers::page(
                l.resident_rows(q.q.as_deref()),
                q.offset,
                q.limit,
            ))
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct RevealRequest {
    pub resident_id: String,
    pub field: String,
    #[serde(default)]
    pub reason: String,
}

async fn reveal(
    State(state): State<AppState>,
    Caller(who): Caller,
    WireJson(req): WireJson<RevealRequest>,
) -> Result<Json<ledgers::Revealed>, ApiError> {
    supervisor(&who)?;
    let r = blocking(&state, move |s| {
        ledgers::reveal(s, &who, &req.resident_id, &req.field, &req.reason, now_ms())
    })
    .await?;
    r.map(Json).map_err(|e| match e {
        RevealRefusal::NotFound => ApiError::not_found(),
        RevealRefusal::NotAllowed => ApiError::forbidden(),
        other => ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID, other.message()),
    })
}

#[derive(Debug, Deserialize)]
pub struct ExportRequest {
    pub kind: LedgerKind,
    #[serde(default = "default_format")]
    pub format: SheetFormat,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    /// Only in an unmasked export (POST): why the clear values are needed.
    #[serde(default)]
    pub reason: Option<String>,
}

fn default_format() -> SheetFormat {
    SheetFormat::Xlsx
}

async fn export(
    state: AppState,
    who: Principal,
    req: ExportRequest,
    unmasked: bool,
) -> Result<Response, ApiError> {
    supervisor(&who)?;
    let reason = if unmasked {
        Some(req.reason.clone().unwrap_or_default())
    } else {
        None
    };
    let r = blocking(&state, move |s| {
        ledger_export::export(
            s,
            &who,
            ledger_export::ExportSpec {
                kind: req.kind,
                unit: req.unit.as_deref(),
                q: req.q.as_deref(),
                format: req.format,
                unmasked_reason: reason.as_deref(),
            },
            now_ms(),
        )
    })
    .await?;
    let file = r.map_err(|e| match e {
        ExportRefusal::NotAllowed => ApiError::forbidden(),
        ExportRefusal::ReasonRequired => ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID,
            RevealRefusal::ReasonRequired.message(),
        ),
    })?;
    // RFC 5987: the Chinese file name, percent-encoded.
    let encoded: String = file
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"ledger.{}\"; filename*=UTF-8''{encoded}",
                    req_ext(&file.file_name)
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        file.bytes,
    )
        .into_response())
}

fn req_ext(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or("csv")
}

async fn export_masked(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<ExportRequest>,
) -> Result<Response, ApiError> {
    let Query(mut q) = q.map_err(|_| bad_query())?;
    q.reason = None;
    export(state, who, q, false).await
}

async fn export_unmasked(
    State(state): State<AppState>,
    Caller(who): Caller,
    WireJson(req): WireJson<ExportRequest>,
) -> Result<Response, ApiError> {
    export(state, who, req, true).await
}

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One audit entry as listed.
#[derive(Debug, serde::Serialize)]
pub struct AuditLine {
    pub seq: i64,
    pub at: i64,
    pub username: String,
    pub action: String,
    pub entity: String,
    pub record_id: String,
    pub field: String,
    pub reason: String,
    pub hash: String,
}

impl From<AuditRow> for AuditLine {
    fn from(r: AuditRow) -> Self {
        AuditLine {
            seq: r.seq,
            at: r.draft.at,
            username: r.draft.username,
            action: r.draft.action,
            entity: r.draft.entity,
            record_id: r.draft.record_id,
            field: r.draft.field,
            reason: r.draft.reason,
            hash: r.hash,
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditLine>,
    /// Whether the whole chain verifies now.
    pub chain_ok: bool,
    pub first_break: Option<String>,
}

/// The audit log: district only (it names who looked at whom).
async fn audit_log(
    State(state): State<AppState>,
    Caller(who): Caller,
    q: Q<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if who.role != gridwalk_protocol::Role::District {
        return Err(ApiError::forbidden());
    }
    let Query(q) = q.map_err(|_| bad_query())?;
    Ok(Json(
        blocking(&state, move |s| {
            let rows = s.audit_rows(q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000))?;
            let verdict = audit::verify(s)?;
            Ok(AuditPage {
                entries: rows.into_iter().map(AuditLine::from).collect(),
                chain_ok: verdict.first_break.is_none(),
                first_break: verdict.first_break.map(|b| b.to_string()),
            })
        })
        .await?,
    ))
}
