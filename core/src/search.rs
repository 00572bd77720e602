//! Substring search over households and residents, Chinese included.
//!
//! Workers search by whatever fragment they remember: two characters of a name, the last four
//! digits of a phone, part of an ID number, "3栋". SQLite FTS5 with the trigram tokenizer indexes
//! every 3-character window, so a query of three or more characters is a phrase query answered
//! from the index. Two-character queries with a Chinese (non-ASCII) character — most Chinese
//! given names are two characters — are looked up in `search_grams`, which holds every
//! two-character window of each body (blanks removed) that has a non-ASCII character. Only
//! one-character queries and two ASCII characters ("12") still scan the compact `search_docs`
//! table with `instr`.
//!
//! Blanks between address parts are not part of what the worker remembers ("3栋 2单元" and
//! "3栋2单元" are the same place): the query is compared without them, and a household's body
//! ends with its whole text once more without blanks, so the trigram index answers a blank-free
//! query about an address too (no scan of the households).
//!
//! Each record's text lives once, lowercased, in `search_docs`; the FTS5 table is an external-
//! content index over it, updated by primary key, and its two-character windows are added and
//! removed by (window, doc), so keeping both current costs the same at 100 households as at
//! 10,000.
//!
//! New records are indexed in batches (schema version 7). A new record's body goes into
//! `search_docs` in the transaction that creates it, as always, but not yet into the FTS index
//! or `search_grams`: the docs above the mark `meta.search_folded` are *pending*, and every
//! query reads them too, by `instr` over their bodies (at most [`FOLD_AT`] short rows). Why:
//! one household's entry in the two indexes dirtied about 12 pages (FTS5 writes a segment,
//! its structure and size rows at every commit; its two-character windows land on as many
//! B-tree leaves), about 40% of the pages of the whole tap, and a tap on a phone waits for
//! every page it writes to reach the disk (synchronous=FULL). When a write leaves
//! [`FOLD_AT`] docs pending, it folds them into both indexes in one pass ([`fold`]): one FTS5
//! segment for all of them, and shared windows (a community's name, a building) written once.
//! Bulk writes (a pulled page, the ledger import) fold at their end. Durability is unchanged:
//! the body is in `search_docs` when the tap returns, and search finds it from then on.
//!
//! `instr` over a pending body finds what the indexes would, with one nuance: the FTS5
//! trigram tokenizer folds the case of every letter, the body (SQL `lower`) only ASCII's, so an
//! accented capital typed in another case (É, é) is found once its doc is folded.
//!
//! A record edited while its doc is pending only has its body replaced; an edit of a folded
//! doc updates both indexes at once, as before. Docs at or below the mark are always folded:
//! removing the newest docs (an undone import) lowers the mark with them, so a doc number
//! used again is pending again.
//!
//! The index body is built by one SQL expression per kind (below), used both when a row changes
//! and when the index is rebuilt by a schema upgrade, so the two can never disagree.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};
use crate::store::{get_meta, set_meta, Store, Tx};

/// A household's searchable text (lowercased), as one SQL expression.
macro_rules! household_text {
    () => {
        "lower(community || ' ' || building || ' ' || coalesce(unit, '') || ' '
            || coalesce(room, '') || ' ' || coalesce(address_text, '') || ' ' || tags)"
    };
}

/// A household's body: its text, then the same text without blanks (see the module docs).
const HOUSEHOLD_BODY: &str = concat!(
    "SELECT 'household', id, ",
    household_text!(),
    " || ' ' || replace(",
    household_text!(),
    ", ' ', '') FROM households"
);

const RESIDENT_BODY: &str = "SELECT 'resident', id, lower(name || ' ' || coalesce(id_number, '')
    || ' ' || coalesce(phone, '')) FROM residents";

/// The two-character windows of `body` (blanks removed, as queries are) that hold a non-ASCII
/// character: what `search_grams` keeps for it. A household's body holds its blank-free text
/// twice, so one window spans the two copies (its last character, always the `]` of its tags,
/// then its first): a query nobody types.
fn grams(body: &str) -> BTreeSet<String> {
    let chars: Vec<char> = body.chars().filter(|c| *c != ' ').collect();
    chars
        .windows(2)
        .filter(|w| !w[0].is_ascii() || !w[1].is_ascii())
        .map(|w| w.iter().collect())
        .collect()
}

