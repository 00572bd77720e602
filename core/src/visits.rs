//! Visits and follow-ups (走访/回访): append-only records of contact with a household.
//!
//! A visit is never edited after the fact (it is evidence of work done, 痕迹管理); a mistaken
//! one is corrected by a later visit's notes. "Not at home" is recorded too: it does not count
//! as contact, so the household stays on today's list for a second try the same day.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::store::{from_ms, ms, Store, Tx};
use crate::{due, validate};

const SELECT: &str = "SELECT id, household_id, visited_at, mode, outcome, notes, created_at,
    sync_state FROM visits";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Visit> {
    Ok(Visit {
        id: r.get(0)?,
        household_id: r.get(1)?,
        visited_at: from_ms(r.get(2)?),
        mode: r.get(3)?,
        outcome: r.get(4)?,
        notes: r.get(5)?,
        created_at: from_ms(r.get(6)?),
        sync_status: r.get(7)?,
    })
}

/// Logs a visit inside `ctx`.
pub fn insert(ctx: &mut Tx<'_>, input: &VisitInput) -> Result<Visit> {
    // What the household's due days depend on (read once, with the reference check).
    let household: Option<(RecordStatus, CareTier, i64)> = ctx
        .tx
        .prepare_cached("SELECT status, care_tier, created_at FROM households WHERE id = ?1")?
        .query_row([&input.household_id], |r| {
            Ok((r.get("status")?, r.get("care_tier")?, r.get("created_at")?))
        })
        .optional()?;
    let Some((status, tier, registered)) = household else {
        return Err(Error::invalid("household_id", Code::UnknownReference));
    };
    validate::not_future("visited_at", input.visited_at, ctx.now)?;
    if input.mode == VisitMode::NotAtHome && input.outcome != VisitOutcome::NoContact {
        return Err(Error::invalid("outcome", Code::Mismatch));
    }
    let notes = validate::optional_text(input.notes.as_deref());
    if let Some(n) = &notes {
        validate::max_chars("notes", n, 2000)?;
    }
    let hlc = ctx.tick();
    let v = Visit {
        id: new_id(),
        household_id: input.household_id.clone(),
        visited_at: input.visited_at,
        mode: input.mode,
        outcome: input.outcome,
        notes,
        created_at: ctx.now,
        sync_status: SyncStatus::LocalOnly,
    };
    ctx.tx
        .prepare_cached(
            "INSERT INTO visits (id, household_id, visited_at, mode, outcome, notes, created_at, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            v.id,
            v.household_id,
            ms(v.visited_at),
            v.mode,
            v.outcome,
            v.notes,
            ms(v.created_at),
            hlc
        ])?;
    note_contact(ctx.tx, &v.household_id, v.mode, ms(v.visited_at))?;
    if v.mode != VisitMode::NotAtHome {
        due::contact_logged(
            ctx.tx,
            &ctx.settings,
            &v.household_id,
            status,
            tier,
            registered,
        )?;
    }
    let payload = json!({
        "household_id": v.household_id, "visited_at": ms(v.visited_at), "mode": v.mode.as_str(),
        "outcome": v.outcome.as_str(), "notes": v.notes,
    });
    changes::record(ctx, entity::VISIT, &v.id, op::CREATE, &payload, &hlc)?;
    Ok(v)
}

/// Keeps `visit_summary` (latest contact per household and mode) current.
pub(crate) fn note_contact(
    conn: &Connection,
    household_id: &str,
    mode: VisitMode,
    at_ms: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO visit_summary (household_id, mode, last_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (household_id, mode) DO UPDATE SET last_at = max(last_at, excluded.last_at)",
    )?
    .execute(params![household_id, mode, at_ms])?;
    Ok(())
}

/// Rebuilds `visit_summary` from the visit history (schema upgrades, repair).
pub fn rebuild_summary(tx: &rusqlite::Transaction) -> Result<()> {
    tx.execute("DELETE FROM visit_summary", [])?;
    tx.execute(
        "INSERT INTO visit_summary (household_id, mode, last_at)
         SELECT household_id, mode, max(visited_at) FROM visits GROUP BY household_id, mode",
        [],
    )?;
    Ok(())
}

pub(crate) fn list_for(conn: &Connection, household_id: &str) -> Result<Vec<Visit>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE household_id = ?1 ORDER BY visited_at DESC"
    ))?;
    let rows = stmt.query_map([household_id], map_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

impl Store {
    /// Logs a visit to a household.
    pub fn log_visit(&self, input: &VisitInput) -> Result<Visit> {
        self.write(|ctx| insert(ctx, input))
    }

    /// Visits of a household, newest first.
    pub fn visits_of(&self, household_id: &str) -> Result<Vec<Visit>> {
        self.read(|c| list_for(c, household_id))
    }
}
