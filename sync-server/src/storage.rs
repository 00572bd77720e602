//! The storage seam: everything the HTTP layer asks of the database, as a synchronous trait.
//!
//! Handlers call these methods through `tokio::task::spawn_blocking`, so a blocking database
//! never stalls the async runtime. SQLite ([`crate::sqlite::SqliteStorage`]) is the one
//! implementation today; a PostgreSQL one can slot in later without touching handlers.
//!
//! The sync rules (scope, merge, append-only kinds, the case loop) do not live in an
//! implementation: they are written once in [`crate::engine`] and [`crate::cases`] against the
//! small [`RecordTx`] trait (read a record, write a record with a new revision, remember a
//! change id). A new backend implements `RecordTx` for its transaction and inherits the rules.

use gridwalk_protocol::{Change, OrgUnit, PushResponse, Reason, Role, ServerRecord, UserInfo};
use serde_json::{Map, Value};

use crate::config::ThrottleRule;
use crate::error::Result;

/// Who is calling: resolved from the access token on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub org_code: String,
    /// Every grid in the user's scope, sorted.
    pub grids: Vec<String>,
    pub device_id: String,
    /// The login session (refresh-token family) the token belongs to.
    pub session_id: String,
}

impl Principal {
    pub fn in_scope(&self, grid: &str) -> bool {
        self.grids
            .binary_search_by(|g| g.as_str().cmp(grid))
            .is_ok()
    }

    /// A short fingerprint of the scope: changes whenever a grid joins or leaves it, which
    /// expires cursors taken under the old scope.
    pub fn scope_version(&self) -> String {
        scope_version(&self.grids)
    }

    /// The mark a push of this session leaves on the records it wrote when the device holds
    /// their state ("no echo"): the user and the device, so a phone handed to a colleague does
    /// not skip what its previous user wrote.
    pub fn echo_key(&self) -> String {
        format!("{}\n{}", self.user_id, self.device_id)
    }
}

