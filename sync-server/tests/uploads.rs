//! Photo files over HTTP: who may download which blob, what "already complete" means, and what
//! a blob must be (`src/photos.rs`, `src/uploads.rs`).

mod common;

use base64::Engine;
use common::*;
use gridwalk_protocol::{Op, Outcome};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn photo_payload(visit: &str, bytes: &[u8]) -> Value {
    json!({"owner_kind": "visit", "owner_id": visit, "sha256": sha(bytes),
           "byte_len": bytes.len(), "mime": "image/jpeg", "taken_at": now(),
           "width": 640, "height": 480, "lat": null, "lng": null})
}

/// A household and a visit in `grid`; returns the visit id.
async fn visit(t: &TestServer, token: &str, grid: &str) -> String {
    let (h, v) = (id(), id());
    let ms = now();
    let res = t
        .push(
            token,
            vec![
                change(
                    "household",
                    &h,
                    Op::Create,
                    &hlc(ms, "w"),
                    household_payload(grid),
                ),
                change(
                    "visit",
                    &v,
                    Op::Create,
                    &hlc(ms + 1, "w"),
                    json!({"household_id": h, "visited_at": ms, "mode": "in_person",
                           "outcome": "fine", "notes": null}),
                ),
            ],
        )
        .await;
    assert!(
        res.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:?}",
        res.results
    );
    v
}

/// Pushes a photo record on `visit` naming `bytes`' hash; returns its id and the result.
async fn photo_record(
    t: &TestServer,
    token: &str,
    visit: &str,
    bytes: &[u8],
) -> (String, gridwalk_protocol::ChangeResult) {
    let p = id();
    let res = t
        .push(
            token,
            vec![change(
                "photo",
                &p,
                Op::Create,
                &hlc(now(), "w"),
                photo_payload(visit, bytes),
            )],
        )
        .await;
    (p, res.results.into_iter().next().unwrap())
}

/// `POST /v1/uploads`: status, body.
async fn create(t: &TestServer, token: &str, bytes_sha: &str, len: usize) -> (StatusCode, Value) {
    t.post(
        "/v1/uploads",
        Some(token),
        &json!({"sha256": bytes_sha, "length": len, "photo_id": null}),
    )
    .await
}

async fn patch(
    t: &TestServer,
    token: &str,
    location: &str,
    offset: usize,
    chunk: &[u8],
) -> reqwest::Response {
    let sum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(chunk));
    t.req(Method::PATCH, location, Some(token))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .header("upload-checksum", format!("sha256 {sum}"))
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

/// Uploads `bytes` in one chunk; returns the status of the PATCH (or of the POST when the
/// server answered "complete").
async fn upload(t: &TestServer, token: &str, bytes: &[u8]) -> StatusCode {
    let (st, body) = create(t, token, &sha(bytes), bytes.len()).await;
    if st == StatusCode::OK {
        assert_eq!(body["complete"], true);
        return st;
    }
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let loc = body["location"].as_str().unwrap().to_string();
    let res = patch(t, token, &loc, 0, bytes).await;
    if res.status() == StatusCode::NO_CONTENT {
        assert_eq!(res.headers()["upload-complete"], "true");
    }
    res.status()
}

async fn download(t: &TestServer, token: &str, hash: &str, photo: &str) -> reqwest::Response {
    t.req(
        Method::GET,
        &format!("/v1/uploads/blobs/{hash}?photo_id={photo}"),
        Some(token),
    )
    .send()
    .await
    .unwrap()
}

