//! Short ids: what tables show and what a worker may type instead of a whole UUID.
//!
//! Ids are UUIDv7, whose first characters are a timestamp, so records made in the same minute
//! share their first 8 characters. A table therefore shows each id's shortest prefix (at least
//! [`MIN_SHOWN`] characters) that no other record of the same kind shares, and every command that
//! takes an id accepts any prefix of it: one match is that record, several are an error listing
//! them, none is "not found".

use gridwalk_core::{Error, Store};

use crate::error::CliError;

/// Fewest characters a table shows of an id.
pub const MIN_SHOWN: usize = 8;

/// The kinds of record a command line names by id.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Household,
    Resident,
    Case,
    Patrol,
    Task,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Household => "households",
            Kind::Resident => "residents",
            Kind::Case => "cases",
            Kind::Patrol => "patrols",
            Kind::Task => "tasks",
        }
    }

    fn entity(self) -> &'static str {
        match self {
            Kind::Household => "household",
            Kind::Resident => "resident",
            Kind::Case => "case",
            Kind::Patrol => "patrol",
            Kind::Task => "task",
        }
    }
}

/// The whole id of the one record of `kind` whose id starts with `given`.
pub fn resolve(store: &Store, kind: Kind, given: &str) -> Result<String, CliError> {
    let t = given.trim();
    let not_found = || -> CliError {
        Error::NotFound {
            entity: kind.entity(),
            id: t.to_string(),
        }
        .into()
    };
    if t.is_empty() {
        return Err(not_found());
    }
    let ids: Vec<String> = store.read(|c| {
        let mut stmt = c.prepare(&format!(
            "SELECT id FROM {} WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 11",
            kind.table()
        ))?;
        let rows = stmt.query_map([t], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })?;
    if ids.iter().any(|id| id == t) {
        return Ok(t.to_string());
    }
    match ids.as_slice() {
        [] => Err(not_found()),
        [one] => Ok(one.clone()),
        many => {
            let mut list = many.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
            if many.len() > 10 {
                list.push_str(", …");
            }
            Err(CliError::state(
                format!("编号 {t} 对应多条记录：{list}，请多输入几位"),
                format!("id {t} matches several records: {list}; type more characters"),
            ))
        }
    }
}

/// The shortest unambiguous prefixes of one kind's ids.
pub struct ShortIds {
    sorted: Vec<String>,
}

impl ShortIds {
    pub fn load(store: &Store, kind: Kind) -> Result<ShortIds, CliError> {
        let sorted = store.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT id FROM {} ORDER BY id", kind.table()))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        Ok(ShortIds { sorted })
    }

    /// `id`'s shortest prefix of at least [`MIN_SHOWN`] characters that no other id shares.
    pub fn short(&self, id: &str) -> String {
        let common = |other: &String| {
            id.bytes()
                .zip(other.bytes())
                .take_while(|(a, b)| a == b)
                .count()
        };
        let at = self.sorted.partition_point(|s| s.as_str() < id);
        let mut need = MIN_SHOWN;
        if at > 0 {
            need = need.max(common(&self.sorted[at - 1]) + 1);
        }
        for other in self.sorted[at..]
            .iter()
            .filter(|s| s.as_str() != id)
            .take(1)
        {
            need = need.max(common(other) + 1);
        }
        id.chars().take(need).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_unique_prefixes() {
        let ids = ShortIds {
            sorted: vec![
                "0192aaaa-1111".into(),
                "0192aaaa-1122".into(),
                "0192bbbb-0000".into(),
            ],
        };
        assert_eq!(ids.short("0192aaaa-1111"), "0192aaaa-111");
        assert_eq!(ids.short("0192aaaa-1122"), "0192aaaa-112");
        assert_eq!(ids.short("0192bbbb-0000"), "0192bbbb");
    }
}
