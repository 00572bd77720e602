//! Wire snapshots: every protocol type, built with representative values, serialised and compared
//! with the JSON committed under `tests/snapshots/`. A change to a snapshot is a change to what
//! phones and servers of other versions read: it must be deliberate (and additive, see
//! "Compatibility" in `docs/protocol.md`). `UPDATE_SNAPSHOTS=1 cargo test -p gridwalk-protocol`
//! rewrites the files after such a change; review the diff.
//!
//! Also checks what a peer of another version relies on: every type decodes with fields it does
//! not know, records keep them, and an outcome from a newer server does not break a push answer.

use std::path::PathBuf;

use gridwalk_protocol::merge::FieldConflict;
use gridwalk_protocol::uploads::{CreateUpload, UploadCreated};
use gridwalk_protocol::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.json"))
}

/// A line diff (longest common subsequence) of `expected` and `actual`, `-`/`+` marked.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

/// Compares the pretty JSON of `value` with the committed snapshot `name` (or rewrites it with
/// `UPDATE_SNAPSHOTS=1`), then checks the snapshot decodes back to the same JSON.
fn check<T: Serialize + DeserializeOwned>(name: &str, value: &T) {
    let actual = serde_json::to_string_pretty(value).expect("encode") + "\n";
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot folder")).expect("mkdir");
        std::fs::write(&path, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; create it with UPDATE_SNAPSHOTS=1 cargo test -p gridwalk-protocol",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "wire format of `{name}` changed (- committed {}, + now):\n{}\
         If the change is intended (and compatible), rerun with UPDATE_SNAPSHOTS=1.",
        path.display(),
        diff(&expected, &actual)
    );
    let back: T = serde_json::from_str(&expected).expect("the snapshot decodes");
    let again = serde_json::to_string_pretty(&back).expect("encode") + "\n";
    assert_eq!(again, expected, "`{name}` does not survive decode + encode");
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

const HLC_A: &str = "001750000000000.00000.dev-7f3a";
const HLC_B: &str = "001750000000100.00002.srv";
const GRID: &str = "640323001001001";

fn org_units() -> Vec<OrgUnit> {
    vec![
        OrgUnit {
            code: "640323001001".into(),
            name: "幸福社区".into(),
            level: "community".into(),
            parent_code: Some("640323001".into()),
            boundary: None,
        },
        OrgUnit {
            code: GRID.into(),
            name: "幸福社区第一网格".into(),
            level: "grid".into(),
            parent_code: Some("640323001001".into()),
            boundary: Some(json!({"type": "Polygon", "coordinates": [[
                [107.4, 37.78], [107.404, 37.78], [107.404, 37.784], [107.4, 37.78]
            ]]})),
        },
    ]
}

fn user_info() -> UserInfo {
    UserInfo {
        id: "0197f000-0000-7000-8000-0000000000a1".into(),
        username: "wangfang".into(),
        display_name: "王芳".into(),
        role: Role::GridWorker,
        org_code: GRID.into(),
        grids: vec![GRID.into()],
        org: org_units(),
    }
}

fn create_change() -> Change {
    Change {
        change_id: "0197f000-0000-7000-9000-000000000001".into(),
        entity: entity::HOUSEHOLD.into(),
        entity_id: "0197f000-0000-7000-8000-000000000001".into(),
        op: Op::Create,
        hlc: HLC_A.into(),
        payload: obj(json!({
            "grid_code": GRID, "community": "幸福社区", "building": "3栋", "unit": "2单元",
            "floor": 5, "room": "502", "housing_type": "rented", "care_tier": "attention",
            "tags": ["出租"], "lat": 37.78, "lng": 107.4, "notes": null, "status": "active"
        })),
        base: None,
    }
}

fn update_change() -> Change {
    Change {
        change_id: "0197f000-0000-7000-9000-000000000002".into(),
        entity: entity::RESIDENT.into(),
        entity_id: "0197f000-0000-7000-8000-000000000002".into(),
        op: Op::Update,
        hlc: "001750000000050.00000.dev-7f3a".into(),
        payload: obj(json!({"phone": "13900000000"})),
        base: Some(obj(json!({"phone": HLC_A}))),
    }
}

fn conflict() -> FieldConflict {
    FieldConflict {
        field: "phone".into(),
        kept: json!("13900000000"),
        kept_hlc: "001750000000050.00000.dev-7f3a".into(),
        lost: json!("13700000000"),
        lost_hlc: "001750000000040.00000.dev-9c01".into(),
    }
}

fn results() -> Vec<ChangeResult> {
    vec![
        ChangeResult {
            change_id: "0197f000-0000-7000-9000-000000000001".into(),
            outcome: Outcome::Applied,
            rev: Some(41),
            replayed: false,
            reason: None,
            conflicts: vec![],
        },
        ChangeResult {
            change_id: "0197f000-0000-7000-9000-000000000002".into(),
            outcome: Outcome::Merged,
            rev: Some(42),
            replayed: true,
            reason: None,
            conflicts: vec![conflict()],
        },
        ChangeResult {
            change_id: "0197f000-0000-7000-9000-000000000003".into(),
            outcome: Outcome::Rejected,
            rev: None,
            replayed: false,
            reason: Some(Reason {
                code: codes::PARENT_UNKNOWN.into(),
                message: "household_id 指向的记录在服务器上不存在 / the record named by household_id is unknown to the server".into(),
                field: Some("household_id".into()),
                field_code: None,
            }),
            conflicts: vec![],
        },
        ChangeResult {
            change_id: "0197f000-0000-7000-9000-000000000004".into(),
            outcome: Outcome::Rejected,
            rev: None,
            replayed: false,
            reason: Some(Reason {
                code: codes::INVALID.into(),
                message: "字段 id_number：身份证号校验位错误 / field id_number: ID number check digit is wrong".into(),
                field: Some("id_number".into()),
                field_code: Some("invalid_checksum".into()),
            }),
            conflicts: vec![],
        },
        ChangeResult {
            change_id: "0197f000-0000-7000-9000-000000000005".into(),
            outcome: Outcome::Rejected,
            rev: None,
            replayed: false,
            reason: Some(Reason::new(
                codes::CLOCK_AHEAD,
                "手机时间不正确 / the phone's clock is wrong",
            )),
            conflicts: vec![],
        },
    ]
}

fn records() -> Vec<ServerRecord> {
    vec![
        ServerRecord {
            entity: entity::HOUSEHOLD.into(),
            id: "0197f000-0000-7000-8000-000000000001".into(),
            rev: 41,
            hlc: HLC_A.into(),
            data: create_change().payload,
            clocks: obj(json!({"care_tier": HLC_A, "phone": HLC_A})),
            extra: Map::new(),
        },
        ServerRecord {
            entity: entity::VISIT.into(),
            id: "0197f000-0000-7000-8000-000000000003".into(),
            rev: 43,
            hlc: HLC_B.into(),
            data: obj(json!({
                "household_id": "0197f000-0000-7000-8000-000000000001",
                "visited_at": 1_750_000_000_000_i64, "mode": "in_person", "outcome": "fine",
                "notes": "正常"
            })),
            clocks: Map::new(),
            extra: Map::new(),
        },
    ]
}

#[test]
fn sign_in() {
    check(
        "login_request",
        &LoginRequest {
            username: "wangfang".into(),
            password: "demo-pass".into(),
            device_id: "dev-7f3a".into(),
            device_name: Some("王芳的手机".into()),
            hand_over: true,
        },
    );
    check(
        "refresh_request",
        &RefreshRequest {
            refresh_token: "r3fr3sh-t0k3n".into(),
            device_id: "dev-7f3a".into(),
        },
    );
    check("user_info", &user_info());
    check(
        "session",
        &Session {
            access_token: "acc3ss-t0k3n".into(),
            access_expires_at: 1_750_000_900_000,
            refresh_token: "r3fr3sh-t0k3n".into(),
            refresh_expires_at: 1_752_592_000_000,
            user: user_info(),
        },
    );
    check("org_units", &org_units());
    check(
        "roles",
        &[
            Role::GridWorker,
            Role::GridLeader,
            Role::Community,
            Role::Street,
            Role::District,
        ],
    );
}

#[test]
fn push() {
    check("change_create", &create_change());
    check("change_update", &update_change());
    check(
        "push_request",
        &PushRequest {
            batch_id: "0197f000-0000-7000-a000-000000000001".into(),
            changes: vec![create_change(), update_change()],
            cursor: None,
        },
    );
    // A device that holds a pull cursor sends it along (no echo); older ones send none.
    check(
        "push_request_with_cursor",
        &PushRequest {
            batch_id: "0197f000-0000-7000-a000-000000000002".into(),
            changes: vec![update_change()],
            cursor: Some("YzE6ZXBvY2g6c2NvcGU6NDI".into()),
        },
    );
    check("change_results", &results());
    check("field_conflict", &conflict());
    check(
        "push_response",
        &PushResponse {
            results: results(),
            server_hlc: HLC_B.into(),
        },
    );
}

#[test]
fn pull_and_errors() {
    check("server_records", &records());
    check(
        "pull_response",
        &PullResponse {
            records: records(),
            cursor: "YzE6ZXBvY2g6c2NvcGU6NDM".into(),
            has_more: false,
            server_hlc: HLC_B.into(),
        },
    );
    check(
        "error_body",
        &ErrorBody {
            error: Reason::new(codes::CURSOR_EXPIRED, "同步位置已失效 / cursor expired"),
        },
    );
}

#[test]
fn uploads() {
    check(
        "create_upload",
        &CreateUpload {
            sha256: "ab".repeat(32),
            length: 183_204,
            photo_id: Some("0197f000-0000-7000-8000-000000000008".into()),
        },
    );
    check(
        "upload_created",
        &[
            UploadCreated {
                location: Some("/v1/uploads/0197f000-0000-7000-b000-000000000001".into()),
                offset: 0,
                complete: false,
            },
            UploadCreated {
                location: None,
                offset: 183_204,
                complete: true,
            },
        ],
    );
}

/// Decodes every snapshot with a field added at the top level (and, for arrays, in each
/// element), as a newer peer would send: no type may refuse fields it does not know.
#[test]
fn every_type_decodes_with_fields_from_a_newer_peer() {
    fn with_extra(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut m = m.clone();
                m.insert("added_in_a_later_version".into(), json!({"x": 1}));
                Value::Object(m)
            }
            Value::Array(a) => Value::Array(a.iter().map(with_extra).collect()),
            other => other.clone(),
        }
    }
    fn decodes<T: DeserializeOwned>(name: &str) {
        let text = std::fs::read_to_string(snapshot_path(name)).expect("snapshot");
        let v: Value = serde_json::from_str(&text).expect("json");
        if let Err(e) = serde_json::from_value::<T>(with_extra(&v)) {
            panic!("`{name}` refuses an unknown field: {e}");
        }
    }
    decodes::<LoginRequest>("login_request");
    decodes::<RefreshRequest>("refresh_request");
    decodes::<UserInfo>("user_info");
    decodes::<Session>("session");
    decodes::<Vec<OrgUnit>>("org_units");
    decodes::<Change>("change_create");
    decodes::<Change>("change_update");
    decodes::<PushRequest>("push_request");
    decodes::<Vec<ChangeResult>>("change_results");
    decodes::<FieldConflict>("field_conflict");
    decodes::<PushResponse>("push_response");
    decodes::<Vec<ServerRecord>>("server_records");
    decodes::<PullResponse>("pull_response");
    decodes::<ErrorBody>("error_body");
    decodes::<CreateUpload>("create_upload");
    decodes::<Vec<UploadCreated>>("upload_created");
}

