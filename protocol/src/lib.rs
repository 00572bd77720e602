//! The Gridwalk sync protocol, version 1: the wire types the phone's sync engine and the sync
//! server exchange, and the one field-level merge both sides run.
//!
//! Both sides depend on this crate so the protocol cannot drift between them, and so the merge
//! that decides which value wins (and when a conflict must be recorded) is the same code on the
//! phone and on the server. `docs/protocol.md` documents the HTTP endpoints around these types.
//!
//! The JSON of every type is pinned by `tests/snapshots.rs` (files in `tests/snapshots/`;
//! `UPDATE_SNAPSHOTS=1` rewrites them), which also checks what peers of other versions rely on:
//! unknown fields are accepted, records keep them, unknown outcomes decode ("Compatibility" in
//! `docs/protocol.md`).

pub mod hlc;
pub mod merge;
pub mod uploads;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Protocol version; sent by clients in [`HEADER_PROTOCOL`]. A server refuses versions it does
/// not speak with 400 `unsupported_protocol`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Request header carrying [`PROTOCOL_VERSION`].
pub const HEADER_PROTOCOL: &str = "x-gridwalk-protocol";

/// Largest accepted push batch (changes per request).
pub const MAX_PUSH_CHANGES: usize = 1000;
/// Largest accepted request body, after decompression.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default and maximum pull page sizes.
pub const DEFAULT_PULL_LIMIT: usize = 500;
pub const MAX_PULL_LIMIT: usize = 2000;
/// Query parameter of `GET /v1/sync/pull` choosing how records carry their field clocks; with
/// [`PULL_CLOCKS_COMPACT`] the server sends [`ServerRecord::compact_clocks`] records. Servers
/// before it ignore the parameter and send every clock, which a device merges the same way.
pub const PULL_CLOCKS_PARAM: &str = "clocks";
/// Value of [`PULL_CLOCKS_PARAM`]: one clock per record, plus the fields whose clock differs.
pub const PULL_CLOCKS_COMPACT: &str = "compact";

/// Default byte bound of a pull page: the server stops adding records once their `data` and
/// `clocks` JSON reach it (a single larger record still comes, alone on its page).
pub const DEFAULT_PULL_PAGE_BYTES: usize = 1024 * 1024;
/// Longest request target (path and query) a server accepts; longer → 414 `uri_too_long`.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section (names, values and separators) a server accepts; larger, or more than
/// [`MAX_HEADERS`] headers → 431 `headers_too_large`.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most request headers a server accepts.
pub const MAX_HEADERS: usize = 64;

/// Kinds of syncable records, as named on the wire.
pub mod entity {
    pub const HOUSEHOLD: &str = "household";
    pub const RESIDENT: &str = "resident";
    pub const RESIDENT_MOVE: &str = "resident_move";
    pub const VISIT: &str = "visit";
    pub const PATROL: &str = "patrol";
    pub const CASE: &str = "case";
    pub const CASE_EVENT: &str = "case_event";
    pub const PHOTO: &str = "photo";
    pub const TASK: &str = "task";
    /// A field-level conflict recorded by the server (see [`crate::merge`]).
    pub const CONFLICT: &str = "conflict";

    /// Every entity a device may push.
    pub const PUSHABLE: &[&str] = &[
        HOUSEHOLD,
        RESIDENT,
        RESIDENT_MOVE,
        VISIT,
        PATROL,
        CASE,
        CASE_EVENT,
        PHOTO,
        TASK,
        CONFLICT,
    ];
}

/// Roles of users, from the grid up. A role sees the subtree of the org unit it is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: works one or more grids.
    GridWorker,
    /// 网格长: leads the grids of one community (or one grid group).
    GridLeader,
    /// 社区: community staff.
    Community,
    /// 街道: street (subdistrict) staff.
    Street,
    /// 区: district administrators.
    District,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::GridLeader => "grid_leader",
            Role::Community => "community",
            Role::Street => "street",
            Role::District => "district",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "grid_worker" => Role::GridWorker,
            "grid_leader" => Role::GridLeader,
            "community" => Role::Community,
            "street" => Role::Street,
            "district" => Role::District,
            _ => return None,
        })
    }

    /// Supervisors drive the case loop and assign tasks; grid workers do not.
    pub fn is_supervisor(self) -> bool {
        !matches!(self, Role::GridWorker)
    }
}

