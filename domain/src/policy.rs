//! Care rules the phone and the server must apply the same way: how often each care tier is
//! visited ([`VisitPolicy`]), when a household's next visit falls due ([`due_day`]), and which
//! patrols count toward the daily quota (一日双巡, [`PatrolRules`]).
//!
//! The phone's daily list (`gridwalk-core`'s `tasks.rs`) lists a household as due from the day
//! [`due_day`] returns; the server's supervisor warnings (the console's `warnings.rs`) raise a
//! yellow or red warning from the very same day. Both call these functions, so a household
//! cannot be "due" on one side and "fine" on the other.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Code, ValidationError};
use crate::model::{CareTier, VisitMode};
use crate::validate;

/// One visit-frequency rule of a care tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRule {
    pub care_tier: CareTier,
    /// Short name of the rule, unique within the tier (e.g. `contact`, `home`).
    pub rule: String,
    /// Visit modes that satisfy the rule.
    pub modes: Vec<VisitMode>,
    pub interval_days: u32,
}

/// A complete visit policy: every rule of every tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitPolicy {
    pub rules: Vec<VisitRule>,
}

fn rule(tier: CareTier, name: &str, modes: &[VisitMode], days: u32) -> VisitRule {
    VisitRule {
        care_tier: tier,
        rule: name.into(),
        modes: modes.to_vec(),
        interval_days: days,
    }
}

/// Any real contact: in person, by phone or by message (a "not at home" is no contact).
pub const CONTACT: &[VisitMode] = &[VisitMode::InPerson, VisitMode::Phone, VisitMode::Messaging];
/// A home visit.
pub const HOME: &[VisitMode] = &[VisitMode::InPerson];

impl VisitPolicy {
    /// Close care weekly, attention every 15 days, routine every 30 days (any real contact).
    pub fn standard() -> VisitPolicy {
        VisitPolicy {
            rules: vec![
                rule(CareTier::Close, "contact", CONTACT, 7),
                rule(CareTier::Attention, "contact", CONTACT, 15),
                rule(CareTier::Routine, "contact", CONTACT, 30),
            ],
        }
    }

    /// 盐池: a phone or messaging follow-up at least every half month and a home visit at least
    /// monthly for the households under care; close care keeps its weekly contact.
    pub fn yanchi() -> VisitPolicy {
        VisitPolicy {
            rules: vec![
                rule(CareTier::Close, "contact", CONTACT, 7),
                rule(CareTier::Close, "home", HOME, 30),
                rule(CareTier::Attention, "contact", CONTACT, 15),
                rule(CareTier::Attention, "home", HOME, 30),
                rule(CareTier::Routine, "contact", CONTACT, 30),
            ],
        }
    }

    /// Every rule named, with real-contact modes only, an interval of 1–366 days, and no two
    /// rules of one tier with the same name. The field path names the rule (`rules[2].modes`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (i, r) in self.rules.iter().enumerate() {
            let f = |name: &str| format!("rules[{i}].{name}");
            validate::required(&f("rule"), &r.rule)?;
            if r.modes.is_empty() || r.modes.contains(&VisitMode::NotAtHome) {
                return Err(ValidationError::new(f("modes"), Code::InvalidValue));
            }
            if !(1..=366).contains(&r.interval_days) {
                return Err(ValidationError::new(f("interval_days"), Code::OutOfRange));
            }
            let dup = self.rules[..i]
                .iter()
                .any(|o| o.care_tier == r.care_tier && o.rule == r.rule.trim());
            if dup {
                return Err(ValidationError::new(f("rule"), Code::Duplicate));
            }
        }
        Ok(())
    }

    /// The rules of one tier.
    pub fn rules_of(&self, tier: CareTier) -> impl Iterator<Item = &VisitRule> {
        self.rules.iter().filter(move |r| r.care_tier == tier)
    }
}

impl VisitRule {
    /// Whether this rule is a home visit (only in-person contact satisfies it).
    pub fn is_home_visit(&self) -> bool {
        self.modes == HOME
    }

