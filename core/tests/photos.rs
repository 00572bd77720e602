//! The photo pipeline through the public API: EXIF stripped but its time and GPS kept,
//! orientation, downscaling, unsupported and corrupt inputs, content addressing across owners,
//! the storage report, retention and the sweep at open.

mod common;
mod photo_fixture;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use gridwalk_core::photos::{self, ProcessedPhoto, SweepReport};
use gridwalk_core::*;
use photo_fixture::*;

struct Fixture {
    store: Store,
    clock: Clock,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

/// A store on disk (photo folder next to it) with the org tree and a controllable clock.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("field.db");
    let clock = Clock::at(morning());
    let store = open(&db, &clock);
    store.upsert_org_units(&org()).unwrap();
    Fixture {
        store,
        clock,
        db,
        _dir: dir,
    }
}

fn open(db: &Path, clock: &Clock) -> Store {
    let mut s = Store::open(db).unwrap();
    let c = clock.clone();
    s.set_now_fn(Arc::new(move || c.now()));
    s
}

fn draft(s: &Store) -> Case {
    s.draft_case(&case_input(
        "0203",
        Urgency::Urgent,
        "3栋楼道电动车飞线充电",
        Some(inside()),
    ))
    .unwrap()
}

fn folder(s: &Store) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(s.photo_dir()) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => vec![],
    };
    names.sort();
    names
}

fn code(r: Result<PhotoMeta>) -> Code {
    validation(r.unwrap_err()).code
}

fn process(bytes: &[u8]) -> ProcessedPhoto {
    photos::process(
        bytes,
        &PhotoSettings::default(),
        chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        morning(),
    )
    .unwrap()
}

#[test]
fn exif_is_stripped_while_time_and_gps_are_kept_as_fields() {
    let f = fixture();
    let c = draft(&f.store);
    let original = camera_photo(640, 480, 1);
    assert!(has_exif(&original), "the fixture carries EXIF");
    assert!(original.windows(13).any(|w| w == b"Redmi Note 12"));

    let p = f
        .store
        .attach_photo_bytes(&c.id, "IMG_1.jpg", "image/jpeg", &original, None)
        .unwrap();
    let stored = std::fs::read(f.store.photo_file(&p).expect("file on device")).unwrap();
    assert!(
        !has_exif(&stored),
        "no EXIF in the stored (and uploaded) bytes"
    );
    assert!(!stored.windows(13).any(|w| w == b"Redmi Note 12"));
    assert!(!stored
        .windows(4)
        .any(|w| w == [0xFF, 0xE1, 0x00, 0x00] || w == b"GPS\0"));
    assert_eq!(&stored[..3], &[0xFF, 0xD8, 0xFF]);

    // 08:30 camera local time, no offset tag: read in the worker's zone (+08:00).
    assert_eq!(
        p.taken_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 18, 0, 30, 0).unwrap())
    );
    let loc = p.location.expect("GPS kept as a field");
    assert!(
        (loc.lat - 37.78).abs() < 1e-6 && (loc.lng - 107.40).abs() < 1e-6,
        "{loc:?}"
    );
    assert_eq!((p.width, p.height), (Some(640), Some(480)));
    assert_eq!(p.mime, "image/jpeg");
    assert_eq!(p.sha256, photos::sha256_hex(&stored));
    assert_eq!(p.file_name, format!("{}.jpg", p.sha256));
    assert_eq!(p.byte_len as usize, stored.len());
    assert_eq!(p.upload_state, PhotoUploadState::Pending);
    let thumb = std::fs::read(f.store.photo_thumb(&p).expect("thumbnail")).unwrap();
    assert!(!has_exif(&thumb));
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));

    // The metadata survives a reopen, and an explicit offset tag wins over the worker's zone.
    drop(f.store);
    let s = open(&f.db, &f.clock);
    assert_eq!(s.photo(&p.id).unwrap(), p);
    let tagged = with_exif(
        &jpeg(64, 48, 2),
        &ExifSpec {
            taken: Some("2026:11:18 08:30:00"),
            offset: Some("+09:00"),
            gps: Some((-33.8568, 151.2153)),
            ..Default::default()
        },
    );
    let q = s
        .attach_photo_bytes(&c.id, "x.jpg", "image/jpeg", &tagged, None)
        .unwrap();
    assert_eq!(
        q.taken_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 17, 23, 30, 0).unwrap())
    );
    let loc = q.location.unwrap();
    assert!((loc.lat + 33.8568).abs() < 1e-4 && (loc.lng - 151.2153).abs() < 1e-4);
}

