//! Sign-in throttling: how many failed sign-ins a user name or a client address may have before
//! the server stops checking passwords for it for a while.
//!
//! The rule is decided here, the state lives in the storage (`login_throttle` table), so several
//! server processes on one database share it and a restart forgets nothing. Every attempt is
//! counted as a failure *before* the password is checked, inside the one write transaction, so
//! parallel guesses cannot all slip through before the first failure is written; a successful
//! sign-in then resets the user name's count and gives the address its attempt back.
//!
//! Keys are SHA-256 hashes (`user` + name, `addr` + address): a password typed into the user
//! name field is never stored in clear. An unknown user name is throttled exactly like a known
//! one, so a 429 tells nothing about who exists.

use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use crate::config::ThrottleRule;

/// The stored state of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// Start of the current counting window (ms).
    pub window_start: i64,
    /// Attempts counted in the window (successful ones are given back).
    pub failures: i64,
    /// Refused until then (ms); 0 when not locked.
    pub locked_until: i64,
    /// Lockouts in a row: each one doubles the next.
    pub strikes: i64,
    /// Last counted attempt (ms).
    pub last_failure: i64,
}

/// What to do with an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Check the password; the attempt was counted.
    Admit,
    /// Refuse without checking until this time (ms).
    Refuse { until: i64 },
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

impl ThrottleRule {
    /// Lockout after `strikes` earlier lockouts in a row.
    fn lockout_ms(&self, strikes: i64) -> i64 {
        let doubling = u32::try_from(strikes.clamp(0, 30)).unwrap_or(30);
        ms(self
            .lockout_secs
            .saturating_mul(1u64 << doubling)
            .min(self.max_lockout_secs))
    }

    /// How long a key must be quiet before its row can be forgotten.
    pub fn memory_ms(&self) -> i64 {
        ms(self.window_secs.max(self.max_lockout_secs))
    }

    /// Decides an attempt at `now` and returns the key's new state.
    pub fn decide(&self, state: Option<ThrottleState>, now: i64) -> (Decision, ThrottleState) {
        let mut s = state.unwrap_or(ThrottleState {
            window_start: now,
            ..ThrottleState::default()
        });
        if s.locked_until > now {
            return (
                Decision::Refuse {
                    until: s.locked_until,
                },
                s,
            );
        }
        if s.strikes > 0 && now.saturating_sub(s.last_failure) > ms(self.max_lockout_secs) {
            s.strikes = 0;
        }
        if now.saturating_sub(s.window_start) >= ms(self.window_secs) {
            s.window_start = now;
            s.failures = 0;
        }
        if s.failures >= i64::from(self.max_failures) {
            s.locked_until = now.saturating_add(self.lockout_ms(s.strikes));
            s.strikes += 1;
            s.failures = 0;
            s.window_start = now;
            return (
                Decision::Refuse {
                    until: s.locked_until,
                },
                s,
            );
        }
        s.failures += 1;
        s.last_failure = now;
        (Decision::Admit, s)
    }
}

fn key(kind: &str, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0u8]);
    h.update(value);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The throttle key of a user name (whether or not the user exists).
pub fn account_key(username: &str) -> String {
    key("user", username.as_bytes())
}

/// The throttle key of a client address: the IPv4 address, or the /64 of an IPv6 one (one
/// subscriber usually holds a whole /64). Without a known peer address every such request
/// shares one key.
pub fn address_key(peer: Option<SocketAddr>) -> String {
    match peer.map(|p| p.ip()) {
        None => key("addr", b"unknown"),
        Some(IpAddr::V4(v4)) => key("addr", &v4.octets()),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => key("addr", &v4.octets()),
            None => key("addr", &v6.octets()[..8]),
        },
    }
}

/// Whole seconds until `until` (at least 1), for `Retry-After`.
pub fn retry_after_secs(until: i64, now: i64) -> u64 {
    let left = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
    left.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ThrottleRule = ThrottleRule {
        max_failures: 3,
        window_secs: 60,
        lockout_secs: 10,
        max_lockout_secs: 35,
    };

    fn run(rule: &ThrottleRule, s: &mut Option<ThrottleState>, now: i64) -> Decision {
        let (d, next) = rule.decide(*s, now);
        *s = Some(next);
        d
    }

    #[test]
    fn locks_after_max_failures_and_grows() {
        let mut s = None;
        for i in 0..3 {
            assert_eq!(run(&RULE, &mut s, 1000 + i), Decision::Admit);
        }
        assert_eq!(run(&RULE, &mut s, 2000), Decision::Refuse { until: 12_000 });
        // Refused attempts do not extend the lockout.
        assert_eq!(run(&RULE, &mut s, 5000), Decision::Refuse { until: 12_000 });
        // After the lockout: a fresh window, and the next lockout is twice as long.
        for i in 0..3 {
            assert_eq!(run(&RULE, &mut s, 12_000 + i), Decision::Admit);
        }
        assert_eq!(
            run(&RULE, &mut s, 13_000),
            Decision::Refuse { until: 33_000 }
        );
        for i in 0..3 {
            assert_eq!(run(&RULE, &mut s, 33_000 + i), Decision::Admit);
        }
        // Capped at max_lockout_secs.
        assert_eq!(
            run(&RULE, &mut s, 34_000),
            Decision::Refuse { until: 69_000 }
        );
        // A long quiet spell forgets the strikes.
        let quiet = 69_000 + 36_000 + 60_000;
        for i in 0..3 {
            assert_eq!(run(&RULE, &mut s, quiet + i), Decision::Admit);
        }
        assert_eq!(
            run(&RULE, &mut s, quiet + 10),
            Decision::Refuse {
                until: quiet + 10 + 10_000
            }
        );
    }

    #[test]
    fn the_window_slides_past_old_failures() {
        let mut s = None;
        assert_eq!(run(&RULE, &mut s, 0), Decision::Admit);
        assert_eq!(run(&RULE, &mut s, 1), Decision::Admit);
        // The window ended: two old failures no longer count.
        for i in 0..3 {
            assert_eq!(run(&RULE, &mut s, 60_000 + i), Decision::Admit);
        }
        assert!(matches!(
            run(&RULE, &mut s, 60_010),
            Decision::Refuse { .. }
        ));
    }

    #[test]
    fn keys_hash_names_and_group_ipv6() {
        assert_ne!(account_key("wangfang"), account_key("lijun"));
        assert!(!account_key("secret-password").contains("secret"));
        let a: SocketAddr = "[2001:db8:1:2::1]:5000".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:ffff::9]:6000".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:5000".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(address_key(Some(a)), address_key(Some(c)));
        let v4: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:2".parse().unwrap();
        assert_eq!(address_key(Some(v4)), address_key(Some(mapped)));
        assert_eq!(retry_after_secs(10_001, 0), 11);
        assert_eq!(retry_after_secs(5, 10), 1);
    }
}
