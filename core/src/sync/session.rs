//! The signed-in session, kept in the store's `meta` table.
//!
//! The session (server address, user, device-bound refresh token, access token and expiries)
//! lives in the same SQLite file as the data it protects, so it is as durable as the outbox and
//! encrypted with it when the store is. Refresh tokens rotate and the server revokes a device's
//! whole session when an old one is reused, so a rotated token is written to `meta` before any
//! other request uses the new access token, and refreshes are serialised process-wide: two
//! threads (a sync and a photo upload) can never spend the same refresh token twice.
//!
//! Login also brings the user's org units and grid boundaries; they are written into
//! `org_units`, with `is_mine` set on the user's grids, in the same transaction as the session.

use std::sync::Mutex;

use gridwalk_protocol::{LoginRequest, RefreshRequest, Role, Session, UserInfo};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::transport::{Transport, TransportError};
use super::SyncError;
use crate::error::Result;
use crate::geometry::Boundary;
use crate::store::{get_meta, set_meta, Store, Tx};

const META_SESSION: &str = "sync_session";
/// Id of the user whose changes are in the outbox (survives logout).
const META_OUTBOX_OWNER: &str = "sync_outbox_owner";
pub(crate) const META_CURSOR: &str = "sync_cursor";
/// UTC milliseconds of the end of the last complete sync.
pub(crate) const META_LAST_SYNC: &str = "sync_last_at";

/// Refresh a little before the access token runs out, so a request does not die in flight.
const REFRESH_MARGIN_MS: i64 = 30_000;

/// Serialises token refreshes (see the module docs). Refreshes are rare; one lock is enough.
static REFRESH_LOCK: Mutex<()> = Mutex::new(());

/// What is stored: the protocol session minus the org tree (which goes to `org_units`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSession {
    pub server_url: String,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
    pub user: UserInfo,
}

/// Who is signed in, for the UI. Carries no token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub server_url: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_code: String,
    pub grids: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
}

impl StoredSession {
    fn info(&self) -> SessionInfo {
        SessionInfo {
            server_url: self.server_url.clone(),
            user_id: self.user.id.clone(),
            username: self.user.username.clone(),
            display_name: self.user.display_name.clone(),
            role: self.user.role,
            org_code: self.user.org_code.clone(),
            grids: self.user.grids.clone(),
            access_expires_at: self.access_expires_at,
            refresh_expires_at: self.refresh_expires_at,
        }
    }
}

pub(crate) fn load(conn: &rusqlite::Connection) -> Result<Option<StoredSession>> {
    match get_meta(conn, META_SESSION)? {
        // A session written by a future version that no longer parses means "signed out":
        // signing in again is harmless, locking the worker out is not.
        Some(json) => Ok(serde_json::from_str(&json).ok()),
        None => Ok(None),
    }
}

fn save(ctx: &Tx<'_>, s: &StoredSession) -> Result<()> {
    set_meta(ctx.tx, META_SESSION, &serde_json::to_string(s)?)
}

/// Writes the org tree received at login. Units are inserted parents first; a unit whose parent
/// is unknown gets no parent rather than failing the login; a boundary that does not parse is
/// dropped (it would only flag, never refuse, anyway).
fn write_org(ctx: &mut Tx<'_>, user: &UserInfo) -> Result<()> {
    let rank = |level: &str| match level {
        "district" => 0,
        "street" => 1,
        "community" => 2,
        "grid" => 3,
        _ => 4,
    };
    let mut units: Vec<_> = user.org.iter().filter(|u| rank(&u.level) < 4).collect();
    units.sort_by_key(|u| rank(&u.level));
    ctx.tx.execute("UPDATE org_units SET is_mine = 0", [])?;
    for u in units {
        let boundary = u
            .boundary
            .as_ref()
            .map(|b| b.to_string())
            .filter(|b| Boundary::parse(b).is_ok());
        let parent = match &u.parent_code {
            Some(p) if crate::org::exists(ctx.tx, p)? => Some(p.clone()),
            _ => None,
        };
        let mine = user.grids.iter().any(|g| g == &u.code);
        ctx.tx.execute(
            "INSERT INTO org_units (code, name, level, parent_code, boundary, is_mine)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(code) DO UPDATE SET name = excluded.name, level = excluded.level,
               parent_code = excluded.parent_code,
               boundary = coalesce(excluded.boundary, org_units.boundary),
               is_mine = excluded.is_mine",
            params![u.code, u.name, u.level, parent, boundary, mine],
        )?;
    }
    // The codes the server knows: a grid code typed at `init` that is not among them is
    // flagged when it is used (org.rs `check_grid`).
    let codes: Vec<&str> = user.org.iter().map(|u| u.code.as_str()).collect();
    set_meta(
        ctx.tx,
        crate::org::META_SERVER_CODES,
        &serde_json::to_string(&codes)?,
    )?;
    ctx.invalidate_boundaries();
    Ok(())
}

