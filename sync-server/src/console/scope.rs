//! Which grids a console request covers: the caller's grids, narrowed to one unit (a grid,
//! community or street) when asked. A unit outside the caller's scope narrows to nothing, so
//! "not yours" and "does not exist" give the same empty answer.

use super::data_store::UnitRow;
use crate::storage::Principal;

/// The caller's grids under `unit` (all of them without one), sorted.
pub fn grids_under(who: &Principal, units: &[UnitRow], unit: Option<&str>) -> Vec<String> {
    let Some(unit) = unit.map(str::trim).filter(|u| !u.is_empty()) else {
        return who.grids.clone();
    };
    let parent_of = |code: &str| {
        units
            .iter()
            .find(|u| u.code == code)
            .and_then(|u| u.parent_code.clone())
    };
    who.grids
        .iter()
        .filter(|g| {
            // Walk up from the grid; the tree is shallow (grid → community → street → district).
            let mut at = Some((*g).clone());
            for _ in 0..16 {
                match at {
                    Some(code) if code == unit => return true,
                    Some(code) => at = parent_of(&code),
                    None => return false,
                }
            }
            false
        })
        .cloned()
        .collect()
}

/// Name of a unit, or its code when unknown.
pub fn unit_name(units: &[UnitRow], code: &str) -> String {
    units
        .iter()
        .find(|u| u.code == code)
        .map_or_else(|| code.to_string(), |u| u.name.clone())
}

/// The ancestor of `grid` at `level` (`community`, `street`), if any.
pub fn ancestor_at(units: &[UnitRow], grid: &str, level: &str) -> Option<String> {
    let mut at = units.iter().find(|u| u.code == grid);
    for _ in 0..16 {
        let u = at?;
        if u.level == level {
            return Some(u.code.clone());
        }
        at = u
            .parent_code
            .as_deref()
            .and_then(|p| units.iter().find(|x| x.code == p));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwalk_protocol::Role;

    fn unit(code: &str, level: &str, parent: Option<&str>) -> UnitRow {
        UnitRow {
            code: code.into(),
            name: format!("{code}名"),
            level: level.into(),
            parent_code: parent.map(Into::into),
            boundary: None,
        }
    }

    #[test]
    fn narrowing_stays_inside_the_scope() {
        let units = vec![
            unit("s1", "street", None),
            unit("c1", "community", Some("s1")),
            unit("c2", "community", Some("s1")),
            unit("g1", "grid", Some("c1")),
            unit("g2", "grid", Some("c2")),
        ];
        let who = Principal {
            user_id: "u".into(),
            role: Role::Community,
            org_code: "c1".into(),
            grids: vec!["g1".into()],
            device_id: "d".into(),
            session_id: "s".into(),
        };
        assert_eq!(grids_under(&who, &units, None), vec!["g1"]);
        assert_eq!(grids_under(&who, &units, Some("s1")), vec!["g1"]);
        assert_eq!(grids_under(&who, &units, Some("c1")), vec!["g1"]);
        assert!(grids_under(&who, &units, Some("c2")).is_empty());
        assert!(grids_under(&who, &units, Some("g2")).is_empty());
        assert!(grids_under(&who, &units, Some("nope")).is_empty());
        assert_eq!(ancestor_at(&units, "g2", "street").as_deref(), Some("s1"));
        assert_eq!(
            ancestor_at(&units, "g2", "community").as_deref(),
            Some("c2")
        );
    }
}