/// Status and body of a download, for comparing answers byte for byte.
async fn download_answer(t: &TestServer, token: &str, hash: &str, photo: &str) -> (u16, Vec<u8>) {
    let r = download(t, token, hash, photo).await;
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

async fn head_blob(t: &TestServer, token: &str, hash: &str) -> StatusCode {
    t.req(
        Method::HEAD,
        &format!("/v1/uploads/blobs/{hash}"),
        Some(token),
    )
    .send()
    .await
    .unwrap()
    .status()
}

#[tokio::test]
async fn record_then_file_then_download_with_safe_headers() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await.access_token;
    let v = visit(&t, &wang, DEMO_GRID).await;
    let bytes = jpeg(1);
    let (p, r) = photo_record(&t, &wang, &v, &bytes).await;
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    // The record came first, as the phone sends it: nothing to serve yet.
    assert_eq!(download(&t, &wang, &sha(&bytes), &p).await.status(), 404);
    assert_eq!(
        head_blob(&t, &wang, &sha(&bytes)).await,
        StatusCode::NOT_FOUND
    );

    assert_eq!(upload(&t, &wang, &bytes).await, StatusCode::NO_CONTENT);
    assert_eq!(head_blob(&t, &wang, &sha(&bytes)).await, StatusCode::OK);
    let res = download(&t, &wang, &sha(&bytes), &p).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-disposition"], "inline");
    assert!(h["cache-control"].to_str().unwrap().starts_with("private"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);

    // Her grid leader sees the record, so the file; a worker of the next grid does not.
    let lead = t.login("zhaomin", "dev-z").await.access_token;
    assert_eq!(download(&t, &lead, &sha(&bytes), &p).await.status(), 200);
    let li = t.login("lijun", "dev-l").await.access_token;
    assert_eq!(download(&t, &li, &sha(&bytes), &p).await.status(), 404);
}

#[tokio::test]
async fn a_hash_claimed_from_another_grid_serves_nothing_and_tells_nothing() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await.access_token;
    let li = t.login("lijun", "dev-l").await.access_token;
    // Grid A's photo, on the server.
    let secret = jpeg(2);
    let va = visit(&t, &wang, DEMO_GRID).await;
    photo_record(&t, &wang, &va, &secret).await;
    assert_eq!(upload(&t, &wang, &secret).await, StatusCode::NO_CONTENT);

    // Grid B's worker learnt its hash. Claiming it in a record of his own is answered exactly
    // like claiming a hash the server never saw…
    let never = jpeg(3);
    let vb = visit(&t, &li, DEMO_GRID_2).await;
    let (stolen, r1) = photo_record(&t, &li, &vb, &secret).await;
    let (unknown, r2) = photo_record(&t, &li, &vb, &never).await;
    assert_eq!(
        (r1.outcome, r2.outcome),
        (Outcome::Applied, Outcome::Applied)
    );
    assert_eq!((r1.reason, r2.reason), (None, None));

    // …and gets him neither the bytes nor the knowledge that they exist.
    let a = download_answer(&t, &li, &sha(&secret), &stolen).await;
    assert_eq!(a.0, 404);
    assert_eq!(a, download_answer(&t, &li, &sha(&never), &unknown).await);
    assert_eq!(
        head_blob(&t, &li, &sha(&secret)).await,
        StatusCode::NOT_FOUND
    );
    let (st, body) = create(&t, &li, &sha(&secret), secret.len()).await;
    let (st2, body2) = create(&t, &li, &sha(&never), never.len()).await;
    assert_eq!((st, st2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(
        (&body["complete"], &body["offset"]),
        (&body2["complete"], &body2["offset"])
    );
    // Without the bytes the upload never completes…
    let loc = body["location"].as_str().unwrap();
    let guess = jpeg(4);
    let guess = &guess[..secret.len().min(guess.len())];
    let res = patch(&t, &li, loc, 0, guess).await;
    assert_eq!(res.status().as_u16(), 460);
    let a = download_answer(&t, &li, &sha(&secret), &stolen).await;
    assert_eq!(a.0, 404, "still nothing");
    // …and the photo of grid A stays out of reach through its own record too.
    let (pa, _) = photo_record(&t, &wang, &va, &secret).await;
    assert_eq!(download(&t, &li, &sha(&secret), &pa).await.status(), 404);
    assert_eq!(download(&t, &wang, &sha(&secret), &pa).await.status(), 200);
}

#[tokio::test]
async fn the_same_file_uploads_once_where_rights_allow() {
    let t = start().await;
    let w1 = t.login("wangfang", "phone-1").await.access_token;
    let w2 = t.login("wangfang", "phone-2").await.access_token;
    let bytes = jpeg(5);
    let v = visit(&t, &w1, DEMO_GRID).await;
    photo_record(&t, &w1, &v, &bytes).await;
    assert_eq!(upload(&t, &w1, &bytes).await, StatusCode::NO_CONTENT);

    // Her second phone, with the same picture on another record: nothing to send, and its
    // record serves the file at once.
    let (p2, _) = photo_record(&t, &w2, &v, &bytes).await;
    let (st, body) = create(&t, &w2, &sha(&bytes), bytes.len()).await;
    assert_eq!((st, &body["complete"]), (StatusCode::OK, &json!(true)));
    assert_eq!(download(&t, &w2, &sha(&bytes), &p2).await.status(), 200);

    // Her grid leader can already see the file: attaching it again sends nothing either.
    let lead = t.login("zhaomin", "dev-z").await.access_token;
    let (pl, _) = photo_record(&t, &lead, &v, &bytes).await;
    assert_eq!(upload(&t, &lead, &bytes).await, StatusCode::OK);
    assert_eq!(download(&t, &lead, &sha(&bytes), &pl).await.status(), 200);

    // A worker who cannot see it must send the bytes; having sent them, his record serves.
    let li = t.login("lijun", "dev-l").await.access_token;
    let vb = visit(&t, &li, DEMO_GRID_2).await;
    let (pb, _) = photo_record(&t, &li, &vb, &bytes).await;
    let (st, _) = create(&t, &li, &sha(&bytes), bytes.len()).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(upload(&t, &li, &bytes).await, StatusCode::NO_CONTENT);
    assert_eq!(download(&t, &li, &sha(&bytes), &pb).await.status(), 200);
}

#[tokio::test]
async fn files_that_are_not_jpegs_are_refused() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await.access_token;
    let html = b"<html><script>document.cookie</script></html>".to_vec();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    let mut fake = jpeg(6)[..40].to_vec();
    fake.extend(html.iter().copied());
    for bytes in [html, png, fake] {
        let (st, body) = create(&t, &wang, &sha(&bytes), bytes.len()).await;
        assert_eq!(st, StatusCode::CREATED);
        let loc = body["location"].as_str().unwrap().to_string();
        // In two chunks: a JPEG start is refused only once the whole file is there.
        let (a, b) = bytes.split_at(bytes.len() / 2);
        let first = patch(&t, &wang, &loc, 0, a).await;
        let res = if first.status() == StatusCode::NO_CONTENT {
            patch(&t, &wang, &loc, a.len(), b).await
        } else {
            first
        };
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "not_an_image");
        // The upload is gone, and nothing became a blob.
        let gone = t.req(Method::HEAD, &loc, Some(&wang)).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert!(t
            .server
            .state()
            .uploads
            .blobs()
            .len(&sha(&bytes))
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn photo_record_fields_are_checked() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await.access_token;
    let v = visit(&t, &wang, DEMO_GRID).await;
    let bytes = jpeg(7);
    for (field, value) in [
        ("mime", json!("text/html")),
        ("mime", json!("image/png")),
        ("byte_len", json!(0)),
        ("byte_len", json!(21 * 1024 * 1024)),
        ("width", json!(0)),
        ("height", json!(20_001)),
        ("sha256", json!(sha(&bytes).to_uppercase())),
    ] {
        let mut payload = photo_payload(&v, &bytes);
        payload[field] = value;
        let res = t
            .push(
                &wang,
                vec![change(
                    "photo",
                    &id(),
                    Op::Create,
                    &hlc(now(), "w"),
                    payload,
                )],
            )
            .await;
        let r = &res.results[0];
        assert_eq!(r.outcome, Outcome::Rejected, "{field}");
        let reason = r.reason.as_ref().unwrap();
        assert_eq!(reason.code, "invalid");
        assert!(
            reason.message.contains(field),
            "{field}: {}",
            reason.message
        );
    }
    // Append-only: a photo's hash can never be changed afterwards.
    let (p, _) = photo_record(&t, &wang, &v, &bytes).await;
    let res = t
        .push(
            &wang,
            vec![change(
                "photo",
                &p,
                Op::Update,
                &hlc(now(), "w"),
                json!({"sha256": sha(&jpeg(8))}),
            )],
        )
        .await;
    assert_eq!(res.results[0].reason.as_ref().unwrap().code, "invalid");
}

/// Two instances behind a load balancer share the database and the blob directory: a phone's
/// upload started on one continues and completes on the other, and both serve the file.
#[tokio::test]
async fn an_upload_started_on_one_instance_completes_on_the_other() {
    let shared = tempfile::tempdir().unwrap();
    let blob_dir = shared.path().to_path_buf();
    let a = start_with(move |mut c| {
        c.blob_dir = Some(blob_dir);
        c
    })
    .await;
    let b = start_instance(a.server.config().clone()).await;
    let wang = a.login("wangfang", "dev-w").await.access_token;
    let v = visit(&a, &wang, DEMO_GRID).await;
    let bytes = jpeg(9);
    let (p, r) = photo_record(&a, &wang, &v, &bytes).await;
    assert_eq!(r.outcome, Outcome::Applied);

    let (st, body) = create(&a, &wang, &sha(&bytes), bytes.len()).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let loc = body["location"].as_str().unwrap().to_string();
    let (x, y) = bytes.split_at(1000);
    assert_eq!(patch(&a, &wang, &loc, 0, x).await.status(), 204);
    // The connection dropped; the phone's next request reaches the other instance.
    let head = b.req(Method::HEAD, &loc, Some(&wang)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["upload-offset"], "1000");
    // Asking to create it again there names the same upload.
    let (st, again) = create(&b, &wang, &sha(&bytes), bytes.len()).await;
    assert_eq!(
        (st, &again["location"]),
        (StatusCode::CREATED, &body["location"])
    );
    assert_eq!(again["offset"], 1000);
    // A chunk sent twice is refused there with the true offset; the rest completes there.
    let dup = patch(&b, &wang, &loc, 0, x).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(dup.headers()["upload-offset"], "1000");
    let done = patch(&b, &wang, &loc, 1000, y).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(done.headers()["upload-complete"], "true");

    for t in [&a, &b] {
        let res = download(t, &wang, &sha(&bytes), &p).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
        assert_eq!(head_blob(t, &wang, &sha(&bytes)).await, StatusCode::OK);
        let gone = t.req(Method::HEAD, &loc, Some(&wang)).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "finished everywhere");
    }
    // The files are in the shared folder, none under the data folder.
    let blob = shared
        .path()
        .join("blobs")
        .join(&sha(&bytes)[0..2])
        .join(&sha(&bytes)[2..4])
        .join(sha(&bytes));
    assert!(blob.is_file());
    assert!(!a.server.config().data_dir.join("blobs").exists());
    assert!(!a.server.config().data_dir.join("uploads").exists());
}
