//! Sessions and sign-in throttling on PostgreSQL: the rows behind `sessions.rs`' decisions and
//! `throttle.rs`' rule, which decide; this file reads the state, asks them, and writes the step.
//!
//! Several instances may handle the same device or user name at the same moment, so every
//! read-modify-write holds a lock until commit: the refresh token's row (`FOR UPDATE`: a token
//! replayed to two instances at once rotates once and is reuse the second time), and a
//! transaction-scoped advisory lock per throttle key and per device id (the row may not exist
//! yet, so there is nothing to lock with `FOR UPDATE`). Keys are locked in sorted order.

use super::{scope_grids, PgStorage, Tx};
use crate::config::ThrottleRule;
use crate::error::Result;
use crate::sessions::{self, AccessState, DeviceStep, RefreshState, RefreshStep};
use crate::storage::{Principal, SessionRefusal, TokenPair};
use crate::throttle::{Decision, ThrottleState};

/// Holds the advisory lock of `(space, key)` until the transaction ends.
fn lock_key(tx: &mut Tx<'_>, space: &str, key: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || E'\\n' || $2, 0))",
        &[&space, &key],
    )?;
    Ok(())
}

fn session_tokens(tx: &mut Tx<'_>, family: &str, t: &TokenPair) -> Result<()> {
    tx.execute(
        "INSERT INTO access_tokens (hash, family_id, expires_at) VALUES ($1, $2, $3)",
        &[&t.access_hash, &family, &t.access_expires_at],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES ($1, $2, $3)",
        &[&t.refresh_hash, &family, &t.refresh_expires_at],
    )?;
    Ok(())
}

/// Ends one session family: its access tokens go, its refresh tokens count as used (a later
/// use is reuse). `refresh_too` also marks the refresh tokens (reuse detection).
pub(super) fn end_family(tx: &mut Tx<'_>, family: &str, refresh_too: bool) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET revoked = TRUE WHERE family_id = $1",
        &[&family],
    )?;
    tx.execute("DELETE FROM access_tokens WHERE family_id = $1", &[&family])?;
    if refresh_too {
        tx.execute(
            "UPDATE refresh_tokens SET used = TRUE WHERE family_id = $1",
            &[&family],
        )?;
    }
    Ok(())
}

/// Ends every live session of a user (and their console sessions); returns how many. With
/// `keep_access` the access tokens stay so the next request is told why (`user_disabled`).
pub(super) fn end_user_sessions(tx: &mut Tx<'_>, user_id: &str, keep_access: bool) -> Result<u64> {
    tx.execute(
        "DELETE FROM console_sessions WHERE user_id = $1",
        &[&user_id],
    )?;
    if !keep_access {
        tx.execute(
            "DELETE FROM access_tokens WHERE family_id IN
                 (SELECT family_id FROM sessions WHERE user_id = $1)",
            &[&user_id],
        )?;
    }
    tx.execute(
        "UPDATE sessions SET revoked = TRUE WHERE user_id = $1 AND NOT revoked",
        &[&user_id],
    )
}

fn throttle_row(tx: &mut Tx<'_>, key: &str) -> Result<Option<ThrottleState>> {
    match tx.query_opt(
        "SELECT window_start, failures, locked_until, strikes, last_failure
         FROM login_throttle WHERE key = $1",
        &[&key],
    )? {
        None => Ok(None),
        Some(r) => Ok(Some(ThrottleState {
            window_start: r.try_get("window_start")?,
            failures: r.try_get("failures")?,
            locked_until: r.try_get("locked_until")?,
            strikes: r.try_get("strikes")?,
            last_failure: r.try_get("last_failure")?,
        })),
    }
}

fn put_throttle_row(tx: &mut Tx<'_>, key: &str, s: &ThrottleState) -> Result<()> {
    tx.execute(
        "INSERT INTO login_throttle
             (key, window_start, failures, locked_until, strikes, last_failure)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start,
            failures = excluded.failures, locked_until = excluded.locked_until,
            strikes = excluded.strikes, last_failure = excluded.last_failure",
        &[
            &key,
            &s.window_start,
            &s.failures,
            &s.locked_until,
            &s.strikes,
            &s.last_failure,
        ],
    )?;
    Ok(())
}

