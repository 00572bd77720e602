//! Substring search over households and residents, Chinese included.
//!
//! Workers search by whatever fragment they remember: two characters of a name, the last four
//! digits of a phone, part of an ID number, "3栋". SQLite FTS5 with the trigram tokenizer indexes
//! every 3-character window, so a query of three or more characters is a phrase query answered
//! from the index. One- and two-character queries (most Chinese given names are two characters)
//! scan the compact `search_docs` table with `instr`, which stays in the low milliseconds.
//!
//! Each record's text lives once, lowercased, in `search_docs`; the FTS5 table is an external-
//! content index over it, updated by primary key, so keeping it current costs the same at 100
//! households as at 10,000.
//!
//! The index body is built by one SQL expression per kind (below), used both when a row changes
//! and when the index is rebuilt by a schema upgrade, so the two can never disagree.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};
use crate::store::{Store, Tx};

const HOUSEHOLD_BODY: &str = "SELECT 'household', id, lower(community || ' ' || building || ' '
    || coalesce(unit, '') || ' ' || coalesce(room, '') || ' ' || coalesce(address_text, '')
    || ' ' || tags) FROM households";

const RESIDENT_BODY: &str = "SELECT 'resident', id, lower(name || ' ' || coalesce(id_number, '')
    || ' ' || coalesce(phone, '')) FROM residents";

/// Brings the index row of one record up to date. Reads and writes by primary key only, so the
/// cost does not grow with the size of the index.
fn reindex(conn: &Connection, body_sql: &str, id: &str) -> Result<()> {
    let fresh: Option<(String, String)> = conn
        .prepare_cached(&format!("{body_sql} WHERE id = ?1"))?
        .query_row([id], |r| Ok((r.get(0)?, r.get(2)?)))
        .optional()?;
    let Some((kind, body)) = fresh else {
        return Ok(());
    };
    let old: Option<(i64, String)> = conn
        .prepare_cached("SELECT doc, body FROM search_docs WHERE ref_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match old {
        Some((_, old_body)) if old_body == body => {}
        Some((doc, old_body)) => {
            conn.prepare_cached(
                "INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?1, ?2)",
            )?
            .execute(params![doc, old_body])?;
            conn.prepare_cached("UPDATE search_docs SET body = ?2 WHERE doc = ?1")?
                .execute(params![doc, body])?;
            conn.prepare_cached("INSERT INTO search_index (rowid, body) VALUES (?1, ?2)")?
                .execute(params![doc, body])?;
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO search_docs (kind, ref_id, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![kind, id, body])?;
            let doc = conn.last_insert_rowid();
            conn.prepare_cached("INSERT INTO search_index (rowid, body) VALUES (?1, ?2)")?
                .execute(params![doc, body])?;
        }
    }
    Ok(())
}

pub(crate) fn index_household(conn: &Connection, id: &str) -> Result<()> {
    reindex(conn, HOUSEHOLD_BODY, id)
}

pub(crate) fn index_resident(conn: &Connection, id: &str) -> Result<()> {
    reindex(conn, RESIDENT_BODY, id)
}

/// Records whose index entries a bulk write refreshes at its end (see [`defer`]).
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    households: Vec<String>,
    residents: Vec<String>,
}

/// Makes the index writes of `ctx` wait until [`flush_deferred`]. A bulk write (the ledger
/// import) uses it for two reasons: FTS5 writes its pending terms to disk at every savepoint it
/// takes part in, so a per-row savepoint with the index inside it costs a segment (and merges)
/// per row; and a household that several rows touch is indexed once. The entries are rebuilt
/// from the rows as they are at the end, so a row rolled back in between leaves nothing.
pub(crate) fn defer(ctx: &mut Tx<'_>) {
    ctx.deferred_search.get_or_insert_with(Deferred::default);
}

/// A household was created or changed: refresh its entry now, or at the end of a deferred run.
pub(crate) fn household_changed(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    match &mut ctx.deferred_search {
        Some(d) => {
            d.households.push(id.to_owned());
            Ok(())
        }
        None => index_household(ctx.tx, id),
    }
}

/// A resident was created or changed (see [`household_changed`]).
pub(crate) fn resident_changed(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    match &mut ctx.deferred_search {
        Some(d) => {
            d.residents.push(id.to_owned());
            Ok(())
        }
        None => index_resident(ctx.tx, id),
    }
}

/// Writes the deferred entries, each record once, and goes back to writing at once.
pub(crate) fn flush_deferred(ctx: &mut Tx<'_>) -> Result<()> {
    let Some(d) = ctx.deferred_search.take() else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::new();
    for id in &d.households {
        if seen.insert(id.as_str()) {
            index_household(ctx.tx, id)?;
        }
    }
    for id in &d.residents {
        if seen.insert(id.as_str()) {
            index_resident(ctx.tx, id)?;
        }
    }
    Ok(())
}