#[test]
fn no_exif_time_falls_back_to_the_shells_time_and_a_future_camera_clock_is_ignored() {
    let f = fixture();
    let c = draft(&f.store);
    let shot = morning() - Duration::minutes(3);
    let p = f
        .store
        .attach_photo_bytes(&c.id, "a.jpg", "", &jpeg(64, 48, 3), Some(shot))
        .unwrap();
    assert_eq!(p.taken_at, Some(shot));
    assert_eq!(p.location, None);
    let future = with_exif(
        &jpeg(64, 48, 4),
        &ExifSpec {
            taken: Some("2031:01:01 00:00:00"),
            ..Default::default()
        },
    );
    let q = f
        .store
        .attach_photo_bytes(&c.id, "b.jpg", "", &future, Some(shot))
        .unwrap();
    assert_eq!(q.taken_at, Some(shot));
}

#[test]
fn orientation_is_applied() {
    // Left half warm, right half cold; orientation 6 = rotate 90° clockwise to display, so the
    // left half ends up on top and width and height swap.
    let bytes = with_exif(
        &jpeg(64, 48, 5),
        &ExifSpec {
            orientation: Some(6),
            ..Default::default()
        },
    );
    let p = process(&bytes);
    assert_eq!((p.width, p.height, p.orientation), (48, 64, 6));
    let img = image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (48, 64));
    let top = img.get_pixel(24, 5);
    let bottom = img.get_pixel(24, 58);
    assert!(top[0] > top[2], "top is the warm (left) half: {top:?}");
    assert!(
        bottom[2] > bottom[0],
        "bottom is the cold (right) half: {bottom:?}"
    );

    // 3 = 180°: sizes stay, halves swap sides.
    let bytes = with_exif(
        &jpeg(64, 48, 5),
        &ExifSpec {
            orientation: Some(3),
            ..Default::default()
        },
    );
    let p = process(&bytes);
    assert_eq!((p.width, p.height), (64, 48));
    let img = image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
    assert!(img.get_pixel(5, 24)[2] > img.get_pixel(5, 24)[0]);
}

#[test]
fn large_photos_are_downscaled_and_small_ones_kept() {
    let big = jpeg(3000, 1500, 6);
    let p = process(&big);
    assert_eq!((p.width, p.height), (2048, 1024));
    assert!(p.jpeg.len() < big.len());
    let t = image::load_from_memory(&p.thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 160));

    let f = fixture();
    f.store
        .set_photo_settings(&PhotoSettings {
            max_side: 1024,
            jpeg_quality: 70,
            ..Default::default()
        })
        .unwrap();
    let c = draft(&f.store);
    let m = f
        .store
        .attach_photo_bytes(&c.id, "p.jpg", "", &jpeg(1500, 3000, 6), None)
        .unwrap();
    assert_eq!((m.width, m.height), (Some(512), Some(1024)));
    let small = f
        .store
        .attach_photo_bytes(&c.id, "s.png", "", &png(200, 100, false), None)
        .unwrap();
    assert_eq!((small.width, small.height), (Some(200), Some(100)));

    let e = f.store.set_photo_settings(&PhotoSettings {
        jpeg_quality: 101,
        ..Default::default()
    });
    assert_eq!(validation(e.unwrap_err()).field, "jpeg_quality");
}

