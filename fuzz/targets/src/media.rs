//! Targets for files a worker imports or shoots: GPX tracks and photos.
//!
//! A GPX file comes from another app or a GPS unit; a photo from the camera, the gallery or a
//! shared file. Either may be cut off, hostile or simply odd; the import must refuse it with an
//! error, never panic, and what it accepts must be usable.

use chrono::{FixedOffset, TimeZone, Utc};
use gridwalk_core::geometry::{parse_gpx, track_stats};
use gridwalk_core::photos::{process, PhotoSettings, SourceFormat};

/// GPX import: the points, then the statistics a patrol shows.
pub fn gpx(data: &[u8]) {
    let Ok(points) = parse_gpx(data) else {
        return;
    };
    let stats = track_stats(&points);
    assert!(
        stats.distance_m.is_finite() && stats.distance_m >= 0.0,
        "{stats:?}"
    );
    assert!(stats.duration_s >= 0, "{stats:?}");
    assert!(stats.kept_points <= points.len());
}

/// Small limits so one input takes milliseconds; the code paths are those of the defaults.
fn settings() -> PhotoSettings {
    PhotoSettings {
        max_side: 256,
        jpeg_quality: 60,
        thumb_side: 64,
        quota_bytes: 1 << 30,
        max_input_pixels: 1 << 20,
    }
}

/// The photo pipeline: sniff, EXIF, decode, orient, downscale, re-encode, thumbnail, hash.
pub fn photo(data: &[u8]) {
    let s = settings();
    let offset = FixedOffset::east_opt(8 * 3600).expect("+08:00");
    let now = Utc
        .with_ymd_and_hms(2025, 6, 15, 8, 0, 0)
        .single()
        .expect("a valid time");
    let Ok(p) = process(data, &s, offset, now) else {
        return;
    };
    assert!(matches!(p.source, SourceFormat::Jpeg | SourceFormat::Png));
    assert!(p.width >= 1 && p.height >= 1);
    assert!(
        p.width.max(p.height) <= s.max_side,
        "{}x{}",
        p.width,
        p.height
    );
    assert_eq!(p.sha256, gridwalk_core::photos::sha256_hex(&p.jpeg));
    assert!(
        p.taken_at.is_none_or(|t| t <= now),
        "photo taken in the future"
    );
    if let Some(l) = p.location {
        assert!((-90.0..=90.0).contains(&l.lat) && (-180.0..=180.0).contains(&l.lng));
    }
    for (bytes, side) in [(&p.jpeg, s.max_side), (&p.thumb, s.thumb_side)] {
        assert!(
            bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            "output is not a JPEG"
        );
        assert!(
            !bytes.windows(6).any(|w| w == b"Exif\0\0"),
            "EXIF survived the pipeline"
        );
        let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
            .expect("output decodes");
        assert!(img.width().max(img.height()) <= side);
    }
}
