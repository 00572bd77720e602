//! Photos: from the camera's bytes to a stored, EXIF-free JPEG with a thumbnail, and later off
//! the phone once the server has it.
//!
//! Why each step:
//! - **Decode and re-encode.** A phone camera hands over a 3-8 MB JPEG (or a PNG screenshot) with
//!   EXIF that holds the exact GPS position and the phone model. The worker's network is a
//!   basement and the phone's storage is small, so the photo is decoded, turned upright (EXIF
//!   orientation), downscaled to a longest side of [`PhotoSettings::max_side`] and re-encoded as
//!   JPEG. A JPEG much larger than that is decoded at 1/2, 1/4 or 1/8 scale (reduced IDCT,
//!   [`dct_denominator`]): a 12 MP camera photo never exists in memory at full size, which
//!   quarters the decode's memory and removes the costly resize (the stored side may then be
//!   up to 1/16 under `max_side`: 2000 px for a 4000 px camera). The encoder writes no EXIF,
//!   so nothing personal leaves inside the file; the capture time and GPS position are kept as
//!   structured fields of the row instead, where the app decides who sees them. Supported inputs: JPEG and PNG (pure-Rust decoders). HEIC has no
//!   pure-Rust decoder, so it (and GIF, WebP, anything else) gets a typed
//!   [`Code::UnsupportedFormat`]; the shells ask the OS camera for JPEG. A damaged or truncated
//!   file gets [`Code::Corrupt`]. Re-encoding is deterministic, so the same image attached twice
//!   is the same SHA-256.
//! - **Content addressing.** The SHA-256 of the stored bytes is the file name (`<sha>.jpg`, and
//!   `<sha>.thumb.jpg` for the thumbnail) and the content id the server links by: the same image
//!   attached twice to one owner is one row; the same bytes on two owners are one file and two
//!   rows, and upload once.
//! - **Kill safety.** Files are written inside the store's write transaction: temp file, fsync,
//!   rename, fsync the folder, then the row, then commit. A kill before the rename leaves a temp
//!   file; a kill between the rename and the commit leaves a file no row names. Both are removed
//!   by [`Store::sweep_photo_dir`], which [`Store::open`] runs under the same write lock — so a
//!   row never points at a missing file, and no orphan survives the next open. (Holding the
//!   SQLite write lock while writing also keeps another process's sweep from deleting a file
//!   whose row is about to commit.)
//! - **Retention.** A full-size file is deleted only when its upload is `done` — the server
//!   confirmed the complete file with the matching hash (`sync/upload.rs`) — and the caller's
//!   [`RetentionPolicy`] allows it. The row and the thumbnail stay, so lists still show it.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::changes::{self, entity, op};
use crate::error::{Code, Error, Result};
use crate::model::{
    new_id, CaseEventKind, CaseStatus, GeoPoint, PhotoFileState, PhotoMeta, PhotoUploadState,
};
use crate::store::{from_ms, get_meta, ms, set_meta, Store, Tx};
use crate::validate;

/// The field name every photo validation error carries.
pub const FIELD: &str = "photo";
/// MIME types of the inputs the pipeline decodes. Everything else is `unsupported_format`.
pub const SUPPORTED_INPUTS: &[&str] = &["image/jpeg", "image/png"];
/// MIME type of every stored photo and thumbnail.
pub const STORED_MIME: &str = gridwalk_domain::entities::PHOTO_MIME;

const SETTINGS_KEY: &str = "photo_settings";
const THUMB_SUFFIX: &str = ".thumb.jpg";
const TEMP_SUFFIX: &str = ".tmp";

/// How photos are processed and how much room they may take. Kept in the store (`meta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhotoSettings {
    /// Longest side of the stored image, in pixels (default 2048). Smaller images are kept as is;
    /// a JPEG decoded at reduced scale may end up to 1/16 under it ([`dct_denominator`]).
    pub max_side: u32,
    /// JPEG quality 1-100 of the stored image and thumbnail (default 80).
    pub jpeg_quality: u8,
    /// Longest side of the thumbnail (default 320).
    pub thumb_side: u32,
    /// Size of the photo folder above which the app warns (default 1 GiB). Never refuses a photo:
    /// a hazard must be recordable on a full phone.
    pub quota_bytes: u64,
    /// Largest input accepted, in pixels (default 64 MP): a decoded 12 MP photo already takes
    /// 36 MB of a cheap phone's memory.
    pub max_input_pixels: u64,
}

impl Default for PhotoSettings {
    fn default() -> Self {
        PhotoSettings {
            max_side: 2048,
            jpeg_quality: 80,
            thumb_side: 320,
            quota_bytes: 1 << 30,
            max_input_pixels: 64_000_000,
        }
    }
}

impl PhotoSettings {
    /// Checks every value; the field of the first bad one is named.
    pub fn validate(&self) -> Result<()> {
        if !(256..=8192).contains(&self.max_side) {
            return Err(Error::invalid("max_side", Code::OutOfRange));
        }
        if !(30..=100).contains(&self.jpeg_quality) {
            return Err(Error::invalid("jpeg_quality", Code::OutOfRange));
        }
        if !(64..=1024).contains(&self.thumb_side) || self.thumb_side > self.max_side {
            return Err(Error::invalid("thumb_side", Code::OutOfRange));
        }
        if self.quota_bytes == 0 {
            return Err(Error::invalid("quota_bytes", Code::OutOfRange));
        }
        if !(1_000_000..=400_000_000).contains(&self.max_input_pixels) {
            return Err(Error::invalid("max_input_pixels", Code::OutOfRange));
        }
        Ok(())
    }
}

