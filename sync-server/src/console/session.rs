//! Browser sign-in for the console: the same accounts and password check as the phones
//! ([`crate::auth::check_sign_in`]: throttling, dummy hashing, disabled users), a session
//! cookie instead of bearer tokens, and the [`Ctx`] extractor every console page starts with.
//!
//! The cookie (`gw_console`) holds 256 random bits; the database keeps only its SHA-256
//! (`console_sessions`, schema v4), so a copy of the database signs nobody in. It is `HttpOnly`
//! (no script reads it), `SameSite=Strict` (no other site's page sends it), scoped to
//! `/console`, and `Secure` when `console.secure_cookies` says the server sits behind TLS. A
//! session lasts `console.session_ttl_secs` (12 h by default); sign-out, a password change or
//! disabling the user ends it, and every request re-reads the user, so a disabled user is out
//! at once. Phones keep their device tokens (`/v1/auth/*`): nothing here touches them.
//!
//! Only supervisors (grid leader, community, street, district) get a session; a grid worker
//! who signs in with the right password is politely sent to the phone app instead.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::csrf;
use super::i18n::Lang;
use super::layout;
use super::store::ConsoleUser;
use super::{Fail, Failure, FormMap};
use crate::auth::{token_hash, ClientAddr, LoginError};
use crate::http::{blocking, now_ms};
use crate::storage::Principal;
use crate::AppState;

/// The session cookie.
pub const COOKIE: &str = "gw_console";
/// The language cookie (`zh` | `en`).
pub const LANG_COOKIE: &str = "gw_lang";
/// Where the console lives.
pub const BASE: &str = "/console";

/// Every cookie of a request (first value of each name).
pub fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                out.entry(k.trim().to_string())
                    .or_insert_with(|| val.trim().to_string());
            }
        }
    }
    out
}

/// The language of a request: its cookie, else Chinese.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookies(headers)
        .get(LANG_COOKIE)
        .and_then(|l| Lang::parse(l))
        .unwrap_or_default()
}

/// The language of a request, as an extractor (pages without a session).
pub struct LangPref(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for LangPref {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LangPref(lang_of(&parts.headers)))
    }
}

/// A signed-in supervisor's request: who, in which language, with which CSRF token.
pub struct Ctx {
    pub who: Principal,
    pub user: ConsoleUser,
    /// The session's synchronizer token (every form carries it).
    pub csrf: String,
    pub lang: Lang,
    /// The browser marked the request cross-site.
    cross_site: bool,
    /// The request path and query (where sign-in returns to).
    pub path: String,
}

impl Ctx {
    /// A failure page in this request's language.
    pub fn fail(&self, kind: Fail) -> Failure {
        Failure {
            kind,
            lang: self.lang,
        }
    }

    /// Refuses a state change whose form token is missing or wrong, or that the browser marked
    /// cross-site.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), Failure> {
        if self.cross_site || !csrf::matches(&self.csrf, form.get(csrf::FIELD).map(String::as_str))
        {
            tracing::warn!(user = %self.who.user_id, path = %self.path, "console CSRF refused");
            return Err(self.fail(Fail::Csrf));
        }
        Ok(())
    }

    pub fn t(&self) -> &'static super::i18n::Texts {
        self.lang.texts()
    }
}

/// Where a rejected request goes: sign-in for pages, a refusal for state changes.
pub struct NoSession {
    lang: Lang,
    method: Method,
    path: String,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        if self.method == Method::GET || self.method == Method::HEAD {
            let next = urlencode(&self.path);
            return redirect(&format!("{BASE}/login?next={next}"));
        }
        // A POST without a live session cannot carry a valid token either.
        Failure {
            kind: Fail::Csrf,
            lang: self.lang,
        }
        .into_response()
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        let lang = lang_of(&parts.headers);
        // Nesting strips `/console` from `parts.uri`; the original keeps it.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| BASE.to_string());
        let reject = NoSession {
            lang,
            method: parts.method.clone(),
            path: path.clone(),
        };
        let Some(token) = cookies(&parts.headers)
            .get(COOKIE)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .cloned()
        else {
            return Err(reject);
        };
        let hash = token_hash(&token);
        let now = now_ms();
        let session = match blocking(state, move |s| s.console_session(&hash, now)).await {
            Ok(Some(s)) => s,
            _ => return Err(reject),
        };
        Ok(Ctx {
            who: session.principal,
            user: session.user,
            csrf: session.csrf,
            lang,
            cross_site: csrf::cross_site(&parts.headers),
            path,
        })
    }
}

