//! Patrols (巡查) with GPS tracks (痕迹管理).
//!
//! A patrol is started, fed GPS fixes as the shell receives them (each batch one transaction, so
//! a dead battery loses at most the fixes not yet handed over), and stopped; distance and
//! duration are computed from the filtered track (see [`crate::geometry::track_stats`]). Only
//! one patrol runs at a time. A patrol recorded by another app can be imported from GPX; the
//! same track imported twice is one patrol (recognised by its start, end and a fingerprint of
//! its fixes). Track points are append-only and ship to the server with the patrol when it
//! stops.
//!
//! What counts: a patrol shorter than the settings' minimum duration or distance (5 minutes
//! and 100 m by default: `Settings::min_patrol_minutes`, `min_patrol_distance_m`) is kept and
//! synced like any other, but does not count toward the daily quota or the work statistics —
//! a patrol started and stopped by mistake, or to tick a box, is not a patrol (痕迹管理 judges
//! work by these figures). [`Patrol::counts`] says which.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::geometry;
use crate::model::*;
use crate::store::{from_ms, ms, Store, Tx, DIRTY_STATE};
use crate::{org, validate};

const SELECT: &str = "SELECT id, grid_code, started_at, ended_at, distance_m, duration_s,
    point_count, notes, sync_state FROM patrols";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Patrol> {
    Ok(Patrol {
        id: r.get(0)?,
        grid_code: r.get(1)?,
        started_at: from_ms(r.get(2)?),
        ended_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
        distance_m: r.get(4)?,
        duration_s: r.get(5)?,
        point_count: r.get(6)?,
        notes: r.get(7)?,
        case_ids: Vec::new(),
        sync_status: r.get(8)?,
        counts: false,
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Patrol> {
    let mut p = conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_row)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "patrol",
            id: id.to_string(),
        })?;
    let mut stmt =
        conn.prepare_cached("SELECT id FROM cases WHERE patrol_id = ?1 ORDER BY created_at")?;
    p.case_ids = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let settings = crate::store::read_settings(conn)?;
    p.counts = p.ended_at.is_some() && settings.patrol_counts(p.duration_s, p.distance_m);
    Ok(p)
}

/// SQL condition (on `patrols`) of a patrol that counts toward the quota and the statistics:
/// ended, at least `?min_s` seconds and `?min_m` metres (the parameters named so).
pub(crate) const COUNTS_SQL: &str =
    "ended_at IS NOT NULL AND duration_s >= :min_s AND distance_m >= :min_m";

/// A fix [`append`] keeps: real coordinates, not from the future, not before the start, a
/// sane accuracy.
fn point_ok(pt: &TrackPoint, now: DateTime<Utc>, started: DateTime<Utc>) -> bool {
    validate::coordinates(
        "point",
        GeoPoint {
            lat: pt.lat,
            lng: pt.lng,
        },
    )
    .is_ok()
        && validate::not_future("at", pt.at, now).is_ok()
        && pt.at >= started
        && pt.accuracy_m.is_none_or(|a| a.is_finite() && a >= 0.0)
}

