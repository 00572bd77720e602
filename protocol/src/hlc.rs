//! Hybrid logical clock (HLC) stamps for every change.
//!
//! Field-level last-writer-wins needs an order that survives phones whose clocks are wrong by
//! days: a wall clock alone would let a phone stuck in last week lose every edit. An HLC takes the
//! maximum of the wall clock and every clock it has seen, plus a counter, plus the device id to
//! break ties, so causally later edits always win and no two devices ever produce the same stamp.
//!
//! Stamps are fixed-width strings (`{ms:015}.{counter:05}.{node}`) so SQLite and Rust compare
//! them with plain string order.

/// A stamp that does not have the shape `<ms>.<counter>.<node>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed HLC stamp: expected <ms>.<counter>.<node>")]
pub struct HlcError;

/// Clock state of one device (or of the server, node `srv`). Persisted in `meta` inside every write transaction so a restart
/// never goes backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlcClock {
    wall_ms: i64,
    counter: u32,
    node: String,
}

/// Largest counter value (five digits in the encoded stamp).
pub const MAX_COUNTER: u32 = 99_999;
/// Largest wall time a stamp can carry (fifteen digits: the year 33658). A clock never moves
/// past it, so stamps keep their fixed width and their string order.
pub const MAX_WALL_MS: i64 = 999_999_999_999_999;
/// Longest node id. A node id is 1–32 of `[A-Za-z0-9_-]`: no dot (the separator), nothing a
/// string comparison or a log line could trip on.
pub const MAX_NODE_CHARS: usize = 32;
/// How far ahead of the server's wall clock a pushed stamp may be (10 minutes, the skew the
/// phone's own checks tolerate). A stamp further ahead comes from a phone whose clock is wrong;
/// the server refuses it (`clock_ahead`) rather than let it win every later merge and drag every
/// clock of the grid into the future.
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// Whether `node` is a valid node id.
pub fn node_ok(node: &str) -> bool {
    !node.is_empty()
        && node.len() <= MAX_NODE_CHARS
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a stamp is at most [`MAX_AHEAD_MS`] ahead of the wall clock `now_ms`.
pub fn within_bound(stamp: &Stamp, now_ms: i64) -> bool {
    stamp.wall_ms <= now_ms.saturating_add(MAX_AHEAD_MS)
}

/// A parsed stamp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub wall_ms: i64,
    pub counter: u32,
    pub node: String,
}

impl Stamp {
    pub fn parse(s: &str) -> Result<Stamp, HlcError> {
        let bad = || HlcError;
        let mut it = s.splitn(3, '.');
        let wall_ms = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let counter = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let node = it.next().filter(|n| node_ok(n)).ok_or_else(bad)?;
        let stamp = Stamp {
            wall_ms,
            counter,
            node: node.to_string(),
        };
        // Stamps are compared as strings: only the canonical fixed-width form orders correctly.
        if !(0..=MAX_WALL_MS).contains(&wall_ms) || counter > MAX_COUNTER || stamp.encode() != s {
            return Err(HlcError);
        }
        Ok(stamp)
    }

    pub fn encode(&self) -> String {
        format!("{:015}.{:05}.{}", self.wall_ms, self.counter, self.node)
    }
}

impl HlcClock {
    /// A clock for `node` (a short device id) starting from a persisted stamp if any. Characters
    /// a node id may not hold become `-`, and it is cut to [`MAX_NODE_CHARS`].
    pub fn new(node: &str, last: Option<&str>) -> HlcClock {
        let (wall_ms, counter) = match last.and_then(|s| Stamp::parse(s).ok()) {
            Some(s) => (s.wall_ms, s.counter),
            None => (0, 0),
        };
        let mut node: String = node
            .chars()
            .take(MAX_NODE_CHARS)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if node.is_empty() {
            node.push('-');
        }
        HlcClock {
            wall_ms,
            counter,
            node,
        }
    }

    /// Sets the clock back to the wall time `now_ms`, forgetting a future it had reached (a
    /// phone's clock that ran ahead and was corrected). Only for a device whose unsent changes
    /// are re-stamped in the same transaction (see core's `sync::clock`).
    pub fn reset(&mut self, now_ms: i64) {
        self.wall_ms = now_ms.clamp(0, MAX_WALL_MS);
        self.counter = 0;
    }

    /// The wall time of the latest stamp issued.
    pub fn wall_ms(&self) -> i64 {
        self.wall_ms
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// A new stamp for a local event at wall time `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> String {
        let now_ms = now_ms.min(MAX_WALL_MS);
        if now_ms > self.wall_ms {
            self.wall_ms = now_ms;
            self.counter = 0;
        } else {
            self.counter = self.counter.saturating_add(1);
        }
        self.carry();
        self.current()
    }

    /// Keeps the counter within its five digits: past the last one, the clock moves on a
    /// millisecond (a stamp with a sixth counter digit would sort before its predecessors).
    /// At [`MAX_WALL_MS`] the clock stops at its last stamp instead: only a stamp from a broken
    /// or hostile clock can take it there, and a stamp that does not sort would be worse.
    fn carry(&mut self) {
        if self.counter > MAX_COUNTER {
            if self.wall_ms >= MAX_WALL_MS {
                // The end of time: stay at the last stamp rather than grow a sixteenth digit.
                self.counter = MAX_COUNTER;
                return;
            }
            self.wall_ms += 1;
            self.counter = 0;
        }
    }