impl Store {
    /// Signs in on the server behind `transport` and keeps the session in this store.
    ///
    /// Writes the user's org units (with `is_mine` on their grids) and sets the reporter of new
    /// cases to the user's id. Signing in as a different user than before restarts the pull feed
    /// from a fresh snapshot; unsynced local changes are kept and pushed under the new session.
    ///
    /// The server binds a device to the user who first signed in on it: another user gets
    /// `Rejected { status: 409, code: "device_in_use" }`. Once the worker confirms taking the
    /// phone over, call [`Store::login_handing_over`].
    pub fn login(
        &self,
        transport: &dyn Transport,
        username: &str,
        password: &str,
        device_name: Option<&str>,
    ) -> Result<SessionInfo, SyncError> {
        self.login_with(transport, username, password, device_name, false)
    }

    /// Signs in taking this device over from the user it belonged to (after the worker
    /// confirmed it): the server ends the previous user's sessions on the device and records
    /// the hand-over. Refused locally, before anything is sent, while the outbox holds a
    /// colleague's unsent changes: they must sync first.
    pub fn login_handing_over(
        &self,
        transport: &dyn Transport,
        username: &str,
        password: &str,
        device_name: Option<&str>,
    ) -> Result<SessionInfo, SyncError> {
        let owner_with_unsent: Option<String> = self.read(|conn| {
            let unsent: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
            if unsent == 0 {
                return Ok(None);
            }
            get_meta(conn, META_OUTBOX_OWNER)
        })?;
        if let Some(owner) = owner_with_unsent {
            return Err(crate::Error::InvalidState {
                entity: "session",
                id: owner,
                state: "unsent_changes_of_another_user".into(),
                action: "hand_over",
            }
            .into());
        }
        self.login_with(transport, username, password, device_name, true)
    }

