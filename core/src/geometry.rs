//! Geometry for the field: distances, patrol tracks, grid boundaries and GPX import.
//!
//! A grid worker (网格员) walks or rides an e-bike through a grid of a few hundred households,
//! and the app records the patrol as a GPS track. Phone GPS in dense housing estates is poor:
//! fixes jump across a block when the phone sees a reflection, and the first fixes after
//! waking are hundreds of metres off. Patrol distance is reported upward and compared between
//! workers, so [`track_stats`] drops imprecise fixes and impossible jumps instead of summing
//! noise.
//!
//! Grid boundaries come from the street office as GeoJSON. [`Boundary`] answers "is this
//! household / this case inside my grid?" entirely offline, so the worker is warned at once when
//! a location is outside (a wrong fix, or the wrong grid), rather than by the platform days later.
//!
//! Coordinates are WGS-84 degrees (CGCS2000 is the same within centimetres). Boundaries traced
//! on GCJ-02 web maps (Gaode, Tencent) are offset by several hundred metres and must be converted
//! before import; this module does not guess.
//!
//! Everything here is pure and works on plain values; errors never echo the input, which may be
//! a worker's track.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{GeoPoint, TrackPoint};

/// Fixes less precise than this (metres) are not used for distance.
pub const MAX_ACCURACY_M: f64 = 50.0;

/// Fastest plausible speed of a worker on foot or on an e-bike (m/s, 54 km/h). A faster
/// implied speed between two fixes is a GPS jump.
pub const MAX_SPEED_MPS: f64 = 15.0;

/// Metres of horizontal error per unit of GPX `hdop` (a rough, commonly used factor).
const HDOP_TO_METRES: f64 = 5.0;

/// Great-circle distance in metres between two WGS-84 points (haversine, mean Earth radius).
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> f64 {
    Haversine.distance(to_point(a), to_point(b))
}

fn to_point(p: GeoPoint) -> Point<f64> {
    Point::new(p.lng, p.lat)
}

fn is_usable_position(lat: f64, lng: f64) -> bool {
    lat.is_finite()
        && lng.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
        && !(lat == 0.0 && lng == 0.0)
}

/// Summary of a patrol track after filtering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackStats {
    /// Metres along the kept points, in time order.
    pub distance_m: f64,
    /// Seconds from the first to the last point (all points, kept or not); 0 for fewer than two.
    pub duration_s: i64,
    /// Points that passed the accuracy and speed filters.
    pub kept_points: usize,
}

/// Distance, duration and kept-point count of a track.
///
/// Points are taken in time order (the input order does not matter). A point is dropped when its
/// reported accuracy is worse than 50 m, when its position is unusable (not finite, out of
/// range, or exactly (0, 0), the "no fix" value of many GPS stacks), or when reaching it from
/// the last kept point would need more than 15 m/s. The distance is the sum of the legs between
/// kept points. The duration spans all points, since the worker was on patrol even while the
/// GPS was poor.
pub fn track_stats(points: &[TrackPoint]) -> TrackStats {
    let mut sorted: Vec<&TrackPoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.at);

    let duration_s = match (sorted.first(), sorted.last()) {
        (Some(first), Some(last)) if sorted.len() >= 2 => (last.at - first.at).num_seconds(),
        _ => 0,
    };

    let mut distance = 0.0;
    let mut kept = 0usize;
    let mut last: Option<&TrackPoint> = None;
    for p in sorted {
        let precise = p
            .accuracy_m
            .is_none_or(|a| a.is_finite() && a <= MAX_ACCURACY_M);
        if !precise || !is_usable_position(p.lat, p.lng) {
            continue;
        }
        if let Some(prev) = last {
            let leg = distance_m(
                GeoPoint {
                    lat: prev.lat,
                    lng: prev.lng,
                },
                GeoPoint {
                    lat: p.lat,
                    lng: p.lng,
                },
            );
            let dt_s = (p.at - prev.at).num_milliseconds() as f64 / 1000.0;
            let too_fast = if dt_s > 0.0 {
                leg / dt_s > MAX_SPEED_MPS
            } else {
                leg > 0.0
            };
            if too_fast {
                continue;
            }
            distance += leg;
        }
        kept += 1;
        last = Some(p);
    }

    TrackStats {
        distance_m: distance,
        duration_s,
        kept_points: kept,
    }
}

