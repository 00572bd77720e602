//! Visit due days kept ahead of time (table `visit_due`, schema version 6).
//!
//! Why: the daily list must open in tens of milliseconds at 10,000 households on a loaded cheap
//! phone. Working out every household's due day each time the list opens reads every active
//! household and every latest contact; most of them are not due. Instead each active household
//! keeps one row per visit rule of its care tier, holding the local day from which it is due
//! under that rule, and the list reads the rows with `due_on <= today` from an index
//! (`visit_due_day`): its cost follows the households that are due, not the grid's size.
//!
//! The day is still [`gridwalk_domain::policy::due_day`] — the function the server's supervisor
//! warnings call — applied to what it depends on: the household's status, care tier and
//! registration instant, its latest contact per mode (`visit_summary`), the visit policy and the
//! worker's UTC offset (a local day). The rows are rewritten in the same transaction as every
//! write that changes one of those:
//!
//! | write | here |
//! |---|---|
//! | a new household (typed, imported) | [`household_added`] |
//! | a household's status or care tier (edit, conflict resolution, undone import) | [`refresh`] |
//! | a visit logged | [`contact_logged`] |
//! | a pulled page (households, visits) | [`refresh_many`] for the households the page touched |
//! | the visit policy, the UTC offset | [`rebuild_all`] |
//!
//! The offset the rows were computed with is kept in `meta` (`visit_due_offset`): should the
//! settings ever change without [`rebuild_all`], the list notices and computes instead of
//! trusting stale days (`tasks.rs`). Inactive (moved-out, archived) households have no rows.
//! `tests/due.rs` checks the list read from these rows against the one computed over every
//! household, across policies and after edits.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::model::{CareTier, RecordStatus, VisitMode};
use crate::store::{date_str, from_ms, get_meta, read_settings, set_meta, Settings};
use crate::tasks::{read_policy, VisitPolicy, VisitRule};
use gridwalk_domain::policy::due_day;

/// `meta` key of the UTC offset (minutes) the stored due days were computed with.
pub(crate) const OFFSET_KEY: &str = "visit_due_offset";

/// One rule of a household's tier with its due day; `.0` is the rule's place in the policy.
pub(crate) type RuleDue<'p> = (usize, &'p VisitRule, NaiveDate);

/// The due day under each rule of `tier`, in the policy's order, for a household registered at
/// `created_ms` whose latest contacts per mode are `contacts` (mode, ms).
pub(crate) fn due_days<'p>(
    policy: &'p VisitPolicy,
    settings: &Settings,
    tier: CareTier,
    created_ms: i64,
    contacts: &[(VisitMode, i64)],
) -> Vec<RuleDue<'p>> {
    let registered = settings.local_date(from_ms(created_ms));
    policy
        .rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule.care_tier == tier)
        .map(|(i, rule)| {
            let last = rule
                .last_contact(contacts)
                .map(|t| settings.local_date(from_ms(t)));
            (i, rule, due_day(rule, last, registered))
        })
        .collect()
}

/// The due days of one household's rules written as its rows (a changed day replaces the old).
fn write_rows(conn: &Connection, id: &str, days: &[RuleDue<'_>]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO visit_due (household_id, rule, due_on) VALUES (?1, ?2, ?3)
         ON CONFLICT (household_id, rule) DO UPDATE SET due_on = excluded.due_on
         WHERE due_on != excluded.due_on",
    )?;
    for (_, rule, day) in days {
        stmt.execute(params![id, rule.rule, date_str(*day)])?;
    }
    Ok(())
}

/// Latest contact per mode of one household (a few rows of `visit_summary`).
fn contacts_of(conn: &Connection, id: &str) -> Result<Vec<(VisitMode, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT mode, last_at FROM visit_summary WHERE household_id = ?1 AND mode != 'not_at_home'",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get("mode")?, r.get("last_at")?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A household just registered: due from its registration day under every rule of its tier
/// (it has no contact yet). Nothing is read but the tier's rules.
pub(crate) fn household_added(
    conn: &Connection,
    settings: &Settings,
    id: &str,
    tier: CareTier,
    created_ms: i64,
) -> Result<()> {
    let policy = read_policy(conn)?;
    write_rows(
        conn,
        id,
        &due_days(&policy, settings, tier, created_ms, &[]),
    )
}

/// A visit to an active household of `tier` registered at `created_ms` was logged (after its
/// `visit_summary` row was written): the rules of the tier get their days again. A visit to an
/// inactive household changes nothing (it has no rows).
pub(crate) fn contact_logged(
    conn: &Connection,
    settings: &Settings,
    id: &str,
    status: RecordStatus,
    tier: CareTier,
    created_ms: i64,
) -> Result<()> {
    if status != RecordStatus::Active {
        return Ok(());
    }
    let policy = read_policy(conn)?;
    let contacts = contacts_of(conn, id)?;
    write_rows(
        conn,
        id,
        &due_days(&policy, settings, tier, created_ms, &contacts),
    )
}

/// Rewrites the rows of one household from what is stored now: after its status or care tier
/// changed, after an undone import removed or restored it. A household that is gone or
/// inactive ends with no rows.
pub(crate) fn refresh(conn: &Connection, settings: &Settings, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM visit_due WHERE household_id = ?1")?
        .execute([id])?;
    let facts: Option<(RecordStatus, CareTier, i64)> = conn
        .prepare_cached("SELECT status, care_tier, created_at FROM households WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((r.get("status")?, r.get("care_tier")?, r.get("created_at")?))
        })
        .optional()?;
    match facts {
        Some((status, tier, created)) => contact_logged(conn, settings, id, status, tier, created),
        None => Ok(()),
    }
}

