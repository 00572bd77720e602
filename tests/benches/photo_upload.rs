//! Photo upload benchmark (issue 4): what 20 photos of ~300 KB cost on the wire, and what an
//! interruption costs.
//!
//! The real server runs in-process behind a counting TCP proxy (`tests/photo_fixture/net.rs`),
//! so "bytes on the wire" are every byte of every request and answer — request lines, headers
//! (tokens, checksums), JSON bodies and chunks — in both directions, not just payloads.
//!
//! Prints: bytes on the wire / file bytes for 20 photos (target ≤ 1.01), and the chunk bytes
//! sent again after the connection is dropped at ~40 % of the upload (target ≤ one chunk).
//! Run: `cargo bench -p gridwalk-core --bench photo_upload`.

#[path = "../../core/tests/common/mod.rs"]
mod common;
#[path = "../../core/tests/photo_fixture/mod.rs"]
mod photo_fixture;
#[path = "../tests/photo_net.rs"]
mod photo_net;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use gridwalk_core::sync::*;
use gridwalk_core::*;
use photo_net::*;

const PHOTOS: u64 = 20;

fn photos(store: &Store, seed: u64) -> Vec<PhotoMeta> {
    let mut input = common::household(&format!("B{seed}"));
    input.grid_code = DEMO_GRID.into();
    input.location = None;
    let home = store.add_household(&input).expect("household");
    let v = common::visit(
        store,
        &home.id,
        Utc::now() - Duration::minutes(5),
        VisitMode::InPerson,
    );
    (0..PHOTOS)
        .map(|i| {
            // A 12 MP-class phone photo is downscaled to 2048 px; this scene at 1480x1110
            // re-encodes to ~300 KB at quality 80, the size the issue asks about.
            let bytes = photo_fixture::camera_photo(1480, 1110, seed * 1000 + i);
            store
                .add_photo(&PhotoOwner::Visit(v.id.clone()), &bytes, None)
                .expect("add photo")
        })
        .collect()
}

fn opts() -> UploadOptions {
    UploadOptions {
        retry: SyncOptions {
            backoff_base: StdDuration::from_millis(10),
            backoff_max: StdDuration::from_millis(50),
            sleep: Arc::new(|d, _| std::thread::sleep(d)),
            ..SyncOptions::default()
        },
        ..UploadOptions::default()
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerHandle::start(&dir.path().join("server"));
    let proxy = Proxy::start(server.addr);
    let store = Store::open(dir.path().join("phone.db")).expect("store");
    let t = HttpTransport::new(&proxy.url()).expect("transport");
    store
        .login(&t, "wangfang", DEMO_PASSWORD, None)
        .expect("login");
    let chunk = UploadOptions::default().chunk_size as u64;

    // 1. Twenty photos, no trouble.
    let set = photos(&store, 1);
    store
        .sync(
            &t,
            &SyncOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
        )
        .expect("sync records");
    let file: u64 = set.iter().map(|p| p.byte_len as u64).sum();
    let (up0, down0) = (
        proxy.stats.up.load(Ordering::SeqCst),
        proxy.stats.down.load(Ordering::SeqCst),
    );
    let started = Instant::now();
    let r = store
        .upload_photos(&t, &opts(), &mut |_| {}, &CancelToken::new())
        .expect("upload");
    let took = started.elapsed();
    assert_eq!(r.uploaded as u64, PHOTOS, "{r:?}");
    let up = proxy.stats.up.load(Ordering::SeqCst) - up0;
    let down = proxy.stats.down.load(Ordering::SeqCst) - down0;
    println!(
        "photo_upload: {PHOTOS} photos, {file} file bytes (avg {} KB), chunk {} KiB, {} requests",
        file / PHOTOS / 1000,
        chunk / 1024,
        r.chunks_sent + PHOTOS,
    );
    println!(
        "photo_upload: wire bytes {} (up {up}, down {down}) / file bytes = {:.4} (target <= 1.01); upstream only {:.4}; {:.0} ms on loopback",
        up + down,
        (up + down) as f64 / file as f64,
        up as f64 / file as f64,
        took.as_secs_f64() * 1000.0
    );

    // 2. The same again with the connection dropped at ~40 %.
    let set = photos(&store, 2);
    store
        .sync(
            &t,
            &SyncOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
        )
        .expect("sync records");
    let file: u64 = set.iter().map(|p| p.byte_len as u64).sum();
    let (up0, down0, body0) = (
        proxy.stats.up.load(Ordering::SeqCst),
        proxy.stats.down.load(Ordering::SeqCst),
        proxy.stats.patch_body.load(Ordering::SeqCst),
    );
    proxy.cut_at(up0 + file * 2 / 5);
    let r = store
        .upload_photos(&t, &opts(), &mut |_| {}, &CancelToken::new())
        .expect("upload after the cut");
    assert_eq!(r.uploaded as u64, PHOTOS, "{r:?}");
    let body = proxy.stats.patch_body.load(Ordering::SeqCst) - body0;
    let up = proxy.stats.up.load(Ordering::SeqCst) - up0;
    let down = proxy.stats.down.load(Ordering::SeqCst) - down0;
    println!(
        "photo_upload: connection dropped at 40 % ({} cut): chunk bytes sent again {} (target <= one chunk = {chunk}); {} retries; wire / file = {:.4}",
        proxy.stats.cuts.load(Ordering::SeqCst),
        body - file,
        r.retries,
        (up + down) as f64 / file as f64
    );
}