/// A `303 See Other` to `to`.
pub fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `next` when it is a console path (never another site: no open redirect), else the queue.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console/")
                && n.len() <= 500
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => format!("{BASE}/queue"),
    }
}

fn cookie(name: &str, value: &str, max_age: Option<u64>, strict: bool, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path={BASE}; HttpOnly");
    c.push_str(if strict {
        "; SameSite=Strict"
    } else {
        "; SameSite=Lax"
    });
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `GET /console/login`.
pub async fn login_page(
    State(state): State<AppState>,
    LangPref(lang): LangPref,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Already signed in: straight to the queue.
    if let Some(token) = cookies(&headers).get(COOKIE).cloned() {
        let hash = token_hash(&token);
        let now = now_ms();
        if let Ok(Some(_)) = blocking(&state, move |s| s.console_session(&hash, now)).await {
            return redirect(&safe_next(q.get("next").map(String::as_str)));
        }
    }
    let t = lang.texts();
    let notice = q.contains_key("bye").then_some(t.signed_out);
    login_form(
        &state,
        lang,
        &headers,
        q.get("next").map(String::as_str),
        notice,
        None,
        StatusCode::OK,
    )
}

fn login_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    next: Option<&str>,
    notice: Option<&str>,
    error: Option<(&str, &str)>,
    status: StatusCode,
) -> Response {
    let t = lang.texts();
    // Keep the double-submit token of an open form; make one otherwise.
    let token = cookies(headers)
        .get(csrf::LOGIN_COOKIE)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .cloned()
        .unwrap_or_else(csrf::new_token);
    let next = safe_next(next);
    let body = html! {
        main.login id="main" {
            h1 { (t.login_title) }
            p.hint { (t.login_hint) }
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            @if let Some((code, msg)) = error {
                p.error role="alert" data-error-code=(code) { (msg) }
            }
            form method="post" action={(BASE) "/login"} {
                input type="hidden" name=(csrf::FIELD) value=(token);
                input type="hidden" name="next" value=(next);
                label { (t.username) input name="username" autocomplete="username" required maxlength="64"; }
                label { (t.password) input name="password" type="password" autocomplete="current-password" required maxlength="1024"; }
                button type="submit" { (t.sign_in) }
            }
        }
    };
    let mut res = layout::bare(lang, t.login_title, body, status);
    let secure = state.config.console.secure_cookies;
    set_cookie(
        &mut res,
        &cookie(csrf::LOGIN_COOKIE, &token, Some(3600), true, secure),
    );
    res
}