#[test]
fn large_jpegs_are_decoded_at_reduced_scale_only_when_it_stays_close_to_max_side() {
    assert_eq!(photos::dct_denominator(4000, 2048), 2, "12 MP camera");
    assert_eq!(photos::dct_denominator(4032, 2048), 2);
    assert_eq!(photos::dct_denominator(8000, 2048), 4, "48 MP camera");
    assert_eq!(
        photos::dct_denominator(3000, 2048),
        1,
        "1500 px would be too small"
    );
    assert_eq!(photos::dct_denominator(2048, 2048), 1);
    assert_eq!(photos::dct_denominator(800, 2048), 1);

    let settings = PhotoSettings {
        max_side: 512,
        thumb_side: 128,
        ..Default::default()
    };
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let run = |bytes: &[u8]| photos::process_profiled(bytes, &settings, offset, morning()).unwrap();

    // Exactly half: decoded at 1/2, nothing left to resize.
    let (p, st) = run(&jpeg(1024, 768, 3));
    assert_eq!((st.scale_denom, st.decoded), (2, (512, 384)));
    assert_eq!((p.width, p.height), (512, 384));
    // Half lands a little under max_side (within 1/16): stored at that size, not upscaled.
    let (p, st) = run(&jpeg(1000, 800, 3));
    assert_eq!((st.scale_denom, p.width, p.height), (2, 500, 400));
    // Half would be too small: decoded whole and resized to exactly max_side.
    let (p, st) = run(&jpeg(900, 600, 3));
    assert_eq!((st.scale_denom, p.width, p.height), (1, 512, 341));
    // A quarter: 2100 -> 525, then resized to 512.
    let (p, st) = run(&jpeg(2100, 1050, 3));
    assert_eq!((st.scale_denom, st.decoded), (4, (525, 263)));
    assert_eq!((p.width, p.height), (512, 256));

    // The scaled decode is the same picture: upright (orientation 6), warm half on top, and
    // the thumbnail is made from it.
    let bytes = with_exif(
        &jpeg(1024, 768, 5),
        &ExifSpec {
            orientation: Some(6),
            gps: Some((37.78, 107.40)),
            ..Default::default()
        },
    );
    let (p, st) = run(&bytes);
    assert_eq!(st.scale_denom, 2);
    assert_eq!((p.width, p.height, p.orientation), (384, 512, 6));
    assert!(p.location.is_some());
    let img = image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
    let (top, bottom) = (img.get_pixel(192, 20), img.get_pixel(192, 490));
    assert!(top[0] > top[2] + 60, "top is the warm half: {top:?}");
    assert!(
        bottom[2] > bottom[0] + 60,
        "bottom is the cold half: {bottom:?}"
    );
    let t = image::load_from_memory(&p.thumb).unwrap();
    assert_eq!((t.width(), t.height()), (96, 128));
    // Deterministic, like the full-size path.
    assert_eq!(run(&bytes).0.sha256, p.sha256);
}

#[test]
fn png_with_alpha_becomes_jpeg_on_white() {
    let p = process(&png(80, 40, true));
    let img = image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
    let px = img.get_pixel(40, 2);
    assert!(
        px.0.iter().all(|v| *v > 235),
        "transparent band is white: {px:?}"
    );
}