    /// Merges a stamp received from elsewhere so later local stamps sort after it.
    pub fn observe(&mut self, remote: &str, now_ms: i64) -> Result<(), HlcError> {
        let r = Stamp::parse(remote)?;
        let max_wall = self.wall_ms.max(r.wall_ms).max(now_ms.min(MAX_WALL_MS));
        self.counter = if max_wall == self.wall_ms && max_wall == r.wall_ms {
            self.counter.max(r.counter).saturating_add(1)
        } else if max_wall == self.wall_ms {
            self.counter.saturating_add(1)
        } else if max_wall == r.wall_ms {
            r.counter.saturating_add(1)
        } else {
            0
        };
        self.wall_ms = max_wall;
        self.carry();
        Ok(())
    }

    /// The clock as of wall time `now_ms`, without issuing a stamp: the latest stamp, or `now_ms`
    /// itself when the wall clock is past it. What a server answers as its clock, so a device can
    /// tell how far its own clock is from the server's even before the server stamped anything.
    pub fn current_at(&self, now_ms: i64) -> String {
        if now_ms > self.wall_ms {
            Stamp {
                wall_ms: now_ms.min(MAX_WALL_MS),
                counter: 0,
                node: self.node.clone(),
            }
            .encode()
        } else {
            self.current()
        }
    }

    /// The latest stamp issued (for persistence).
    pub fn current(&self) -> String {
        Stamp {
            wall_ms: self.wall_ms,
            counter: self.counter,
            node: self.node.clone(),
        }
        .encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_their_fixed_width() {
        let max = format!("{MAX_WALL_MS:015}.{MAX_COUNTER:05}.n");
        assert!(Stamp::parse(&max).is_ok());
        let mut c = HlcClock::new("srv", None);
        c.observe(&max, 0).unwrap();
        let next = c.tick(0);
        assert_eq!(next.len(), max.len() + 2, "{next}");
        assert!(Stamp::parse("1000000000000000.00000.n").is_err());
        assert!(Stamp::parse("000000000000001.00000.bad node").is_err());
        assert!(Stamp::parse(&format!("000000000000001.00000.{}", "a".repeat(33))).is_err());
        assert_eq!(HlcClock::new("a.b c", None).node(), "a-b-c");
    }

    #[test]
    fn the_bound_refuses_stamps_far_ahead() {
        let now = 1_700_000_000_000;
        let ok = Stamp::parse(&format!("{:015}.00000.n", now + MAX_AHEAD_MS)).unwrap();
        let far = Stamp::parse(&format!("{:015}.00000.n", now + MAX_AHEAD_MS + 1)).unwrap();
        assert!(within_bound(&ok, now));
        assert!(!within_bound(&far, now));
    }

    #[test]
    fn monotonic_even_when_wall_clock_goes_back() {
        let mut c = HlcClock::new("a", None);
        let s1 = c.tick(1_000);
        let s2 = c.tick(900);
        let s3 = c.tick(900);
        assert!(s1 < s2 && s2 < s3, "{s1} {s2} {s3}");
    }

    #[test]
    fn observing_a_future_stamp_moves_the_clock() {
        let mut slow = HlcClock::new("slow", None);
        let mut fast = HlcClock::new("fast", None);
        let remote = fast.tick(10_000_000);
        slow.observe(&remote, 5).unwrap();
        let local = slow.tick(6);
        assert!(local > remote);
    }

    #[test]
    fn resumes_from_persisted_stamp() {
        let mut c = HlcClock::new("n", None);
        let s = c.tick(5_000);
        let mut c2 = HlcClock::new("n", Some(&s));
        assert!(c2.tick(10) > s);
    }

    #[test]
    fn parse_roundtrip_and_errors() {
        let s = Stamp {
            wall_ms: 1_700_000_000_000,
            counter: 3,
            node: "dev1".into(),
        };
        assert_eq!(Stamp::parse(&s.encode()).unwrap(), s);
        assert!(Stamp::parse("garbage").is_err());
        // Only the canonical fixed-width form: anything else would sort wrongly as a string.
        assert!(Stamp::parse("9.0.x").is_err());
        assert!(Stamp::parse("000000000000009.100000.x").is_err());

        // The counter never grows a sixth digit: the wall clock carries instead.
        let mut c = HlcClock::new("n", Some("000000000001000.99999.n"));
        let next = c.tick(10);
        assert_eq!(next, "000000000001001.00000.n");
        assert!(next.as_str() > "000000000001000.99999.n");
        assert!(HlcClock::new("x", None).observe("1.2", 0).is_err());
    }

    #[test]
    fn stamps_stay_fifteen_digits_wide() {
        // A sixteenth digit would sort before every fifteen-digit stamp as a string.
        assert!(Stamp::parse("1000000000000000.00000.x").is_err());
        assert!(Stamp::parse("9223372036854775807.00000.x").is_err());
        let last = "999999999999999.99999.x";
        assert!(Stamp::parse(last).is_ok());

        // A clock that observed the last stamp stays there instead of overflowing or growing.
        let mut c = HlcClock::new("n", None);
        c.observe(last, 0).unwrap();
        assert_eq!(c.current(), "999999999999999.99999.n");
        assert_eq!(c.tick(i64::MAX), "999999999999999.99999.n");
        let mut c = HlcClock::new("n", Some("999999999999999.99998.n"));
        assert_eq!(c.tick(0), "999999999999999.99999.n");
        assert!(Stamp::parse(&c.tick(0)).is_ok());
    }
}