/// What a photo is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PhotoOwner {
    /// A draft case (its photos ship when the case is submitted).
    Case(String),
    /// A visit (ships at once: visits are already on their way).
    Visit(String),
    /// A patrol.
    Patrol(String),
    /// "After" evidence on a submitted case: the worker photographs the fix on site (核查).
    /// The id is the case id.
    Verification(String),
}

impl PhotoOwner {
    /// The stable `owner_kind` code stored in the row and sent on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            PhotoOwner::Case(_) => "case",
            PhotoOwner::Visit(_) => "visit",
            PhotoOwner::Patrol(_) => "patrol",
            PhotoOwner::Verification(_) => "verification",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            PhotoOwner::Case(id)
            | PhotoOwner::Visit(id)
            | PhotoOwner::Patrol(id)
            | PhotoOwner::Verification(id) => id,
        }
    }

    /// Parses an `owner_kind` code and an id (CLI, bindings).
    pub fn parse(kind: &str, id: &str) -> Result<PhotoOwner> {
        let id = id.trim().to_string();
        if id.is_empty() {
            return Err(Error::invalid("owner_id", Code::Required));
        }
        Ok(match kind.trim() {
            "case" => PhotoOwner::Case(id),
            "visit" => PhotoOwner::Visit(id),
            "patrol" => PhotoOwner::Patrol(id),
            "verification" => PhotoOwner::Verification(id),
            _ => return Err(Error::invalid("owner_kind", Code::InvalidValue)),
        })
    }
}

/// The input formats the pipeline recognises by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
}

/// A photo after the pipeline, before it is stored. Pure data: [`process`] has no side effects.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPhoto {
    /// The stored JPEG (no EXIF).
    pub jpeg: Vec<u8>,
    /// The thumbnail JPEG.
    pub thumb: Vec<u8>,
    /// SHA-256 of `jpeg`, lowercase hex.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// EXIF DateTimeOriginal (or DateTime), in UTC.
    pub taken_at: Option<DateTime<Utc>>,
    /// EXIF GPS position.
    pub location: Option<GeoPoint>,
    pub source: SourceFormat,
    /// EXIF orientation that was applied (1 = upright already).
    pub orientation: u16,
}

/// Recognises the input by its first bytes. Names the format it refuses in the log only.
pub fn sniff(bytes: &[u8]) -> Result<SourceFormat> {
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.is_empty() {
        return Err(Error::invalid(FIELD, Code::Required));
    }
    if bytes.starts_with(JPEG) {
        return Ok(SourceFormat::Jpeg);
    }
    if bytes.starts_with(PNG) {
        return Ok(SourceFormat::Png);
    }
    if JPEG.starts_with(bytes) || PNG.starts_with(bytes) {
        return Err(Error::invalid(FIELD, Code::Corrupt));
    }
    let kind = if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"avif" | b"avis" => "avif",
            _ => "heic",
        }
    } else if bytes.starts_with(b"GIF8") {
        "gif"
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "webp"
    } else if bytes.starts_with(b"BM") {
        "bmp"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "tiff"
    } else {
        "unknown"
    };
    tracing::info!(format = kind, "photo refused: unsupported format");
    Err(Error::invalid(FIELD, Code::UnsupportedFormat))
}

/// Runs the pipeline on the bytes a camera (or a file) gave: decode, orient, downscale,
/// re-encode, thumbnail, hash. `utc_offset` reads an EXIF time that carries no offset of its
/// own (cameras write local time); `now` bounds it (a camera clock in the future is ignored).
pub fn process(
    bytes: &[u8],
    settings: &PhotoSettings,
    utc_offset: FixedOffset,
    now: DateTime<Utc>,
) -> Result<ProcessedPhoto> {
    process_profiled(bytes, settings, utc_offset, now).map(|(photo, _)| photo)
}

/// Where the pipeline's time went, for the photo benchmark (`benches/photo.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhotoStages {
    pub exif: Duration,
    pub decode: Duration,
    pub orient: Duration,
    pub resize: Duration,
    pub encode: Duration,
    pub thumbnail: Duration,
    pub hash: Duration,
    /// Size the decoder produced (before orientation).
    pub decoded: (u32, u32),
    /// The decoder's scale: 1 (full size), 2, 4 or 8 (JPEG DCT scaling).
    pub scale_denom: u32,
    /// Size of the stored image and of the thumbnail.
    pub stored: (u32, u32),
    pub thumb: (u32, u32),
}

impl PhotoStages {
    /// The stage times in pipeline order, named.
    pub fn list(&self) -> [(&'static str, Duration); 7] {
        [
            ("EXIF", self.exif),
            ("decode", self.decode),
            ("orient", self.orient),
            ("resize", self.resize),
            ("encode", self.encode),
            ("thumbnail", self.thumbnail),
            ("hash", self.hash),
        ]
    }
}

/// [`process`], also returning the time of each stage.
pub fn process_profiled(
    bytes: &[u8],
    settings: &PhotoSettings,
    utc_offset: FixedOffset,
    now: DateTime<Utc>,
) -> Result<(ProcessedPhoto, PhotoStages)> {
    let mut stages = PhotoStages::default();
    let mut clock = Instant::now();
    let mut lap = |slot: &mut Duration| {
        let t = Instant::now();
        *slot = t - clock;
        clock = t;
    };
    let source = sniff(bytes)?;
    let meta = read_exif(bytes, utc_offset, now);
    let format = match source {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
    };
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(image_error)?;
    if w == 0 || h == 0 {
        return Err(Error::invalid(FIELD, Code::Corrupt));
    }
    if u64::from(w) * u64::from(h) > settings.max_input_pixels {
        return Err(Error::invalid(FIELD, Code::OutOfRange));
    }
    if source == SourceFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The JPEG decoder fills a cut-off scan with grey instead of failing; a photo that was
        // cut off in transfer must be refused, not stored half grey.
        return Err(Error::invalid(FIELD, Code::Corrupt));
    }
    lap(&mut stages.exif);
    let denom = match source {
        SourceFormat::Jpeg => dct_denominator(w.max(h), settings.max_side),
        SourceFormat::Png => 1,
    };
    let scaled = match denom {
        1 => None,
        _ => decode_jpeg_scaled(bytes, w, h, denom),
    };
    let (decoded, denom) = match scaled {
        Some(img) => (img, denom),
        None => {
            let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
            let mut limits = Limits::default();
            // RGBA16 is the widest buffer a decoder may need; a little room for its own tables.
            limits.max_alloc = Some(settings.max_input_pixels * 8 + (64 << 20));
            reader.limits(limits);
            (reader.decode().map_err(image_error)?, 1)
        }
    };
    stages.decoded = (decoded.width(), decoded.height());
    stages.scale_denom = denom;

