//! The HTTP surface: routes, the protocol-header check, body decoding, error shaping.
//!
//! Every answer that is not a success is a `protocol::ErrorBody`, including the ones produced by
//! layers rather than handlers (unknown route, wrong method, unsupported content encoding, a
//! panic): [`json_errors`] rewrites any non-JSON error into one, so a client has exactly one
//! error shape to parse. Request targets and header sections past the protocol's limits are
//! refused by [`request_limits`] with a JSON 414 / 431, well below hyper's own limits (URIs of
//! 64 KiB, 100 headers, ~400 KiB of head), where hyper would answer with an empty body before
//! any layer runs. Bodies may arrive zstd- or gzip-compressed and are answered compressed
//! when the client accepts it; the 8 MiB limit applies to the decompressed body, so a small
//! compressed bomb is refused like a large plain body.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gridwalk_protocol::{
    codes, PullResponse, PushRequest, PushResponse, ServerRecord, DEFAULT_PULL_LIMIT,
    HEADER_PROTOCOL, MAX_BODY_BYTES, MAX_HEADERS, MAX_HEADER_BYTES, MAX_PULL_LIMIT,
    MAX_PUSH_CHANGES, MAX_URI_BYTES, PROTOCOL_VERSION, PULL_CLOCKS_COMPACT, PULL_CLOCKS_PARAM,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use crate::cases::{ActionRequest, TaskRequest};
use crate::cursor::Cursor;
use crate::error::{self, ApiError, Result};
use crate::storage::{CaseFilter, Principal, Storage};
use crate::AppState;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a storage call on the blocking pool.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Storage) -> Result<T> + Send + 'static,
{
    let storage = state.storage.clone();
    match tokio::task::spawn_blocking(move || f(&*storage)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(panicked = e.is_panic(), "storage task failed");
            Err(ApiError::internal())
        }
    }
}

/// A JSON body decoded with protocol errors: 413 past the size limit, 400 otherwise, and a
/// message that gives the position but never echoes the offending value.
pub struct WireJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for WireJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(format!(
                    "请求体超过 {MAX_BODY_BYTES} 字节（解压后）/ body larger than {MAX_BODY_BYTES} bytes after decompression"
                ))
            } else {
                ApiError::bad_request(
                    "无法读取请求体（压缩数据损坏？）/ could not read the body (corrupt compression?)",
                )
            }
        })?;
        serde_json::from_slice(&bytes).map(WireJson).map_err(|e| {
            let (line, col) = (e.line(), e.column());
            if e.is_data() {
                ApiError::bad_request(format!(
                    "字段缺失或类型不符（第 {line} 行第 {col} 列）/ missing field or wrong type at line {line}, column {col}"
                ))
            } else {
                ApiError::bad_request(format!(
                    "请求体不是有效的 JSON（第 {line} 行第 {col} 列）/ malformed JSON at line {line}, column {col}"
                ))
            }
        })
    }
}

/// Refuses requests without `x-gridwalk-protocol: 1`.
async fn require_protocol(req: Request, next: Next) -> Response {
    match req.headers().get(HEADER_PROTOCOL).map(HeaderValue::as_bytes) {
        None => ApiError::bad_request(format!(
            "缺少请求头 {HEADER_PROTOCOL} / missing header {HEADER_PROTOCOL}"
        ))
        .into_response(),
        Some(v) if v == PROTOCOL_VERSION.to_string().as_bytes() => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::UNSUPPORTED_PROTOCOL,
            format!(
                "不支持的协议版本，服务器支持 {PROTOCOL_VERSION} / unsupported protocol version; this server speaks {PROTOCOL_VERSION}"
            ),
        )
        .into_response(),
    }
}