#[test]
fn unsupported_and_corrupt_files_get_a_clear_error_and_leave_nothing() {
    let f = fixture();
    let c = draft(&f.store);
    let s = &f.store;
    let add = |b: &[u8]| s.attach_photo_bytes(&c.id, "x", "", b, None);

    assert_eq!(code(add(HEIC_HEADER)), Code::UnsupportedFormat);
    assert_eq!(code(add(GIF)), Code::UnsupportedFormat);
    assert_eq!(
        code(add(b"RIFF\x24\0\0\0WEBPVP8 ")),
        Code::UnsupportedFormat
    );
    assert_eq!(code(add(b"just some text")), Code::UnsupportedFormat);
    assert_eq!(code(add(b"")), Code::Required);
    let e = validation(add(HEIC_HEADER).unwrap_err());
    assert_eq!(e.field, "photo");
    let msg = e.to_string();
    assert!(
        msg.contains("JPEG") && msg.contains("PNG"),
        "names what works: {msg}"
    );
    assert!(msg.contains("unsupported_format"));

    let good = jpeg(320, 240, 8);
    for cut in [good.len() / 2, good.len() - 2, 200, 3] {
        assert_eq!(code(add(&good[..cut])), Code::Corrupt, "JPEG cut at {cut}");
    }
    let mut garbage = vec![0xFF, 0xD8, 0xFF, 0xE0];
    garbage.extend(std::iter::repeat_n(0x5A, 500));
    assert_eq!(code(add(&garbage)), Code::Corrupt);
    let good_png = png(120, 90, false);
    for cut in [good_png.len() / 2, good_png.len() - 13, 30] {
        assert_eq!(
            code(add(&good_png[..cut])),
            Code::Corrupt,
            "PNG cut at {cut}"
        );
    }
    let mut bad_crc = good_png.clone();
    let mid = bad_crc.len() / 2;
    bad_crc[mid] ^= 0xFF;
    assert_eq!(code(add(&bad_crc)), Code::Corrupt);

    // A file path: same rules, and the error names the field, not the file.
    let dir = tempfile::tempdir().unwrap();
    let heic = dir.path().join("IMG_0001.HEIC");
    std::fs::write(&heic, HEIC_HEADER).unwrap();
    assert_eq!(code(s.attach_photo(&c.id, &heic)), Code::UnsupportedFormat);

    assert!(s.case(&c.id).unwrap().photos.is_empty());
    assert!(folder(s).is_empty(), "nothing stored: {:?}", folder(s));

    // Trailing bytes after EOI (motion photos append a video) are fine.
    let mut motion = good.clone();
    motion.extend_from_slice(b"\0\0\0\x18ftypmp42 trailing video");
    assert!(add(&motion).is_ok());
}

#[test]
fn same_image_twice_is_one_row_and_two_owners_share_one_file() {
    let f = fixture();
    let s = &f.store;
    let c1 = draft(s);
    let c2 = draft(s);
    let bytes = camera_photo(400, 300, 9);
    let a = s
        .attach_photo_bytes(&c1.id, "a.jpg", "", &bytes, None)
        .unwrap();
    let again = s
        .attach_photo_bytes(&c1.id, "a-copy.jpg", "", &bytes, None)
        .unwrap();
    assert_eq!(again, a, "same image, same owner: one photo");
    assert_eq!(s.case(&c1.id).unwrap().photos.len(), 1);
    let b = s
        .attach_photo_bytes(&c2.id, "a.jpg", "", &bytes, None)
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(
        folder(s).len(),
        2,
        "one file and one thumbnail: {:?}",
        folder(s)
    );
    assert_eq!(outbox_len(s), 0, "draft photos ship with their case");

    // A visit's photo ships at once; a patrol's too.
    let h = s.add_household(&household("101")).unwrap();
    let v = visit(
        s,
        &h.id,
        morning() - Duration::hours(1),
        VisitMode::InPerson,
    );
    let before = outbox_len(s);
    let pv = s
        .add_photo(&PhotoOwner::Visit(v.id.clone()), &bytes, None)
        .unwrap();
    assert_eq!(pv.owner_kind, "visit");
    assert_eq!(outbox_len(s), before + 1);
    let p = s.start_patrol("G1").unwrap();
    let pp = s
        .add_photo(&PhotoOwner::Patrol(p.id.clone()), &jpeg(64, 64, 10), None)
        .unwrap();
    assert_eq!(
        s.photos_of(&PhotoOwner::Patrol(p.id.clone())).unwrap(),
        vec![pp]
    );

    // Unknown owners and the wrong state are refused before any work.
    assert!(matches!(
        s.add_photo(&PhotoOwner::Visit("nope".into()), &bytes, None),
        Err(Error::NotFound {
            entity: "visit",
            ..
        })
    ));
    assert!(matches!(
        s.add_photo(&PhotoOwner::Verification(c1.id.clone()), &bytes, None),
        Err(Error::InvalidState { .. })
    ));

    // Submitting ships the case and then its photo records, with the hash the server links by.
    let full = case_input("0203", Urgency::Urgent, "飞线充电", Some(inside()));
    s.update_draft(&c1.id, &full).unwrap();
    s.submit_case(&c1.id).unwrap();
    let shipped: String = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT payload FROM outbox WHERE entity = 'photo' AND entity_id = ?1",
                [&a.id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    assert_eq!(payload["sha256"], a.sha256.as_str());
    assert_eq!(payload["width"], 400);
    assert!(payload["lat"].as_f64().is_some());

    // After-evidence on the submitted case: allowed, ships at once.
    let ev = s
        .add_photo(
            &PhotoOwner::Verification(c1.id.clone()),
            &jpeg(120, 90, 11),
            None,
        )
        .unwrap();
    assert_eq!(
        (ev.owner_kind.as_str(), ev.owner_id.as_str()),
        ("verification", c1.id.as_str())
    );
    assert!(matches!(
        s.attach_photo_bytes(&c1.id, "late.jpg", "", &bytes, None),
        Err(Error::InvalidState { .. })
    ));
}

#[test]
fn processing_is_deterministic() {
    let bytes = camera_photo(900, 700, 12);
    assert_eq!(process(&bytes).sha256, process(&bytes).sha256);
    assert_ne!(
        process(&bytes).sha256,
        process(&camera_photo(900, 700, 13)).sha256
    );
}

fn mark_uploaded(s: &Store, sha: &str, at: chrono::DateTime<Utc>) {
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE photos SET upload_state = 'done', uploaded_at = ?2 WHERE sha256 = ?1",
            rusqlite::params![sha, at.timestamp_millis()],
        )?;
        Ok(())
    })
    .unwrap();
}