    let mut img = flatten(decoded);
    lap(&mut stages.decode);
    let orientation = meta.orientation.unwrap_or(1);
    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(Orientation::from_exif)
    {
        img.apply_orientation(o);
    }
    lap(&mut stages.orient);
    let (w, h) = (img.width(), img.height());
    if w.max(h) > settings.max_side {
        img = img.resize(settings.max_side, settings.max_side, FilterType::Triangle);
    }
    lap(&mut stages.resize);
    let jpeg = encode_jpeg(&img, settings.jpeg_quality)?;
    lap(&mut stages.encode);
    let thumb_img = if img.width().max(img.height()) > settings.thumb_side {
        img.thumbnail(settings.thumb_side, settings.thumb_side)
    } else {
        img.clone()
    };
    let thumb = encode_jpeg(&thumb_img, settings.jpeg_quality)?;
    lap(&mut stages.thumbnail);
    let sha256 = sha256_hex(&jpeg);
    lap(&mut stages.hash);
    stages.stored = (img.width(), img.height());
    stages.thumb = (thumb_img.width(), thumb_img.height());
    Ok((
        ProcessedPhoto {
            sha256,
            width: img.width(),
            height: img.height(),
            jpeg,
            thumb,
            taken_at: meta.taken_at,
            location: meta.location,
            source,
            orientation,
        },
        stages,
    ))
}

/// The JPEG DCT scale (1, 2, 4 or 8) to decode a photo whose longest side is `long` for a
/// stored longest side of `max_side`: the smallest decode that is still at least 15/16 of
/// `max_side`. A 4000 px camera photo is decoded at 1/2 (2000 px, a quarter of the pixels and
/// of the memory) and stored as is, 2.3 % under 2048; a 3000 px one is decoded whole and
/// resized, since 1500 px would be too small.
pub fn dct_denominator(long: u32, max_side: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|d| u64::from(long.div_ceil(*d)) * 16 >= u64::from(max_side) * 15)
        .unwrap_or(1)
}

/// Decodes a baseline or progressive 8-bit JPEG at 1/`denom` of its size with a reduced IDCT
/// (`jpeg-decoder`): only the coefficients a smaller image needs are transformed and only the
/// smaller image is colour-converted and held in memory. `None` for anything it cannot do the
/// same as the full decoder (CMYK, 16-bit, an error of its own): the caller then decodes at
/// full size, so a photo the full decoder accepts is never refused here.
fn decode_jpeg_scaled(bytes: &[u8], w: u32, h: u32, denom: u32) -> Option<DynamicImage> {
    // A decoder bug on a hostile file must not take the app down: it is treated as "cannot",
    // and the full decoder (with its own checks) gets the file.
    std::panic::catch_unwind(|| scaled_decode(bytes, w, h, denom))
        .ok()
        .flatten()
}

fn scaled_decode(bytes: &[u8], w: u32, h: u32, denom: u32) -> Option<DynamicImage> {
    let want_w = u16::try_from(w.div_ceil(denom)).ok()?;
    let want_h = u16::try_from(h.div_ceil(denom)).ok()?;
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    let (got_w, got_h) = decoder.scale(want_w, want_h).ok()?;
    if (got_w, got_h) != (want_w, want_h) {
        return None;
    }
    let pixels = decoder.decode().ok()?;
    let info = decoder.info()?;
    let (iw, ih) = (u32::from(info.width), u32::from(info.height));
    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => {
            RgbImage::from_raw(iw, ih, pixels).map(DynamicImage::ImageRgb8)
        }
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(iw, ih, pixels).map(DynamicImage::ImageLuma8)
        }
        jpeg_decoder::PixelFormat::L16 | jpeg_decoder::PixelFormat::CMYK32 => None,
    }
}

/// SHA-256, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn image_error(e: ImageError) -> Error {
    match e {
        ImageError::Decoding(_) | ImageError::IoError(_) => Error::invalid(FIELD, Code::Corrupt),
        ImageError::Limits(_) => Error::invalid(FIELD, Code::OutOfRange),
        ImageError::Unsupported(_) => Error::invalid(FIELD, Code::UnsupportedFormat),
        other => Error::Format {
            what: "photo",
            detail: other.to_string(),
        },
    }
}