/// Grid boundaries are `gridwalk-domain`'s, shared with the server's console.
pub use gridwalk_domain::boundary::{Boundary, BoundaryError};

impl From<BoundaryError> for Error {
    fn from(e: BoundaryError) -> Self {
        Error::Format {
            what: "geojson",
            detail: e.detail,
        }
    }
}

fn gpx_error(detail: impl Into<String>) -> Error {
    Error::Format {
        what: "gpx",
        detail: detail.into(),
    }
}

/// Describes a GPX read error without quoting the input (values or element names).
fn describe_gpx_error(e: &gpx::errors::GpxError) -> &'static str {
    use gpx::errors::GpxError as E;
    match e {
        E::XmlParseError(_) => "not well-formed XML",
        E::UnknownVersionError(_) => "not a GPX 1.0 or 1.1 document",
        E::LonLatOutOfBoundsError(..) => "a point's latitude or longitude is out of range",
        E::Iso8601Error(_) => "a time is not an ISO 8601 date and time",
        E::ParseFloatError(_) | E::ParseIntegerError(_) => "a number cannot be read",
        E::InvalidElementLacksAttribute(..) => "a point lacks its lat or lon attribute",
        _ => "not a readable GPX document",
    }
}

fn gpx_time(t: gpx::Time) -> Option<DateTime<Utc>> {
    // The `time` crate's type is not reachable from here; go through its ISO 8601 rendering.
    let s = t.format().ok()?;
    DateTime::parse_from_rfc3339(&s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Reads the points of a GPX file (e.g. a track recorded by another app or a GPS unit).
///
/// Returns the points of all track segments in file order or, when the file has no track
/// points, the points of its routes. Every point needs a `<time>` (a track without times has
/// no duration or speed); a point without one is [`Error::Format`]. `hdop` becomes an accuracy
/// estimate of `hdop × 5` metres. Unreadable XML or GPX is [`Error::Format`] with
/// `what: "gpx"`. A file without any track or route point gives an empty list.
pub fn parse_gpx(bytes: &[u8]) -> Result<Vec<TrackPoint>, Error> {
    let doc = gpx::read(Cursor::new(bytes)).map_err(|e| gpx_error(describe_gpx_error(&e)))?;

    let track_points: Vec<&gpx::Waypoint> = doc
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
        .collect();
    let waypoints = if track_points.is_empty() {
        doc.routes.iter().flat_map(|r| &r.points).collect()
    } else {
        track_points
    };

    waypoints
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let time = w
                .time
                .ok_or_else(|| gpx_error(format!("point {} has no time", i + 1)))?;
            let at = gpx_time(time)
                .ok_or_else(|| gpx_error(format!("point {} has an unusable time", i + 1)))?;
            let p = w.point();
            let accuracy_m = w
                .hdop
                .filter(|h| h.is_finite() && *h >= 0.0)
                .map(|h| h * HDOP_TO_METRES);
            Ok(TrackPoint {
                at,
                lat: p.y(),
                lng: p.x(),
                accuracy_m,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn pt(lat: f64, lng: f64) -> GeoPoint {
        GeoPoint { lat, lng }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 15, 8, 0, 0).unwrap()
    }

    fn tp(secs: i64, lat: f64, lng: f64, accuracy_m: Option<f64>) -> TrackPoint {
        TrackPoint {
            at: t0() + Duration::seconds(secs),
            lat,
            lng,
            accuracy_m,
        }
    }

    /// 0.001° of latitude in metres on the mean-radius sphere.
    const MILLIDEGREE_M: f64 = 111.195;

    #[test]
    fn distance_of_known_pairs() {
        let d = distance_m(pt(30.0, 120.0), pt(30.001, 120.0));
        assert!((d - MILLIDEGREE_M).abs() < 0.01, "{d}");
        assert_eq!(distance_m(pt(30.0, 120.0), pt(30.0, 120.0)), 0.0);
        // Symmetric.
        let a = pt(39.9087, 116.3975); // Tiananmen
        let b = pt(31.2397, 121.4998); // Lujiazui
        assert!((distance_m(a, b) - distance_m(b, a)).abs() < 1e-6);
        // Beijing–Shanghai is about 1 067 km as the crow flies.
        assert!((distance_m(a, b) / 1000.0 - 1067.0).abs() < 10.0);
        // Along a parallel the distance shrinks with cos(lat).
        let e = distance_m(pt(60.0, 120.0), pt(60.0, 120.001));
        assert!((e - MILLIDEGREE_M * 0.5).abs() < 0.05, "{e}");
    }

    #[test]
    fn track_filters_jumps_and_imprecise_fixes() {
        // Walking north ~1.1 m/s: 0.001° (111 m) every 100 s.
        let points = vec![
            tp(0, 30.000, 120.0, Some(5.0)),
            tp(100, 30.001, 120.0, Some(8.0)),
            // A jump of ~1.1 km in 10 s: 111 m/s, dropped.
            tp(110, 30.011, 120.0, Some(10.0)),
            tp(200, 30.002, 120.0, None),
            // Imprecise fix, dropped even though it is on the path.
            tp(250, 30.0025, 120.0, Some(80.0)),
            tp(300, 30.003, 120.0, Some(50.0)),
        ];
        let s = track_stats(&points);
        assert_eq!(s.kept_points, 4);
        assert_eq!(s.duration_s, 300);
        assert!((s.distance_m - 3.0 * MILLIDEGREE_M).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn track_is_sorted_by_time_first() {
        let mut points = vec![
            tp(0, 30.000, 120.0, None),
            tp(100, 30.001, 120.0, None),
            tp(200, 30.002, 120.0, None),
        ];
        points.reverse();
        let s = track_stats(&points);
        assert_eq!(s.kept_points, 3);
        assert_eq!(s.duration_s, 200);
        assert!((s.distance_m - 2.0 * MILLIDEGREE_M).abs() < 0.1);
    }

    #[test]
    fn track_duration_spans_dropped_points() {
        let points = vec![
            tp(0, 30.000, 120.0, Some(200.0)),
            tp(60, 30.0001, 120.0, None),
            tp(120, 30.0002, 120.0, None),
            tp(600, 30.0003, 120.0, Some(99.0)),
        ];
        let s = track_stats(&points);
        assert_eq!(s.duration_s, 600);
        assert_eq!(s.kept_points, 2);
    }

    #[test]
    fn track_degenerate_inputs() {
        assert_eq!(track_stats(&[]), TrackStats::default());
        let one = track_stats(&[tp(0, 30.0, 120.0, None)]);
        assert_eq!(
            (one.kept_points, one.duration_s, one.distance_m),
            (1, 0, 0.0)
        );
        // Same instant: a duplicate is kept, a teleport is not.
        let s = track_stats(&[
            tp(0, 30.0, 120.0, None),
            tp(0, 30.0, 120.0, None),
            tp(0, 30.01, 120.0, None),
        ]);
        assert_eq!(s.kept_points, 2);
        assert_eq!(s.distance_m, 0.0);
        // Null Island, NaN and NaN accuracy are not positions.
        let s = track_stats(&[
            tp(0, 0.0, 0.0, None),
            tp(10, f64::NAN, 120.0, None),
            tp(20, 30.0, 120.0, Some(f64::NAN)),
            tp(30, 30.0, 120.0, Some(3.0)),
        ]);
        assert_eq!(s.kept_points, 1);
        assert_eq!(s.duration_s, 30);
    }

    #[test]
    fn track_allows_e_bike_speed() {
        // 0.001° in 10 s ≈ 11.1 m/s: an e-bike, kept.
        let s = track_stats(&[tp(0, 30.0, 120.0, None), tp(10, 30.001, 120.0, None)]);
        assert_eq!(s.kept_points, 2);
        // The same in 7 s ≈ 15.9 m/s: a jump.
        let s = track_stats(&[tp(0, 30.0, 120.0, None), tp(7, 30.001, 120.0, None)]);
        assert_eq!(s.kept_points, 1);
        assert_eq!(s.distance_m, 0.0);
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[120.0,30.0],[120.1,30.0],[120.1,30.1],[120.0,30.1],[120.0,30.0]]]}"#;

    #[test]
    fn boundary_from_polygon_geometry() {
        let b = Boundary::parse(SQUARE).unwrap();
        assert!(b.contains(pt(30.05, 120.05)));
        assert!(!b.contains(pt(30.05, 120.15)));
        assert!(!b.contains(pt(30.2, 120.05)));
        // Positions are [lng, lat]: the swapped point is far away.
        assert!(!b.contains(pt(120.05, 30.05)));
        // On an edge and on a vertex: inside.
        assert!(b.contains(pt(30.0, 120.05)));
        assert!(b.contains(pt(30.05, 120.1)));
        assert!(b.contains(pt(30.1, 120.1)));
        assert!(!b.contains(pt(f64::NAN, 120.05)));
        let c = b.centroid().unwrap();
        assert!((c.lat - 30.05).abs() < 1e-9 && (c.lng - 120.05).abs() < 1e-9);
        assert_eq!(b.multi_polygon().0.len(), 1);
    }

    #[test]
    fn boundary_with_hole_and_unclosed_ring() {
        let b = Boundary::parse(
            r#"{"type":"Polygon","coordinates":[
                [[0.0,10.0],[4.0,10.0],[4.0,14.0],[0.0,14.0]],
                [[1.0,11.0],[3.0,11.0],[3.0,13.0],[1.0,13.0],[1.0,11.0]]]}"#,
        )
        .unwrap();
        assert!(b.contains(pt(10.5, 0.5)));
        assert!(!b.contains(pt(12.0, 2.0)));
        assert!(b.contains(pt(11.0, 2.0))); // on the hole's border
    }

    #[test]
    fn boundary_from_feature() {
        let json = format!(
            r#"{{"type":"Feature","properties":{{"name":"幸福社区第一网格"}},"geometry":{SQUARE}}}"#
        );
        let b = Boundary::parse(&json).unwrap();
        assert!(b.contains(pt(30.05, 120.05)));
        assert!(!b.contains(pt(29.95, 120.05)));
    }

    #[test]
    fn boundary_from_feature_collection_is_a_union() {
        let json = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[120.0,30.0],[120.1,30.0],[120.1,30.1],[120.0,30.1],[120.0,30.0]]]}},
            {"type":"Feature","properties":null,"geometry":{"type":"MultiPolygon","coordinates":[
                [[[121.0,31.0],[121.1,31.0],[121.1,31.1],[121.0,31.1],[121.0,31.0]]],
                [[[122.0,32.0],[122.1,32.0],[122.1,32.1],[122.0,32.1],[122.0,32.0]]]]}}
        ]}"#;
        let b = Boundary::parse(json).unwrap();
        assert_eq!(b.multi_polygon().0.len(), 3);
        assert!(b.contains(pt(30.05, 120.05)));
        assert!(b.contains(pt(31.05, 121.05)));
        assert!(b.contains(pt(32.1, 122.05)));
        assert!(!b.contains(pt(30.5, 120.5)));
        let c = b.centroid().unwrap();
        assert!(
            (c.lng - 121.05).abs() < 1e-6 && (c.lat - 31.05).abs() < 0.01,
            "{c:?}"
        );
    }

    fn geojson_detail(json: &str) -> String {
        match Boundary::parse(json).map_err(Error::from) {
            Err(Error::Format { what, detail }) => {
                assert_eq!(what, "geojson");
                detail
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn bad_geojson_is_a_format_error() {
        for bad in [
            "",
            "not json at all",
            r#"{"type":"Polygon","coordinates":[[[120.0,30.0],[120.1,30.0]"#,
            r#"{"type":"Point","coordinates":[120.0,30.0]}"#,
            r#"{"type":"LineString","coordinates":[[120.0,30.0],[120.1,30.0]]}"#,
            r#"{"type":"Feature","properties":{},"geometry":null}"#,
            r#"{"type":"FeatureCollection","features":[]}"#,
            r#"{"type":"MultiPolygon","coordinates":[]}"#,
            r#"{"type":"Polygon","coordinates":[]}"#,
            r#"{"type":"Polygon","coordinates":[[[120.0,30.0],[120.1,30.0]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[120.0],[120.1,30.0],[120.1,30.1],[120.0,30.0]]]}"#,
            // Gauss–Krüger metres, not degrees.
            r#"{"type":"Polygon","coordinates":[[[500000.0,3300000.0],[501000.0,3300000.0],[501000.0,3301000.0],[500000.0,3300000.0]]]}"#,
            r#"{"type":"Secret-110105194912310021","coordinates":[]}"#,
            r#"[1,2,3]"#,
        ] {
            let detail = geojson_detail(bad);
            assert!(!detail.contains("110105"), "{detail}");
            assert!(!detail.contains("Secret"), "{detail}");
        }
        // A collection with a non-polygon feature is refused as a whole.
        let mixed = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{SQUARE}}},{{"type":"Feature","properties":{{}},"geometry":{{"type":"Point","coordinates":[120.05,30.05]}}}}]}}"#
        );
        assert!(geojson_detail(&mixed).contains("Point"));
    }

    const GPX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>巡查</name><trkseg>
    <trkpt lat="30.000" lon="120.000"><time>2024-06-15T08:00:00Z</time><hdop>1.2</hdop></trkpt>
    <trkpt lat="30.001" lon="120.000"><time>2024-06-15T08:01:40Z</time></trkpt>
    <trkpt lat="30.002" lon="120.000"><ele>12.5</ele><time>2024-06-15T16:03:20+08:00</time></trkpt>
  </trkseg></trk>
