//! Plane geometry the console needs on grid boundaries: distances along patrol tracks and a
//! grid's coverage by its tracks. Point in polygon is the phone's own rule
//! (`gridwalk_domain::boundary`), so "outside its grid" means the same on both sides.
//!
//! Boundaries are GeoJSON Polygon or MultiPolygon geometries in `[lng, lat]` degrees, as the
//! org tree stores them. At grid scale (a few hundred metres) an equirectangular projection
//! around the point is exact to well under a metre, which is all these answers need.

pub use gridwalk_domain::boundary::Boundary;
use gridwalk_domain::model::GeoPoint;

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
    let Some((x0, y0, x1, y1)) = boundary.bbox() else {
        return 0.0;
    };
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
            if boundary.contains(GeoPoint { lat: y, lng: x }) {
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
        Boundary::parse(
            &json!({"type": "Polygon", "coordinates": [
                [[107.0, 37.0], [107.01, 37.0], [107.01, 37.01], [107.0, 37.01], [107.0, 37.0]],
                [[107.004, 37.004], [107.006, 37.004], [107.006, 37.006], [107.004, 37.006]]
            ]})
            .to_string(),
        )
        .unwrap()
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