/// Whether a JPEG's entropy-coded data reaches an EOI marker: walks the marker segments to the
/// first scan, then looks for `FF D9` in the scan data (inside a scan, `FF` is followed only by
/// `00` stuffing or a restart/next marker, so `FF D9` there is the real end). Bytes after EOI
/// (motion-photo trailers) are allowed.
fn jpeg_is_complete(b: &[u8]) -> bool {
    let mut i = 2;
    // Header segments: FF xx LL LL ...
    loop {
        while i < b.len() && b[i] == 0xFF && b.get(i + 1) == Some(&0xFF) {
            i += 1; // fill bytes
        }
        if i + 4 > b.len() || b[i] != 0xFF {
            return false;
        }
        let marker = b[i + 1];
        if marker == 0xD9 {
            return false; // EOI before any scan: no image
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if len < 2 {
            return false;
        }
        i += 2 + len;
        if marker == 0xDA {
            break;
        }
    }
    // Scan data (and further scans of a progressive JPEG) up to EOI.
    while i + 1 < b.len() {
        if b[i] == 0xFF {
            let m = b[i + 1];
            if m == 0xD9 {
                return true;
            }
            if m == 0x00 || m == 0xFF || (0xD0..=0xD7).contains(&m) {
                i += if m == 0xFF { 1 } else { 2 };
                continue;
            }
            // Another marker segment between scans (DHT, SOS of the next scan, ...).
            if i + 4 > b.len() {
                return false;
            }
            let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
            i += 2 + len;
            continue;
        }
        i += 1;
    }
    false
}

/// Alpha is composited over white (JPEG has none); grey stays grey; everything else is RGB8.
fn flatten(img: DynamicImage) -> DynamicImage {
    let color = img.color();
    if color.has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = RgbImage::new(rgba.width(), rgba.height());
        for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
            let a = u16::from(p[3]);
            for c in 0..3 {
                o[c] = ((u16::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
            }
        }
        DynamicImage::ImageRgb8(out)
    } else if !color.has_color() {
        DynamicImage::ImageLuma8(img.to_luma8())
    } else {
        match img {
            DynamicImage::ImageRgb8(_) => img,
            other => DynamicImage::ImageRgb8(other.to_rgb8()),
        }
    }
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256 * 1024);
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| Error::Format {
            what: "photo",
            detail: e.to_string(),
        })?;
    Ok(out)
}

/// What the pipeline keeps from EXIF.
#[derive(Debug, Default)]
struct ExifMeta {
    orientation: Option<u16>,
    taken_at: Option<DateTime<Utc>>,
    location: Option<GeoPoint>,
}

/// Reads orientation, capture time and GPS. A broken EXIF block never refuses a photo: the
/// image is what matters, so whatever cannot be read is simply absent.
fn read_exif(bytes: &[u8], utc_offset: FixedOffset, now: DateTime<Utc>) -> ExifMeta {
    use exif::{In, Tag, Value};
    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(ex) = parsed else {
        return ExifMeta::default();
    };
    let field = |tag: Tag| ex.get_field(tag, In::PRIMARY);
    let ascii = |tag: Tag| -> Option<Vec<u8>> {
        match &field(tag)?.value {
            Value::Ascii(v) => v.first().cloned(),
            _ => None,
        }
    };
    let orientation = field(Tag::Orientation)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok())
        .filter(|v| (1..=8).contains(v));

    let taken_at = ascii(Tag::DateTimeOriginal)
        .or_else(|| ascii(Tag::DateTime))
        .and_then(|raw| {
            let dt = exif::DateTime::from_ascii(&raw).ok()?;
            let naive = NaiveDate::from_ymd_opt(
                i32::from(dt.year),
                u32::from(dt.month),
                u32::from(dt.day),
            )?
            .and_hms_opt(
                u32::from(dt.hour),
                u32::from(dt.minute),
                u32::from(dt.second),
            )?;
            let offset = ascii(Tag::OffsetTimeOriginal)
                .or_else(|| ascii(Tag::OffsetTime))
                .and_then(|o| parse_offset(&o))
                .unwrap_or(utc_offset);
            local_to_utc(naive, offset)
        })
        .filter(|t| t.year() >= 1990 && validate::not_future("taken_at", *t, now).is_ok());

    let coord = |value_tag: Tag, ref_tag: Tag, negative: u8| -> Option<f64> {
        let v = match &field(value_tag)?.value {
            Value::Rational(r) if r.len() >= 3 => r.clone(),
            _ => return None,
        };
        if v.iter().take(3).any(|r| r.denom == 0) {
            return None;
        }
        let deg = v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0;
        let sign = match ascii(ref_tag) {
            Some(r) if r.first() == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg)
    };
    let location = coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')
        .zip(coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W'))
        .map(|(lat, lng)| GeoPoint { lat, lng })
        .filter(|p| validate::coordinates("location", *p).is_ok());
    ExifMeta {
        orientation,
        taken_at,
        location,
    }
}