/// Fingerprint of a sorted grid list (first 8 bytes of its SHA-256, hex).
pub fn scope_version(grids: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for g in grids {
        h.update(g.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A record as stored: latest state of one entity instance.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub entity: String,
    pub id: String,
    pub grid_code: String,
    pub rev: i64,
    pub hlc: String,
    pub data: Map<String, Value>,
    pub clocks: Map<String, Value>,
}

impl StoredRecord {
    pub fn to_wire(&self) -> ServerRecord {
        ServerRecord {
            entity: self.entity.clone(),
            id: self.id.clone(),
            rev: self.rev,
            hlc: self.hlc.clone(),
            data: self.data.clone(),
            clocks: self.clocks.clone(),
            extra: Map::new(),
        }
    }

    pub fn str_field(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }
}

/// A record to write; the storage assigns the revision.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord<'a> {
    pub entity: &'a str,
    pub id: &'a str,
    pub grid_code: &'a str,
    pub hlc: &'a str,
    pub data: &'a Map<String, Value>,
    pub clocks: &'a Map<String, Value>,
}

/// The primitives the sync rules need inside one write transaction.
pub trait RecordTx {
    /// Told once, before the rules of a batch run, every record (`(entity, id)`) and change id
    /// the batch can ask about, so a backend whose reads are round trips can fetch them in one
    /// query per table. Later reads of a prefetched key must still see this transaction's own
    /// writes. The default does nothing (SQLite's reads are local).
    fn prefetch(&mut self, records: &[(&str, &str)], change_ids: &[&str]) -> Result<()> {
        let _ = (records, change_ids);
        Ok(())
    }
    fn get(&mut self, entity: &str, id: &str) -> Result<Option<StoredRecord>>;
    /// The grid of a record, without reading its data.
    fn grid_of(&mut self, entity: &str, id: &str) -> Result<Option<String>>;
    /// Inserts or replaces a record with the next global revision; returns that revision. The
    /// new revision carries no echo mark.
    fn put(&mut self, rec: NewRecord<'_>) -> Result<i64>;
    /// The current revision of a record and its echo mark ([`Principal::echo_key`] of the
    /// device that wrote it holding its state), when the record exists.
    fn echo_state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>>;
    /// Marks revision `rev` of a record as written by `key`'s device holding its state: that
    /// device's pulls with a cursor leave it out. Does nothing when `rev` is no longer current.
    fn mark_echo(&mut self, entity: &str, id: &str, rev: i64, key: &str) -> Result<()>;
    /// The stored result of an already-applied change, with the user who pushed it.
    fn applied(
        &mut self,
        change_id: &str,
    ) -> Result<Option<(String, gridwalk_protocol::ChangeResult)>>;
    fn remember(
        &mut self,
        change_id: &str,
        user_id: &str,
        result: &gridwalk_protocol::ChangeResult,
    ) -> Result<()>;
    /// Tasks (any status) whose `target_id` is `target_id`, in `grid`.
    fn tasks_for_target(&mut self, grid: &str, target_id: &str) -> Result<Vec<StoredRecord>>;
    /// Hours to handle a case of `category` at `urgency`, when configured.
    fn deadline_hours(&mut self, category: &str, urgency: &str) -> Result<Option<i64>>;
    /// Parent of an org unit.
    fn org_parent(&mut self, code: &str) -> Result<Option<String>>;
    /// A user's id when `username_or_id` names an enabled user whose scope contains `grid`.
    fn user_in_grid(&mut self, username_or_id: &str, grid: &str) -> Result<Option<String>>;
    /// The server clock: observe remote stamps, tick for server-made changes.
    fn clock(&mut self) -> &mut gridwalk_protocol::hlc::HlcClock;
    /// Records that `user_id` pushed photo record `photo_id` naming `sha256` (`photos.rs`).
    fn claim_photo(&mut self, photo_id: &str, sha256: &str, user_id: &str) -> Result<()>;
    /// Remembers who created a record (the first create wins; replays change nothing).
    fn note_author(
        &mut self,
        entity: &str,
        id: &str,
        user_id: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<()>;
}

/// Checks org unit `i` of a batch before any backend stores it (errors name `org[i].field`).
pub fn check_org_unit(i: usize, u: &OrgUnit) -> Result<()> {
    use crate::error::Error;
    let field = |f: &str| format!("org[{i}].{f}");
    if u.code.trim().is_empty() || u.code.len() > 40 {
        return Err(Error::invalid(field("code"), "invalid_value"));
    }
    if u.name.trim().is_empty() {
        return Err(Error::invalid(field("name"), "required"));
    }
    if !matches!(
        u.level.as_str(),
        "district" | "street" | "community" | "grid"
    ) {
        return Err(Error::invalid(field("level"), "invalid_value"));
    }
    if u.parent_code.is_none() && u.level != "district" {
        return Err(Error::invalid(field("parent_code"), "required"));
    }
    if let Some(b) = &u.boundary {
        let t = b.get("type").and_then(Value::as_str);
        if !matches!(t, Some("Polygon" | "MultiPolygon")) {
            return Err(Error::invalid(field("boundary"), "invalid_format"));
        }
    }
    Ok(())
}

/// Checks a new user's name and display name before any backend stores it; returns the user
/// name trimmed.
pub fn check_new_user(user: &NewUser) -> Result<&str> {
    use crate::error::Error;
    let username = user.username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return Err(Error::invalid("username", "invalid_format"));
    }
    if user.display_name.trim().is_empty() || user.display_name.chars().count() > 50 {
        return Err(Error::invalid("display_name", "invalid_value"));
    }
    Ok(username)
}

/// A user to create (password already hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_code: String,
    /// Extra grids (grid workers of several grids).
    pub grids: Vec<String>,
    pub password_hash: String,
}

/// What login needs to know about a user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUser {
    pub id: String,
    pub password_hash: String,
    pub disabled: bool,
}

/// Token hashes and expiry times of a new access/refresh pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_hash: String,
    pub access_expires_at: i64,
    pub refresh_hash: String,
    pub refresh_expires_at: i64,
}