/// Adds (`add`) or removes the two-character windows of `body` for `doc`, in one statement
/// (the windows go as one JSON array).
fn set_grams(conn: &Connection, doc: i64, body: &str, add: bool) -> Result<()> {
    let sql = if add {
        "INSERT OR IGNORE INTO search_grams (gram, doc) SELECT value, ?2 FROM json_each(?1)"
    } else {
        "DELETE FROM search_grams WHERE doc = ?2 AND gram IN (SELECT value FROM json_each(?1))"
    };
    let windows = serde_json::to_string(&grams(body))?;
    conn.prepare_cached(sql)?.execute(params![windows, doc])?;
    Ok(())
}

/// `meta` key of the highest doc whose body the FTS index and `search_grams` hold (see the
/// module docs): docs above it are pending.
pub(crate) const FOLDED_KEY: &str = "search_folded";

/// How many pending docs make a write fold them into the index. Search reads the pending bodies
/// one by one, so they stay few; a fold costs less per doc the more docs it takes (one FTS5
/// segment, shared windows written once).
pub const FOLD_AT: i64 = 256;

/// The mark: docs at or below it are in both indexes. `None` when the store has none (or a
/// broken one): then nothing is trusted to be indexed, search reads every body and the next
/// fold rebuilds the index.
fn folded_upto(conn: &Connection) -> Result<Option<i64>> {
    Ok(get_meta(conn, FOLDED_KEY)?.and_then(|v| v.parse().ok()))
}

/// Whether `doc` is pending under `mark`.
fn pending(mark: Option<i64>, doc: i64) -> bool {
    mark.is_none_or(|m| doc > m)
}

/// Folds every pending doc into the FTS index and `search_grams` and moves the mark to the
/// newest doc. Without a mark, rebuilds the whole index.
pub(crate) fn fold(conn: &Connection) -> Result<()> {
    let Some(mark) = folded_upto(conn)? else {
        return rebuild_all(conn);
    };
    conn.prepare_cached(
        "INSERT INTO search_index (rowid, body) SELECT doc, body FROM search_docs WHERE doc > ?1",
    )?
    .execute([mark])?;
    grams_after(conn, mark)?;
    set_mark_to_newest(conn)
}

/// The mark at the newest doc (every doc folded).
fn set_mark_to_newest(conn: &Connection) -> Result<()> {
    let newest: i64 = conn
        .prepare_cached("SELECT coalesce(max(doc), 0) FROM search_docs")?
        .query_row([], |r| r.get(0))?;
    set_meta(conn, FOLDED_KEY, &newest.to_string())
}

/// A doc was added: folds the pending docs when there are [`FOLD_AT`] of them. A doc at or
/// below the mark (cannot happen while the mark follows removals, see [`unindex`]) is indexed
/// at once, so it is never left out.
fn doc_added(conn: &Connection, doc: i64) -> Result<()> {
    match folded_upto(conn)? {
        Some(mark) if doc <= mark => {
            let body: String = conn
                .prepare_cached("SELECT body FROM search_docs WHERE doc = ?1")?
                .query_row([doc], |r| r.get("body"))?;
            index_doc(conn, doc, &body)
        }
        Some(mark) if doc - mark < FOLD_AT => Ok(()),
        _ => fold(conn),
    }
}

/// Writes one doc's body into the FTS index and its windows into `search_grams`.
fn index_doc(conn: &Connection, doc: i64, body: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO search_index (rowid, body) VALUES (?1, ?2)")?
        .execute(params![doc, body])?;
    set_grams(conn, doc, body, true)
}

