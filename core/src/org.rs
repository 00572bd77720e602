//! The organisation tree as the device knows it: district → street → community → grid, with
//! grid boundaries. It comes from the server (or the demo seed); the device never invents units.
//! Boundaries are used to flag — never refuse — households and cases placed outside the grid
//! (boundaries are redrawn over time and GPS is imprecise in alleys; the worker knows best).

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Code, Error, Result};
use crate::geometry::Boundary;
use crate::model::{GeoPoint, GridLevel, OrgUnit};
use crate::store::{Store, Tx};
use crate::validate;

fn map_unit(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrgUnit> {
    Ok(OrgUnit {
        code: r.get(0)?,
        name: r.get(1)?,
        level: r.get(2)?,
        parent_code: r.get(3)?,
        boundary_geojson: r.get(4)?,
        is_mine: r.get(5)?,
    })
}

const SELECT: &str = "SELECT code, name, level, parent_code, boundary, is_mine FROM org_units";

impl Store {
    /// Inserts or replaces org units (parents before children, or in the same call).
    pub fn upsert_org_units(&self, units: &[OrgUnit]) -> Result<()> {
        for (i, u) in units.iter().enumerate() {
            let field = |f: &str| format!("units[{i}].{f}");
            validate::required(&field("code"), &u.code)?;
            validate::required(&field("name"), &u.name)?;
            if let Some(b) = &u.boundary_geojson {
                Boundary::parse(b)
                    .map_err(|_| Error::invalid(field("boundary_geojson"), Code::InvalidFormat))?;
            }
            if u.level == GridLevel::District && u.parent_code.is_some() {
                return Err(Error::invalid(field("parent_code"), Code::InvalidValue));
            }
        }
        self.write(|ctx| {
            for (i, u) in units.iter().enumerate() {
                if let Some(parent) = &u.parent_code {
                    let known = units.iter().any(|o| &o.code == parent)
                        || exists(ctx.tx, parent)?;
                    if !known {
                        return Err(Error::invalid(
                            format!("units[{i}].parent_code"),
                            Code::UnknownReference,
                        ));
                    }
                }
            }
            // Insert in an order that satisfies the parent foreign key.
            let mut pending: Vec<&OrgUnit> = units.iter().collect();
            while !pending.is_empty() {
                let before = pending.len();
                let mut rest = Vec::new();
                for u in pending {
                    let ready = match &u.parent_code {
                        None => true,
                        Some(p) => exists(ctx.tx, p)?,
                    };
                    if ready {
                        ctx.tx.execute(
                            "INSERT INTO org_units (code, name, level, parent_code, boundary, is_mine)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT(code) DO UPDATE SET name = excluded.name,
                               level = excluded.level, parent_code = excluded.parent_code,
                               boundary = excluded.boundary, is_mine = excluded.is_mine",
                            params![
                                u.code.trim(),
                                u.name.trim(),
                                u.level,
                                u.parent_code,
                                u.boundary_geojson,
                                u.is_mine
                            ],
                        )?;
                    } else {
                        rest.push(u);
                    }
                }
                if rest.len() == before {
                    return Err(Error::invalid("parent_code", Code::UnknownReference));
                }
                pending = rest;
            }
            ctx.invalidate_boundaries();
            Ok(())
        })
    }

    /// All known units, ordered by code.
    pub fn org_units(&self) -> Result<Vec<OrgUnit>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("{SELECT} ORDER BY code"))?;
            let rows = stmt.query_map([], map_unit)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The worker's own grids.
    pub fn my_grids(&self) -> Result<Vec<OrgUnit>> {
        Ok(self
            .org_units()?
            .into_iter()
            .filter(|u| u.is_mine)
            .collect())
    }

    pub fn org_unit(&self, code: &str) -> Result<OrgUnit> {
        self.read(|c| {
            c.query_row(&format!("{SELECT} WHERE code = ?1"), [code], map_unit)
                .optional()?
                .ok_or_else(|| Error::NotFound {
                    entity: "org_unit",
                    id: code.to_string(),
                })
        })
    }
}

pub(crate) fn exists(conn: &Connection, code: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM org_units WHERE code = ?1")?
        .exists([code])?)
}

/// Checks that `code` is a known unit; `field` names it in the error.
pub(crate) fn require_unit(conn: &Connection, field: &str, code: &str) -> Result<()> {
    if code.trim().is_empty() {
        return Err(Error::invalid(field, Code::Required));
    }
    if !exists(conn, code)? {
        return Err(Error::invalid(field, Code::UnknownReference));
    }
    Ok(())
}

/// Whether `p` lies outside the known boundary of `grid_code` (false when no boundary is known).
pub(crate) fn outside_grid(ctx: &mut Tx<'_>, grid_code: &str, p: Option<GeoPoint>) -> Result<bool> {
    let Some(p) = p else { return Ok(false) };
    Ok(match ctx.boundary(grid_code)? {
        Some(b) => !b.contains(p),
        None => false,
    })
}
