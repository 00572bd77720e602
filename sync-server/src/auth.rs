//! Sign-in: argon2id passwords, short-lived access tokens, rotating refresh tokens bound to a
//! device, and the [`Principal`] extractor every protected handler starts with.
//!
//! Tokens are 256 random bits; the database stores only their SHA-256, so a copy of the database
//! does not let anyone sign in. A refresh token works once: refreshing rotates it. If a rotated
//! token ever comes back, two parties hold it (a stolen copy, or a replayed backup), so the whole
//! session family is revoked and the device must log in again — its unsent changes stay in its
//! outbox. Every request re-reads the user and device rows, so disabling a user or revoking a
//! lost phone takes effect on the very next request, not when a token expires. Disabling a user
//! or changing a password ends every session of the user for good; logout ends one.
//!
//! Sign-in is throttled per user name and per client address ([`crate::throttle`]): past the
//! limit the answer is 429 `too_many_attempts` with `Retry-After`, and no password is hashed.
//! A device belongs to the user who first signed in on it; another user needs `hand_over`.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gridwalk_protocol::{LoginRequest, RefreshRequest, Session};
use sha2::{Digest, Sha256};

use crate::config::Argon2Config;
use crate::error::{ApiError, Error, Result};
use crate::http::{blocking, now_ms, WireJson};
use crate::storage::{Principal, SessionRefusal, Storage, TokenPair};
use crate::throttle;
use crate::AppState;

/// Password hashing with the configured argon2id cost.
#[derive(Debug, Clone, Copy)]
pub struct Passwords {
    params: Argon2Config,
}

impl Passwords {
    pub fn new(params: Argon2Config) -> Passwords {
        Passwords { params }
    }

    fn argon(&self) -> Result<Argon2<'static>> {
        let p = Params::new(
            self.params.m_cost,
            self.params.t_cost,
            self.params.p_cost,
            None,
        )
        .map_err(|_| Error::invalid("argon2", "out_of_range"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// A PHC string (`$argon2id$...`) for `password`.
    pub fn hash(&self, password: &str) -> Result<String> {
        check_password(password)?;
        let salt = SaltString::generate(&mut OsRng);
        Ok(self
            .argon()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|_| Error::Hash)?
            .to_string())
    }

    /// Checks `password` against a stored PHC string (its own cost parameters apply).
    pub fn verify(&self, hash: &str, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }
}

/// Passwords of 8 to 256 characters.
pub fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(Error::invalid("password", "out_of_range"));
    }
    Ok(())
}

/// A new random token (256 bits, base64url).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The stored form of a token: hex SHA-256.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh token pair: the clear tokens for the client and their hashes for the database.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub stored: TokenPair,
}

pub fn issue(access_ttl_secs: u64, refresh_ttl_secs: u64, now_ms: i64) -> Issued {
    let access_token = new_token();
    let refresh_token = new_token();
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    Issued {
        stored: TokenPair {
            access_hash: token_hash(&access_token),
            access_expires_at: now_ms.saturating_add(secs(access_ttl_secs)),
            refresh_hash: token_hash(&refresh_token),
            refresh_expires_at: now_ms.saturating_add(secs(refresh_ttl_secs)),
        },
        access_token,
        refresh_token,
    }
}

