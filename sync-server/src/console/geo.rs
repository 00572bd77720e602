//! Plane geometry the console needs on grid boundaries: point in polygon (households and cases
//! outside their grid), distances along patrol tracks, and a grid's coverage by its tracks.
//!
//! Boundaries are GeoJSON Polygon or MultiPolygon geometries in `[lng, lat]` degrees, as the
//! org tree stores them. At grid scale (a few hundred metres) an equirectangular projection
//! around the point is exact to well under a metre, which is all these answers need.

use serde_json::Value;

/// A grid boundary: polygons, each an outer ring and its holes, as (lng, lat) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    polygons: Vec<Vec<Vec<(f64, f64)>>>,
}

fn ring(v: &Value) -> Option<Vec<(f64, f64)>> {
    let pts: Vec<(f64, f64)> = v
        .as_array()?
        .iter()
        .filter_map(|p| {
            let p = p.as_array()?;
            let (lng, lat) = (p.first()?.as_f64()?, p.get(1)?.as_f64()?);
            (lng.is_finite() && lat.is_finite()).then_some((lng, lat))
        })
        .collect();
    (pts.len() >= 3).then_some(pts)
}

fn polygon(v: &Value) -> Option<Vec<Vec<(f64, f64)>>> {
    let rings: Vec<_> = v.as_array()?.iter().filter_map(ring).collect();
    (!rings.is_empty()).then_some(rings)
}

impl Boundary {
    /// A boundary from a GeoJSON geometry (or a Feature holding one); `None` when it holds no
    /// polygon.
    pub fn from_geojson(v: &Value) -> Option<Boundary> {
        let geometry = if v.get("type").and_then(Value::as_str) == Some("Feature") {
            v.get("geometry")?
        } else {
            v
        };
        let coords = geometry.get("coordinates")?;
        let polygons = match geometry.get("type").and_then(Value::as_str)? {
            "Polygon" => vec![polygon(coords)?],
            "MultiPolygon" => coords.as_array()?.iter().filter_map(polygon).collect(),
            _ => return None,
        };
        (!polygons.is_empty()).then_some(Boundary { polygons })
    }

    pub fn parse(text: &str) -> Option<Boundary> {
        Boundary::from_geojson(&serde_json::from_str(text).ok()?)
    }

    /// Whether (lat, lng) lies inside (even-odd rule: holes are outside).
    pub fn contains(&self, lat: f64, lng: f64) -> bool {
        self.polygons
            .iter()
            .any(|rings| rings.iter().filter(|r| ring_contains(r, lng, lat)).count() % 2 == 1)
    }

    /// The outer rings, for drawing.
    pub fn outer_rings(&self) -> impl Iterator<Item = &Vec<(f64, f64)>> {
        self.polygons.iter().filter_map(|p| p.first())
    }

    /// (min lng, min lat, max lng, max lat).
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in self.outer_rings().flatten() {
            b = (b.0.min(*x), b.1.min(*y), b.2.max(*x), b.3.max(*y));
        }
        b
    }
}

fn ring_contains(r: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = r.len() - 1;
    for i in 0..r.len() {
        let (xi, yi) = r[i];
        let (xj, yj) = r[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Metres between two (lat, lng) points (haversine).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// Share (0–1) of a grid's area within `reach_m` of any track fix, sampled on a lattice of
/// `cell_m` metres (what "the grid's coverage by its patrols" means on the map page).
pub fn coverage(boundary: &Boundary, fixes: &[(f64, f64)], cell_m: f64, reach_m: f64) -> f64 {
    let (x0, y0, x1, y1) = boundary.bbox();
    if x0 > x1 || y0 > y1 {
        return 0.0;
    }
    let lat_m = 111_320.0;
    let lng_m = 111_320.0 * ((y0 + y1) / 2.0).to_radians().cos().max(0.01);
    let (dy, dx) = (cell_m / lat_m, cell_m / lng_m);
    let (mut inside, mut covered) = (0u64, 0u64);
    let mut y = y0 + dy / 2.0;
    // Bounded: a grid larger than 400 x 400 cells is sampled at a coarser step.
    let steps = (((y1 - y0) / dy).max((x1 - x0) / dx) / 400.0)
        .ceil()
        .max(1.0);
    let (dy, dx) = (dy * steps, dx * steps);
    while y < y1 {
        let mut x = x0 + dx / 2.0;
        while x < x1 {
            if boundary.contains(y, x) {
                inside += 1;
                let near = fixes.iter().any(|&(la, lo)| {
                    ((la - y) * lat_m).abs() <= reach_m
                        && ((lo - x) * lng_m).abs() <= reach_m
                        && distance_m((la, lo), (y, x)) <= reach_m
                });
                if near {
                    covered += 1;
                }
            }
            x += dx;
        }
        y += dy;
    }
    if inside == 0 {
        0.0
    } else {
        covered as f64 / inside as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square() -> Boundary {
        Boundary::from_geojson(&json!({"type": "Polygon", "coordinates": [
            [[107.0, 37.0], [107.01, 37.0], [107.01, 37.01], [107.0, 37.01], [107.0, 37.0]],
            [[107.004, 37.004], [107.006, 37.004], [107.006, 37.006], [107.004, 37.006]]
        ]}))
        .unwrap()
    }

    #[test]
    fn inside_outside_and_holes() {
        let b = square();
        assert!(b.contains(37.002, 107.002));
        assert!(!b.contains(37.02, 107.002));
        assert!(!b.contains(37.005, 107.005), "inside the hole");
        assert!(Boundary::from_geojson(&json!({"type": "Point", "coordinates": [1, 2]})).is_none());
        let multi = json!({"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]]}});
        assert!(Boundary::from_geojson(&multi).is_some());
    }

    #[test]
    fn coverage_grows_with_the_track() {
        let b = square();
        assert_eq!(coverage(&b, &[], 50.0, 30.0), 0.0);
        let line: Vec<(f64, f64)> = (0..100)
            .map(|i| (37.001, 107.0 + i as f64 * 0.0001))
            .collect();
        let some = coverage(&b, &line, 50.0, 30.0);
        let grid: Vec<(f64, f64)> = (0..40)
            .flat_map(|i| {
                (0..40).map(move |j| (37.0 + i as f64 * 0.00025, 107.0 + j as f64 * 0.00025))
            })
            .collect();
        let all = coverage(&b, &grid, 50.0, 30.0);
        assert!(some > 0.02 && some < 0.3, "{some}");
        assert!(all > 0.95, "{all}");
        assert!((distance_m((37.0, 107.0), (37.001, 107.0)) - 111.2).abs() < 0.5);
    }
}