/// An org unit as the server sends it at login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgUnit {
    pub code: String,
    pub name: String,
    /// `district` | `street` | `community` | `grid`.
    pub level: String,
    pub parent_code: Option<String>,
    /// GeoJSON geometry (Polygon / MultiPolygon) of a grid, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<Value>,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The device's store id; refresh tokens are bound to it.
    pub device_id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    /// The device is bound to the user who first signed in on it. Another user's sign-in on it
    /// is refused with 409 `device_in_use` unless this is true (the worker confirmed taking the
    /// phone over): then the previous user's sessions on the device end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hand_over: bool,
}

/// `POST /v1/auth/refresh`. The refresh token rotates: the old one stops working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
    pub device_id: String,
}

/// Answer to login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    /// Milliseconds since the Unix epoch.
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
    pub user: UserInfo,
}

/// Who is signed in and what they may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// The org unit the user is attached to (a grid for grid workers).
    pub org_code: String,
    /// Every grid in the user's scope.
    pub grids: Vec<String>,
    /// The org units of the scope, with grid boundaries, for the device's `org_units` table.
    pub org: Vec<OrgUnit>,
}

/// What a change does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A new record with all its fields.
    Create,
    /// Some fields changed; the payload holds only those.
    Update,
}

/// One local change, as pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Client-generated; the server applies a change id at most once.
    pub change_id: String,
    pub entity: String,
    pub entity_id: String,
    pub op: Op,
    /// HLC stamp of the change.
    pub hlc: String,
    pub payload: Map<String, Value>,
    /// For updates: the clock of each field's value the edit replaced, as the device knew it.
    /// Lets the server tell a sequential edit from a concurrent one (a conflict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Map<String, Value>>,
}

/// `POST /v1/sync/push`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    /// Client-generated id of this batch (for logs; deduplication is per change).
    pub batch_id: String,
    pub changes: Vec<Change>,
    /// The pull cursor the device held when it pushed (the one it stores with its pulled pages),
    /// absent before its first pull. With it the server leaves the records this push wrote out
    /// of the device's later pulls when the device already holds their state ("no echo");
    /// without it (older devices) every record comes back as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Outcome of one pushed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied as sent.
    Applied,
    /// Applied, and at least one field conflict was recorded (see `conflicts`).
    Merged,
    /// Not applied; `reason` says why. The device keeps it in its "needs attention" list.
    Rejected,
    /// An outcome this version does not know, from a newer server. Never sent by this version;
    /// the device keeps the change queued (as if unanswered) and sends it again later.
    #[serde(other)]
    Unknown,
}

/// A machine-readable reason with a human message (Chinese first, then English).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
    /// For `invalid`: the payload field that was refused (never its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `invalid`: the validation code of that field (`invalid_checksum`, `future_date`, …),
    /// the same codes the phone's own forms use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_code: Option<String>,
}

impl Reason {
    /// A reason without a field.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Reason {
        Reason {
            code: code.into(),
            message: message.into(),
            field: None,
            field_code: None,
        }
    }
}

/// Per-change result of a push, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub change_id: String,
    pub outcome: Outcome,
    /// The record's revision after the change (absent when rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i64>,
    /// True when this change id had already been applied: the stored result is returned again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<merge::FieldConflict>,
}

/// Answer to a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<ChangeResult>,
    /// The server's clock after the batch; devices observe it.
    pub server_hlc: String,
}