/// Removes the index row of a record that is being deleted (an undone import).
pub(crate) fn unindex(conn: &Connection, id: &str) -> Result<()> {
    let old: Option<(i64, String)> = conn
        .prepare_cached("SELECT doc, body FROM search_docs WHERE ref_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((doc, body)) = old {
        conn.prepare_cached(
            "INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?1, ?2)",
        )?
        .execute(params![doc, body])?;
        conn.prepare_cached("DELETE FROM search_docs WHERE doc = ?1")?
            .execute([doc])?;
    }
    Ok(())
}

/// Rebuilds the whole index from the tables (schema upgrades, bulk loads, repair).
pub fn rebuild_all(tx: &Transaction) -> Result<()> {
    tx.execute("DELETE FROM search_docs", [])?;
    tx.execute(
        &format!("INSERT INTO search_docs (kind, ref_id, body) {HOUSEHOLD_BODY}"),
        [],
    )?;
    tx.execute(
        &format!("INSERT INTO search_docs (kind, ref_id, body) {RESIDENT_BODY}"),
        [],
    )?;
    tx.execute(
        "INSERT INTO search_index (search_index) VALUES ('rebuild')",
        [],
    )?;
    Ok(())
}

/// One search result. `title` is what a list shows (a name or an address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// `household` or `resident`.
    pub kind: String,
    pub id: String,
    pub household_id: String,
    pub title: String,
    /// The household's one-line address (for residents too).
    pub address: String,
    pub active: bool,
}

impl Store {
    /// Households and residents whose name, address, phone or ID number contains `query`
    /// (case-insensitive for Latin letters). Active records first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let q = query.trim();
        if q.is_empty() {
            return Err(Error::invalid("query", Code::Required));
        }
        if q.chars().count() > 64 {
            return Err(Error::invalid("query", Code::TooLong));
        }
        let limit = limit.clamp(1, 500) as i64;
        // Blanks between address parts are not part of what the worker remembers: "3栋 2单元"
        // and "3栋2单元" are the same place, so the query is compared without them, and
        // households' addresses (the only bodies joined with blanks that people type across)
        // are compared without theirs.
        let needle: String = q
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        // Three or more characters: a phrase query on the trigram index (a phrase of trigrams is
        // a substring), plus a scan of the households' addresses without blanks. Fewer: the
        // index cannot help; scan the compact docs table.
        let (matches, arg) = if needle.chars().count() >= 3 {
            (
                "SELECT d.kind, d.ref_id FROM search_index JOIN search_docs d
                   ON d.doc = search_index.rowid WHERE search_index MATCH ?1
                 UNION
                 SELECT kind, ref_id FROM search_docs
                   WHERE kind = 'household' AND instr(replace(body, ' ', ''), ?4) > 0
                 LIMIT ?3",
                format!("\"{}\"", needle.replace('"', "\"\"")),
            )
        } else {
            (
                "SELECT kind, ref_id FROM search_docs
                   WHERE instr(replace(body, ' ', ''), ?4) > 0 LIMIT ?3",
                String::new(),
            )
        };
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "WITH m AS ({matches})
                 SELECT m.kind, r.id, h.id, r.name,
                        h.community || ' ' || h.building || coalesce(' ' || h.unit, '')
                          || coalesce(' ' || h.room, ''),
                        r.status = 'active' AND h.status = 'active'
                 FROM m JOIN residents r ON m.kind = 'resident' AND r.id = m.ref_id
                        JOIN households h ON h.id = r.household_id
                 UNION ALL
                 SELECT m.kind, h.id, h.id,
                        h.community || ' ' || h.building || coalesce(' ' || h.unit, '')
                          || coalesce(' ' || h.room, ''),
                        h.community || ' ' || h.building || coalesce(' ' || h.unit, '')
                          || coalesce(' ' || h.room, ''),
                        h.status = 'active'
                 FROM m JOIN households h ON m.kind = 'household' AND h.id = m.ref_id
                 ORDER BY 6 DESC, 1 DESC, 4
                 LIMIT ?2"
            ))?;
            // A fragment shared by thousands (a region code, a surname) must not make the query
            // join and sort thousands of rows: rank only the first few hundred matches.
            let window = (limit * 10).max(200);
            let rows = stmt.query_map(params![arg, limit, window, needle], |r| {
                Ok(SearchHit {
                    kind: r.get(0)?,
                    id: r.get(1)?,
                    household_id: r.get(2)?,
                    title: r.get(3)?,
                    address: r.get(4)?,
                    active: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
