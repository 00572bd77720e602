//! Test images for the photo pipeline: JPEGs and PNGs made in-test, with an EXIF block written
//! by `kamadak-exif`'s (experimental) writer and spliced in as an APP1 segment, the way a phone
//! camera writes it. Shared by `tests/photos.rs`, `tests/photo_kill.rs`, and by the e2e crate's upload test and
//! benchmark (`tests/tests/photo_upload.rs`, through `#[path]`).
#![allow(dead_code)]

use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// What to put in the EXIF block.
#[derive(Debug, Clone, Default)]
pub struct ExifSpec {
    pub orientation: Option<u16>,
    /// `YYYY:MM:DD HH:MM:SS`, camera local time.
    pub taken: Option<&'static str>,
    /// `+08:00`.
    pub offset: Option<&'static str>,
    pub gps: Option<(f64, f64)>,
    /// Camera model (personal-ish data that must not survive).
    pub model: Option<&'static str>,
}

/// A camera-like scene: smooth gradients, a few shapes and mild noise (so it compresses like a
/// photo, not like a flat test card). The left half is warm, the right half cold.
pub fn scene(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = fastrand::Rng::with_seed(seed);
    let cx = rng.u32(0..w.max(1));
    let cy = rng.u32(0..h.max(1));
    RgbImage::from_fn(w, h, |x, y| {
        let n = rng.i32(-12..=12);
        let dx = x as i32 - cx as i32;
        let dy = y as i32 - cy as i32;
        let ring = (((dx * dx + dy * dy) as f64).sqrt() / 9.0).sin() * 30.0;
        let gx = (x * 200 / w.max(1)) as i32;
        let gy = (y * 120 / h.max(1)) as i32;
        let c = |v: i32| v.clamp(0, 255) as u8;
        if x < w / 2 {
            Rgb([c(200 + n + ring as i32 / 2), c(60 + gy + n), c(40 + n)])
        } else {
            Rgb([
                c(30 + n),
                c(60 + gy / 2 + n),
                c(180 + gx / 4 + n + ring as i32),
            ])
        }
    })
}

/// A JPEG of [`scene`] at quality 92 (what a phone camera writes), no EXIF.
pub fn jpeg(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(scene(w, h, seed));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .expect("encode test jpeg");
    out
}

/// A PNG of [`scene`], optionally with a transparent band at the top.
pub fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    if alpha {
        let base = scene(w, h, 7);
        let img = RgbaImage::from_fn(w, h, |x, y| {
            let p = base.get_pixel(x, y);
            Rgba([p[0], p[1], p[2], if y < h / 4 { 0 } else { 255 }])
        });
        DynamicImage::ImageRgba8(img)
            .write_to(&mut out, ImageFormat::Png)
            .expect("encode png");
    } else {
        DynamicImage::ImageRgb8(scene(w, h, 7))
            .write_to(&mut out, ImageFormat::Png)
            .expect("encode png");
    }
    out.into_inner()
}

fn dms(v: f64) -> Vec<Rational> {
    let v = v.abs();
    let d = v.floor();
    let m = ((v - d) * 60.0).floor();
    let s = ((v - d) * 60.0 - m) * 60.0;
    vec![
        Rational::from((d as u32, 1)),
        Rational::from((m as u32, 1)),
        Rational::from(((s * 10_000.0).round() as u32, 10_000)),
    ]
}

fn ascii(s: &str) -> Value {
    Value::Ascii(vec![s.as_bytes().to_vec()])
}

/// The TIFF body of an EXIF block.
pub fn exif_block(spec: &ExifSpec) -> Vec<u8> {
    let mut fields = Vec::new();
    let f = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    fields.push(f(
        Tag::Orientation,
        Value::Short(vec![spec.orientation.unwrap_or(1)]),
    ));
    if let Some(m) = spec.model {
        fields.push(f(Tag::Make, ascii("Xiaomi")));
        fields.push(f(Tag::Model, ascii(m)));
    }
    if let Some(t) = spec.taken {
        fields.push(f(Tag::DateTimeOriginal, ascii(t)));
        fields.push(f(Tag::DateTime, ascii(t)));
    }
    if let Some(o) = spec.offset {
        fields.push(f(Tag::OffsetTimeOriginal, ascii(o)));
    }
    if let Some((lat, lng)) = spec.gps {
        fields.push(f(
            Tag::GPSLatitudeRef,
            ascii(if lat < 0.0 { "S" } else { "N" }),
        ));
        fields.push(f(Tag::GPSLatitude, Value::Rational(dms(lat))));
        fields.push(f(
            Tag::GPSLongitudeRef,
            ascii(if lng < 0.0 { "W" } else { "E" }),
        ));
        fields.push(f(Tag::GPSLongitude, Value::Rational(dms(lng))));
    }
    let mut w = Writer::new();
    for field in &fields {
        w.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    w.write(&mut out, false).expect("write exif");
    out.into_inner()
}

/// `jpeg` with an APP1 EXIF segment right after SOI.
pub fn with_exif(jpeg: &[u8], spec: &ExifSpec) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let body = exif_block(spec);
    let len = u16::try_from(body.len() + 8).expect("exif fits a segment");
    let mut out = Vec::with_capacity(jpeg.len() + body.len() + 10);
    out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A phone photo: `w`x`h` scene with orientation, time, GPS and camera model in EXIF.
pub fn camera_photo(w: u32, h: u32, seed: u64) -> Vec<u8> {
    with_exif(
        &jpeg(w, h, seed),
        &ExifSpec {
            orientation: Some(1),
            taken: Some("2026:11:18 08:30:00"),
            offset: None,
            gps: Some((37.78, 107.40)),
            model: Some("Redmi Note 12"),
        },
    )
}

/// Whether `bytes` carry any EXIF (an APP1 `Exif` segment or an EXIF block kamadak can find).
pub fn has_exif(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"Exif\0\0")
        || exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .is_ok()
}

/// The first HEIC bytes an iPhone writes (ftyp box with brand `heic`).
pub const HEIC_HEADER: &[u8] =
    b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\x01\xfemeta\0\0\0\0\0\0\0\x21hdlr";

/// A 1x1 GIF.
pub const GIF: &[u8] =
    b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
