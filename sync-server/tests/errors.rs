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