/// [`refresh`] for many households at once (a pulled page): their old rows go in one
/// statement and what the days depend on is read in one, instead of three per household.
pub(crate) fn refresh_many(conn: &Connection, settings: &Settings, ids: &[&str]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let policy = read_policy(conn)?;
    let list = serde_json::to_string(ids)?;
    conn.prepare_cached(
        "DELETE FROM visit_due WHERE household_id IN (SELECT value FROM json_each(?1))",
    )?
    .execute([&list])?;
    let mut stmt = conn.prepare_cached(
        "SELECT h.id, h.care_tier, h.created_at, s.mode, s.last_at
         FROM households h
         LEFT JOIN visit_summary s ON s.household_id = h.id AND s.mode != 'not_at_home'
         WHERE h.id IN (SELECT value FROM json_each(?1)) AND h.status = 'active'
         ORDER BY h.id",
    )?;
    let mut rows = stmt.query([&list])?;
    // One household's rows are consecutive: (id, tier, registered, contacts so far).
    type Open = (String, CareTier, i64, Vec<(VisitMode, i64)>);
    let mut open: Option<Open> = None;
    let close = |o: Option<Open>| -> Result<()> {
        if let Some((id, tier, created, contacts)) = o {
            write_rows(
                conn,
                &id,
                &due_days(&policy, settings, tier, created, &contacts),
            )?;
        }
        Ok(())
    };
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let contact: Option<(VisitMode, i64)> = match r.get::<_, Option<VisitMode>>(3)? {
            Some(mode) => Some((mode, r.get(4)?)),
            None => None,
        };
        match &mut open {
            Some((open_id, _, _, contacts)) if *open_id == id => contacts.extend(contact),
            _ => {
                close(open.take())?;
                open = Some((id, r.get(1)?, r.get(2)?, contact.into_iter().collect()));
            }
        }
    }
    close(open.take())
}

/// Calls `f` with every active household (the columns `columns` of `households`, the first
/// being `id`, in id order) and its latest contact per mode: one ordered pass over the
/// households merged with the visit summary in its key order, no lookups.
pub(crate) fn for_each_active(
    conn: &Connection,
    columns: &str,
    mut f: impl FnMut(&rusqlite::Row<'_>, &str, &[(VisitMode, i64)]) -> Result<()>,
) -> Result<()> {
    let mut summary = conn.prepare_cached(
        "SELECT household_id, mode, last_at FROM visit_summary
         WHERE mode != 'not_at_home' ORDER BY household_id",
    )?;
    let mut contacts = summary.query([])?;
    // The summary row read ahead of the household being looked at; its household id is copied
    // into one reused buffer (tens of thousands of rows, no allocation each).
    let mut ahead_id = String::new();
    let mut read_ahead = |ahead_id: &mut String| -> Result<Option<(VisitMode, i64)>> {
        Ok(match contacts.next()? {
            Some(c) => {
                ahead_id.clear();
                ahead_id.push_str(c.get_ref(0)?.as_str().unwrap_or_default());
                Some((c.get(1)?, c.get(2)?))
            }
            None => None,
        })
    };
    let mut ahead = read_ahead(&mut ahead_id)?;
    let mut mine: Vec<(VisitMode, i64)> = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns} FROM households WHERE status = 'active' ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = r.get_ref(0)?.as_str().unwrap_or_default();
        // Skip summary rows of households not listed (inactive), collect this one's.
        mine.clear();
        while let Some((mode, at)) = ahead {
            match ahead_id.as_str().cmp(id) {
                std::cmp::Ordering::Greater => break,
                std::cmp::Ordering::Equal => mine.push((mode, at)),
                std::cmp::Ordering::Less => {}
            }
            ahead = read_ahead(&mut ahead_id)?;
        }
        f(r, id, &mine)?;
    }
    Ok(())
}

/// Recomputes every row (the policy or the UTC offset changed; schema upgrade 6).
pub(crate) fn rebuild_all(conn: &Connection) -> Result<()> {
    let settings = read_settings(conn)?;
    let policy = read_policy(conn)?;
    conn.execute("DELETE FROM visit_due", [])?;
    let mut rows: Vec<(String, String, NaiveDate)> = Vec::new();
    for_each_active(conn, "id, care_tier, created_at", |h, id, contacts| {
        for (_, rule, day) in due_days(&policy, &settings, h.get(1)?, h.get(2)?, contacts) {
            rows.push((id.to_owned(), rule.rule.clone(), day));
        }
        Ok(())
    })?;
    let mut insert = conn
        .prepare_cached("INSERT INTO visit_due (household_id, rule, due_on) VALUES (?1, ?2, ?3)")?;
    for (id, rule, day) in &rows {
        insert.execute(params![id, rule, date_str(*day)])?;
    }
    set_meta(conn, OFFSET_KEY, &settings.utc_offset_minutes.to_string())?;
    Ok(())
}

/// Whether the stored rows were computed with the offset of `settings` (see the module docs).
pub(crate) fn rows_current(conn: &Connection, settings: &Settings) -> Result<bool> {
    Ok(get_meta(conn, OFFSET_KEY)?.as_deref()
        == Some(settings.utc_offset_minutes.to_string().as_str()))
}