/// Refuses request targets longer than `MAX_URI_BYTES` (414) and header sections larger than
/// `MAX_HEADER_BYTES` or with more than `MAX_HEADERS` headers (431), before anything else runs.
async fn request_limits(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let uri_len = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            codes::URI_TOO_LONG,
            format!("请求地址过长（上限 {MAX_URI_BYTES} 字节）/ request target longer than {MAX_URI_BYTES} bytes"),
        )
        .into_response();
    }
    let headers = req.headers();
    // Each header line is "name: value\r\n".
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            codes::HEADERS_TOO_LARGE,
            format!(
                "请求头过大（上限 {MAX_HEADERS} 个、{MAX_HEADER_BYTES} 字节）/ headers too large (at most {MAX_HEADERS} headers, {MAX_HEADER_BYTES} bytes)"
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Turns any error answer that is not JSON yet (from a layer, a fallback) into an `ErrorBody`.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // Console pages answer their errors as HTML pages of their own.
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_json || is_html {
        return res;
    }
    let err = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large("请求体过大 / body too large"),
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            error::METHOD_NOT_ALLOWED,
            "不支持的请求方法 / method not allowed",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            codes::BAD_REQUEST,
            "不支持的内容编码（仅支持 zstd、gzip）/ unsupported content encoding (zstd and gzip only)",
        ),
        StatusCode::URI_TOO_LONG => ApiError::new(
            status,
            codes::URI_TOO_LONG,
            "请求地址过长 / request target too long",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::new(
            status,
            codes::HEADERS_TOO_LARGE,
            "请求头过大 / headers too large",
        ),
        s if s.is_server_error() => ApiError::internal(),
        s => ApiError::new(s, codes::BAD_REQUEST, "请求无效 / bad request"),
    };
    // Headers that say how to retry (`Allow` on 405, `Retry-After`) survive the rewrite.
    let keep: Vec<_> = [header::ALLOW, header::RETRY_AFTER]
        .into_iter()
        .filter_map(|h| res.headers().get(&h).cloned().map(|v| (h, v)))
        .collect();
    let mut out = err.into_response();
    out.headers_mut().extend(keep);
    out
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

/// All routes with their layers.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/auth/login", post(crate::auth::login))
        .route("/auth/refresh", post(crate::auth::refresh))
        .route("/auth/logout", post(crate::auth::logout))
        .route("/sync/push", post(push))
        .route("/sync/pull", get(pull))
        .route("/cases", get(list_cases))
        .route("/cases/{id}", get(get_case))
        .route("/cases/{id}/actions", post(case_action))
        .route("/tasks", post(create_task))
        .nest("/uploads", crate::uploads::router())
        .route_layer(middleware::from_fn(require_protocol));
    Router::new()
        .route("/healthz", get(health))
        .nest("/v1", v1)
        // The supervisors' web console: HTML pages, cookie sessions (src/console/).
        .route("/console", get(crate::console::home))
        .route("/console/", get(crate::console::home))
        .nest("/console", crate::console::router())
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_limits))
        .layer(middleware::map_response(json_errors))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    protocol: u32,
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        protocol: PROTOCOL_VERSION,
    })
}

fn batch_id_ok(s: &str) -> bool {
    s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

async fn push(
    State(state): State<AppState>,
    who: Principal,
    WireJson(req): WireJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    if req.changes.len() > MAX_PUSH_CHANGES {
        return Err(ApiError::too_large(format!(
            "每批最多 {MAX_PUSH_CHANGES} 条变更 / at most {MAX_PUSH_CHANGES} changes per batch"
        )));
    }
    if !batch_id_ok(&req.batch_id) {
        return Err(ApiError::bad_request("batch_id 无效 / invalid batch_id"));
    }
    let started = std::time::Instant::now();
    let user = who.user_id.clone();
    let n = req.changes.len();
    // The device's pull cursor, when it is one of this database and scope: what it holds
    // (no echo). Anything else is ignored, never refused: the push goes through as always.
    let seen = crate::engine::Seen {
        rev: req
            .cursor
            .as_deref()
            .and_then(Cursor::decode)
            .filter(|c| c.epoch == state.storage.epoch() && c.scope == who.scope_version())
            .map(|c| c.rev),
    };
    let res = blocking(&state, move |s| s.push(&who, &req.changes, seen, now_ms())).await?;
    let rejected = res
        .results
        .iter()
        .filter(|r| r.outcome == gridwalk_protocol::Outcome::Rejected)
        .count();
    tracing::info!(
        %user, batch = %req.batch_id, changes = n, rejected,
        ms = started.elapsed().as_millis() as u64, "push"
    );
    Ok(Json(res))
}

async fn pull(
    State(state): State<AppState>,
    who: Principal,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(params) =
        params.map_err(|_| ApiError::bad_request("查询参数无效 / malformed query string"))?;
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PULL_LIMIT,
        Some(Ok(n)) if n >= 1 => n.min(MAX_PULL_LIMIT),
        Some(_) => return Err(ApiError::bad_request("limit 无效 / invalid limit")),
    };
    let epoch = state.storage.epoch().to_string();
    let scope = who.scope_version();
    let after = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(text) => {
            let c = Cursor::decode(text)
                .ok_or_else(|| ApiError::bad_request("cursor 无效 / malformed cursor"))?;
            if c.epoch != epoch || c.scope != scope {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    codes::CURSOR_EXPIRED,
                    "同步位置已失效，请重新下载全部数据（未上传的修改会保留）/ cursor expired: take a new snapshot (unsent changes are kept)",
                ));
            }
            c.rev
        }
    };
    let max_bytes = state.config.pull_page_bytes;
    let compact = params.get(PULL_CLOCKS_PARAM).map(String::as_str) == Some(PULL_CLOCKS_COMPACT);
    // A snapshot (no cursor) leaves nothing out: the device may have lost what it wrote.
    let skip_echo = params
        .get("cursor")
        .is_some_and(|c| !c.is_empty())
        .then(|| who.echo_key());
    let mut page = blocking(&state, move |s| {
        s.pull(&who, after, limit, max_bytes, skip_echo.as_deref())
    })
    .await?;
    // Households and residents are stored compact; every other kind as it was written.
    page.records.iter_mut().for_each(if compact {
        gridwalk_protocol::ServerRecord::compact_clocks
    } else {
        gridwalk_protocol::ServerRecord::full_clocks
    });
    Ok(Json(PullResponse {
        records: page.records,
        cursor: Cursor {
            epoch,
            scope,
            rev: page.next_rev,
        }
        .encode(),
        has_more: page.has_more,
        // The server's clock as of now, even before it stamped anything: devices judge their
        // own clock against it.
        server_hlc: gridwalk_protocol::hlc::HlcClock::new("srv", Some(&state.storage.server_hlc()))
            .current_at(now_ms()),
    }))
}