/// `+08:00` / `-05:30`.
fn parse_offset(raw: &[u8]) -> Option<FixedOffset> {
    let s = std::str::from_utf8(raw).ok()?.trim();
    if s.len() != 6 || s.as_bytes()[3] != b':' {
        return None;
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i32 = s[1..3].parse().ok()?;
    let m: i32 = s[4..6].parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn local_to_utc(naive: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// Writes `bytes` to `dir/name` atomically: temp file, fsync, rename, fsync the folder. If the
/// file is already there with the expected hash it is left alone (content addressing); a file
/// under the name with other bytes (damaged by hand) is replaced.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8], sha: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(name);
    if target.exists() {
        match sha {
            None => return Ok(()),
            Some(expected) => {
                if sha256_file(&target).ok().as_deref() == Some(expected) {
                    return Ok(());
                }
                tracing::warn!(file = name, "photo file did not match its hash; rewritten");
            }
        }
    }
    let tmp = dir.join(format!(".{name}.{}{TEMP_SUFFIX}", new_id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // Directories can be fsynced on Unix; elsewhere opening one may fail, which is not an error.
    match std::fs::File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) => Ok(()),
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `<sha256>.<ext>` or `<sha256>.thumb.jpg`: a file this module (or schema v2) wrote.
fn is_photo_name(name: &str) -> bool {
    name.len() > 65
        && name.is_char_boundary(64)
        && is_hex64(&name[..64])
        && name.as_bytes()[64] == b'.'
        && name[65..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

/// `.<photo name>.<uuid>.tmp`: a write that never reached its rename.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX) && name.len() > 66 && {
        let inner = &name[1..];
        inner.is_char_boundary(64) && is_hex64(&inner[..64])
    }
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

const SELECT: &str = "SELECT id, owner_kind, owner_id, sha256, file_name, byte_len, mime,
    taken_at, added_at, width, height, lat, lng, thumb_file, upload_state, file_state
    FROM photos";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoMeta> {
    let lat: Option<f64> = r.get(11)?;
    let lng: Option<f64> = r.get(12)?;
    Ok(PhotoMeta {
        id: r.get(0)?,
        owner_kind: r.get(1)?,
        owner_id: r.get(2)?,
        sha256: r.get(3)?,
        file_name: r.get(4)?,
        byte_len: r.get(5)?,
        mime: r.get(6)?,
        taken_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
        added_at: from_ms(r.get(8)?),
        width: r.get(9)?,
        height: r.get(10)?,
        location: lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng }),
        thumb_file: r.get(13)?,
        upload_state: r.get(14)?,
        file_state: r.get(15)?,
    })
}

/// Photos of one owner, oldest first.
pub(crate) fn list_for(conn: &Connection, kind: &str, owner_id: &str) -> Result<Vec<PhotoMeta>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE owner_kind = ?1 AND owner_id = ?2 ORDER BY added_at, id"
    ))?;
    let rows = stmt.query_map([kind, owner_id], map_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<PhotoMeta> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], map_row)
        .optional()?
        .ok_or_else(|| Error::NotFound {
            entity: "photo",
            id: id.to_string(),
        })
}

/// The photo record as the server receives it: metadata and the hash it links the file by.
pub(crate) fn ship(ctx: &Tx<'_>, p: &PhotoMeta, hlc: &str) -> Result<()> {
    let payload = json!({
        "owner_kind": p.owner_kind, "owner_id": p.owner_id, "sha256": p.sha256,
        "byte_len": p.byte_len, "mime": p.mime, "taken_at": p.taken_at.map(ms),
        "width": p.width, "height": p.height,
        "lat": p.location.map(|l| l.lat), "lng": p.location.map(|l| l.lng),
    });
    changes::record(ctx, entity::PHOTO, &p.id, op::CREATE, &payload, hlc)
}

/// Checks the owner exists and may take a photo now; returns whether the photo record ships
/// at once (`false` for a draft case: its photos ship when it is submitted).
fn check_owner(conn: &Connection, owner: &PhotoOwner) -> Result<bool> {
    let status = |action: &'static str| -> Result<CaseStatus> {
        conn.prepare_cached("SELECT status FROM cases WHERE id = ?1")?
            .query_row([owner.id()], |r| r.get::<_, CaseStatus>(0))
            .optional()?
            .ok_or_else(|| {
                tracing::debug!(action, "photo owner case not found");
                Error::NotFound {
                    entity: "case",
                    id: owner.id().to_string(),
                }
            })
    };
    let exists = |sql: &str, entity: &'static str| -> Result<()> {
        if conn.prepare_cached(sql)?.exists([owner.id()])? {
            Ok(())
        } else {
            Err(Error::NotFound {
                entity,
                id: owner.id().to_string(),
            })
        }
    };
    match owner {
        PhotoOwner::Case(_) => {
            let s = status("attach a photo")?;
            if s != CaseStatus::Draft {
                return Err(Error::InvalidState {
                    entity: "case",
                    id: owner.id().to_string(),
                    state: s.as_str().into(),
                    action: "attach a photo",
                });
            }
            Ok(false)
        }
        PhotoOwner::Verification(_) => {
            let s = status("add after-evidence")?;
            if s == CaseStatus::Draft {
                return Err(Error::InvalidState {
                    entity: "case",
                    id: owner.id().to_string(),
                    state: s.as_str().into(),
                    action: "add after-evidence",
                });
            }
            Ok(true)
        }
        PhotoOwner::Visit(_) => {
            exists("SELECT 1 FROM visits WHERE id = ?1", "visit")?;
            Ok(true)
        }
        PhotoOwner::Patrol(_) => {
            exists("SELECT 1 FROM patrols WHERE id = ?1", "patrol")?;
            Ok(true)
        }
    }
}

/// A photo through the pipeline, with the capture time to use when it has none of its own.
pub(crate) struct Processed {
    pub(crate) photo: ProcessedPhoto,
    pub(crate) fallback_taken_at: Option<DateTime<Utc>>,
}

/// Stores a processed photo for `owner` inside the caller's write transaction.
pub(crate) fn store_processed(
    ctx: &mut Tx<'_>,
    dir: &Path,
    owner: &PhotoOwner,
    p: &Processed,
) -> Result<PhotoMeta> {
    insert(ctx, dir, owner, &p.photo, p.fallback_taken_at)
}