impl From<SessionRefusal> for ApiError {
    fn from(r: SessionRefusal) -> ApiError {
        match r {
            SessionRefusal::Ended => ApiError::session_ended(),
            SessionRefusal::UserDisabled => ApiError::user_disabled(),
            SessionRefusal::DeviceRevoked => ApiError::device_revoked(),
            SessionRefusal::Expired => ApiError::token_expired(),
            SessionRefusal::DeviceInUse => ApiError::device_in_use(),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(ApiError::token_expired)?;
        let hash = token_hash(token);
        let now = now_ms();
        blocking(state, move |s| s.authenticate(&hash, now))
            .await?
            .map_err(ApiError::from)
    }
}

fn id_like(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Issues a session for a known user and device without a password. For tests and
/// benchmarks (the 1000-device run); the binary does not expose it. A device bound to another
/// user is refused (no hand-over).
pub fn issue_session(
    storage: &dyn Storage,
    access_ttl_secs: u64,
    refresh_ttl_secs: u64,
    user_id: &str,
    device_id: &str,
    device_name: Option<&str>,
) -> Result<Result<Session, SessionRefusal>> {
    start_session(
        storage,
        (access_ttl_secs, refresh_ttl_secs),
        user_id,
        device_id,
        device_name,
        false,
    )
}

fn start_session(
    storage: &dyn Storage,
    (access_ttl_secs, refresh_ttl_secs): (u64, u64),
    user_id: &str,
    device_id: &str,
    device_name: Option<&str>,
    hand_over: bool,
) -> Result<Result<Session, SessionRefusal>> {
    let now = now_ms();
    let t = issue(access_ttl_secs, refresh_ttl_secs, now);
    if let Err(r) =
        storage.start_session(user_id, device_id, device_name, &t.stored, hand_over, now)?
    {
        return Ok(Err(r));
    }
    Ok(Ok(Session {
        access_token: t.access_token,
        access_expires_at: t.stored.access_expires_at,
        refresh_token: t.refresh_token,
        refresh_expires_at: t.stored.refresh_expires_at,
        user: storage.user_info(user_id)?,
    }))
}

/// The peer address of the connection, when the server was started with connect info
/// ([`crate::serve`] is).
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// A refused sign-in: an error body, or 429 with `Retry-After`.
pub enum LoginError {
    Api(ApiError),
    TooManyAttempts { retry_after_secs: u64 },
}

impl From<ApiError> for LoginError {
    fn from(e: ApiError) -> LoginError {
        LoginError::Api(e)
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        match self {
            LoginError::Api(e) => e.into_response(),
            LoginError::TooManyAttempts { retry_after_secs } => {
                let mut res = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    gridwalk_protocol::codes::TOO_MANY_ATTEMPTS,
                    format!(
                        "登录失败次数过多，请 {retry_after_secs} 秒后再试 / too many failed sign-ins: try again in {retry_after_secs} s"
                    ),
                )
                .into_response();
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                res
            }
        }
    }
}

/// `POST /v1/auth/login`.
///
/// Order matters: the throttle is consulted (and the attempt counted) before any password is
/// hashed, unknown user names cost one hash like known ones, and only a right password
/// reveals anything about the account (disabled, device in use).
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    WireJson(req): WireJson<LoginRequest>,
) -> Result<Json<Session>, LoginError> {
    if req.username.is_empty() || req.username.len() > 64 || req.password.len() > 1024 {
        return Err(ApiError::bad_credentials().into());
    }
    if !id_like(&req.device_id, 64) {
        return Err(ApiError::bad_request("device_id 无效 / invalid device_id").into());
    }
    if req
        .device_name
        .as_deref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err(ApiError::bad_request("device_name 过长 / device_name too long").into());
    }
    let passwords = state.passwords;
    let dummy = state.dummy_hash.clone();
    let ttls = (state.config.access_ttl_secs, state.config.refresh_ttl_secs);
    let rules = state.config.login_throttle;
    let session = blocking(&state, move |s| {
        let user = match check_sign_in(
            s,
            &passwords,
            &dummy,
            rules,
            peer,
            &req.username,
            &req.password,
        )? {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        Ok(start_session(
            s,
            ttls,
            &user.id,
            &req.device_id,
            req.device_name.as_deref(),
            req.hand_over,
        )?
        .map_err(|r| ApiError::from(r).into()))
    })
    .await??;
    tracing::info!(user = %session.user.id, "login");
    Ok(Json(session))
}

/// Checks a user name and password the way every sign-in does (phone or console): the
/// throttle is consulted (and the attempt counted) before any password is hashed, unknown user
/// names cost one hash like known ones, and only a right password reveals anything about the
/// account (disabled). The user when the password is right and the account enabled.
pub fn check_sign_in(
    s: &dyn Storage,
    passwords: &Passwords,
    dummy_hash: &str,
    rules: crate::config::LoginThrottle,
    peer: Option<SocketAddr>,
    username: &str,
    password: &str,
) -> Result<Result<crate::storage::LoginUser, LoginError>> {
    let account = throttle::account_key(username);
    let address = throttle::address_key(peer);
    let now = now_ms();
    let keys = [
        (account.as_str(), rules.account),
        (address.as_str(), rules.address),
    ];
    if let Some(until) = s.login_attempt(&keys, now)? {
        return Ok(Err(LoginError::TooManyAttempts {
            retry_after_secs: throttle::retry_after_secs(until, now),
        }));
    }
    let user = s.login_user(username)?;
    // Unknown users cost one verification too, so timing does not tell who exists.
    let (ok, user) = match user {
        Some(u) => (passwords.verify(&u.password_hash, password), Some(u)),
        None => {
            let _ = passwords.verify(dummy_hash, password);
            (false, None)
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        return Ok(Err(ApiError::bad_credentials().into()));
    };
    s.login_succeeded(&account, &address)?;
    if user.disabled {
        return Ok(Err(ApiError::user_disabled().into()));
    }
    Ok(Ok(user))
}

/// `POST /v1/auth/logout`: ends the caller's session (its access and refresh tokens).
pub async fn logout(State(state): State<AppState>, who: Principal) -> Result<StatusCode, ApiError> {
    let (user, session) = (who.user_id.clone(), who.session_id.clone());
    blocking(&state, move |s| s.end_session(&who.session_id)).await?;
    tracing::info!(%user, %session, "logout");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    WireJson(req): WireJson<RefreshRequest>,
) -> Result<Json<Session>, ApiError> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 200 {
        return Err(ApiError::session_ended());
    }
    let (access_ttl, refresh_ttl) = (state.config.access_ttl_secs, state.config.refresh_ttl_secs);
    let session = blocking(&state, move |s| {
        let now = now_ms();
        let t = issue(access_ttl, refresh_ttl, now);
        let user_id = match s.refresh_session(
            &token_hash(&req.refresh_token),
            &req.device_id,
            &t.stored,
            now,
        )? {
            Ok(u) => u,
            Err(r) => return Ok(Err(ApiError::from(r))),
        };
        Ok(Ok(Session {
            access_token: t.access_token,
            access_expires_at: t.stored.access_expires_at,
            refresh_token: t.refresh_token,
            refresh_expires_at: t.stored.refresh_expires_at,
            user: s.user_info(&user_id)?,
        }))
    })
    .await??;
    Ok(Json(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let p = Passwords::new(Argon2Config {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        });
        let h = p.hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify(&h, "correct horse"));
        assert!(!p.verify(&h, "wrong horse"));
        assert!(!p.verify("garbage", "correct horse"));
        assert!(p.hash("short").is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