/// A device parks a record whose parent has not arrived (as its JSON) and applies it later:
/// fields a newer server added must survive that, at the top level and inside `data`.
#[test]
fn a_record_keeps_what_a_newer_server_added() {
    let sent = json!({
        "entity": "household", "id": "h1", "rev": 7, "hlc": HLC_A,
        "data": {"building": "3栋", "elevator": true},
        "deleted": false, "grid_code": GRID, "schema": {"v": 2}
    });
    let rec: ServerRecord = serde_json::from_value(sent.clone()).expect("decodes");
    assert_eq!(rec.extra.get("deleted"), Some(&json!(false)));
    assert_eq!(rec.data.get("elevator"), Some(&json!(true)));
    let parked = serde_json::to_string(&rec).expect("encodes");
    let back: Value = serde_json::from_str(&parked).expect("json");
    assert_eq!(back, sent, "a parked record lost or changed a field");

    // Known fields never land in `extra`, and an empty `extra` adds nothing to the wire.
    assert!(records().iter().all(|r| serde_json::to_value(r)
        .expect("encodes")
        .get("extra")
        .is_none()));
    let rec: ServerRecord = serde_json::from_value(json!({
        "entity": "visit", "id": "v1", "rev": 1, "hlc": HLC_A, "data": {}
    }))
    .expect("decodes");
    assert!(rec.extra.is_empty() && rec.clocks.is_empty());
}

