//! The rules warnings are raised by (预警规则): stored in the database as one JSON document a
//! district edits (`console_settings`, key `warning_rules`), validated before it is saved.
//!
//! The visit policy and the patrol rules are `gridwalk-domain`'s types, so the rules a district
//! sets here mean exactly what the phone's daily list means by them (a household is "due" from
//! the same day on both sides).

use gridwalk_domain::model::CareTier;
use gridwalk_domain::policy::{PatrolRules, VisitPolicy};
use gridwalk_domain::{Code, ValidationError};
use gridwalk_protocol::Role;
use serde::{Deserialize, Serialize};

use super::data_store::ConsoleData;
use crate::error::Result;

/// Key of the rules in `console_settings`.
pub const KEY: &str = "warning_rules";

/// Everything that decides which warnings are raised and how red they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarningRules {
    /// How often each care tier is contacted (the phone's visit policy).
    pub visit_policy: VisitPolicy,
    /// Care tiers whose overdue visits raise warnings (close care by default).
    pub visit_tiers: Vec<CareTier>,
    /// Days past due after which an overdue visit turns red; none = the rule's own interval
    /// (the day the phone raises the item's priority).
    pub red_after_days: Option<u32>,
    /// Patrols a day and which patrols count (一日双巡).
    pub patrol: PatrolRules,
    /// Local hour (China time) after which today's missing patrols are a yellow warning;
    /// yesterday's are red.
    pub patrol_check_hour: u32,
    /// Case categories whose open cases are red until closed (公共安全 by default).
    pub hazard_categories: Vec<String>,
    /// A reported case not accepted within this many hours is yellow (海淀: sign within 24 h).
    pub unaccepted_hours: u32,
    /// Cases past their deadline are red.
    pub overdue_cases: bool,
    /// Households located outside their grid's boundary are yellow.
    pub outside_grid: bool,
}

impl Default for WarningRules {
    fn default() -> Self {
        WarningRules {
            visit_policy: VisitPolicy::standard(),
            visit_tiers: vec![CareTier::Close],
            red_after_days: None,
            patrol: PatrolRules::default(),
            patrol_check_hour: 18,
            hazard_categories: vec!["02".into()],
            unaccepted_hours: crate::cases::ACCEPT_HOURS as u32,
            overdue_cases: true,
            outside_grid: true,
        }
    }
}

impl WarningRules {
    /// Every value in range; the field path names what is wrong.
    pub fn validate(&self) -> std::result::Result<(), ValidationError> {
        self.visit_policy.validate().map_err(|e| ValidationError {
            field: format!("visit_policy.{}", e.field),
            ..e
        })?;
        if self.red_after_days.is_some_and(|d| !(1..=366).contains(&d)) {
            return Err(ValidationError::new("red_after_days", Code::OutOfRange));
        }
        if !(1..=10).contains(&self.patrol.quota) {
            return Err(ValidationError::new("patrol.quota", Code::OutOfRange));
        }
        if self.patrol.min_minutes > 240 {
            return Err(ValidationError::new("patrol.min_minutes", Code::OutOfRange));
        }
        if self.patrol.min_distance_m > 10_000 {
            return Err(ValidationError::new(
                "patrol.min_distance_m",
                Code::OutOfRange,
            ));
        }
        if self.patrol_check_hour > 23 {
            return Err(ValidationError::new("patrol_check_hour", Code::OutOfRange));
        }
        for (i, c) in self.hazard_categories.iter().enumerate() {
            if !gridwalk_domain::taxonomy::CATEGORIES
                .iter()
                .any(|k| k.0 == c)
            {
                return Err(ValidationError::new(
                    format!("hazard_categories[{i}]"),
                    Code::InvalidValue,
                ));
            }
        }
        if !(1..=720).contains(&self.unaccepted_hours) {
            return Err(ValidationError::new("unaccepted_hours", Code::OutOfRange));
        }
        Ok(())
    }
}

/// The rules in force (the defaults until a district saves its own).
pub fn load(store: &dyn ConsoleData) -> Result<WarningRules> {
    Ok(match store.console_setting(KEY)? {
        Some(json) => serde_json::from_str(&json)?,
        None => WarningRules::default(),
    })
}

/// Who may change the rules: the district.
pub fn may_edit(role: Role) -> bool {
    role == Role::District
}

/// Saves new rules after validating them.
pub fn save(
    store: &dyn ConsoleData,
    rules: &WarningRules,
    by: &str,
    now_ms: i64,
) -> Result<std::result::Result<(), ValidationError>> {
    if let Err(e) = rules.validate() {
        return Ok(Err(e));
    }
    store.put_console_setting(KEY, &serde_json::to_string(rules)?, by, now_ms)?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_field() {
        assert!(WarningRules::default().validate().is_ok());
        let mut r = WarningRules::default();
        r.hazard_categories.push("99".into());
        assert_eq!(r.validate().unwrap_err().field, "hazard_categories[1]");
        let mut r = WarningRules::default();
        r.visit_policy.rules[0].interval_days = 0;
        assert_eq!(
            r.validate().unwrap_err().field,
            "visit_policy.rules[0].interval_days"
        );
        let mut r = WarningRules::default();
        r.patrol.quota = 0;
        assert_eq!(r.validate().unwrap_err().field, "patrol.quota");
        // A partial document keeps the defaults for what it does not say.
        let r: WarningRules = serde_json::from_str(r#"{"unaccepted_hours": 12}"#).unwrap();
        assert_eq!(r.unaccepted_hours, 12);
        assert_eq!(r.patrol.quota, 2);
    }
}