/// Why a session could not start or continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// Unknown, expired or reused refresh token (reuse also revokes the family).
    Ended,
    UserDisabled,
    DeviceRevoked,
    /// Unknown or expired access token.
    Expired,
    /// The device is bound to another user and the login did not ask to hand it over.
    DeviceInUse,
}

/// Filters of the supervisor case list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub status: Option<String>,
    /// Only cases past their deadline and not finished.
    pub overdue: bool,
}

/// Cumulative timings of write transactions: what a push waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed.
    pub writes: u64,
    /// Waiting to become the writer (queueing behind other writes).
    pub wait_ns: u64,
    /// Inside the transaction: reads, rules, statements.
    pub work_ns: u64,
    /// Committing (with the clock's row).
    pub commit_ns: u64,
    /// Of `work_ns`, waiting for the database's answers, and the round trips (statements)
    /// made inside the transactions (PostgreSQL; 0 on SQLite, whose statements run in-process).
    pub db_ns: u64,
    pub statements: u64,
    /// Transactions that carried pushes, and the pushes they carried (more pushes than
    /// transactions: group commit at work).
    pub grouped_writes: u64,
    pub grouped_pushes: u64,
}

/// A page of the pull feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PullPage {
    pub records: Vec<ServerRecord>,
    /// Revision to continue after.
    pub next_rev: i64,
    pub has_more: bool,
}