/// Indexes a record that has just been created: its body goes into `search_docs` straight
/// from its row in one statement, pending (see the module docs). A record that somehow had an
/// entry already is brought up to date by [`reindex`] instead. (Not `RETURNING`: SQLite
/// collects returned rows in a temporary B-tree it makes for each statement, which cost more
/// than the insert itself.)
fn index_added(conn: &Connection, body_sql: &str, id: &str) -> Result<()> {
    let added = conn
        .prepare_cached(&format!(
            "INSERT INTO search_docs (kind, ref_id, body) {body_sql} WHERE id = ?1
             ON CONFLICT (ref_id) DO NOTHING"
        ))?
        .execute([id])?;
    if added == 1 {
        doc_added(conn, conn.last_insert_rowid())
    } else {
        reindex(conn, body_sql, id)
    }
}

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
            let folded = !pending(folded_upto(conn)?, doc);
            if folded {
                conn.prepare_cached(
                    "INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?1, ?2)",
                )?
                .execute(params![doc, old_body])?;
            }
            conn.prepare_cached("UPDATE search_docs SET body = ?2 WHERE doc = ?1")?
                .execute(params![doc, body])?;
            if folded {
                set_grams(conn, doc, &old_body, false)?;
                index_doc(conn, doc, &body)?;
            }
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO search_docs (kind, ref_id, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![kind, id, body])?;
            doc_added(conn, conn.last_insert_rowid())?;
        }
    }
    Ok(())
}

/// Adds the two-character windows of every body with a `doc` above `after` (bulk loads).
fn grams_after(conn: &Connection, after: i64) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT doc, body FROM search_docs WHERE doc > ?1")?;
    let mut rows = stmt.query([after])?;
    while let Some(r) = rows.next()? {
        let body: String = r.get("body")?;
        set_grams(conn, r.get("doc")?, &body, true)?;
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

/// A household or resident was created (`new`) or changed: its entry is written now, or at
/// the end of a deferred run.
fn record_written(ctx: &mut Tx<'_>, household: bool, id: &str, new: bool) -> Result<()> {
    let body_sql = if household {
        HOUSEHOLD_BODY
    } else {
        RESIDENT_BODY
    };
    match &mut ctx.deferred_search {
        Some(d) if household => d.households.push(id.to_owned()),
        Some(d) => d.residents.push(id.to_owned()),
        None if new => return index_added(ctx.tx, body_sql, id),
        None => return reindex(ctx.tx, body_sql, id),
    }
    Ok(())
}

/// A household was changed: refresh its entry now, or at the end of a deferred run.
pub(crate) fn household_changed(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    record_written(ctx, true, id, false)
}

/// A household was created (see [`household_changed`]).
pub(crate) fn household_added(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    record_written(ctx, true, id, true)
}

/// A resident was changed (see [`household_changed`]).
pub(crate) fn resident_changed(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    record_written(ctx, false, id, false)
}

/// A resident was created (see [`household_changed`]).
pub(crate) fn resident_added(ctx: &mut Tx<'_>, id: &str) -> Result<()> {
    record_written(ctx, false, id, true)
}

/// Writes the deferred entries, each record once, folds every pending doc (a bulk write leaves
/// none behind), and goes back to writing at once.
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
    fold(ctx.tx)
}

/// Indexes many records that have no index row yet (a pulled page's new households or
/// residents) in a few statements instead of four per record: their bodies go into
/// `search_docs` in one `INSERT … SELECT`, and [`fold`] takes them (with any other pending doc)
/// into the FTS index and `search_grams`. An id that already had an index row (or whose record
/// is missing) is brought up to date one by one instead, so the result is exactly what
/// [`index_household`] / [`index_resident`] per id would give.
fn index_new(conn: &Connection, body_sql: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(ids)?;
    let added = conn
        .prepare_cached(&format!(
            "INSERT INTO search_docs (kind, ref_id, body) {body_sql}
             WHERE id IN (SELECT value FROM json_each(?1))
             ON CONFLICT (ref_id) DO NOTHING"
        ))?
        .execute([&list])?;
    fold(conn)?;
    if added < ids.len() {
        for id in ids {
            reindex(conn, body_sql, id)?;
        }
    }
    Ok(())
}

/// [`index_new`] for households.
pub(crate) fn index_new_households(conn: &Connection, ids: &[String]) -> Result<()> {
    index_new(conn, HOUSEHOLD_BODY, ids)
}