/// A change's payload is a map: fields a newer phone added reach the server's checks intact.
#[test]
fn a_change_keeps_new_payload_fields() {
    let mut c = create_change();
    c.payload
        .insert("added_in_a_later_version".into(), json!([1, 2]));
    let back: Change =
        serde_json::from_str(&serde_json::to_string(&c).expect("encodes")).expect("decodes");
    assert_eq!(back, c);
}

/// A newer server may answer with an outcome this build does not know: the answer still decodes
/// (the change stays queued on the device) instead of failing the whole push.
#[test]
fn an_unknown_outcome_decodes_as_unknown() {
    let answer = json!({
        "results": [
            {"change_id": "a", "outcome": "applied", "rev": 3},
            {"change_id": "b", "outcome": "deferred", "reason": {"code": "later", "message": "稍后 / later"}}
        ],
        "server_hlc": HLC_B
    });
    let res: PushResponse = serde_json::from_value(answer).expect("decodes");
    assert_eq!(res.results[0].outcome, Outcome::Applied);
    assert_eq!(res.results[1].outcome, Outcome::Unknown);
    assert_eq!(
        res.results[1].reason.as_ref().map(|r| r.code.as_str()),
        Some("later")
    );
}

/// Roles and ops are closed sets: a new value needs a new protocol version, since an older peer
/// cannot act on it safely (a role decides what a user may do). This pins that decision.
#[test]
fn roles_and_ops_are_closed() {
    assert!(serde_json::from_value::<Role>(json!("city")).is_err());
    assert!(serde_json::from_value::<Op>(json!("delete")).is_err());
    assert_eq!(
        serde_json::to_value(Outcome::Merged).expect("encodes"),
        json!("merged")
    );
}