/// What the sync engine does when the server acknowledges the photo's record.
fn mark_recorded(s: &Store, sha: &str) {
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE photos SET sync_state = 'synced', server_rev = 1 WHERE sha256 = ?1",
            [sha],
        )?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn storage_report_quota_and_retention_only_release_confirmed_files() {
    let f = fixture();
    let s = &f.store;
    let c = draft(s);
    let a = s
        .attach_photo_bytes(&c.id, "a.jpg", "", &camera_photo(800, 600, 14), None)
        .unwrap();
    let b = s
        .attach_photo_bytes(&c.id, "b.jpg", "", &camera_photo(800, 600, 15), None)
        .unwrap();
    let r = s.photo_storage_report().unwrap();
    assert_eq!(
        (r.photo_count, r.file_count, r.pending_upload_count),
        (2, 2, 2)
    );
    assert_eq!(r.pending_upload_bytes, (a.byte_len + b.byte_len) as u64);
    assert!(r.bytes > r.pending_upload_bytes, "thumbnails count too");
    assert!(!r.over_quota);
    assert_eq!(r.releasable_bytes, 0);

    // Nothing is uploaded: no policy can release anything.
    let none = s
        .release_uploaded_photos(&RetentionPolicy {
            keep_days: 0,
            only_over_quota: false,
        })
        .unwrap();
    assert_eq!(none.files_deleted, 0);
    assert!(s.photo_file(&a).is_some() && s.photo_file(&b).is_some());

    f.clock.advance(Duration::days(10));
    mark_uploaded(s, &a.sha256, f.clock.now());
    // The bytes are on the server but the photo's record is not: the file stays, or a blob no
    // record points at would be all that is left of it.
    let unrecorded = s
        .release_uploaded_photos(&RetentionPolicy {
            keep_days: 0,
            only_over_quota: false,
        })
        .unwrap();
    assert_eq!(unrecorded.files_deleted, 0);
    assert_eq!(s.photo_storage_report().unwrap().releasable_bytes, 0);
    mark_recorded(s, &a.sha256);
    // Kept for 30 days by this policy.
    let kept = s
        .release_uploaded_photos(&RetentionPolicy {
            keep_days: 30,
            only_over_quota: false,
        })
        .unwrap();
    assert_eq!(kept.files_deleted, 0);
    let r = s.photo_storage_report().unwrap();
    assert_eq!(r.releasable_bytes, a.byte_len as u64);
    assert_eq!(r.pending_upload_bytes, b.byte_len as u64);

    // Quota: a tiny one is passed (warned, never refused), and only-over-quota releases the
    // confirmed file.
    s.set_photo_settings(&PhotoSettings {
        quota_bytes: 1000,
        ..Default::default()
    })
    .unwrap();
    assert!(s.photo_storage_report().unwrap().over_quota);
    let freed = s
        .release_uploaded_photos(&RetentionPolicy {
            keep_days: 7,
            only_over_quota: true,
        })
        .unwrap();
    assert_eq!(
        (freed.files_deleted, freed.bytes_freed),
        (1, a.byte_len as u64)
    );
    let a2 = s.photo(&a.id).unwrap();
    assert_eq!(a2.file_state, PhotoFileState::Deleted);
    assert!(s.photo_file(&a2).is_none());
    assert!(
        s.photo_thumb(&a2).is_some(),
        "the thumbnail stays for lists"
    );
    assert!(
        s.photo_file(&s.photo(&b.id).unwrap()).is_some(),
        "not uploaded: kept"
    );

    // Reopening sweeps nothing that a row still needs.
    drop(f.store);
    let s = open(&f.db, &f.clock);
    assert!(s.photo_thumb(&a2).is_some());
    assert!(s.photo_file(&s.photo(&b.id).unwrap()).is_some());

    // The same image attached again (another owner) brings the file back, already uploaded.
    let c2 = draft(&s);
    let again = s
        .attach_photo_bytes(&c2.id, "a.jpg", "", &camera_photo(800, 600, 14), None)
        .unwrap();
    assert_eq!(again.sha256, a.sha256);
    assert_eq!(
        again.upload_state,
        PhotoUploadState::Done,
        "uploads go by hash: once"
    );
    assert!(s.photo_file(&again).is_some());
    assert_eq!(s.photo(&a.id).unwrap().file_state, PhotoFileState::Present);
}

