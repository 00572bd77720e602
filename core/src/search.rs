//! Substring search over households and residents, Chinese included.
//!
//! Workers search by whatever fragment they remember: two characters of a name, the last four
//! digits of a phone, part of an ID number, "3栋". SQLite FTS5 with the trigram tokenizer indexes
//! every 3-character window, so `LIKE '%…%'` with three or more characters is answered from the
//! index. One- and two-character queries (most Chinese given names are two characters) fall back
//! to a scan of the compact index table, which is still a few milliseconds for a grid.
//!
//! The index body is built by one SQL expression per kind (below), used both when a row changes
//! and when the index is rebuilt by a schema upgrade, so the two can never disagree.

use rusqlite::{params, Connection, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};
use crate::store::Store;

const HOUSEHOLD_BODY: &str = "SELECT 'household', id, community || ' ' || building || ' '
    || coalesce(unit, '') || ' ' || coalesce(room, '') || ' ' || coalesce(address_text, '')
    || ' ' || tags FROM households";

const RESIDENT_BODY: &str = "SELECT 'resident', id, name || ' ' || coalesce(id_number, '') || ' '
    || coalesce(phone, '') FROM residents";

fn reindex(conn: &Connection, kind: &str, body_sql: &str, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM search_index WHERE ref_id = ?1 AND kind = ?2")?
        .execute(params![id, kind])?;
    conn.prepare_cached(&format!(
        "INSERT INTO search_index (kind, ref_id, body) {body_sql} WHERE id = ?1"
    ))?
    .execute([id])?;
    Ok(())
}

pub(crate) fn index_household(conn: &Connection, id: &str) -> Result<()> {
    reindex(conn, "household", HOUSEHOLD_BODY, id)
}

pub(crate) fn index_resident(conn: &Connection, id: &str) -> Result<()> {
    reindex(conn, "resident", RESIDENT_BODY, id)
}

/// Rebuilds the whole index from the tables (schema upgrades, repair).
pub fn rebuild_all(tx: &Transaction) -> Result<()> {
    tx.execute("DELETE FROM search_index", [])?;
    tx.execute(
        &format!("INSERT INTO search_index (kind, ref_id, body) {HOUSEHOLD_BODY}"),
        [],
    )?;
    tx.execute(
        &format!("INSERT INTO search_index (kind, ref_id, body) {RESIDENT_BODY}"),
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

fn escape_like(q: &str) -> String {
    let mut s = String::with_capacity(q.len() + 2);
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
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
        let pattern = format!("%{}%", escape_like(q));
        let limit = limit.clamp(1, 500) as i64;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "WITH m AS (
                   SELECT kind, ref_id FROM search_index WHERE body LIKE ?1 ESCAPE '\\'
                 )
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
                 LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![pattern, limit], |r| {
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
