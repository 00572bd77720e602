//! A small vector map: a grid's GeoJSON boundary and points, drawn as inline SVG on the server.
//!
//! No tile server and no map library: a grid is a few hundred metres across, so an
//! equirectangular projection (longitude scaled by the cosine of the latitude) is exact enough
//! to see where in the grid a case lies. Presentation is by SVG attributes and classes only, so
//! the page's Content-Security-Policy (no inline styles) holds.

use maud::{html, Markup};
use serde_json::Value;

/// A point to mark on the map.
pub struct Pin<'a> {
    pub lng: f64,
    pub lat: f64,
    /// CSS class (e.g. the deadline light).
    pub class: &'a str,
    pub label: &'a str,
}

/// The outer rings of a Polygon or MultiPolygon geometry, as (lng, lat) lists.
pub fn rings(geometry: &Value) -> Vec<Vec<(f64, f64)>> {
    let ring = |r: &Value| -> Option<Vec<(f64, f64)>> {
        r.as_array()?
            .iter()
            .map(|p| {
                let p = p.as_array()?;
                Some((p.first()?.as_f64()?, p.get(1)?.as_f64()?))
            })
            .collect()
    };
    let coords = geometry.get("coordinates");
    match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => coords
            .and_then(Value::as_array)
            .and_then(|rs| rs.first())
            .and_then(ring)
            .into_iter()
            .collect(),
        Some("MultiPolygon") => coords
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.as_array().and_then(|rs| rs.first()).and_then(ring))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// An SVG map of `boundary` with `pins`, `width` × `height` pixels; `None` when there is
/// nothing to draw.
pub fn svg(
    boundary: Option<&Value>,
    pins: &[Pin<'_>],
    width: f64,
    height: f64,
    title: &str,
) -> Option<Markup> {
    let rings = boundary.map(rings).unwrap_or_default();
    let mut pts: Vec<(f64, f64)> = rings.iter().flatten().copied().collect();
    pts.extend(pins.iter().map(|p| (p.lng, p.lat)));
    pts.retain(|(x, y)| x.is_finite() && y.is_finite());
    if pts.is_empty() {
        return None;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let k = ((y0 + y1) / 2.0).to_radians().cos().max(0.01);
    // At least ~100 m of extent so a lone point is not a division by zero.
    let span_x = ((x1 - x0) * k).max(0.001);
    let span_y = (y1 - y0).max(0.001);
    let pad = 12.0;
    let scale = ((width - 2.0 * pad) / span_x).min((height - 2.0 * pad) / span_y);
    let cx = (x0 + x1) / 2.0;
    let cy = (y0 + y1) / 2.0;
    let project = |(x, y): (f64, f64)| -> (f64, f64) {
        (
            width / 2.0 + (x - cx) * k * scale,
            height / 2.0 - (y - cy) * scale,
        )
    };
    let path = |r: &Vec<(f64, f64)>| -> String {
        let mut d = String::new();
        for (i, p) in r.iter().enumerate() {
            let (x, y) = project(*p);
            d.push_str(&format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" }));
        }
        d.push_str(" Z");
        d
    };
    Some(html! {
        svg.map xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (width) " " (height)}
            width=(width) height=(height) role="img" aria-label=(title) {
            title { (title) }
            rect.sea x="0" y="0" width=(width) height=(height) {}
            @for r in &rings { path.grid d=(path(r)) {} }
            @for p in pins {
                @let (x, y) = project((p.lng, p.lat));
                g class={"pin " (p.class)} {
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="7" {}
                    title { (p.label) }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn polygons_project_inside_the_box() {
        let g = json!({"type": "Polygon", "coordinates": [[[107.0, 37.0], [107.01, 37.0], [107.01, 37.01], [107.0, 37.01], [107.0, 37.0]]]});
        assert_eq!(rings(&g)[0].len(), 5);
        let pin = Pin {
            lng: 107.005,
            lat: 37.005,
            class: "red",
            label: "x",
        };
        let s = svg(Some(&g), &[pin], 300.0, 200.0, "map")
            .unwrap()
            .into_string();
        assert!(s.contains("<path"));
        assert!(
            s.contains("cx=\"150.0\""),
            "the centre pin sits in the middle: {s}"
        );
        assert!(svg(None, &[], 300.0, 200.0, "map").is_none());
        assert!(rings(&json!({"type": "Point"})).is_empty());
    }
}