impl PgStorage {
    pub(super) fn throttle_attempt(
        &self,
        keys: &[(&str, ThrottleRule)],
        now_ms: i64,
    ) -> Result<Option<i64>> {
        self.write_plain(|tx| {
            let mut sorted: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
            sorted.sort_unstable();
            sorted.dedup();
            for k in sorted {
                lock_key(tx, "throttle", k)?;
            }
            let mut admitted = Vec::with_capacity(keys.len());
            let mut refused_until: Option<i64> = None;
            for (key, rule) in keys {
                let (decision, state) = rule.decide(throttle_row(tx, key)?, now_ms);
                match decision {
                    Decision::Admit => admitted.push((*key, state)),
                    Decision::Refuse { until } => {
                        // A lockout that starts now is written even when refused: it is state.
                        put_throttle_row(tx, key, &state)?;
                        refused_until = Some(refused_until.map_or(until, |u| u.max(until)));
                    }
                }
            }
            if refused_until.is_some() {
                return Ok(refused_until);
            }
            for (key, state) in admitted {
                put_throttle_row(tx, key, &state)?;
            }
            // Forget keys quiet for longer than any rule remembers (and not locked).
            let memory = keys.iter().map(|(_, r)| r.memory_ms()).max().unwrap_or(0);
            tx.execute(
                "DELETE FROM login_throttle WHERE last_failure < $1 AND locked_until < $2",
                &[&now_ms.saturating_sub(memory), &now_ms],
            )?;
            Ok(None)
        })
    }

    pub(super) fn throttle_succeeded(&self, account_key: &str, address_key: &str) -> Result<()> {
        self.write_plain(|tx| {
            tx.execute("DELETE FROM login_throttle WHERE key = $1", &[&account_key])?;
            tx.execute(
                "UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1",
                &[&address_key],
            )?;
            Ok(())
        })
    }