    fn login_with(
        &self,
        transport: &dyn Transport,
        username: &str,
        password: &str,
        device_name: Option<&str>,
        hand_over: bool,
    ) -> Result<SessionInfo, SyncError> {
        if username.trim().is_empty() {
            return Err(crate::Error::invalid("username", crate::Code::Required).into());
        }
        if password.is_empty() {
            return Err(crate::Error::invalid("password", crate::Code::Required).into());
        }
        let req = LoginRequest {
            username: username.trim().to_string(),
            password: password.to_string(),
            device_id: self.device_id().to_string(),
            device_name: device_name.map(str::to_string),
            hand_over,
        };
        let session = transport.login(&req)?;
        let info = self.write(|ctx| {
            // The outbox belongs to whoever made it: another user may not sign in and push a
            // colleague's unsent work under their own name. Kept across logout on purpose.
            let owner: Option<String> = ctx
                .tx
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [META_OUTBOX_OWNER],
                    |r| r.get(0),
                )
                .optional()?;
            let unsent: i64 = ctx
                .tx
                .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
            if unsent > 0 && owner.as_ref().is_some_and(|o| *o != session.user.id) {
                return Err(crate::Error::InvalidState {
                    entity: "session",
                    id: session.user.id.clone(),
                    state: "unsent_changes_of_another_user".into(),
                    action: "login",
                });
            }
            ctx.tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![META_OUTBOX_OWNER, session.user.id],
            )?;
            let previous = load(ctx.tx)?;
            if previous
                .as_ref()
                .is_some_and(|p| p.user.id != session.user.id)
            {
                ctx.tx
                    .execute("DELETE FROM meta WHERE key = ?1", [META_CURSOR])?;
            }
            write_org(ctx, &session.user)?;
            let mut user = session.user.clone();
            user.org.clear();
            let stored = StoredSession {
                server_url: transport.endpoint(),
                access_token: session.access_token.clone(),
                access_expires_at: session.access_expires_at,
                refresh_token: session.refresh_token.clone(),
                refresh_expires_at: session.refresh_expires_at,
                user,
            };
            save(ctx, &stored)?;
            Ok(stored.info())
        })?;
        let mut settings = self.settings()?;
        if settings.reporter != info.user_id {
            settings.reporter = info.user_id.clone();
            self.set_settings(&settings)?;
        }
        tracing::info!(user = %info.user_id, "signed in");
        Ok(info)
    }

    /// Forgets the session (tokens included). Local data and unsynced changes stay.
    pub fn logout(&self) -> Result<()> {
        self.forget_session()
    }

    /// Signs out on the server too: the session's tokens stop working there (a phone handed in
    /// or lost keeps nothing that still opens the grid's data), then forgets the session here.
    /// Offline, or when the server cannot be reached, the local sign-out still happens (the
    /// tokens expire on their own: access in minutes, refresh after its lifetime) and the answer
    /// says the server was not told. Unsynced changes stay on the device either way.
    pub fn logout_everywhere(&self, transport: &dyn Transport) -> Result<bool> {
        let told = match self.read(load)? {
            Some(s) => match transport.logout(&s.access_token) {
                Ok(()) => true,
                // The session had already ended there (expired, revoked): nothing to end.
                Err(TransportError::AuthExpired) | Err(TransportError::AuthEnded { .. }) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "server logout failed; signing out locally");
                    false
                }
            },
            None => true,
        };
        self.forget_session()?;
        Ok(told)
    }

    fn forget_session(&self) -> Result<()> {
        self.write(|ctx| {
            ctx.tx
                .execute("DELETE FROM meta WHERE key = ?1", [META_SESSION])?;
            Ok(())
        })
    }

    /// The signed-in user, if any.
    pub fn session(&self) -> Result<Option<SessionInfo>> {
        Ok(self.read(load)?.map(|s| s.info()))
    }

    /// Runs `call` with a valid access token: refreshes first when the token is about to
    /// expire, and once more (then retries `call` once) when the server answers
    /// `token_expired`. The photo uploader sends its requests through this too.
    pub fn with_access<T>(
        &self,
        transport: &dyn Transport,
        mut call: impl FnMut(&str) -> Result<T, TransportError>,
    ) -> Result<T, SyncError> {
        let s = self.read(load)?.ok_or(SyncError::NotSignedIn)?;
        let now = self.now().timestamp_millis();
        let token = if s.access_expires_at <= now + REFRESH_MARGIN_MS {
            self.refresh_session(transport, &s.refresh_token)?
        } else {
            s.access_token
        };
        match call(&token) {
            Err(TransportError::AuthExpired) => {
                let fresh = self.refresh_session(transport, &s.refresh_token)?;
                Ok(call(&fresh)?)
            }
            other => Ok(other?),
        }
    }

    /// Rotates the session with `spent` (the refresh token the caller saw) and returns a fresh
    /// access token. If another thread already rotated it, its result is used instead.
    fn refresh_session(&self, transport: &dyn Transport, spent: &str) -> Result<String, SyncError> {
        let _guard = REFRESH_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.read(load)?.ok_or(SyncError::NotSignedIn)?;
        let now = self.now().timestamp_millis();
        if current.refresh_token != spent && current.access_expires_at > now + REFRESH_MARGIN_MS {
            return Ok(current.access_token);
        }
        let fresh: Session = transport.refresh(&RefreshRequest {
            refresh_token: current.refresh_token.clone(),
            device_id: self.device_id().to_string(),
        })?;
        // Persist before the new access token is used by anyone.
        self.write(|ctx| {
            let mut s = current.clone();
            s.access_token = fresh.access_token.clone();
            s.access_expires_at = fresh.access_expires_at;
            s.refresh_token = fresh.refresh_token.clone();
            s.refresh_expires_at = fresh.refresh_expires_at;
            save(ctx, &s)
        })?;
        Ok(fresh.access_token)
    }
}