/// [`index_new`] for residents.
pub(crate) fn index_new_residents(conn: &Connection, ids: &[String]) -> Result<()> {
    index_new(conn, RESIDENT_BODY, ids)
}

/// Removes the index row of a record that is being deleted (an undone import). A pending doc
/// is only in `search_docs`. When the newest docs go, the mark comes down with them: the next
/// new doc takes the number after the newest one left, and must be pending.
pub(crate) fn unindex(conn: &Connection, id: &str) -> Result<()> {
    let old: Option<(i64, String)> = conn
        .prepare_cached("SELECT doc, body FROM search_docs WHERE ref_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((doc, body)) = old {
        let mark = folded_upto(conn)?;
        if !pending(mark, doc) {
            conn.prepare_cached(
                "INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?1, ?2)",
            )?
            .execute(params![doc, body])?;
            set_grams(conn, doc, &body, false)?;
        }
        conn.prepare_cached("DELETE FROM search_docs WHERE doc = ?1")?
            .execute([doc])?;
        if let Some(mark) = mark {
            let newest: i64 = conn
                .prepare_cached("SELECT coalesce(max(doc), 0) FROM search_docs")?
                .query_row([], |r| r.get(0))?;
            if newest < mark {
                set_meta(conn, FOLDED_KEY, &newest.to_string())?;
            }
        }
    }
    Ok(())
}

/// Rebuilds the whole index from the tables (schema upgrades, bulk loads, repair); every doc
/// ends folded.
pub fn rebuild_all(tx: &Connection) -> Result<()> {
    tx.execute("DELETE FROM search_grams", [])?;
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
    grams_after(tx, 0)?;
    set_mark_to_newest(tx)
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
        // Blanks are not part of what the worker remembers (see the module docs): the query is
        // compared without them.
        let needle: String = q
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let chars = needle.chars().count();
        // Three or more characters: a phrase query on the trigram index (a phrase of trigrams is
        // a substring; households' bodies carry their blank-free text too). Two with a non-ASCII
        // one: the two-character index. Both indexes hold the docs up to the mark; the pending
        // ones above it (a few hundred at most, see the module docs) are read with `instr`,
        // which finds the same substrings (the blank-free copy of a body is only made for one
        // that holds the query's first character). Fewer, or two ASCII characters: scan the docs table.
        // ?1 is the query, ?3 how many matches are ranked.
        let matches = if chars >= 3 {
            "SELECT * FROM (SELECT d.kind, d.ref_id FROM search_index JOIN search_docs d
               ON d.doc = search_index.rowid
             WHERE search_index MATCH '\"' || replace(?1, '\"', '\"\"') || '\"'
               AND d.doc <= (SELECT upto FROM mark) LIMIT ?3)
             UNION ALL
             SELECT * FROM (SELECT kind, ref_id FROM search_docs
             WHERE doc > (SELECT upto FROM mark) AND instr(body, ?1) > 0 LIMIT ?3)"
        } else if chars == 2 && !needle.is_ascii() {
            "SELECT * FROM (SELECT d.kind, d.ref_id FROM search_grams g
               JOIN search_docs d ON d.doc = g.doc
             WHERE g.gram = ?1 AND g.doc <= (SELECT upto FROM mark) LIMIT ?3)
             UNION ALL
             SELECT * FROM (SELECT kind, ref_id FROM search_docs
             WHERE doc > (SELECT upto FROM mark) AND instr(body, substr(?1, 1, 1)) > 0
               AND instr(replace(body, ' ', ''), ?1) > 0
             LIMIT ?3)"
        } else {
            "SELECT kind, ref_id FROM search_docs
             WHERE instr(replace(body, ' ', ''), ?1) > 0 LIMIT ?3"
        };
        // `m` is read by both halves of the UNION below: MATERIALIZED finds the matches once
        // (the pending scan included).
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "WITH mark AS (SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta
                                 WHERE key = '{FOLDED_KEY}'), 0) AS upto),
                 m AS MATERIALIZED ({matches})
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
            let rows = stmt.query_map(params![needle, limit, window], |r| {
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