#[test]
fn open_sweeps_temp_and_orphan_files_but_nothing_else() {
    let f = fixture();
    let c = draft(&f.store);
    let p = f
        .store
        .attach_photo_bytes(&c.id, "a.jpg", "", &jpeg(300, 200, 16), None)
        .unwrap();
    let dir = f.store.photo_dir().to_path_buf();
    let orphan = format!("{}.jpg", "ab".repeat(32));
    let orphan_thumb = format!("{}.thumb.jpg", "ab".repeat(32));
    let temp = format!(
        ".{}.jpg.0190a0b0-0000-7000-8000-000000000000.tmp",
        "cd".repeat(32)
    );
    for name in [&orphan, &orphan_thumb, &temp, &"notes.txt".to_string()] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    assert_eq!(
        f.store.sweep_photo_dir().unwrap(),
        SweepReport {
            temp_files: 1,
            orphan_files: 2
        }
    );
    for name in [&orphan, &orphan_thumb, &temp] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    drop(f.store);
    let s = open(&f.db, &f.clock);
    let mut expected = vec![
        p.file_name.clone(),
        p.thumb_file.clone().unwrap(),
        "notes.txt".to_string(),
    ];
    expected.sort();
    assert_eq!(
        folder(&s),
        expected,
        "open swept the orphans and the temp file"
    );
    assert_eq!(s.sweep_photo_dir().unwrap(), SweepReport::default());
}

#[test]
fn a_damaged_file_under_a_photo_name_is_rewritten_on_the_next_attach() {
    let f = fixture();
    let c1 = draft(&f.store);
    let c2 = draft(&f.store);
    let bytes = jpeg(300, 200, 17);
    let p = f
        .store
        .attach_photo_bytes(&c1.id, "a.jpg", "", &bytes, None)
        .unwrap();
    let path = f.store.photo_file(&p).unwrap();
    std::fs::write(&path, b"damaged").unwrap();
    f.store
        .attach_photo_bytes(&c2.id, "a.jpg", "", &bytes, None)
        .unwrap();
    assert_eq!(photos::sha256_file(&path).unwrap(), p.sha256);
}
