//! Ledger import and export through the store.
//!
//! [`crate::ledger`] turns a desk's CSV/GBK/xlsx file into typed rows; this module writes them
//! through the same insert paths as the forms (so validation, duplicate ID checks, change
//! tracking and the search index are identical). The whole file is one transaction and each row
//! one savepoint: a row that fails validation is rolled back alone and reported with every
//! reason; a storage failure rolls back the whole import, so an import never half-happens and
//! never touches what was already saved.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ValidationError};
use crate::ledger::{self, RowError};
use crate::model::*;
use crate::store::{Store, Tx};
use crate::{households, residents};

/// What an import did, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Text encoding detected (`utf-8`, `gbk`, or `xlsx`).
    pub encoding: String,
    pub rows_total: usize,
    pub households_created: usize,
    /// Rows that joined a household already on the device (same address).
    pub households_matched: usize,
    pub residents_created: usize,
    /// Rejected rows with every reason (field + code); nothing of them was saved.
    pub rejected: Vec<RejectedRow>,
    /// Column headers that were not understood.
    pub ignored_columns: Vec<String>,
}

/// A ledger row that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Line (CSV) or row (xlsx) number in the file; the header is line 1.
    pub line: usize,
    pub errors: Vec<ValidationError>,
}

impl From<RowError> for RejectedRow {
    fn from(r: RowError) -> Self {
        RejectedRow {
            line: r.line,
            errors: r.errors,
        }
    }
}

/// Keys of the grid's active households, so ledger rows join the household already on the
/// device even when the desk wrote "３栋" where the worker typed "3栋".
fn existing_keys(ctx: &Tx<'_>, grid: &str) -> Result<HashMap<String, String>> {
    let mut stmt = ctx.tx.prepare_cached(
        "SELECT id, community, building, unit, room FROM households
         WHERE grid_code = ?1 AND status = 'active' ORDER BY created_at DESC",
    )?;
    let rows = stmt.query_map([grid], |r| {
        let a = Address {
            community: r.get(1)?,
            building: r.get(2)?,
            unit: r.get(3)?,
            floor: None,
            room: r.get(4)?,
            text: None,
        };
        Ok((ledger::household_key(&a), r.get::<_, String>(0)?))
    })?;
    // Oldest wins when two share a key (rows come newest first).
    Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
}

impl Store {
    /// Imports a household ledger (CSV in UTF-8 or GBK, or .xlsx) into `grid_code`.
    pub fn import_ledger(&self, bytes: &[u8], grid_code: &str) -> Result<ImportReport> {
        let parsed = ledger::parse_ledger(bytes, grid_code)?;
        let rows_total = parsed.rows.len() + parsed.rejected.len();
        let mut rejected: Vec<RejectedRow> = parsed.rejected.into_iter().map(Into::into).collect();
        self.write(|ctx| {
            crate::org::require_unit(ctx.tx, "grid_code", grid_code)?;
            let existing = existing_keys(ctx, grid_code)?;
            let mut by_key: HashMap<String, String> = HashMap::new();
            let (mut created, mut matched, mut people) = (0, 0, 0);
            for row in &parsed.rows {
                ctx.tx.execute_batch("SAVEPOINT import_row")?;
                let key = ledger::household_key(&row.household.address);
                let outcome = (|| -> Result<(bool, bool, bool)> {
                    let (hid, new_h, old_h) = match by_key.get(&key) {
                        Some(id) => (id.clone(), false, existing.get(&key) == Some(id)),
                        None => match existing.get(&key) {
                            Some(id) => (id.clone(), false, true),
                            None => (households::insert(ctx, &row.household)?.id, true, false),
                        },
                    };
                    let mut added = false;
                    if let Some(r) = &row.resident {
                        let mut r = r.clone();
                        r.household_id = hid.clone();
                        residents::insert(ctx, &r)?;
                        added = true;
                    }
                    by_key.insert(key.clone(), hid);
                    Ok((new_h, old_h, added))
                })();
                match outcome {
                    Ok((new_h, old_h, added)) => {
                        ctx.tx.execute_batch("RELEASE import_row")?;
                        created += new_h as usize;
                        matched += old_h as usize;
                        people += added as usize;
                    }
                    Err(Error::Validation(v)) => {
                        ctx.tx
                            .execute_batch("ROLLBACK TO import_row; RELEASE import_row")?;
                        by_key.retain(|_, id| households_exist(ctx, id));
                        rejected.push(RejectedRow {
                            line: row.line,
                            errors: vec![v],
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            rejected.sort_by_key(|r| r.line);
            Ok(ImportReport {
                encoding: parsed.encoding.to_string(),
                rows_total,
                households_created: created,
                households_matched: matched,
                residents_created: people,
                rejected: rejected.clone(),
                ignored_columns: parsed.ignored_columns.clone(),
            })
        })
    }

    /// Writes the active households of `grid_code` (all grids if `None`) as CSV for Excel.
    pub fn export_households_csv<W: std::io::Write>(
        &self,
        w: W,
        grid_code: Option<&str>,
    ) -> Result<usize> {
        let rows = self.list_households(&households::HouseholdFilter {
            grid_code: grid_code.map(str::to_string),
            ..Default::default()
        })?;
        ledger::write_households_csv(w, &rows)?;
        Ok(rows.len())
    }

    /// Writes the active residents with their household address as CSV (re-importable).
    pub fn export_residents_csv<W: std::io::Write>(
        &self,
        w: W,
        grid_code: Option<&str>,
    ) -> Result<usize> {
        let homes = self.list_households(&households::HouseholdFilter {
            grid_code: grid_code.map(str::to_string),
            ..Default::default()
        })?;
        let mut rows = Vec::new();
        for h in homes {
            for r in self.residents_of(&h.id, false)? {
                rows.push((r, h.clone()));
            }
        }
        ledger::write_residents_csv(w, &rows)?;
        Ok(rows.len())
    }
}

fn households_exist(ctx: &Tx<'_>, id: &str) -> bool {
    ctx.tx
        .prepare_cached("SELECT 1 FROM households WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .unwrap_or(false)
}
