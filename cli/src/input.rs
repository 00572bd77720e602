//! Turning what was typed on the command line into the core's typed values.
//!
//! Enumerations are parsed here rather than by clap, with the core's own `FromStr` (code,
//! Chinese label or English label: `连心户`, `close` and `close care` are the same tier), so a
//! wrong value is refused exactly like a wrong value in the app's form: a [`ValidationError`]
//! naming the core's field (`care_tier`, `mode`, …) with code `invalid_value`, exit code 2, the
//! same JSON error shape. The typed value itself is never echoed back.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use gridwalk_core::synonyms::{self, Vocabulary};
use gridwalk_core::{Code, GeoPoint, GridLevel, OrgUnit, Store, ValidationError};

use crate::error::CliError;

/// Parses one value of a vocabulary exactly as the ledger import does (code, Chinese or English
/// label, desk word such as 母亲 or 微信). A refused value lists the allowed ones.
pub fn vocab<T: Vocabulary>(field: &str, s: &str) -> Result<T, CliError> {
    synonyms::parse_with_synonyms::<T>(field, s).map_err(|v| CliError::Invalid {
        v,
        allowed_zh: synonyms::allowed_zh::<T>(),
        allowed_en: synonyms::allowed_codes::<T>(),
    })
}

/// Parses an optional vocabulary value.
pub fn opt_vocab<T: Vocabulary>(field: &str, s: Option<&str>) -> Result<Option<T>, CliError> {
    s.map(|s| vocab(field, s)).transpose()
}

/// A list of vocabulary values (`a,b`, `a，b` or `a、b`).
pub fn vocab_list<T: Vocabulary>(field: &str, s: &str) -> Result<Vec<T>, CliError> {
    split_list(s).iter().map(|p| vocab(field, p)).collect()
}

/// The help text of a vocabulary argument, generated from the vocabulary itself so help and
/// validation cannot disagree: `<zh>：<labels> 或 <codes> / <en>`.
pub fn help<T: Vocabulary>(zh: &str, en: &str) -> String {
    let labels = T::all().iter().map(|v| v.zh()).collect::<Vec<_>>();
    format!(
        "{zh}：{} 或 {} / {en}",
        labels.join("/"),
        synonyms::allowed_codes::<T>()
    )
}

/// Parses one value of a core enumeration; `field` names it in the error.
pub fn enum_value<T: FromStr>(field: &str, s: &str) -> Result<T, ValidationError> {
    s.parse::<T>()
        .map_err(|_| ValidationError::new(field, Code::InvalidValue))
}

/// Splits a list typed as `a,b`, `a，b` or `a、b` (Chinese input methods give the latter two).
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
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
    use gridwalk_core::{CareTier, Relation, SpecialGroup, VisitMode};

    #[test]
    fn enums_accept_codes_labels_and_desk_words() {
        assert_eq!(
            vocab::<CareTier>("care_tier", "连心户").unwrap(),
            CareTier::Close
        );
        assert_eq!(
            vocab::<VisitMode>("mode", "not_at_home").unwrap(),
            VisitMode::NotAtHome
        );
        assert_eq!(
            vocab::<VisitMode>("mode", "微信").unwrap(),
            VisitMode::Messaging
        );
        assert_eq!(
            vocab::<Relation>("relation", "母亲").unwrap(),
            Relation::Parent
        );
        let e = vocab::<CareTier>("care_tier", "vip").unwrap_err();
        let v = e.validation().unwrap();
        assert_eq!(
            (v.field.as_str(), v.code),
            ("care_tier", Code::InvalidValue)
        );
        assert!(e.message().contains("放心户、关心户、连心户"));
        assert!(e.message().contains("routine/attention/close"));
        assert_eq!(
            vocab_list::<SpecialGroup>("special_groups", "独居老人，disabled").unwrap(),
            vec![SpecialGroup::ElderlyAlone, SpecialGroup::Disabled]
        );
        assert!(help::<VisitMode>("方式", "mode").contains("微信/短信"));
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