/// One record in the pull feed: its full current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub entity: String,
    pub id: String,
    pub rev: i64,
    pub hlc: String,
    pub data: Map<String, Value>,
    /// Per-field clocks (households, residents, conflicts' subjects); empty for append-only kinds.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub clocks: Map<String, Value>,
    /// Top-level fields this version does not know (from a newer server), kept so a record the
    /// device stores and reads again (a parked record) loses nothing. Empty from this version's
    /// server, and then absent from the wire.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerRecord {
    /// The compact record encoding: leaves out of `clocks` every field whose clock is the
    /// record's own `hlc`. A field without a clock has the record's stamp (the rule of
    /// [`merge::field_clock`] and [`merge::incoming_from_record`]), so merging the compact record
    /// gives exactly what merging the full one gives, on every peer version; a record written by
    /// one change (most of a grid's records) then carries no per-field clock at all.
    pub fn compact_clocks(&mut self) {
        let hlc = self.hlc.as_str();
        self.clocks.retain(|_, v| v.as_str() != Some(hlc));
    }

    /// The bytes of `clocks` as JSON in the full encoding ([`Self::full_clocks`]) — what a pull
    /// page's byte bound counts, so a page holds the same records whichever encoding is asked
    /// for and however the server stores them. Computed without building the full map.
    pub fn full_clock_bytes(&self) -> usize {
        // `{"k":"v","k2":"v2"}`: 2 + per entry len(k) + len(v) + 5, plus a comma between two.
        let entry = |k: &str, v: &str| k.len() + v.len() + 5;
        let mut n = 0usize;
        let mut bytes = 2usize;
        for (k, v) in &self.clocks {
            n += 1;
            bytes += match v {
                Value::String(s) => entry(k, s),
                other => k.len() + 3 + other.to_string().len(),
            };
        }
        if matches!(self.entity.as_str(), entity::HOUSEHOLD | entity::RESIDENT) {
            for k in self.data.keys() {
                if !self.clocks.contains_key(k) {
                    n += 1;
                    bytes += entry(k, &self.hlc);
                }
            }
        }
        bytes + n.saturating_sub(1)
    }

    /// The full encoding of a household or resident, for a device that did not ask for compact
    /// records: every field of `data` without a clock is given the record's `hlc`, the clock
    /// the shared merge reads for it ([`merge::field_clock`]). Servers store these kinds compact
    /// and write the clocks out again for such devices, so they see exactly what they always
    /// did. Other kinds are left as stored (append-only ones carry no clocks at all).
    pub fn full_clocks(&mut self) {
        if !matches!(self.entity.as_str(), entity::HOUSEHOLD | entity::RESIDENT) {
            return;
        }
        for k in self.data.keys() {
            if !self.clocks.contains_key(k) {
                self.clocks
                    .insert(k.clone(), Value::String(self.hlc.clone()));
            }
        }
    }
}

/// `GET /v1/sync/pull?cursor=<cursor>&limit=<n>`; no cursor = initial snapshot from the start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    pub records: Vec<ServerRecord>,
    /// Opaque; send it back to continue. Store it in the same transaction as the records.
    pub cursor: String,
    pub has_more: bool,
    pub server_hlc: String,
}

/// Body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: Reason,
}

/// Error codes a client acts on.
pub mod codes {
    /// 401: the access token is missing, malformed or expired; refresh and retry.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// 401: wrong user name or password.
    pub const BAD_CREDENTIALS: &str = "bad_credentials";
    /// 401: refresh token unknown, reused or expired: log in again.
    pub const SESSION_ENDED: &str = "session_ended";
    /// 403: the user is disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// 403: the device was revoked.
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// 409 at login: the device is bound to another user; sign in with `hand_over: true` once
    /// the worker confirmed taking the phone over.
    pub const DEVICE_IN_USE: &str = "device_in_use";
    /// 429 at login: too many failed sign-ins for this user name or from this address; wait
    /// `Retry-After` seconds.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// 403: outside the user's scope (reads and whole requests).
    pub const FORBIDDEN: &str = "forbidden";
    /// 410: the cursor is too old for the feed: take a new snapshot, keep unsent changes.
    pub const CURSOR_EXPIRED: &str = "cursor_expired";
    /// 400: malformed request.
    pub const BAD_REQUEST: &str = "bad_request";
    /// 413: body or batch too large.
    pub const TOO_LARGE: &str = "too_large";
    /// 414: request target longer than [`crate::MAX_URI_BYTES`].
    pub const URI_TOO_LONG: &str = "uri_too_long";
    /// 431: header section larger than [`crate::MAX_HEADER_BYTES`] or too many headers.
    pub const HEADERS_TOO_LARGE: &str = "headers_too_large";
    /// 400: unsupported protocol version.
    pub const UNSUPPORTED_PROTOCOL: &str = "unsupported_protocol";
    /// Per-change rejection: the record is not in the user's scope (or does not exist there).
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
    /// Per-change rejection: the record this one belongs to is unknown to the server.
    pub const PARENT_UNKNOWN: &str = "parent_unknown";
    /// Per-change rejection: fields or values the server does not accept.
    pub const INVALID: &str = "invalid";
    /// Per-change rejection: a state transition the case loop does not allow.
    pub const INVALID_TRANSITION: &str = "invalid_transition";
    /// Per-change rejection: the field is owned by the server (case and task status).
    pub const SERVER_OWNED: &str = "server_owned";
    /// Per-change rejection: the change's HLC stamp is further ahead of the server's clock than
    /// [`crate::hlc::MAX_AHEAD_MS`]: the phone's clock is wrong. Nothing is lost: the phone
    /// re-stamps its unsent changes once its clock is right and pushes them again.
    pub const CLOCK_AHEAD: &str = "clock_ahead";
}