fn insert(
    ctx: &mut Tx<'_>,
    dir: &Path,
    owner: &PhotoOwner,
    p: &ProcessedPhoto,
    taken_at: Option<DateTime<Utc>>,
) -> Result<PhotoMeta> {
    let ships_now = check_owner(ctx.tx, owner)?;
    let existing: Option<String> = ctx
        .tx
        .prepare_cached(
            "SELECT id FROM photos WHERE owner_kind = ?1 AND owner_id = ?2 AND sha256 = ?3",
        )?
        .query_row(params![owner.kind(), owner.id(), p.sha256], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return get(ctx.tx, &id);
    }
    let file_name = format!("{}.jpg", p.sha256);
    let thumb_name = format!("{}{THUMB_SUFFIX}", p.sha256);
    // Files first, under the write lock; the row commits after them (see the module docs).
    write_atomic(dir, &thumb_name, &p.thumb, None)?;
    write_atomic(dir, &file_name, &p.jpeg, Some(&p.sha256))?;
    // The same bytes may already be on the device (another owner): the file is back in any case,
    // and its upload progress is shared, since uploads go by hash.
    ctx.tx
        .prepare_cached(
            "UPDATE photos SET file_state = 'present' WHERE sha256 = ?1 AND file_state != 'present'",
        )?
        .execute([&p.sha256])?;
    let (upload_state, upload_url, upload_offset, uploaded_at): (
        PhotoUploadState,
        Option<String>,
        i64,
        Option<i64>,
    ) = ctx
        .tx
        .prepare_cached(
            "SELECT upload_state, upload_url, upload_offset, uploaded_at FROM photos
             WHERE sha256 = ?1
             ORDER BY upload_state = 'done' DESC, upload_offset DESC LIMIT 1",
        )?
        .query_row([&p.sha256], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .unwrap_or((PhotoUploadState::Pending, None, 0, None));
    let hlc = ctx.tick();
    let meta = PhotoMeta {
        id: new_id(),
        owner_kind: owner.kind().into(),
        owner_id: owner.id().to_string(),
        sha256: p.sha256.clone(),
        file_name,
        byte_len: p.jpeg.len() as i64,
        mime: STORED_MIME.into(),
        taken_at: p.taken_at.or(taken_at),
        added_at: ctx.now,
        width: Some(p.width),
        height: Some(p.height),
        location: p.location,
        thumb_file: Some(thumb_name),
        upload_state,
        file_state: PhotoFileState::Present,
    };
    ctx.tx
        .prepare_cached(
            "INSERT INTO photos (id, owner_kind, owner_id, sha256, file_name, byte_len, mime,
                taken_at, added_at, hlc, width, height, lat, lng, thumb_file, upload_state,
                upload_url, upload_offset, uploaded_at, file_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, 'present')",
        )?
        .execute(params![
            meta.id,
            meta.owner_kind,
            meta.owner_id,
            meta.sha256,
            meta.file_name,
            meta.byte_len,
            meta.mime,
            meta.taken_at.map(ms),
            ms(meta.added_at),
            hlc,
            meta.width,
            meta.height,
            meta.location.map(|l| l.lat),
            meta.location.map(|l| l.lng),
            meta.thumb_file,
            meta.upload_state,
            upload_url,
            upload_offset,
            uploaded_at,
        ])?;
    if ships_now {
        ship(ctx, &meta, &hlc)?;
    } else {
        crate::cases::add_event(ctx, owner.id(), CaseEventKind::PhotoAdded, None, false)?;
        // A draft without a location takes the first photo's GPS position.
        if let Some(at) = meta.location {
            crate::cases::locate_from_photo(ctx, owner.id(), at)?;
        }
    }
    Ok(meta)
}

// ---------------------------------------------------------------------------------------------
// Storage report and retention
// ---------------------------------------------------------------------------------------------

/// How much room photos take, and how much still has to go to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoStorageReport {
    /// Photo rows (one per owner a photo is attached to).
    pub photo_count: u64,
    /// Full-size files on the device.
    pub file_count: u64,
    /// Bytes of every file in the photo folder (full-size files and thumbnails).
    pub bytes: u64,
    /// Distinct photos whose upload is not done yet, and the bytes still to send.
    pub pending_upload_count: u64,
    pub pending_upload_bytes: u64,
    /// Bytes of uploaded full-size files still on the device ([`Store::release_uploaded_photos`]
    /// can free them).
    pub releasable_bytes: u64,
    pub quota_bytes: u64,
    /// `bytes > quota_bytes`: the app should warn the worker.
    pub over_quota: bool,
}

/// When an uploaded photo's full-size file may leave the phone. The row and thumbnail stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionPolicy {
    /// Keep full-size files of photos added in the last `keep_days` days (0: release all).
    pub keep_days: u32,
    /// Only release (oldest first) while the photo folder is over its quota.
    pub only_over_quota: bool,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            keep_days: 7,
            only_over_quota: false,
        }
    }
}

/// What [`Store::release_uploaded_photos`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseReport {
    pub files_deleted: u64,
    pub bytes_freed: u64,
}

/// What [`Store::sweep_photo_dir`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Temp files of writes killed before their rename.
    pub temp_files: u64,
    /// Files no row names (a kill between rename and commit, or a release killed after its
    /// commit).
    pub orphan_files: u64,
}

/// Sizes of the files in the photo folder by name.
fn folder_sizes(dir: &Path) -> Result<HashMap<String, u64>> {
    let mut out = HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_file() {
            out.insert(name, meta.len());
        }
    }
    Ok(out)
}

