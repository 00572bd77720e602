//! Time at the FFI boundary: one representation each for instants and calendar days.
//!
//! * An **instant** is an `i64` of milliseconds since the Unix epoch, UTC, in a field or
//!   argument whose name ends in `_ms` (`visited_at_ms`, `created_at_ms`). Every platform has a
//!   lossless conversion (`System.currentTimeMillis()`, `Instant.ofEpochMilli`,
//!   `Date(timeIntervalSince1970: ms / 1000)`, `time.time_ns() // 1_000_000`), it is what the
//!   store keeps, and it cannot carry a time zone by mistake.
//! * A **calendar day** (birth date, due date, move-in day) is an ISO-8601 `"YYYY-MM-DD"`
//!   string in the worker's local calendar. A day is not an instant: turning it into one would
//!   invite off-by-one-day bugs at midnight in UTC+8.
//!
//! Values that do not convert are refused with a typed validation error naming the field.

use chrono::{DateTime, NaiveDate, Utc};
use gridwalk_core::Code;

use crate::error::{GridwalkError, Result};

/// Milliseconds since the epoch (UTC) of an instant.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// An instant from milliseconds; `field` names the argument in the error.
pub(crate) fn from_ms(field: &str, ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| GridwalkError::invalid(field, Code::OutOfRange))
}

/// `"YYYY-MM-DD"` of a day.
pub(crate) fn day_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A day from `"YYYY-MM-DD"`; `field` names the argument in the error.
pub(crate) fn parse_day(field: &str, s: &str) -> Result<NaiveDate> {
    let t = s.trim();
    // `%Y` alone would accept signed and five-digit years; a form date is exactly ten characters.
    if t.len() != 10 {
        return Err(GridwalkError::invalid(field, Code::InvalidDate));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map_err(|_| GridwalkError::invalid(field, Code::InvalidDate))
}

/// An optional day.
pub(crate) fn parse_opt_day(field: &str, s: Option<&str>) -> Result<Option<NaiveDate>> {
    s.map(|s| parse_day(field, s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_strictly() {
        assert_eq!(
            parse_day("due_on", "2024-02-29").ok(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "2023-02-29",
            "2024-2-1",
            "20240201",
            "+2024-02-01",
            "",
            "tomorrow",
        ] {
            match parse_day("due_on", bad) {
                Err(GridwalkError::Validation { field, code, .. }) => {
                    assert_eq!(field, "due_on");
                    assert_eq!(code, crate::error::ValidationCode::InvalidDate);
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn instants_round_trip_and_refuse_overflow() {
        let t = from_ms("at_ms", 1_700_000_000_123).unwrap();
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert!(from_ms("at_ms", i64::MAX).is_err());
    }
}