</gpx>"#;

    #[test]
    fn gpx_track_points() {
        let points = parse_gpx(GPX.as_bytes()).unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].at, t0());
        assert_eq!(points[0].lat, 30.0);
        assert_eq!(points[0].lng, 120.0);
        assert!((points[0].accuracy_m.unwrap() - 6.0).abs() < 1e-9);
        assert_eq!(points[1].accuracy_m, None);
        assert_eq!(points[1].at, t0() + Duration::seconds(100));
        // +08:00 is converted to UTC.
        assert_eq!(points[2].at, t0() + Duration::seconds(200));
        let s = track_stats(&points);
        assert_eq!((s.kept_points, s.duration_s), (3, 200));
        assert!((s.distance_m - 2.0 * MILLIDEGREE_M).abs() < 0.1);
    }

    #[test]
    fn gpx_route_points_when_no_track() {
        let gpx = r#"<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <rte>
    <rtept lat="30.0" lon="120.0"><time>2024-06-15T08:00:00Z</time></rtept>
    <rtept lat="30.1" lon="120.1"><time>2024-06-15T08:10:00.500Z</time></rtept>
  </rte>
</gpx>"#;
        let points = parse_gpx(gpx.as_bytes()).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[1].at, t0() + Duration::milliseconds(600_500));
        assert_eq!(points[1].lng, 120.1);
    }

    #[test]
    fn gpx_without_points_is_empty() {
        let gpx =
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"></gpx>"#;
        assert!(parse_gpx(gpx.as_bytes()).unwrap().is_empty());
    }

    fn gpx_detail(bytes: &[u8]) -> String {
        match parse_gpx(bytes) {
            Err(Error::Format { what, detail }) => {
                assert_eq!(what, "gpx");
                detail
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn gpx_point_without_time_is_refused() {
        let gpx = r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><trkseg>
    <trkpt lat="30.0" lon="120.0"><time>2024-06-15T08:00:00Z</time></trkpt>
    <trkpt lat="30.001" lon="120.0"></trkpt>
  </trkseg></trk></gpx>"#;
        let detail = gpx_detail(gpx.as_bytes());
        assert!(detail.contains("point 2"), "{detail}");
    }

    #[test]
    fn invalid_gpx_is_a_format_error() {
        for bad in [
            &b""[..],
            b"not xml",
            b"<gpx version=\"1.1\"><trk><trkseg><trkpt lat=\"30\" lon=\"120\">",
            b"<kml><Document/></kml>",
            b"<gpx version=\"1.1\" creator=\"t\"><trk><trkseg><trkpt lat=\"95.5\" lon=\"120\"><time>2024-06-15T08:00:00Z</time></trkpt></trkseg></trk></gpx>",
            b"<gpx version=\"1.1\" creator=\"t\"><trk><trkseg><trkpt lat=\"30\" lon=\"120\"><time>yesterday 13800138000</time></trkpt></trkseg></trk></gpx>",
            b"\xff\xfe\x00garbage",
        ] {
            let detail = gpx_detail(bad);
            assert!(!detail.contains("13800138000"), "{detail}");
            assert!(!detail.contains("95.5"), "{detail}");
        }
    }
}
