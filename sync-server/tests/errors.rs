//! Bad requests get a JSON error body and never take the server down.

mod common;

use std::io::Write;

use common::*;
use gridwalk_protocol::{HEADER_PROTOCOL, MAX_BODY_BYTES, MAX_PUSH_CHANGES};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn expect_error(res: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status);
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("/ "));
}

#[tokio::test]
async fn malformed_oversized_and_wrong_requests_answer_json() {
    let t = start().await;
    let s = t.login("wangfang", "dev-w").await;
    let tok = s.access_token.as_str();

    // Malformed JSON, wrong types, missing fields.
    for body in [
        "{not json",
        r#"{"batch_id": 5, "changes": []}"#,
        r#"{"changes": "x"}"#,
        "",
    ] {
        let res = t
            .req(Method::POST, "/v1/sync/push", Some(tok))
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // A wrong-typed value is not echoed back (it could be personal data).
    let res = t
        .req(Method::POST, "/v1/auth/login", None)
        .body(r#"{"username": "wangfang", "password": 110105194912310025, "device_id": "d"}"#)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(!text.contains("110105194912310025"), "{text}");

    // Missing or wrong protocol header.
    let res = t
        .client
        .get(format!("{}/v1/sync/pull", t.base))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = t
        .client
        .get(format!("{}/v1/sync/pull", t.base))
        .header(HEADER_PROTOCOL, "2")
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "unsupported_protocol").await;

    // Too many changes.
    let changes: Vec<Value> = (0..MAX_PUSH_CHANGES + 1)
        .map(|_| {
            json!({"change_id": id(), "entity": "visit", "entity_id": id(), "op": "create",
                        "hlc": hlc(now(), "w"), "payload": {}})
        })
        .collect();
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(tok))
        .json(&json!({"batch_id": "b", "changes": changes}))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;

    // Too large a body, plain and as a small zstd bomb.
    let big = vec![b' '; MAX_BODY_BYTES + 10];
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(tok))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let bomb = zstd::encode_all(&big[..], 19).unwrap();
    assert!(bomb.len() < 10_000);
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(tok))
        .header("content-encoding", "zstd")
        .body(bomb)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;

    // Corrupt compression, unsupported encoding.
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(tok))
        .header("content-encoding", "zstd")
        .body("definitely not zstd")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(tok))
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["code"].is_string());

    // Unknown route, wrong method, bad limit.
    expect_error(
        t.req(Method::GET, "/v1/nothing", Some(tok))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        t.req(Method::DELETE, "/v1/sync/push", Some(tok))
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    expect_error(
        t.req(Method::GET, "/v1/sync/pull?limit=abc", Some(tok))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // Still serving.
    let (st, _) = t.get("/v1/sync/pull", Some(tok)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn compressed_bodies_both_ways() {
    let t = start().await;
    let s = t.login("wangfang", "dev-w").await;
    let h = id();
    let body = json!({"batch_id": "z1", "changes": [
        {"change_id": id(), "entity": "household", "entity_id": h, "op": "create",
         "hlc": hlc(now(), "w"), "payload": household_payload(DEMO_GRID)}]});
    let raw = serde_json::to_vec(&body).unwrap();
    let zst = zstd::encode_all(&raw[..], 3).unwrap();
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(&s.access_token))
        .header("content-encoding", "zstd")
        .body(zst)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["results"][0]["outcome"], "applied");

    // gzip request; zstd response when asked for (reqwest decodes it transparently).
    let mut gz = Vec::new();
    {
        // Minimal gzip via zstd's sibling is not available; build with flate-free stored blocks.
        gz.write_all(&gzip_stored(&raw)).unwrap();
    }
    let res = t
        .req(Method::POST, "/v1/sync/push", Some(&s.access_token))
        .header("content-encoding", "gzip")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .req(Method::GET, "/v1/sync/pull", Some(&s.access_token))
        .header("accept-encoding", "zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["records"][0]["id"], h.as_str());
}

/// A gzip member with one stored (uncompressed) deflate block per 65535 bytes.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(if i + 1 == chunks.len() { 1 } else { 0 });
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Sends `request` as raw bytes on a fresh connection and reads the whole answer:
/// status, lower-cased headers, body.
async fn raw(base: &str, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and stop reading) before a refused body is all sent.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(answer[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = answer[split + 4..].to_vec();
    (status, headers, body)
}

fn request(method: &str, target: &str, extra_headers: &[String], body: &str) -> Vec<u8> {
    let mut r = format!(
        "{method} {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{HEADER_PROTOCOL}: 1\r\ncontent-length: {}\r\n",
        body.len()
    );
    for h in extra_headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

async fn expect_raw_error(
    base: &str,
    req: Vec<u8>,
    status: u16,
    code: &str,
) -> Vec<(String, String)> {
    let (st, headers, body) = raw(base, &req).await;
    assert_eq!(st, status, "{}", String::from_utf8_lossy(&body));
    let ct = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(ct, Some("application/json"), "status {st}");
    let parsed: gridwalk_protocol::ErrorBody = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{st}: not an ErrorBody ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    assert_eq!(parsed.error.code, code);
    assert!(
        parsed.error.message.contains("/ "),
        "{}",
        parsed.error.message
    );
    headers
}

#[tokio::test]
async fn errors_of_the_http_layer_are_error_bodies_too() {
    let t = start().await;
    let base = t.base.as_str();

    // A 20 KB request target.
    let long = format!("/v1/sync/pull?cursor={}", "a".repeat(20_000));
    expect_raw_error(base, request("GET", &long, &[], ""), 414, "uri_too_long").await;
    // One huge header, and too many small ones.
    let huge = vec![format!("x-filler: {}", "b".repeat(20_000))];
    expect_raw_error(
        base,
        request("GET", "/healthz", &huge, ""),
        431,
        "headers_too_large",
    )
    .await;
    let many: Vec<String> = (0..80).map(|i| format!("x-h{i}: v")).collect();
    expect_raw_error(
        base,
        request("GET", "/healthz", &many, ""),
        431,
        "headers_too_large",
    )
    .await;
    // Wrong method: 405 with the methods that work.
    let headers = expect_raw_error(
        base,
        request("DELETE", "/v1/auth/login", &[], ""),
        405,
        "method_not_allowed",
    )
    .await;
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "allow" && v.contains("POST")),
        "{headers:?}"
    );
    // Unknown routes, inside and outside /v1.
    expect_raw_error(base, request("GET", "/nowhere", &[], ""), 404, "not_found").await;
    expect_raw_error(
        base,
        request("GET", "/v1/nowhere", &[], ""),
        404,
        "not_found",
    )
    .await;
    // An encoding the server does not speak.
    expect_raw_error(
        base,
        request(
            "POST",
            "/v1/auth/login",
            &[
                "content-type: application/json".into(),
                "content-encoding: br".into(),
            ],
            "{}",
        ),
        415,
        "bad_request",
    )
    .await;
    // A body over the limit, announced by its length.
    let big = "x".repeat(MAX_BODY_BYTES + 1);
    expect_raw_error(
        base,
        request(
            "POST",
            "/v1/auth/login",
            &["content-type: application/json".into()],
            &big,
        ),
        413,
        "too_large",
    )
    .await;

    // Just under the limits everything still works.
    let ok = format!("/healthz?pad={}", "a".repeat(4000));
    let (st, _, _) = raw(base, &request("GET", &ok, &many[..40], "")).await;
    assert_eq!(st, 200);
}
