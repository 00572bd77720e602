//! Turning what was typed on the command line into the core's typed values.
//!
//! Enumerations are parsed here rather than by clap, with the core's own `FromStr` (code,
//! Chinese label or English label: `连心户`, `close` and `close care` are the same tier), so a
//! wrong value is refused exactly like a wrong value in the app's form: a [`ValidationError`]
//! naming the core's field (`care_tier`, `mode`, …) with code `invalid_value`, exit code 2, the
//! same JSON error shape. The typed value itself is never echoed back.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use gridwalk_core::{Code, GeoPoint, GridLevel, OrgUnit, Store, ValidationError};

use crate::error::CliError;

/// Parses one value of a core enumeration; `field` names it in the error.
pub fn enum_value<T: FromStr>(field: &str, s: &str) -> Result<T, ValidationError> {
    s.parse::<T>()
        .map_err(|_| ValidationError::new(field, Code::InvalidValue))
}

/// Parses an optional enumeration value.
pub fn opt_enum<T: FromStr>(field: &str, s: Option<&str>) -> Result<Option<T>, ValidationError> {
    s.map(|s| enum_value(field, s)).transpose()
}

/// Splits a list typed as `a,b`, `a，b` or `a、b` (Chinese input methods give the latter two).
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// A list of enumeration values.
pub fn enum_list<T: FromStr>(field: &str, s: &str) -> Result<Vec<T>, ValidationError> {
    split_list(s).iter().map(|p| enum_value(field, p)).collect()
}

/// A calendar day: `YYYY-MM-DD` (also `YYYY/MM/DD`, as desks type it).
pub fn date(field: &str, s: &str) -> Result<NaiveDate, ValidationError> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y/%m/%d"))
        .map_err(|_| ValidationError::new(field, Code::InvalidDate))
}

/// An instant: RFC 3339 (`2025-03-15T09:30:00+08:00`), or a local time `YYYY-MM-DD HH:MM[:SS]`
/// in the worker's time zone.
pub fn instant(
    field: &str,
    s: &str,
    offset: FixedOffset,
) -> Result<DateTime<Utc>, ValidationError> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            if let Some(local) = offset.from_local_datetime(&n).single() {
                return Ok(local.with_timezone(&Utc));
            }
        }
    }
    Err(ValidationError::new(field, Code::InvalidFormat))
}

/// A point from `--lat` / `--lng`: both or neither.
pub fn point(
    prefix: &str,
    lat: Option<f64>,
    lng: Option<f64>,
) -> Result<Option<GeoPoint>, ValidationError> {
    match (lat, lng) {
        (Some(lat), Some(lng)) => Ok(Some(GeoPoint { lat, lng })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ValidationError::new(
            format!("{prefix}.lng"),
            Code::Required,
        )),
        (None, Some(_)) => Err(ValidationError::new(
            format!("{prefix}.lat"),
            Code::Required,
        )),
    }
}

/// The grid a command works in: the one given, or the worker's only grid.
pub fn grid(store: &Store, given: Option<String>) -> Result<String, CliError> {
    if let Some(g) = given {
        return Ok(g.trim().to_string());
    }
    let mine = store.my_grids()?;
    match mine.as_slice() {
        [only] => Ok(only.code.clone()),
        [] => Err(ValidationError::new("grid_code", Code::Required).into()),
        _ => Err(CliError::state(
            "本机有多个本人网格，请用 --grid 指定",
            "several grids are yours; choose one with --grid",
        )),
    }
}

/// The name of the community a grid belongs to (the default `--community` of an address).
pub fn community_of(units: &[OrgUnit], grid_code: &str) -> Option<String> {
    let grid = units.iter().find(|u| u.code == grid_code)?;
    let parent = grid.parent_code.as_deref()?;
    units
        .iter()
        .find(|u| u.code == parent && u.level == GridLevel::Community)
        .map(|u| u.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwalk_core::{CareTier, SpecialGroup, VisitMode};

    #[test]
    fn enums_accept_codes_and_labels() {
        assert_eq!(
            enum_value::<CareTier>("care_tier", "连心户").unwrap(),
            CareTier::Close
        );
        assert_eq!(
            enum_value::<VisitMode>("mode", "not_at_home").unwrap(),
            VisitMode::NotAtHome
        );
        let e = enum_value::<CareTier>("care_tier", "vip").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("care_tier", Code::InvalidValue)
        );
        assert_eq!(
            enum_list::<SpecialGroup>("special_groups", "独居老人，disabled").unwrap(),
            vec![SpecialGroup::ElderlyAlone, SpecialGroup::Disabled]
        );
    }

    #[test]
    fn times_and_points() {
        let cn = FixedOffset::east_opt(8 * 3600).unwrap();
        let a = instant("at", "2025-03-15 09:30", cn).unwrap();
        let b = instant("at", "2025-03-15T01:30:00Z", cn).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            instant("at", "yesterday", cn).unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!(
            date("on", "2025/3/5").unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 5).unwrap()
        );
        assert_eq!(
            point("location", Some(1.0), None).unwrap_err().field,
            "location.lng"
        );
        assert_eq!(point("location", None, None).unwrap(), None);
    }
}