/// Everything the server stores. Methods are synchronous: call them off the async runtime.
/// The web console's page queries are the supertrait [`crate::console::store::ConsoleStorage`];
/// its data pages' reads and audit log are [`crate::console::data_store::ConsoleData`].
pub trait Storage:
    crate::console::store::ConsoleStorage
    + crate::console::data_store::ConsoleData
    + Send
    + Sync
    + 'static
{
    /// Random id of this database, made at creation. Cursors from another epoch are expired.
    fn epoch(&self) -> &str;
    /// The server clock's latest stamp.
    fn server_hlc(&self) -> String;
    /// Where write transactions spent their time since the storage opened (benchmarks).
    fn write_stats(&self) -> WriteStats {
        WriteStats::default()
    }

    // Organisation and users (admin).
    fn put_org_units(&self, units: &[OrgUnit]) -> Result<usize>;
    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<String>;
    /// Disabling also ends every session of the user: enabling again does not revive them.
    fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()>;
    /// Also ends every session of the user.
    fn set_password_hash(&self, username: &str, hash: &str) -> Result<()>;
    /// Attaches an extra grid to a user (expires the user's cursors: the scope changed).
    fn add_user_grid(&self, username: &str, grid: &str) -> Result<()>;
    fn revoke_device(&self, device_id: &str) -> Result<()>;
    fn set_case_deadline(&self, category: &str, urgency: &str, hours: i64) -> Result<()>;

    // Sessions.
    fn login_user(&self, username: &str) -> Result<Option<LoginUser>>;
    /// Counts a sign-in attempt against every throttle key (each with its rule) in one
    /// transaction, before the password is checked. `Some(until_ms)` when any key is locked:
    /// then nothing is counted and the password must not be checked.
    fn login_attempt(&self, keys: &[(&str, ThrottleRule)], now_ms: i64) -> Result<Option<i64>>;
    /// The password was right: forgets the account key and gives the address key its attempt
    /// back.
    fn login_succeeded(&self, account_key: &str, address_key: &str) -> Result<()>;
    /// Binds the device to the user and starts a session family with `tokens`, ending the
    /// device's earlier sessions. A device bound to another user is refused
    /// ([`SessionRefusal::DeviceInUse`]) unless `hand_over`: then it is rebound, the previous
    /// user's sessions on it end and the hand-over is recorded.
    fn start_session(
        &self,
        user_id: &str,
        device_id: &str,
        device_name: Option<&str>,
        tokens: &TokenPair,
        hand_over: bool,
        now_ms: i64,
    ) -> Result<Result<(), SessionRefusal>>;
    /// Ends one session family (logout): its access and refresh tokens stop working.
    fn end_session(&self, session_id: &str) -> Result<()>;
    /// Rotates a refresh token; returns the user id on success.
    fn refresh_session(
        &self,
        old_refresh_hash: &str,
        device_id: &str,
        tokens: &TokenPair,
        now_ms: i64,
    ) -> Result<Result<String, SessionRefusal>>;
    /// Resolves an access token, re-checking the user and the device.
    fn authenticate(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Principal, SessionRefusal>>;
    /// Who the user is and what they see (sent at login).
    fn user_info(&self, user_id: &str) -> Result<UserInfo>;

    // Sync.
    /// Runs [`crate::engine::push_batch`] in one write transaction and answers after it is
    /// durable (committed). A backend may commit several pushes together (group commit) as long
    /// as each keeps its own all-or-nothing outcome and is answered only after the commit.
    fn push(
        &self,
        who: &Principal,
        changes: &[Change],
        seen: crate::engine::Seen,
        now_ms: i64,
    ) -> Result<PushResponse>;
    /// The feed after `after_rev` in the caller's scope, in revision order: at most `limit`
    /// records, and no more once their `data` + `clocks` JSON reach `max_bytes` (a single larger
    /// record comes alone on its page). With `skip_echo_of`, records whose current revision
    /// carries that echo mark are left out (the cursor still passes them).
    ///
    /// **Revision contract.** Revisions are assigned so that a pull never skips a revision
    /// that commits later with a lower number: once a pull has returned (or passed with
    /// `next_rev`) revision *n*, no transaction may still commit a revision ≤ *n*. SQLite holds
    /// it with one writer that assigns revisions under its lock and commits before releasing
    /// it; a backend with concurrent writers must assign revisions at commit time (a counter
    /// row locked until commit) or cap `next_rev` below the oldest revision still in flight.
    /// [`crate::conformance`]'s `revision_contract` checks it under concurrent pushes and
    /// pulls; every backend runs it.
    fn pull(
        &self,
        who: &Principal,
        after_rev: i64,
        limit: usize,
        max_bytes: usize,
        skip_echo_of: Option<&str>,
    ) -> Result<PullPage>;
    /// The grid of a record, for authorising reads of things hanging off it (photo blobs).
    fn record_grid(&self, entity: &str, id: &str) -> Result<Option<String>>;
    /// One record when it is in the caller's scope.
    fn get_record(&self, who: &Principal, entity: &str, id: &str) -> Result<Option<ServerRecord>>;

    // Photo blobs (`photos.rs`): who holds which bytes, which records may serve them.
    /// Records that `user_id` proved to hold the bytes of `sha256` (an upload of theirs, from
    /// `device_id`, completed with them).
    fn grant_blob(&self, sha256: &str, user_id: &str, device_id: &str, now_ms: i64) -> Result<()>;
    /// What the caller may do with blob `sha256`.
    fn blob_right(&self, who: &Principal, sha256: &str) -> Result<crate::photos::BlobRight>;
    /// Whether photo record `photo_id` is in the caller's scope, carries `sha256` and is linked
    /// (its pusher holds those bytes): the one way to download a blob.
    fn photo_serves_blob(&self, who: &Principal, photo_id: &str, sha256: &str) -> Result<bool>;

    // The case loop.
    fn list_cases(
        &self,
        who: &Principal,
        filter: &CaseFilter,
        now_ms: i64,
    ) -> Result<Vec<ServerRecord>>;
    /// Runs a supervisor action; `Err(reason)` inside when the loop refuses it.
    fn case_action(
        &self,
        who: &Principal,
        case_id: &str,
        action: &crate::cases::ActionRequest,
        now_ms: i64,
    ) -> Result<Result<ServerRecord, Reason>>;
    fn create_task(
        &self,
        who: &Principal,
        input: &crate::cases::TaskRequest,
        now_ms: i64,
    ) -> Result<Result<ServerRecord, Reason>>;
}