/// `POST /console/login`.
pub async fn login(
    State(state): State<AppState>,
    LangPref(lang): LangPref,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    FormMap(form): FormMap,
) -> Response {
    let t = lang.texts();
    let expected = cookies(&headers)
        .get(csrf::LOGIN_COOKIE)
        .cloned()
        .unwrap_or_default();
    if csrf::cross_site(&headers)
        || !csrf::matches(&expected, form.get(csrf::FIELD).map(String::as_str))
    {
        return Failure {
            kind: Fail::Csrf,
            lang,
        }
        .into_response();
    }
    let next = form.get("next").map(String::as_str);
    let username = form
        .get("username")
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if username.is_empty() || username.len() > 64 || password.is_empty() || password.len() > 1024 {
        return login_form(
            &state,
            lang,
            &headers,
            next,
            None,
            Some(("bad_credentials", t.bad_credentials)),
            StatusCode::UNAUTHORIZED,
        );
    }
    let passwords = state.passwords;
    let dummy = state.dummy_hash.clone();
    let rules = state.config.login_throttle;
    let checked = blocking(&state, move |s| {
        let user = match crate::auth::check_sign_in(
            s, &passwords, &dummy, rules, peer, &username, &password,
        )? {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let info = s.user_info(&user.id)?;
        Ok(Ok((user.id, info.role)))
    })
    .await;
    let (user_id, role) = match checked {
        Ok(Ok(u)) => u,
        Ok(Err(LoginError::TooManyAttempts { .. })) => {
            return login_form(
                &state,
                lang,
                &headers,
                next,
                None,
                Some(("too_many_attempts", t.too_many_attempts)),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        Ok(Err(LoginError::Api(e))) => {
            let msg = if e.code == gridwalk_protocol::codes::USER_DISABLED {
                t.user_disabled
            } else {
                t.bad_credentials
            };
            return login_form(
                &state,
                lang,
                &headers,
                next,
                None,
                Some((e.code, msg)),
                e.status,
            );
        }
        Err(_) => {
            return Failure {
                kind: Fail::Internal,
                lang,
            }
            .into_response()
        }
    };
    if !role.is_supervisor() {
        let body = html! {
            main.login id="main" {
                h1 { (t.worker_refused_title) }
                p data-error-code="not_a_supervisor" { (t.worker_refused) }
                p { a href={(BASE) "/login"} { (t.back) } }
            }
        };
        return layout::bare(lang, t.worker_refused_title, body, StatusCode::FORBIDDEN);
    }
    let token = crate::auth::new_token();
    let hash = token_hash(&token);
    let csrf_token = csrf::new_token();
    let ttl = state.config.console.session_ttl_secs;
    let now = now_ms();
    let expires =
        now.saturating_add(i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX / 2));
    let uid = user_id.clone();
    if blocking(&state, move |s| {
        s.console_start_session(&uid, &hash, &csrf_token, now, expires)
    })
    .await
    .is_err()
    {
        return Failure {
            kind: Fail::Internal,
            lang,
        }
        .into_response();
    }
    tracing::info!(user = %user_id, "console sign-in");
    let secure = state.config.console.secure_cookies;
    let mut res = redirect(&safe_next(next));
    set_cookie(&mut res, &cookie(COOKIE, &token, Some(ttl), true, secure));
    set_cookie(
        &mut res,
        &cookie(csrf::LOGIN_COOKIE, "", Some(0), true, secure),
    );
    res
}

/// `POST /console/logout`.
pub async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    FormMap(form): FormMap,
) -> Result<Response, Failure> {
    ctx.check_csrf(&form)?;
    if let Some(token) = cookies(&headers).get(COOKIE).cloned() {
        let hash = token_hash(&token);
        blocking(&state, move |s| s.console_end_session(&hash))
            .await
            .map_err(|_| ctx.fail(Fail::Internal))?;
    }
    tracing::info!(user = %ctx.who.user_id, "console sign-out");
    let mut res = redirect(&format!("{BASE}/login?bye=1"));
    set_cookie(
        &mut res,
        &cookie(
            COOKIE,
            "",
            Some(0),
            true,
            state.config.console.secure_cookies,
        ),
    );
    Ok(res)
}

/// `GET /console/lang?to=en&next=/console/queue`: the language switch. A preference cookie,
/// not a change of anything stored, so a link (no form, no token) is enough.
pub async fn set_lang(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = q.get("to").and_then(|l| Lang::parse(l)).unwrap_or_default();
    let next = match q.get("next") {
        Some(n) if n.starts_with("/console/login") => n.clone(),
        n => safe_next(n.map(String::as_str)),
    };
    let next = if next.contains("//") || next.chars().any(char::is_control) {
        format!("{BASE}/queue")
    } else {
        next
    };
    let mut res = redirect(&next);
    set_cookie(
        &mut res,
        &cookie(
            LANG_COOKIE,
            lang.code(),
            Some(365 * 24 * 3600),
            false,
            state.config.console.secure_cookies,
        ),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next(Some("/console/cases/1")), "/console/cases/1");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/queue");
        assert_eq!(safe_next(Some("//evil.example/console/")), "/console/queue");
        assert_eq!(safe_next(Some("/console//evil")), "/console/queue");
        assert_eq!(safe_next(Some("/console/\\evil")), "/console/queue");
        assert_eq!(safe_next(None), "/console/queue");
    }

    #[test]
    fn cookies_parse_and_flags_are_set() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; gw_console=tok; gw_lang=en".parse().unwrap(),
        );
        let c = cookies(&h);
        assert_eq!(c.get(COOKIE).map(String::as_str), Some("tok"));
        assert_eq!(lang_of(&h), Lang::En);
        let s = cookie(COOKIE, "x", Some(10), true, true);
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Strict") && s.contains("Secure"));
        assert!(s.contains("Path=/console"));
        assert!(!cookie(COOKIE, "x", None, true, false).contains("Secure"));
    }
}
