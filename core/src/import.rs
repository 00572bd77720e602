//! Ledger import and export through the store.
//!
//! [`crate::ledger`] turns a desk's CSV/GBK/xlsx file into typed rows; this module writes them
//! through the same insert paths as the forms (so validation, duplicate ID checks, change
//! tracking and the search index are identical). The whole file is one transaction and each row
//! one savepoint: a row that fails validation is rolled back alone and reported with every
//! reason; a storage failure rolls back the whole import, so an import never half-happens and
//! never touches what was already saved.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
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

fn existing_household(ctx: &Tx<'_>, grid: &str, a: &Address) -> Result<Option<String>> {
    Ok(ctx
        .tx
        .prepare_cached(
            "SELECT id FROM households WHERE grid_code = ?1 AND status = 'active'
               AND community = ?2 AND building = ?3 AND unit IS ?4 AND room IS ?5
             ORDER BY created_at LIMIT 1",
        )?
        .query_row(
            params![grid, a.community.trim(), a.building.trim(), a.unit, a.room],
            |r| r.get(0),
        )
        .optional()?)
}

impl Store {
    /// Imports a household ledger (CSV in UTF-8 or GBK, or .xlsx) into `grid_code`.
    pub fn import_ledger(&self, bytes: &[u8], grid_code: &str) -> Result<ImportReport> {
        let parsed = ledger::parse_ledger(bytes, grid_code)?;
        let rows_total = parsed.rows.len() + parsed.rejected.len();
        let mut rejected: Vec<RejectedRow> = parsed.rejected.into_iter().map(Into::into).collect();
        self.write(|ctx| {
            crate::org::require_unit(ctx.tx, "grid_code", grid_code)?;
            let mut by_key: HashMap<String, String> = HashMap::new();
            let (mut created, mut matched, mut people) = (0, 0, 0);
            for row in &parsed.rows {
                ctx.tx.execute_batch("SAVEPOINT import_row")?;
                let key = ledger::household_key(&row.household.address);
                let outcome = (|| -> Result<(bool, bool, bool)> {
                    let (hid, new_h) = match by_key.get(&key) {
                        Some(id) => (id.clone(), false),
                        None => match existing_household(ctx, grid_code, &row.household.address)? {
                            Some(id) => (id, false),
                            None => (households::insert(ctx, &row.household)?.id, true),
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
                    Ok((new_h, !new_h, added))
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
    pub fn export_households_csv<W: std::io::Write>(&self, w: W, grid_code: Option<&str>) -> Result<usize> {
        let rows = self.list_households(&households::HouseholdFilter {
            grid_code: grid_code.map(str::to_string),
            ..Default::default()
        })?;
        ledger::write_households_csv(w, &rows)?;
        Ok(rows.len())
    }

    /// Writes the active residents with their household address as CSV (re-importable).
    pub fn export_residents_csv<W: std::io::Write>(&self, w: W, grid_code: Option<&str>) -> Result<usize> {
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
