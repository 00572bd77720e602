//! The organisation tree as the device knows it: district → street → community → grid, with
//! grid boundaries. It comes from the server (or the demo seed); the device never invents units.
//! Boundaries are used to flag — never refuse — households and cases placed outside the grid
//! (boundaries are redrawn over time and GPS is imprecise in alleys; the worker knows best).
//!
//! Before the first sign-in the tree is only what `init` typed; a wrong grid code there would
//! be discovered at the first sync, when every record in it is refused. So a grid code is
//! checked when it is picked ([`Store::check_grid`]): unknown is an error, unconfirmed by a
//! server (or unknown to it) is a typed warning.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};
use crate::geometry::Boundary;
use crate::model::{GeoPoint, GridLevel, OrgUnit};
use crate::store::{get_meta, Store, Tx};
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

/// `meta` key: JSON list of the org unit codes the server sent at the last sign-in.
pub(crate) const META_SERVER_CODES: &str = "org_server_codes";

/// Why a grid code the device knows may still be wrong. Records in a wrong grid are refused
/// by the server (`out_of_scope`) at the first sync, after the worker has left the doorstep;
/// so the device warns when the code is picked (init, patrol start, household add, a new
/// case), and lets the worker go on: the tree may simply not have synced yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridWarning {
    /// No server has confirmed this device's org tree yet (never signed in): the code is the
    /// one typed at `init`. Check it with the community before the first sync.
    Unconfirmed,
    /// The server's tree (last sign-in) does not have this unit: it exists only on this
    /// device, and records in it will be refused.
    NotOnServer,
    /// The code names a community, street or district, not a grid.
    NotAGrid,
}

impl GridWarning {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            GridWarning::Unconfirmed => "unconfirmed",
            GridWarning::NotOnServer => "not_on_server",
            GridWarning::NotAGrid => "not_a_grid",
        }
    }

    pub fn message_zh(&self) -> &'static str {
        match self {
            GridWarning::Unconfirmed => "网格编码尚未经服务器确认，首次同步前请与社区核对",
            GridWarning::NotOnServer => "服务器的组织机构中没有该网格，同步时会被拒绝",
            GridWarning::NotAGrid => "该编码不是网格（是社区、街道或区）",
        }
    }

    pub fn message_en(&self) -> &'static str {
        match self {
            GridWarning::Unconfirmed => {
                "grid code not confirmed by a server yet; check it with the community before the first sync"
            }
            GridWarning::NotOnServer => {
                "the server's org tree has no such unit; records in it will be refused at sync"
            }
            GridWarning::NotAGrid => "the code names a community, street or district, not a grid",
        }
    }
}

/// Checks a grid code against the tree the device knows: an unknown code is an error
/// (`grid_code`: `required` / `unknown_reference`), a doubtful one a warning.
pub(crate) fn check_grid(conn: &Connection, code: &str) -> Result<Option<GridWarning>> {
    require_unit(conn, "grid_code", code)?;
    let level: GridLevel = conn.query_row(
        "SELECT level FROM org_units WHERE code = ?1",
        [code.trim()],
        |r| r.get(0),
    )?;
    let server: Option<Vec<String>> = get_meta(conn, META_SERVER_CODES)?
        .map(|json| serde_json::from_str(&json).unwrap_or_default());
    Ok(match server {
        None => Some(GridWarning::Unconfirmed),
        Some(codes) if !codes.iter().any(|c| c == code.trim()) => Some(GridWarning::NotOnServer),
        Some(_) if level != GridLevel::Grid => Some(GridWarning::NotAGrid),
        Some(_) => None,
    })
}

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

    /// Checks a grid code before it is used (init, patrol start, household add, a new case):
    /// `Err` (`grid_code`: `required`, `unknown_reference`) when the device does not know it,
    /// `Ok(Some(warning))` when it is doubtful — no server confirmed the tree yet (before the
    /// first sign-in), the server's tree lacks it, or it is not a grid. See [`GridWarning`].
    pub fn check_grid(&self, code: &str) -> Result<Option<GridWarning>> {
        let warning = self.read(|c| check_grid(c, code))?;
        if let Some(w) = warning {
            tracing::warn!(warning = w.code(), "grid code may be wrong");
        }
        Ok(warning)
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