fn report(conn: &Connection, dir: &Path, settings: &PhotoSettings) -> Result<PhotoStorageReport> {
    let sizes = folder_sizes(dir)?;
    let bytes: u64 = sizes.values().sum();
    let photo_count: i64 = conn.query_row("SELECT count(*) FROM photos", [], |r| r.get(0))?;
    let mut file_count = 0u64;
    let mut pending_upload_count = 0u64;
    let mut pending_upload_bytes = 0u64;
    let mut releasable_bytes = 0u64;
    let mut stmt = conn.prepare(
        "SELECT file_name, max(byte_len), min(upload_state = 'done'), max(upload_offset),
                min(sync_state = 'synced')
         FROM photos WHERE file_state = 'present' GROUP BY file_name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    for row in rows {
        let (name, len, done, offset, recorded) = row?;
        let on_disk = sizes.get(&name).copied();
        if on_disk.is_some() {
            file_count += 1;
        }
        let len = u64::try_from(len).unwrap_or(0);
        if done && recorded {
            releasable_bytes += on_disk.unwrap_or(0);
        } else if done {
            // On the server, but its record is not yet: neither pending upload nor releasable.
        } else {
            pending_upload_count += 1;
            pending_upload_bytes += len.saturating_sub(u64::try_from(offset).unwrap_or(0));
        }
    }
    Ok(PhotoStorageReport {
        photo_count: u64::try_from(photo_count).unwrap_or(0),
        file_count,
        bytes,
        pending_upload_count,
        pending_upload_bytes,
        releasable_bytes,
        quota_bytes: settings.quota_bytes,
        over_quota: bytes > settings.quota_bytes,
    })
}

fn read_settings(conn: &Connection) -> Result<PhotoSettings> {
    // A value from a newer app may have more fields (ignored); a broken one falls back to the
    // defaults rather than stopping the camera.
    Ok(get_meta(conn, SETTINGS_KEY)?
        .and_then(|json| serde_json::from_str::<PhotoSettings>(&json).ok())
        .filter(|s| s.validate().is_ok())
        .unwrap_or_default())
}

impl Store {
    /// How photos are processed (defaults until changed).
    pub fn photo_settings(&self) -> Result<PhotoSettings> {
        self.read(read_settings)
    }

    pub fn set_photo_settings(&self, settings: &PhotoSettings) -> Result<()> {
        settings.validate()?;
        let json = serde_json::to_string(settings)?;
        self.write(|ctx| set_meta(ctx.tx, SETTINGS_KEY, &json))
    }

    /// Adds a photo from the bytes a camera gave. `fallback_taken_at` is used when the image
    /// has no EXIF capture time (the shell knows when its camera fired). The bytes are decoded,
    /// oriented, downscaled and re-encoded before anything is stored; the same image on the
    /// same owner returns the existing photo.
    pub fn add_photo(
        &self,
        owner: &PhotoOwner,
        bytes: &[u8],
        fallback_taken_at: Option<DateTime<Utc>>,
    ) -> Result<PhotoMeta> {
        // Fail fast on a bad owner before spending a second decoding.
        self.read(|c| check_owner(c, owner).map(|_| ()))?;
        let photo = self.process_photo(bytes, fallback_taken_at)?;
        let dir = self.photo_dir().to_path_buf();
        let meta = self.write(|ctx| store_processed(ctx, &dir, owner, &photo))?;
        tracing::debug!(photo = %meta.id, owner_kind = owner.kind(), "photo added");
        self.warn_if_over_quota();
        Ok(meta)
    }

    /// Adds a photo from a file (the CLI; a shell that saved the camera's output). Without an
    /// EXIF capture time, the file's modification time is used.
    pub fn add_photo_file(&self, owner: &PhotoOwner, file: &Path) -> Result<PhotoMeta> {
        self.read(|c| check_owner(c, owner).map(|_| ()))?;
        let photo = self.process_photo_file(file)?;
        let dir = self.photo_dir().to_path_buf();
        let meta = self.write(|ctx| store_processed(ctx, &dir, owner, &photo))?;
        self.warn_if_over_quota();
        Ok(meta)
    }

    /// Runs the pipeline on a photo that a caller will store inside a write of its own (a
    /// draft with its photos, a verification with its after-photos: all or nothing).
    pub(crate) fn process_photo(
        &self,
        bytes: &[u8],
        fallback_taken_at: Option<DateTime<Utc>>,
    ) -> Result<Processed> {
        let settings = self.photo_settings()?;
        let offset = self.settings()?.offset();
        Ok(Processed {
            photo: process(bytes, &settings, offset, self.now())?,
            fallback_taken_at,
        })
    }

    /// [`Store::process_photo`] of a file; its modification time is the fallback capture time.
    pub(crate) fn process_photo_file(&self, file: &Path) -> Result<Processed> {
        let bytes = std::fs::read(file)?;
        let modified = std::fs::metadata(file)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from)
            .filter(|t| validate::not_future("taken_at", *t, self.now()).is_ok());
        self.process_photo(&bytes, modified)
    }

    pub(crate) fn warn_if_over_quota(&self) {
        let dir = self.photo_dir().to_path_buf();
        let report = self
            .photo_settings()
            .and_then(|settings| self.read(|c| report(c, &dir, &settings)));
        match report {
            Ok(r) if r.over_quota => tracing::warn!(
                bytes = r.bytes,
                quota = r.quota_bytes,
                "photo folder is over its quota"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "photo storage report failed"),
        }
    }

    /// Photos of one owner, oldest first.
    pub fn photos_of(&self, owner: &PhotoOwner) -> Result<Vec<PhotoMeta>> {
        self.read(|c| list_for(c, owner.kind(), owner.id()))
    }

    pub fn photo(&self, id: &str) -> Result<PhotoMeta> {
        self.read(|c| get(c, id))
    }

    /// Path of the full-size file, if it is still on the device.
    pub fn photo_file(&self, photo: &PhotoMeta) -> Option<PathBuf> {
        let path = self.photo_dir().join(&photo.file_name);
        (photo.file_state == PhotoFileState::Present && path.is_file()).then_some(path)
    }

    /// Path of the thumbnail (kept after the full-size file is released).
    pub fn photo_thumb(&self, photo: &PhotoMeta) -> Option<PathBuf> {
        let path = self.photo_dir().join(photo.thumb_file.as_deref()?);
        path.is_file().then_some(path)
    }

    /// Room taken by photos, what is still to upload, and whether the quota is passed (logged
    /// as a warning when it is).
    pub fn photo_storage_report(&self) -> Result<PhotoStorageReport> {
        let settings = self.photo_settings()?;
        let r = self.read(|c| report(c, self.photo_dir(), &settings))?;
        if r.over_quota {
            tracing::warn!(
                bytes = r.bytes,
                quota = r.quota_bytes,
                "photo folder is over its quota"
            );
        }
        Ok(r)
    }

    /// Deletes full-size files the server has confirmed (upload `done`, hash verified) and the
    /// policy lets go. Rows are marked `file_state = 'deleted'` and committed first; the files
    /// go after the commit (a kill in between leaves an unreferenced file, swept at next open).
    pub fn release_uploaded_photos(&self, policy: &RetentionPolicy) -> Result<ReleaseReport> {
        let settings = self.photo_settings()?;
        let dir = self.photo_dir().to_path_buf();
        let cutoff = ms(self.now()) - i64::from(policy.keep_days) * 86_400_000;
        let victims: Vec<(String, u64)> = self.write(|ctx| {
            let sizes = folder_sizes(&dir)?;
            let mut over = if policy.only_over_quota {
                let total: u64 = sizes.values().sum();
                total.saturating_sub(settings.quota_bytes)
            } else {
                u64::MAX
            };
            // A file goes only if every row naming it is uploaded, its record is on the server
            // (a blob without a record in scope could never be downloaded again) and it is old
            // enough.
            let mut stmt = ctx.tx.prepare(
                "SELECT file_name FROM photos WHERE file_state = 'present'
                 GROUP BY file_name
                 HAVING min(upload_state = 'done') = 1 AND min(sync_state = 'synced') = 1
                    AND max(added_at) <= ?1
                 ORDER BY max(added_at)",
            )?;
            let names = stmt
                .query_map([cutoff], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut victims = Vec::new();
            for name in names {
                if over == 0 {
                    break;
                }
                let size = sizes.get(&name).copied().unwrap_or(0);
                ctx.tx
                    .prepare_cached(
                        "UPDATE photos SET file_state = 'deleted'
                         WHERE file_name = ?1 AND upload_state = 'done'",
                    )?
                    .execute([&name])?;
                over = over.saturating_sub(size);
                victims.push((name, size));
            }
            Ok(victims)
        })?;
        let mut out = ReleaseReport::default();
        for (name, size) in victims {
            match std::fs::remove_file(dir.join(&name)) {
                Ok(()) => {
                    out.files_deleted += 1;
                    out.bytes_freed += size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        if out.files_deleted > 0 {
            sync_dir(&dir)?;
        }
        Ok(out)
    }

    /// Removes temp files and files no row names from the photo folder, under the write lock.
    /// [`Store::open`] runs it; only names this module writes are touched.
    pub fn sweep_photo_dir(&self) -> Result<SweepReport> {
        let dir = self.photo_dir().to_path_buf();
        // Most opens find nothing to look at: no write transaction for them.
        let candidates = folder_sizes(&dir)?
            .keys()
            .any(|n| is_temp_name(n) || is_photo_name(n));
        if !candidates {
            return Ok(SweepReport::default());
        }
        let report = self.write(|ctx| {
            let mut report = SweepReport::default();
            let sizes = folder_sizes(&dir)?;
            if sizes.is_empty() {
                return Ok(report);
            }
            let mut referenced: HashSet<String> = HashSet::new();
            let mut stmt = ctx.tx.prepare(
                "SELECT file_name FROM photos WHERE file_state = 'present'
                 UNION SELECT thumb_file FROM photos WHERE thumb_file IS NOT NULL",
            )?;
            for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
                referenced.insert(name?);
            }
            for name in sizes.keys() {
                let temp = is_temp_name(name);
                let orphan = is_photo_name(name) && !referenced.contains(name);
                if !temp && !orphan {
                    continue;
                }
                match std::fs::remove_file(dir.join(name)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
                if temp {
                    report.temp_files += 1;
                } else {
                    report.orphan_files += 1;
                }
            }
            if report.temp_files + report.orphan_files > 0 {
                sync_dir(&dir)?;
            }
            Ok(report)
        })?;
        if report.temp_files + report.orphan_files > 0 {
            tracing::info!(
                temp = report.temp_files,
                orphans = report.orphan_files,
                "photo folder swept"
            );
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let sha = "a".repeat(64);
        assert!(is_photo_name(&format!("{sha}.jpg")));
        assert!(is_photo_name(&format!("{sha}.thumb.jpg")));
        assert!(is_photo_name(&format!("{sha}.png")));
        assert!(!is_photo_name("notes.txt"));
        assert!(!is_photo_name(&format!("{}.jpg", "g".repeat(64))));
        assert!(is_temp_name(&format!(".{sha}.jpg.{}.tmp", new_id())));
        assert!(!is_temp_name(".hidden.tmp"));
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset(b"+08:00"), FixedOffset::east_opt(8 * 3600));
        assert_eq!(
            parse_offset(b"-05:30"),
            FixedOffset::east_opt(-(5 * 3600 + 1800))
        );
        assert_eq!(parse_offset(b"08:00"), None);
    }

    #[test]
    fn sniffing() {
        let code = |b: &[u8]| sniff(b).unwrap_err().as_validation().map(|v| v.code);
        assert_eq!(code(b""), Some(Code::Required));
        assert_eq!(code(b"\xff\xd8"), Some(Code::Corrupt));
        assert_eq!(
            code(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(Code::UnsupportedFormat)
        );
        assert_eq!(code(b"GIF89a\x01\0\x01\0"), Some(Code::UnsupportedFormat));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0").ok(), Some(SourceFormat::Jpeg));
    }

    #[test]
    fn settings_are_checked() {
        assert!(PhotoSettings::default().validate().is_ok());
        let bad = PhotoSettings {
            jpeg_quality: 0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate()
                .unwrap_err()
                .as_validation()
                .map(|v| v.field.as_str()),
            Some("jpeg_quality")
        );
    }
}