    /// The latest contact (ms) among `contacts` (mode, ms) that satisfies this rule.
    pub fn last_contact(&self, contacts: &[(VisitMode, i64)]) -> Option<i64> {
        contacts
            .iter()
            .filter(|(m, _)| self.modes.contains(m))
            .map(|(_, t)| *t)
            .max()
    }
}

/// The local day from which a household is due under `rule`: `interval_days` after the local
/// day of its last satisfying contact, or — never contacted — the day it was registered.
pub fn due_day(
    rule: &VisitRule,
    last_contact_day: Option<NaiveDate>,
    registered_day: NaiveDate,
) -> NaiveDate {
    match last_contact_day {
        Some(d) => d + Duration::days(i64::from(rule.interval_days)),
        None => registered_day,
    }
}

/// Which patrols count toward the daily quota and the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolRules {
    /// Patrols a day (一日双巡: 2).
    pub quota: u32,
    /// A shorter patrol does not count (minutes).
    pub min_minutes: u32,
    /// A patrol covering less along its filtered track does not count (metres).
    pub min_distance_m: u32,
}

impl Default for PatrolRules {
    fn default() -> Self {
        PatrolRules {
            quota: 2,
            min_minutes: 5,
            min_distance_m: 100,
        }
    }
}

impl PatrolRules {
    /// Whether a finished patrol of this duration and distance counts.
    pub fn counts(&self, duration_s: i64, distance_m: f64) -> bool {
        duration_s >= i64::from(self.min_minutes) * 60
            && distance_m >= f64::from(self.min_distance_m)
    }
}

/// Length of a work-statistics period (工作统计): the phone's statistics and the console's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Day,
    Week,
    Month,
}

impl std::str::FromStr for Period {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim() {
            "day" | "日" | "今日" => Ok(Period::Day),
            "week" | "周" | "本周" => Ok(Period::Week),
            "month" | "月" | "本月" => Ok(Period::Month),
            _ => Err(()),
        }
    }
}

/// The first and last local day of the period containing `day` (weeks start on Monday).
pub fn period_bounds(period: Period, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match period {
        Period::Day => (day, day),
        Period::Week => {
            let start = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (start, start + Duration::days(6))
        }
        Period::Month => {
            let start = day.with_day(1).unwrap_or(day);
            let next = if start.month() == 12 {
                NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
            };
            (start, next.map(|n| n - Duration::days(1)).unwrap_or(start))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_days_follow_the_last_satisfying_contact() {
        let p = VisitPolicy::yanchi();
        let home = p
            .rules_of(CareTier::Close)
            .find(|r| r.rule == "home")
            .unwrap();
        let contact = p
            .rules_of(CareTier::Close)
            .find(|r| r.rule == "contact")
            .unwrap();
        let calls = [(VisitMode::Phone, 1_000), (VisitMode::InPerson, 500)];
        assert_eq!(home.last_contact(&calls), Some(500));
        assert_eq!(contact.last_contact(&calls), Some(1_000));
        assert_eq!(home.last_contact(&[(VisitMode::NotAtHome, 9)]), None);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            due_day(contact, Some(d("2024-03-01")), d("2020-01-01")),
            d("2024-03-08")
        );
        assert_eq!(due_day(contact, None, d("2020-01-01")), d("2020-01-01"));
        assert!(home.is_home_visit() && !contact.is_home_visit());
    }

    #[test]
    fn policies_validate() {
        assert!(VisitPolicy::standard().validate().is_ok());
        let mut p = VisitPolicy::yanchi();
        p.rules[1].rule = "contact".into();
        assert_eq!(p.validate().unwrap_err().field, "rules[1].rule");
        let mut p = VisitPolicy::standard();
        p.rules[0].interval_days = 0;
        assert_eq!(p.validate().unwrap_err().code, Code::OutOfRange);
        let mut p = VisitPolicy::standard();
        p.rules[2].modes = vec![VisitMode::NotAtHome];
        assert_eq!(p.validate().unwrap_err().code, Code::InvalidValue);
    }

    #[test]
    fn short_patrols_do_not_count() {
        let r = PatrolRules::default();
        assert!(r.counts(300, 100.0));
        assert!(!r.counts(299, 5_000.0));
        assert!(!r.counts(3_600, 99.0));
    }
}
