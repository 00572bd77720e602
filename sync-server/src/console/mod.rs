//! The supervisors' web console (`/console/`), served by the sync server itself.
//!
//! Grid leaders, community, street and district staff work the case loop here: the case queue
//! with deadline lights, a case's timeline, photos, map and the actions its status allows,
//! evaluation and the satisfaction call-back, tasks for workers, deadlines per category.
//! Server-rendered HTML (maud templates, checked at compile time and escaped), a little plain
//! JavaScript, every asset embedded in the binary, a strict Content-Security-Policy.
//!
//! Rules are not re-implemented here: actions go through the case state machine
//! (`crate::cases`), tasks through the supervisor task code, sign-in through the phones'
//! password check; the console only renders and forwards. Scope is applied in every query
//! (`store.rs`): a record outside the caller's grids answers exactly like one that does not
//! exist. `README.md` in this folder says how a page is added.
//!
//! The data half — warnings (红黄绿预警), the map (一图一表), work statistics, ledgers (台账)
//! with masking, audited reveals and the hash-chained audit log, exports — is rules and
//! computations in pure modules (`warnings`, `workers`, `mask`, `audit`, `geo`), rows through
//! [`data_store::ConsoleData`], served as JSON/CSV/xlsx under `/console/data` (`api`).

pub mod api;
pub mod assets;
pub mod audit;
pub mod case_page;
pub mod csrf;
pub mod data_store;
pub mod deadlines;
pub mod geo;
pub mod i18n;
pub mod layout;
pub mod ledger_export;
pub mod ledgers;
pub mod ledgers_page;
pub mod map;
pub mod map_data;
pub mod map_page;
pub mod mask;
pub mod photos;
pub mod queue;
pub mod rules_page;
pub mod scope;
pub mod session;
pub mod store;
pub mod tasks;
pub mod warning_data;
pub mod warning_rules;
pub mod warnings;
pub mod warnings_page;
pub mod workers;
pub mod workers_page;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use maud::html;

use crate::error::ApiError;
use crate::AppState;
use i18n::Lang;
use session::{LangPref, BASE};

/// The console's routes, to be nested under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/lang", get(session::set_lang))
        .route("/queue", get(queue::page))
        .route("/map", get(map_page::page))
        .route("/warnings", get(warnings_page::page))
        .route("/warnings/task", post(warnings_page::to_task))
        .route(
            "/warning-rules",
            get(rules_page::page).post(rules_page::save),
        )
        .route("/workers", get(workers_page::page))
        .route("/ledgers", get(ledgers_page::page))
        .route("/ledgers/reveal", post(ledgers_page::reveal))
        .route("/ledgers/export", post(ledgers_page::export_unmasked))
        .route("/audit", get(ledgers_page::audit_page))
        .nest("/data", api::router())
        .route("/cases/{id}", get(case_page::page))
        .route("/cases/{id}/actions", post(case_page::act))
        .route("/photos/{sha}", get(photos::photo))
        .route("/tasks", get(tasks::page).post(tasks::create))
        .route("/deadlines", get(deadlines::page).post(deadlines::save))
        .route("/assets/{name}", get(assets::asset))
        .fallback(not_found)
        .layer(middleware::map_response(layout::security_headers))
}

/// A urlencoded form body as a map; a missing or malformed body is an empty map, so the CSRF
/// check (which runs first) refuses it with a typed answer instead of a bare 4xx.
pub struct FormMap(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormMap {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(FormMap(
            axum::Form::<std::collections::HashMap<String, String>>::from_request(req, state)
                .await
                .map(|f| f.0)
                .unwrap_or_default(),
        ))
    }
}

/// `/console` and `/console/`: to the queue (sign-in first when needed).
pub async fn home() -> Response {
    session::redirect(&format!("{BASE}/queue"))
}

async fn not_found(LangPref(lang): LangPref) -> Response {
    Failure {
        kind: Fail::NotFound,
        lang,
    }
    .into_response()
}

/// Why a console request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    /// Does not exist, or not in the caller's scope (the same answer).
    NotFound,
    /// Missing or wrong CSRF token, or a cross-site request.
    Csrf,
    /// The role may not do this.
    Forbidden,
    /// A form field is not valid (the field's name).
    Invalid(String),
    /// The case loop refused the action (its message).
    Refused(String),
    Internal,
}

impl Fail {
    /// The machine-readable code (also sent as the `x-gridwalk-error` header).
    pub fn code(&self) -> &'static str {
        match self {
            Fail::NotFound => crate::error::NOT_FOUND,
            Fail::Csrf => csrf::REFUSED,
            Fail::Forbidden => gridwalk_protocol::codes::FORBIDDEN,
            Fail::Invalid(_) => gridwalk_protocol::codes::INVALID,
            Fail::Refused(_) => gridwalk_protocol::codes::INVALID_TRANSITION,
            Fail::Internal => crate::error::INTERNAL,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Fail::NotFound => StatusCode::NOT_FOUND,
            Fail::Csrf | Fail::Forbidden => StatusCode::FORBIDDEN,
            Fail::Invalid(_) => StatusCode::BAD_REQUEST,
            Fail::Refused(_) => StatusCode::CONFLICT,
            Fail::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failure answered as an HTML page in the request's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Fail,
    pub lang: Lang,
}

impl Failure {
    /// A storage error of a console request: logged by `ApiError`, shown without details.
    pub fn from_api(lang: Lang) -> impl Fn(ApiError) -> Failure {
        move |e| Failure {
            kind: if e.status == StatusCode::NOT_FOUND {
                Fail::NotFound
            } else {
                Fail::Internal
            },
            lang,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let t = self.lang.texts();
        let (title, body) = match &self.kind {
            Fail::NotFound => (t.not_found_title, t.not_found_body),
            Fail::Csrf => (t.csrf_title, t.csrf_body),
            Fail::Forbidden => (t.forbidden_title, t.forbidden_body),
            Fail::Invalid(_) => (t.invalid_title, t.invalid_body),
            Fail::Refused(_) => (t.refused_title, t.refused_body),
            Fail::Internal => (t.server_error_title, t.server_error_body),
        };
        let code = self.kind.code();
        let markup = html! {
            main.failure id="main" {
                h1 { (title) }
                p role="alert" data-error-code=(code) { (body) }
                @if let Fail::Invalid(field) = &self.kind {
                    p { (t.field) ": " code { (field) } }
                }
                @if let Fail::Refused(message) = &self.kind {
                    p.detail { (message) }
                }
                p.code { (t.error_code) ": " code { (code) } }
                p { a href={(BASE) "/queue"} { (t.back) } }
            }
        };
        let mut res = layout::bare(self.lang, title, markup, self.kind.status());
        res.headers_mut()
            .insert("x-gridwalk-error", HeaderValue::from_static(code));
        res
    }
}
