//! Targets for what crosses the wire as text: sync bodies, pull cursors, HLC stamps.
//!
//! Both ends decode what the other sent: the server decodes pushes (plain or zstd), the phone
//! decodes pull pages, push answers and error bodies. Whatever decodes must re-encode to the same
//! value (a record a phone parks and re-reads must not change), and a cursor or a stamp the
//! server accepts must be one it could have made.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gridwalk_protocol::hlc::{HlcClock, Stamp, MAX_COUNTER, MAX_WALL_MS};
use gridwalk_protocol::{
    ErrorBody, PullResponse, PushRequest, PushResponse, ServerRecord, MAX_BODY_BYTES,
};
use gridwalk_sync_server::cursor::Cursor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::io::Read;

/// First bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The decompressed body when `data` is a zstd frame that inflates to at most `limit` bytes
/// (the server refuses anything larger, as it does here: a bomb never reaches the decoder).
pub fn zstd_body(data: &[u8], limit: usize) -> Option<Vec<u8>> {
    if !data.starts_with(&ZSTD_MAGIC) {
        return None;
    }
    let decoder = zstd::stream::read::Decoder::new(data).ok()?;
    let mut out = Vec::new();
    decoder.take(limit as u64 + 1).read_to_end(&mut out).ok()?;
    (out.len() <= limit).then_some(out)
}

/// JSON values equal up to the last bit of a float: serde_json (without `float_roundtrip`) may
/// read a long decimal one ulp off, which is not a Gridwalk bug.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(p), Some(q)) if x.is_f64() || y.is_f64() => {
                p == q || ((p - q).abs() <= f64::EPSILON * 4.0 * p.abs().max(q.abs()))
            }
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, p), (l, q))| k == l && same_value(p, q))
        }
        _ => a == b,
    }
}

/// Decodes `bytes` as `T`; when it decodes, checks that re-encoding and decoding again gives the
/// same JSON. Returns the decoded value.
fn roundtrip<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(bytes).ok()?;
    let first = serde_json::to_value(&value).expect("a decoded wire value encodes");
    let text = serde_json::to_vec(&value).expect("a decoded wire value encodes");
    let again: T = serde_json::from_slice(&text).expect("a re-encoded wire value decodes");
    let second = serde_json::to_value(&again).expect("a decoded wire value encodes");
    assert!(
        same_value(&first, &second),
        "round trip changed the value:\n{first}\n{second}"
    );
    Some(value)
}

/// What the server does with a push body: decode it, as sent or after zstd.
pub fn push_decode(data: &[u8]) {
    decode_push(data);
    if let Some(plain) = zstd_body(data, MAX_BODY_BYTES) {
        decode_push(&plain);
    }
}

fn decode_push(bytes: &[u8]) {
    if let Some(req) = roundtrip::<PushRequest>(bytes) {
        for c in &req.changes {
            let back = serde_json::to_value(c).expect("a change encodes");
            assert!(back.get("payload").is_some_and(Value::is_object));
        }
    }
}

/// What the phone does with the server's answers: pull pages, single records (parked records
/// are stored as their JSON), push answers and error bodies; as sent or after zstd.
pub fn pull_decode(data: &[u8]) {
    decode_answers(data);
    if let Some(plain) = zstd_body(data, MAX_BODY_BYTES) {
        decode_answers(&plain);
    }
}

fn decode_answers(bytes: &[u8]) {
    if let Some(page) = roundtrip::<PullResponse>(bytes) {
        for rec in &page.records {
            check_record(rec);
        }
    }
    if let Some(rec) = roundtrip::<ServerRecord>(bytes) {
        check_record(&rec);
    }
    roundtrip::<PushResponse>(bytes);
    roundtrip::<ErrorBody>(bytes);
}

/// A record keeps every field through a park (encode) and unpark (decode), unknown ones too.
fn check_record(rec: &ServerRecord) {
    let text = serde_json::to_string(rec).expect("a record encodes");
    let back: ServerRecord = serde_json::from_str(&text).expect("a parked record decodes");
    let (a, b) = (
        serde_json::to_value(rec).expect("a record encodes"),
        serde_json::to_value(&back).expect("a record encodes"),
    );
    assert!(same_value(&a, &b), "a parked record changed:\n{a}\n{b}");
}

/// The pull cursor parser: any text the server accepts is a cursor it could have made.
pub fn cursor(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_cursor(text);
    }
    // The raw bytes as the cursor's content, to reach the parser behind the base64 layer.
    check_cursor(&URL_SAFE_NO_PAD.encode(data));
}

fn check_cursor(text: &str) {
    let Some(c) = Cursor::decode(text) else {
        return;
    };
    assert!(c.rev >= 0, "negative revision accepted: {c:?}");
    assert!(!c.epoch.contains(':') && !c.scope.contains(':'));
    assert_eq!(
        Cursor::decode(&c.encode()).as_ref(),
        Some(&c),
        "cursor round trip"
    );
}

/// A wall time the fuzzed clocks start from (2025-06-15).
const NOW_MS: i64 = 1_750_000_000_000;

/// The HLC stamp parser and clock, one candidate stamp per line: a stamp that parses is in its
/// canonical form, string order is stamp order, and a clock that observed it issues later stamps
/// that still parse.
pub fn hlc(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let mut parsed = Vec::new();
    for line in &lines {
        if let Ok(s) = Stamp::parse(line) {
            assert_eq!(&s.encode(), line, "only canonical stamps parse");
            assert!(s.counter <= MAX_COUNTER && (0..=MAX_WALL_MS).contains(&s.wall_ms));
            parsed.push((s, *line));
        }
    }
    for (a, ta) in &parsed {
        for (b, tb) in &parsed {
            assert_eq!(
                a.cmp(b),
                ta.cmp(tb),
                "string order is stamp order: {ta} {tb}"
            );
        }
    }
    let mut clock = HlcClock::new("fz", lines.first().copied());
    let mut last = clock.current();
    let mut now = NOW_MS;
    for (i, line) in lines.iter().enumerate() {
        let observed = clock.observe(line, now).is_ok();
        assert_eq!(observed, Stamp::parse(line).is_ok());
        let cur = clock.current();
        let at_end = at_end_of_time(&cur);
        assert!(
            Stamp::parse(&cur).is_ok(),
            "clock state {cur} does not parse"
        );
        assert!(cur >= last, "clock went back: {last} -> {cur}");
        if observed && !at_end {
            assert!(
                cur.as_str() > *line,
                "observed {line} but clock is at {cur}"
            );
        }
        // Wall time wanders, forwards and back, as on a phone.
        now += (i as i64 % 3 - 1) * 1_000;
        let next = clock.tick(now);
        assert!(
            Stamp::parse(&next).is_ok(),
            "issued stamp {next} does not parse"
        );
        if at_end {
            assert_eq!(next, cur, "the clock stays at its last stamp");
        } else {
            assert!(next > cur, "tick did not move on: {cur} -> {next}");
        }
        last = next;
    }
}

/// The clock's last possible stamp: it stops there rather than issue one that does not sort.
fn at_end_of_time(stamp: &str) -> bool {
    Stamp::parse(stamp).is_ok_and(|s| s.wall_ms == MAX_WALL_MS && s.counter == MAX_COUNTER)
}