    pub(super) fn session_start(
        &self,
        user_id: &str,
        device_id: &str,
        device_name: Option<&str>,
        tokens: &TokenPair,
        hand_over: bool,
        now_ms: i64,
    ) -> Result<std::result::Result<(), SessionRefusal>> {
        self.write_plain(|tx| {
            lock_key(tx, "device", device_id)?;
            let device = match tx.query_opt(
                "SELECT user_id, revoked FROM devices WHERE id = $1",
                &[&device_id],
            )? {
                None => None,
                Some(r) => Some((
                    r.try_get::<_, String>("user_id")?,
                    r.try_get::<_, bool>("revoked")?,
                )),
            };
            let step = sessions::device_step(
                device
                    .as_ref()
                    .map(|(owner, revoked)| (owner.as_str(), *revoked)),
                user_id,
                hand_over,
            );
            if let DeviceStep::Refuse(r) = step {
                return Ok(Err(r));
            }
            if let DeviceStep::HandOver { from_user: owner } = &step {
                let ended = tx.execute(
                    "UPDATE sessions SET revoked = TRUE WHERE device_id = $1 AND NOT revoked",
                    &[&device_id],
                )?;
                tx.execute(
                    "DELETE FROM access_tokens WHERE family_id IN
                         (SELECT family_id FROM sessions WHERE device_id = $1)",
                    &[&device_id],
                )?;
                let ended_n = i64::try_from(ended).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO device_handovers (device_id, from_user, to_user, sessions_ended, at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&device_id, owner, &user_id, &ended_n, &now_ms],
                )?;
                tracing::info!(
                    device = %device_id, from_user = %owner, to_user = %user_id,
                    sessions_ended = ended, "device handed over"
                );
            }
            tx.execute(
                "INSERT INTO devices (id, user_id, name, created_at, last_seen)
                 VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
                    name = coalesce(excluded.name, devices.name), last_seen = excluded.last_seen",
                &[&device_id, &user_id, &device_name, &now_ms],
            )?;
            // A new login on a device ends that device's earlier sessions.
            let old = tx.query(
                "SELECT family_id FROM sessions WHERE device_id = $1 AND NOT revoked",
                &[&device_id],
            )?;
            for r in &old {
                let family: String = r.try_get("family_id")?;
                end_family(tx, &family, true)?;
            }
            tx.execute(
                "DELETE FROM access_tokens WHERE expires_at < $1",
                &[&now_ms],
            )?;
            let family = uuid::Uuid::now_v7().to_string();
            tx.execute(
                "INSERT INTO sessions (family_id, user_id, device_id, created_at)
                 VALUES ($1, $2, $3, $4)",
                &[&family, &user_id, &device_id, &now_ms],
            )?;
            session_tokens(tx, &family, tokens)?;
            Ok(Ok(()))
        })
    }

    pub(super) fn session_refresh(
        &self,
        old_refresh_hash: &str,
        device_id: &str,
        tokens: &TokenPair,
        now_ms: i64,
    ) -> Result<std::result::Result<String, SessionRefusal>> {
        self.write_plain(|tx| {
            let row = tx.query_opt(
                "SELECT r.family_id, r.expires_at, r.used, s.revoked, s.user_id, s.device_id,
                        u.disabled, d.revoked AS device_revoked
                 FROM refresh_tokens r JOIN sessions s ON s.family_id = r.family_id
                 JOIN users u ON u.id = s.user_id JOIN devices d ON d.id = s.device_id
                 WHERE r.hash = $1
                 FOR UPDATE OF r",
                &[&old_refresh_hash],
            )?;
            let Some(r) = row else {
                return Ok(Err(SessionRefusal::Ended));
            };
            let family: String = r.try_get("family_id")?;
            let user_id: String = r.try_get("user_id")?;
            let state = RefreshState {
                expires_at: r.try_get("expires_at")?,
                used: r.try_get("used")?,
                session_revoked: r.try_get("revoked")?,
                device_id: r.try_get("device_id")?,
                user_disabled: r.try_get("disabled")?,
                device_revoked: r.try_get("device_revoked")?,
            };
            match sessions::refresh_step(Some(&state), device_id, now_ms) {
                RefreshStep::Rotate => {}
                RefreshStep::EndFamily => {
                    // A rotated token came back: someone holds a copy. End the whole family.
                    tracing::warn!(session = %family, "refresh token reuse; session family revoked");
                    end_family(tx, &family, true)?;
                    return Ok(Err(SessionRefusal::Ended));
                }
                RefreshStep::Refuse(reason) => return Ok(Err(reason)),
            }
            tx.execute(
                "UPDATE refresh_tokens SET used = TRUE WHERE hash = $1",
                &[&old_refresh_hash],
            )?;
            tx.execute(
                "DELETE FROM access_tokens WHERE family_id = $1",
                &[&family],
            )?;
            session_tokens(tx, &family, tokens)?;
            tx.execute(
                "UPDATE devices SET last_seen = $2 WHERE id = $1",
                &[&device_id, &now_ms],
            )?;
            Ok(Ok(user_id))
        })
    }

    pub(super) fn session_authenticate(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> Result<std::result::Result<Principal, SessionRefusal>> {
        self.read(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT s.family_id, s.revoked, a.expires_at, u.id AS user_id, u.role,
                        u.org_code, u.disabled, d.id AS device_id, d.revoked AS device_revoked
                 FROM access_tokens a JOIN sessions s ON s.family_id = a.family_id
                 JOIN users u ON u.id = s.user_id JOIN devices d ON d.id = s.device_id
                 WHERE a.hash = $1",
                &[&access_hash],
            )?
            else {
                return Ok(Err(SessionRefusal::Expired));
            };
            let state = AccessState {
                session_revoked: r.try_get("revoked")?,
                expires_at: r.try_get("expires_at")?,
                role: r.try_get("role")?,
                user_disabled: r.try_get("disabled")?,
                device_revoked: r.try_get("device_revoked")?,
            };
            let role = match sessions::check_access(&state, now_ms) {
                Ok(role) => role,
                Err(reason) => return Ok(Err(reason)),
            };
            let user_id: String = r.try_get("user_id")?;
            let org: String = r.try_get("org_code")?;
            let grids = scope_grids(tx, &user_id, &org)?;
            Ok(Ok(Principal {
                user_id,
                role,
                org_code: org,
                grids,
                device_id: r.try_get("device_id")?,
                session_id: r.try_get("family_id")?,
            }))
        })
    }
}