/// Fingerprint of a track: SHA-256 over its fixes in time order (time to the millisecond,
/// coordinates to 1e-6°, about 0.1 m), so the same track is recognised however it reached the
/// device (a GPX imported again, the same walk pulled from the worker's other phone).
fn fingerprint(pts: &[TrackPoint]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<(i64, i64, i64)> = pts
        .iter()
        .map(|p| {
            (
                ms(p.at),
                (p.lat * 1e6).round() as i64,
                (p.lng * 1e6).round() as i64,
            )
        })
        .collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for (t, lat, lng) in sorted {
        h.update(t.to_be_bytes());
        h.update(lat.to_be_bytes());
        h.update(lng.to_be_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A patrol already on the device with the same start, end and track as an import.
fn same_track(
    conn: &Connection,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    kept: &[TrackPoint],
) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM patrols WHERE started_at = ?1 AND ended_at = ?2 AND point_count = ?3",
    )?;
    let candidates = stmt
        .query_map(params![ms(first), ms(last), kept.len() as i64], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let wanted = fingerprint(kept);
    for id in candidates {
        if fingerprint(&points(conn, &id)?) == wanted {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn active_id(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM patrols WHERE ended_at IS NULL ORDER BY started_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

fn points(conn: &Connection, patrol_id: &str) -> Result<Vec<TrackPoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, lat, lng, accuracy_m FROM track_points WHERE patrol_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([patrol_id], |r| {
        Ok(TrackPoint {
            at: from_ms(r.get(0)?),
            lat: r.get(1)?,
            lng: r.get(2)?,
            accuracy_m: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn start(ctx: &mut Tx<'_>, grid_code: &str, at: DateTime<Utc>) -> Result<Patrol> {
    org::require_unit(ctx.tx, "grid_code", grid_code)?;
    validate::not_future("started_at", at, ctx.now)?;
    if let Some(id) = active_id(ctx.tx)? {
        return Err(Error::InvalidState {
            entity: "patrol",
            id,
            state: "running".into(),
            action: "start another patrol",
        });
    }
    let hlc = ctx.tick();
    let id = new_id();
    ctx.tx.execute(
        "INSERT INTO patrols (id, grid_code, started_at, created_at, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, grid_code, ms(at), ms(ctx.now), hlc],
    )?;
    changes::record(
        ctx,
        entity::PATROL,
        &id,
        op::CREATE,
        &json!({"grid_code": grid_code, "started_at": ms(at)}),
        &hlc,
    )?;
    get(ctx.tx, &id)
}

/// Appends fixes; invalid ones (bad coordinates, fixes from the future, before the start) are
/// skipped and counted, because a GPS glitch must not lose the good fixes of the same batch.
fn append(ctx: &mut Tx<'_>, patrol_id: &str, pts: &[TrackPoint]) -> Result<(usize, usize)> {
    let p = get(ctx.tx, patrol_id)?;
    if p.ended_at.is_some() {
        return Err(Error::InvalidState {
            entity: "patrol",
            id: patrol_id.to_string(),
            state: "ended".into(),
            action: "add track points",
        });
    }
    let mut seq: i64 = ctx.tx.query_row(
        "SELECT coalesce(max(seq), 0) FROM track_points WHERE patrol_id = ?1",
        [patrol_id],
        |r| r.get(0),
    )?;
    let (mut kept, mut skipped) = (0, 0);
    let mut stmt = ctx.tx.prepare_cached(
        "INSERT INTO track_points (patrol_id, seq, at, lat, lng, accuracy_m)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for pt in pts {
        if !point_ok(pt, ctx.now, p.started_at) {
            skipped += 1;
            continue;
        }
        seq += 1;
        stmt.execute(params![
            patrol_id,
            seq,
            ms(pt.at),
            pt.lat,
            pt.lng,
            pt.accuracy_m
        ])?;
        kept += 1;
    }
    drop(stmt);
    refresh_stats(ctx, patrol_id, None)?;
    Ok((kept, skipped))
}

fn refresh_stats(
    ctx: &Tx<'_>,
    patrol_id: &str,
    ended_at: Option<DateTime<Utc>>,
) -> Result<geometry::TrackStats> {
    let pts = points(ctx.tx, patrol_id)?;
    let stats = geometry::track_stats(&pts);
    let started: i64 = ctx.tx.query_row(
        "SELECT started_at FROM patrols WHERE id = ?1",
        [patrol_id],
        |r| r.get(0),
    )?;
    let end_ms = match ended_at {
        Some(e) => ms(e),
        None => pts.iter().map(|p| ms(p.at)).max().unwrap_or(started),
    };
    ctx.tx.execute(
        "UPDATE patrols SET distance_m = ?2, duration_s = ?3, point_count = ?4 WHERE id = ?1",
        params![
            patrol_id,
            stats.distance_m,
            ((end_ms - started) / 1000).max(0),
            pts.len() as i64
        ],
    )?;
    Ok(stats)
}

fn stop(
    ctx: &mut Tx<'_>,
    patrol_id: &str,
    at: DateTime<Utc>,
    notes: Option<&str>,
) -> Result<Patrol> {
    let p = get(ctx.tx, patrol_id)?;
    if p.ended_at.is_some() {
        return Err(Error::InvalidState {
            entity: "patrol",
            id: patrol_id.to_string(),
            state: "ended".into(),
            action: "stop",
        });
    }
    validate::not_future("ended_at", at, ctx.now)?;
    if at < p.started_at {
        return Err(Error::invalid("ended_at", Code::Mismatch));
    }
    let notes = validate::optional_text(notes);
    if let Some(n) = &notes {
        validate::max_chars("notes", n, 2000)?;
    }
    let row_hlc: String =
        ctx.tx
            .query_row("SELECT hlc FROM patrols WHERE id = ?1", [patrol_id], |r| {
                r.get(0)
            })?;
    let hlc = ctx.tick();
    ctx.tx.execute(
        &format!(
            "UPDATE patrols SET ended_at = ?2, notes = ?3, hlc = ?4, sync_state = {DIRTY_STATE}
             WHERE id = ?1"
        ),
        params![patrol_id, ms(at), notes, hlc],
    )?;
    refresh_stats(ctx, patrol_id, Some(at))?;
    let done = get(ctx.tx, patrol_id)?;
    let track: Vec<_> = points(ctx.tx, patrol_id)?
        .iter()
        .map(|p| json!([ms(p.at), p.lat, p.lng, p.accuracy_m]))
        .collect();
    let payload = json!({
        "ended_at": ms(at), "notes": done.notes, "distance_m": done.distance_m,
        "duration_s": done.duration_s, "track": track,
    });
    let fields = payload.as_object().cloned().unwrap_or_default();
    let base = changes::base_clocks("{}", &fields, &row_hlc);
    changes::record_with_base(
        ctx,
        entity::PATROL,
        patrol_id,
        op::UPDATE,
        &payload,
        &hlc,
        Some(&base),
    )?;
    Ok(done)
}

impl Store {
    /// Starts a patrol of `grid_code` now. Refused while another patrol is running.
    pub fn start_patrol(&self, grid_code: &str) -> Result<Patrol> {
        self.write(|ctx| {
            let now = ctx.now;
            start(ctx, grid_code, now)
        })
    }

    /// Appends GPS fixes to a running patrol. Returns (kept, skipped).
    pub fn add_track_points(&self, patrol_id: &str, pts: &[TrackPoint]) -> Result<(usize, usize)> {
        self.write(|ctx| append(ctx, patrol_id, pts))
    }

    /// Stops a patrol now and computes its distance and duration.
    pub fn stop_patrol(&self, patrol_id: &str, notes: Option<&str>) -> Result<Patrol> {
        self.write(|ctx| {
            let now = ctx.now;
            stop(ctx, patrol_id, now, notes)
        })
    }

    /// Records a whole patrol from a GPX track (start and end taken from the first and last fix).
    ///
    /// The same track imported twice is one patrol: an import whose start, end and track
    /// fingerprint match a patrol already on the device (imported before, or pulled from the
    /// worker's other phone) is refused with `InvalidState { state: "already_imported", id: <that
    /// patrol> }` and changes nothing.
    pub fn import_gpx_patrol(
        &self,
        grid_code: &str,
        gpx: &[u8],
        notes: Option<&str>,
    ) -> Result<Patrol> {
        let pts = geometry::parse_gpx(gpx)?;
        let (Some(first), Some(last)) = (
            pts.iter().map(|p| p.at).min(),
            pts.iter().map(|p| p.at).max(),
        ) else {
            return Err(Error::Format {
                what: "gpx",
                detail: "the file has no track points".into(),
            });
        };
        self.write(|ctx| {
            let now = ctx.now;
            let kept: Vec<TrackPoint> = pts
                .iter()
                .filter(|pt| point_ok(pt, now, first))
                .cloned()
                .collect();
            if let Some(id) = same_track(ctx.tx, first, last, &kept)? {
                return Err(Error::InvalidState {
                    entity: "patrol",
                    id,
                    state: "already_imported".into(),
                    action: "import the same track again",
                });
            }
            let p = start(ctx, grid_code, first)?;
            append(ctx, &p.id, &pts)?;
            stop(ctx, &p.id, last, notes)
        })
    }

    /// The running patrol, if any.
    pub fn active_patrol(&self) -> Result<Option<Patrol>> {
        self.read(|c| match active_id(c)? {
            Some(id) => Ok(Some(get(c, &id)?)),
            None => Ok(None),
        })
    }

    pub fn patrol(&self, id: &str) -> Result<Patrol> {
        self.read(|c| get(c, id))
    }

    pub fn track_of(&self, patrol_id: &str) -> Result<Vec<TrackPoint>> {
        self.read(|c| points(c, patrol_id))
    }

    /// Patrols started in `[from, to)`, newest first.
    pub fn patrols_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Patrol>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT} WHERE started_at >= ?1 AND started_at < ?2 ORDER BY started_at DESC"
            ))?;
            let ids = stmt
                .query_map(params![ms(from), ms(to)], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter().map(|id| get(c, id)).collect()
        })
    }
}