fn require_supervisor(who: &Principal) -> Result<(), ApiError> {
    if who.role.is_supervisor() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

#[derive(Serialize)]
struct CaseList {
    cases: Vec<ServerRecord>,
}

async fn list_cases(
    State(state): State<AppState>,
    who: Principal,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CaseList>, ApiError> {
    require_supervisor(&who)?;
    let Query(params) =
        params.map_err(|_| ApiError::bad_request("查询参数无效 / malformed query string"))?;
    let status = params.get("status").filter(|s| !s.is_empty()).cloned();
    if let Some(s) = &status {
        if !gridwalk_domain::model::CaseStatus::ALL
            .iter()
            .any(|c| c.as_str() == s)
        {
            return Err(ApiError::bad_request("status 无效 / invalid status"));
        }
    }
    let overdue = match params.get("overdue").map(String::as_str) {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(ApiError::bad_request("overdue 无效 / invalid overdue")),
    };
    let filter = CaseFilter { status, overdue };
    let cases = blocking(&state, move |s| s.list_cases(&who, &filter, now_ms())).await?;
    Ok(Json(CaseList { cases }))
}

async fn get_case(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ServerRecord>, ApiError> {
    require_supervisor(&who)?;
    blocking(&state, move |s| {
        s.get_record(&who, gridwalk_protocol::entity::CASE, &id)
    })
    .await?
    .map(Json)
    .ok_or_else(ApiError::not_found)
}

fn refusal(reason: gridwalk_protocol::Reason) -> ApiError {
    let (status, code) = match reason.code.as_str() {
        codes::INVALID_TRANSITION => (StatusCode::CONFLICT, codes::INVALID_TRANSITION),
        _ => (StatusCode::BAD_REQUEST, codes::INVALID),
    };
    ApiError::new(status, code, reason.message)
}

async fn case_action(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    WireJson(req): WireJson<ActionRequest>,
) -> Result<Json<ServerRecord>, ApiError> {
    require_supervisor(&who)?;
    let user = who.user_id.clone();
    let action = req.action;
    let r = blocking(&state, move |s| s.case_action(&who, &id, &req, now_ms())).await?;
    let rec = r.map_err(refusal)?;
    tracing::info!(%user, case = %rec.id, action = action.as_str(), "case action");
    Ok(Json(rec))
}

async fn create_task(
    State(state): State<AppState>,
    who: Principal,
    WireJson(req): WireJson<TaskRequest>,
) -> Result<(StatusCode, Json<ServerRecord>), ApiError> {
    require_supervisor(&who)?;
    let rec = blocking(&state, move |s| s.create_task(&who, &req, now_ms()))
        .await?
        .map_err(refusal)?;
    Ok((StatusCode::CREATED, Json(rec)))
}
