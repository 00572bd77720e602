//! Grid boundaries (网格边界): the one reading of a grid's GeoJSON boundary that the phone (a
//! household or case outside its grid is flagged where it is typed) and the server (the
//! console's outside-grid warnings, the map, patrol coverage) both use, so "outside" means the
//! same on both sides — including the rule that a point on the border belongs to the grid.
//!
//! Moved here from `gridwalk-core`'s `geometry.rs`, which re-exports it. Coordinates are WGS-84
//! `[longitude, latitude]` degrees.

use geo::{BoundingRect, Centroid, Intersects};
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use geojson::{GeoJson, Geometry, GeometryValue, PolygonType};

use crate::model::GeoPoint;

/// The area of a grid (or community, or street): one or more polygons, possibly with holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    polygons: MultiPolygon<f64>,
}

/// Why a boundary could not be read: what is wrong, never the input (which may be anything a
/// desk pasted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GeoJSON: {detail}")]
pub struct BoundaryError {
    pub detail: String,
}

fn geojson_error(detail: impl Into<String>) -> BoundaryError {
    BoundaryError {
        detail: detail.into(),
    }
}

/// Converts one GeoJSON ring ([lng, lat] positions) into a closed `LineString`, checking every
/// position. geojson's own conversion would panic on a short position, so it is done here.
fn ring(positions: &[geojson::Position]) -> Result<LineString<f64>, BoundaryError> {
    if positions.len() < 3 {
        return Err(geojson_error("a polygon ring has fewer than 3 positions"));
    }
    let coords = positions
        .iter()
        .map(|pos| match pos.as_slice() {
            [lng, lat, ..]
                if lng.is_finite()
                    && lat.is_finite()
                    && (-180.0..=180.0).contains(lng)
                    && (-90.0..=90.0).contains(lat) =>
            {
                Ok(Coord { x: *lng, y: *lat })
            }
            [_, _, ..] => Err(geojson_error(
                "coordinates are not longitude/latitude degrees (projected coordinates?)",
            )),
            _ => Err(geojson_error("a position has fewer than 2 numbers")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // `Polygon::new` closes the ring if needed.
    Ok(LineString::new(coords))
}

fn polygon(rings: &PolygonType) -> Result<Polygon<f64>, BoundaryError> {
    let mut rings = rings.iter();
    let exterior = rings
        .next()
        .ok_or_else(|| geojson_error("a polygon has no rings"))?;
    let exterior = ring(exterior)?;
    let holes = rings.map(|r| ring(r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, holes))
}

fn collect_polygons(geometry: &Geometry, out: &mut Vec<Polygon<f64>>) -> Result<(), BoundaryError> {
    match &geometry.value {
        GeometryValue::Polygon { coordinates } => out.push(polygon(coordinates)?),
        GeometryValue::MultiPolygon { coordinates } => {
            for p in coordinates {
                out.push(polygon(p)?);
            }
        }
        other => {
            return Err(geojson_error(format!(
                "expected Polygon or MultiPolygon, found {}",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn collect_feature(
    feature: &geojson::Feature,
    out: &mut Vec<Polygon<f64>>,
) -> Result<(), BoundaryError> {
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| geojson_error("a feature has no geometry"))?;
    collect_polygons(geometry, out)
}

/// Describes a GeoJSON parse error without quoting the input.
fn describe_geojson_error(e: &geojson::Error) -> String {
    match e {
        geojson::Error::MalformedGeoJson(json) => match json.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!(
                "not valid JSON (line {}, column {})",
                json.line(),
                json.column()
            ),
            _ => "JSON is not a GeoJSON object".to_string(),
        },
        geojson::Error::PositionTooShort(_) => "a position has fewer than 2 numbers".to_string(),
        _ => "not a readable GeoJSON object".to_string(),
    }
}

impl Boundary {
    /// Parses a boundary from GeoJSON: a Polygon or MultiPolygon geometry, a Feature holding
    /// one, or a FeatureCollection whose features all hold one (the boundary is their union).
    /// Positions are `[longitude, latitude]` in degrees.
    ///
    /// Anything else — invalid JSON, other geometry types, a feature without geometry, an empty
    /// collection, projected (metre) coordinates — is a [`BoundaryError`] saying what.
    pub fn parse(geojson: &str) -> Result<Boundary, BoundaryError> {
        let parsed: GeoJson = geojson
            .parse()
            .map_err(|e| geojson_error(describe_geojson_error(&e)))?;
        let mut polygons = Vec::new();
        match &parsed {
            GeoJson::Geometry(g) => collect_polygons(g, &mut polygons)?,
            GeoJson::Feature(f) => collect_feature(f, &mut polygons)?,
            GeoJson::FeatureCollection(fc) => {
                for f in &fc.features {
                    collect_feature(f, &mut polygons)?;
                }
            }
        }
        if polygons.is_empty() {
            return Err(geojson_error("no polygon in the boundary"));
        }
        Ok(Boundary {
            polygons: MultiPolygon::new(polygons),
        })
    }

    /// The polygons of the boundary (x = longitude, y = latitude).
    pub fn multi_polygon(&self) -> &MultiPolygon<f64> {
        &self.polygons
    }

    /// Whether `p` lies inside the boundary. Points on the border count as inside: a household
    /// on the boundary street belongs to the grid rather than to nobody. Points in a hole are
    /// outside.
    pub fn contains(&self, p: GeoPoint) -> bool {
        if !p.lat.is_finite() || !p.lng.is_finite() {
            return false;
        }
        self.polygons.intersects(&Point::new(p.lng, p.lat))
    }

    /// The area-weighted centre of the boundary (where a map opens), if it has any area or
    /// extent.
    pub fn centroid(&self) -> Option<GeoPoint> {
        self.polygons.centroid().map(|c| GeoPoint {
            lat: c.y(),
            lng: c.x(),
        })
    }
}

impl Boundary {
    /// (min longitude, min latitude, max longitude, max latitude).
    pub fn bbox(&self) -> Option<(f64, f64, f64, f64)> {
        self.polygons
            .bounding_rect()
            .map(|r| (r.min().x, r.min().y, r.max().x, r.max().y))
    }

    /// The outer ring of each polygon as `(longitude, latitude)` points, for drawing.
    pub fn outer_rings(&self) -> Vec<Vec<(f64, f64)>> {
        self.polygons
            .0
            .iter()
            .map(|p| p.exterior().coords().map(|c| (c.x, c.y)).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_belong_to_the_grid_and_holes_do_not() {
        let b = Boundary::parse(
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[0.4,0.4],[0.6,0.4],[0.6,0.6],[0.4,0.6],[0.4,0.4]]]}"#,
        )
        .unwrap();
        assert!(b.contains(GeoPoint { lat: 0.2, lng: 0.2 }));
        assert!(b.contains(GeoPoint { lat: 0.0, lng: 0.5 }), "on the border");
        assert!(!b.contains(GeoPoint { lat: 0.5, lng: 0.5 }), "in the hole");
        assert!(!b.contains(GeoPoint { lat: 2.0, lng: 0.5 }));
        assert_eq!(b.bbox(), Some((0.0, 0.0, 1.0, 1.0)));
        assert_eq!(b.outer_rings()[0].len(), 5);
        let e = Boundary::parse(r#"{"type":"Point","coordinates":[1,2]}"#).unwrap_err();
        assert!(e.detail.contains("Point"), "{e}");
    }
}
