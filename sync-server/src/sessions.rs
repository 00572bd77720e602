//! The session rules, decided once above storage: a backend reads the rows, asks these
//! functions what the rule says, and writes what they decide. So rotation, reuse detection,
//! revocation and device binding read the same on SQLite and on any later backend.
//!
//! - **Access**: a disabled user or a revoked device is told so (they can say it to the worker);
//!   an ended session or an expired token is "expired".
//! - **Refresh rotation**: a refresh token works once. One that comes back after it was used
//!   means someone holds a copy: the whole session family ends (reuse detection). A token of an
//!   ended family, another device or past its expiry ends nothing more and is refused.
//! - **Device binding**: a device belongs to the first user who signed in on it; another user
//!   needs `hand_over` (the previous user's sessions on it end, recorded by the backend).

use gridwalk_protocol::Role;

use crate::storage::SessionRefusal;

/// What the backend read about an access token's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessState {
    pub session_revoked: bool,
    pub expires_at: i64,
    pub role: String,
    pub user_disabled: bool,
    pub device_revoked: bool,
}

/// Whether an access token still works, and the caller's role when it does.
pub fn check_access(s: &AccessState, now_ms: i64) -> Result<Role, SessionRefusal> {
    if s.user_disabled {
        return Err(SessionRefusal::UserDisabled);
    }
    if s.device_revoked {
        return Err(SessionRefusal::DeviceRevoked);
    }
    if s.session_revoked || s.expires_at < now_ms {
        return Err(SessionRefusal::Expired);
    }
    Role::parse(&s.role).ok_or(SessionRefusal::Expired)
}

/// What the backend read about a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    pub expires_at: i64,
    pub used: bool,
    pub session_revoked: bool,
    pub device_id: String,
    pub user_disabled: bool,
    pub device_revoked: bool,
}

/// What to do with a refresh request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStep {
    /// Mark the token used, replace the family's access token, issue the new pair.
    Rotate,
    /// A used token came back: end the whole family, then refuse.
    EndFamily,
    Refuse(SessionRefusal),
}

/// The rotation rule; `None` = no such refresh token.
pub fn refresh_step(s: Option<&RefreshState>, device_id: &str, now_ms: i64) -> RefreshStep {
    let Some(s) = s else {
        return RefreshStep::Refuse(SessionRefusal::Ended);
    };
    if s.used && !s.session_revoked {
        return RefreshStep::EndFamily;
    }
    if s.session_revoked || s.expires_at < now_ms || s.device_id != device_id {
        return RefreshStep::Refuse(SessionRefusal::Ended);
    }
    if s.user_disabled {
        return RefreshStep::Refuse(SessionRefusal::UserDisabled);
    }
    if s.device_revoked {
        return RefreshStep::Refuse(SessionRefusal::DeviceRevoked);
    }
    RefreshStep::Rotate
}

/// What a sign-in does with the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStep {
    /// New device or the user's own: bind (again) and end its earlier sessions.
    Bind,
    /// Another user's device, handed over: end that user's sessions on it, record it, bind.
    HandOver {
        from_user: String,
    },
    Refuse(SessionRefusal),
}

/// The binding rule; `device` = (bound user, revoked) when the device is known.
pub fn device_step(device: Option<(&str, bool)>, user_id: &str, hand_over: bool) -> DeviceStep {
    match device {
        Some((_, true)) => DeviceStep::Refuse(SessionRefusal::DeviceRevoked),
        Some((owner, false)) if owner != user_id => {
            if hand_over {
                DeviceStep::HandOver {
                    from_user: owner.to_string(),
                }
            } else {
                DeviceStep::Refuse(SessionRefusal::DeviceInUse)
            }
        }
        _ => DeviceStep::Bind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh() -> RefreshState {
        RefreshState {
            expires_at: 1000,
            used: false,
            session_revoked: false,
            device_id: "d".into(),
            user_disabled: false,
            device_revoked: false,
        }
    }

    #[test]
    fn rotation_and_reuse() {
        let s = refresh();
        assert_eq!(refresh_step(Some(&s), "d", 10), RefreshStep::Rotate);
        assert_eq!(
            refresh_step(None, "d", 10),
            RefreshStep::Refuse(SessionRefusal::Ended)
        );
        let used = RefreshState {
            used: true,
            ..s.clone()
        };
        assert_eq!(refresh_step(Some(&used), "d", 10), RefreshStep::EndFamily);
        let ended = RefreshState {
            used: true,
            session_revoked: true,
            ..s.clone()
        };
        assert_eq!(
            refresh_step(Some(&ended), "d", 10),
            RefreshStep::Refuse(SessionRefusal::Ended)
        );
        assert_eq!(
            refresh_step(Some(&s), "other", 10),
            RefreshStep::Refuse(SessionRefusal::Ended)
        );
        assert_eq!(
            refresh_step(Some(&s), "d", 2000),
            RefreshStep::Refuse(SessionRefusal::Ended)
        );
        let off = RefreshState {
            user_disabled: true,
            ..s.clone()
        };
        assert_eq!(
            refresh_step(Some(&off), "d", 10),
            RefreshStep::Refuse(SessionRefusal::UserDisabled)
        );
        let gone = RefreshState {
            device_revoked: true,
            ..s
        };
        assert_eq!(
            refresh_step(Some(&gone), "d", 10),
            RefreshStep::Refuse(SessionRefusal::DeviceRevoked)
        );
    }

    #[test]
    fn access_and_binding() {
        let a = AccessState {
            session_revoked: false,
            expires_at: 1000,
            role: "grid_worker".into(),
            user_disabled: false,
            device_revoked: false,
        };
        assert_eq!(check_access(&a, 10), Ok(Role::GridWorker));
        assert_eq!(check_access(&a, 2000), Err(SessionRefusal::Expired));
        let off = AccessState {
            user_disabled: true,
            device_revoked: true,
            ..a.clone()
        };
        assert_eq!(check_access(&off, 10), Err(SessionRefusal::UserDisabled));
        assert_eq!(device_step(None, "u", false), DeviceStep::Bind);
        assert_eq!(
            device_step(Some(("u", false)), "u", false),
            DeviceStep::Bind
        );
        assert_eq!(
            device_step(Some(("v", false)), "u", false),
            DeviceStep::Refuse(SessionRefusal::DeviceInUse)
        );
        assert_eq!(
            device_step(Some(("v", false)), "u", true),
            DeviceStep::HandOver {
                from_user: "v".into()
            }
        );
        assert_eq!(
            device_step(Some(("u", true)), "u", true),
            DeviceStep::Refuse(SessionRefusal::DeviceRevoked)
        );
    }
}
