//! `impl Storage for PgStorage`: organisation and users, sync (push through
//! `engine::push_batch`, the scoped byte-bounded pull without echo), photo rights and the case
//! loop. The rules are the shared ones (`engine`, `cases`, `sessions`); this file only stores
//! and reads, statement for statement what `sqlite.rs` does, in PostgreSQL's dialect. The
//! session and throttle half is `sessions.rs`.

use gridwalk_protocol::{
    entity, Change, OrgUnit, PushResponse, Reason, Role, ServerRecord, UserInfo,
};
use serde_json::Map;
use tokio_postgres::error::SqlState;

use super::{grid_of, parse_obj, scope_grids, PgStorage, Tx};
use crate::cases::{self, ActionRequest, TaskRequest};
use crate::config::ThrottleRule;
use crate::error::{Error, Result};
use crate::storage::{
    CaseFilter, LoginUser, NewUser, Principal, PullPage, SessionRefusal, Storage, TokenPair,
    WriteStats,
};

/// Whether a database error is the violation of a constraint of kind `state`.
fn violates(e: &Error, state: &SqlState) -> bool {
    matches!(e, Error::Postgres(p) if p.code() == Some(state))
}

fn wire(r: &tokio_postgres::Row, entity: &str) -> Result<ServerRecord> {
    Ok(ServerRecord {
        entity: entity.to_string(),
        id: r.try_get("id")?,
        rev: r.try_get("rev")?,
        hlc: r.try_get("hlc")?,
        data: parse_obj(r.try_get("data")?)?,
        clocks: parse_obj(r.try_get("clocks")?)?,
        extra: Map::new(),
    })
}

fn user_id_of(tx: &mut Tx<'_>, username_or_id: &str) -> Result<String> {
    match tx.query_opt(
        "SELECT id FROM users WHERE username = $1 OR id = $1",
        &[&username_or_id],
    )? {
        Some(r) => Ok(r.try_get("id")?),
        None => Err(Error::NotFound { what: "user" }),
    }
}

fn is_grid(tx: &mut Tx<'_>, code: &str) -> Result<bool> {
    tx.exists(
        "SELECT 1 FROM org_units WHERE code = $1 AND level = 'grid'",
        &[&code],
    )
}

impl Storage for PgStorage {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn server_hlc(&self) -> String {
        // Called from async handlers, so no database round trip here: the last stamp this
        // process saw, refreshed from `sync_state` by every pull and write (the handler asks
        // right after its pull) — never older than the database's clock as of that pull.
        self.hlc.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn write_stats(&self) -> WriteStats {
        *super::lock(&self.stats)
    }

    fn put_org_units(&self, units: &[OrgUnit]) -> Result<usize> {
        self.write_plain(|tx| {
            for (i, u) in units.iter().enumerate() {
                crate::storage::check_org_unit(i, u)?;
                let field = |f: &str| format!("org[{i}].{f}");
                let boundary = u.boundary.as_ref().map(serde_json::to_string).transpose()?;
                tx.execute(
                    "INSERT INTO org_units (code, name, level, parent_code, boundary)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                        parent_code = excluded.parent_code, boundary = excluded.boundary",
                    &[&u.code, &u.name, &u.level, &u.parent_code, &boundary],
                )
                .map_err(|e| {
                    if violates(&e, &SqlState::FOREIGN_KEY_VIOLATION) {
                        Error::invalid(field("parent_code"), "unknown_reference")
                    } else {
                        e
                    }
                })?;
            }
            Ok(units.len())
        })
    }

    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<String> {
        let username = crate::storage::check_new_user(user)?;
        self.write_plain(|tx| {
            if !tx.exists("SELECT 1 FROM org_units WHERE code = $1", &[&user.org_code])? {
                return Err(Error::invalid("org_code", "unknown_reference"));
            }
            if tx.exists("SELECT 1 FROM users WHERE username = $1", &[&username])? {
                return Err(Error::invalid("username", "duplicate"));
            }
            let id = uuid::Uuid::now_v7().to_string();
            tx.execute(
                "INSERT INTO users (id, username, display_name, role, org_code, password_hash,
                    created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id,
                    &username,
                    &user.display_name.trim(),
                    &user.role.as_str(),
                    &user.org_code,
                    &user.password_hash,
                    &now_ms,
                ],
            )
            .map_err(|e| {
                // Another instance added the same name meanwhile.
                if violates(&e, &SqlState::UNIQUE_VIOLATION) {
                    Error::invalid("username", "duplicate")
                } else {
                    e
                }
            })?;
            for g in &user.grids {
                if !is_grid(tx, g)? {
                    return Err(Error::invalid("grids", "unknown_reference"));
                }
                tx.execute(
                    "INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&id, g],
                )?;
            }
            Ok(id)
        })
    }

    fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        self.write_plain(|tx| {
            let id = user_id_of(tx, username)?;
            tx.execute(
                "UPDATE users SET disabled = $2 WHERE id = $1",
                &[&id, &disabled],
            )?;
            if disabled {
                // Ended for good: enabling the user again does not bring old tokens back.
                let n = super::sessions::end_user_sessions(tx, &id, true)?;
                tracing::info!(user = %id, sessions_ended = n, "user disabled");
            } else {
                tracing::info!(user = %id, "user enabled");
            }
            Ok(())
        })
    }

    fn set_password_hash(&self, username: &str, hash: &str) -> Result<()> {
        self.write_plain(|tx| {
            let id = user_id_of(tx, username)?;
            tx.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id, &hash],
            )?;
            let n = super::sessions::end_user_sessions(tx, &id, false)?;
            tracing::info!(user = %id, sessions_ended = n, "password changed");
            Ok(())
        })
    }

    fn add_user_grid(&self, username: &str, grid: &str) -> Result<()> {
        self.write_plain(|tx| {
            let id = user_id_of(tx, username)?;
            if !is_grid(tx, grid)? {
                return Err(Error::invalid("grid", "unknown_reference"));
            }
            tx.execute(
                "INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&id, &grid],
            )?;
            Ok(())
        })
    }

    fn revoke_device(&self, device_id: &str) -> Result<()> {
        self.write_plain(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked = TRUE WHERE id = $1",
                &[&device_id],
            )?;
            if n == 0 {
                return Err(Error::NotFound { what: "device" });
            }
            // Tokens stay so the device's next request is told `device_revoked`.
            Ok(())
        })
    }

    fn set_case_deadline(&self, category: &str, urgency: &str, hours: i64) -> Result<()> {
        if hours <= 0 {
            return Err(Error::invalid("hours", "out_of_range"));
        }
        self.write_plain(|tx| {
            tx.execute(
                "INSERT INTO case_deadlines (category_code, urgency, hours) VALUES ($1, $2, $3)
                 ON CONFLICT (category_code, urgency) DO UPDATE SET hours = excluded.hours",
                &[&category, &urgency, &hours],
            )?;
            Ok(())
        })
    }

    fn login_user(&self, username: &str) -> Result<Option<LoginUser>> {
        self.read(|tx| {
            match tx.query_opt(
                "SELECT id, password_hash, disabled FROM users WHERE username = $1",
                &[&username],
            )? {
                None => Ok(None),
                Some(r) => Ok(Some(LoginUser {
                    id: r.try_get("id")?,
                    password_hash: r.try_get("password_hash")?,
                    disabled: r.try_get("disabled")?,
                })),
            }
        })
    }

    fn login_attempt(&self, keys: &[(&str, ThrottleRule)], now_ms: i64) -> Result<Option<i64>> {
        self.throttle_attempt(keys, now_ms)
    }

    fn login_succeeded(&self, account_key: &str, address_key: &str) -> Result<()> {
        self.throttle_succeeded(account_key, address_key)
    }

    fn start_session(
        &self,
        user_id: &str,
        device_id: &str,
        device_name: Option<&str>,
        tokens: &TokenPair,
        hand_over: bool,
        now_ms: i64,
    ) -> Result<Result<(), SessionRefusal>> {
        self.session_start(user_id, device_id, device_name, tokens, hand_over, now_ms)
    }

    fn end_session(&self, session_id: &str) -> Result<()> {
        self.write_plain(|tx| super::sessions::end_family(tx, session_id, false))
    }

    fn refresh_session(
        &self,
        old_refresh_hash: &str,
        device_id: &str,
        tokens: &TokenPair,
        now_ms: i64,
    ) -> Result<Result<String, SessionRefusal>> {
        self.session_refresh(old_refresh_hash, device_id, tokens, now_ms)
    }

    fn authenticate(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Principal, SessionRefusal>> {
        self.session_authenticate(access_hash, now_ms)
    }

    fn user_info(&self, user_id: &str) -> Result<UserInfo> {
        self.read(|tx| {
            let r = tx
                .query_opt(
                    "SELECT username, display_name, role, org_code FROM users WHERE id = $1",
                    &[&user_id],
                )?
                .ok_or(Error::NotFound { what: "user" })?;
            let username: String = r.try_get("username")?;
            let display_name: String = r.try_get("display_name")?;
            let role: String = r.try_get("role")?;
            let org_code: String = r.try_get("org_code")?;
            let grids = scope_grids(tx, user_id, &org_code)?;
            // The scope's units: every grid and all their ancestors, parents first.
            let rows = tx.query(
                "WITH RECURSIVE up(code) AS (
                     SELECT unnest($1::text[])
                     UNION SELECT o.parent_code FROM org_units o JOIN up ON o.code = up.code
                     WHERE o.parent_code IS NOT NULL)
                 SELECT code, name, level, parent_code, boundary FROM org_units
                 WHERE code IN (SELECT code FROM up)
                 ORDER BY CASE level WHEN 'district' THEN 0 WHEN 'street' THEN 1
                     WHEN 'community' THEN 2 ELSE 3 END, code COLLATE \"C\"",
                &[&grids],
            )?;
            let mut org = Vec::with_capacity(rows.len());
            for r in &rows {
                let boundary: Option<&str> = r.try_get("boundary")?;
                org.push(OrgUnit {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    level: r.try_get("level")?,
                    parent_code: r.try_get("parent_code")?,
                    boundary: boundary.map(serde_json::from_str).transpose()?,
                });
            }
            Ok(UserInfo {
                id: user_id.to_string(),
                username,
                display_name,
                role: Role::parse(&role).unwrap_or(Role::GridWorker),
                org_code,
                grids,
                org,
            })
        })
    }

    fn push(
        &self,
        who: &Principal,
        changes: &[Change],
        seen: crate::engine::Seen,
        now_ms: i64,
    ) -> Result<PushResponse> {
        // Group commit (`group.rs`): the leader takes the queued pushes only once it holds the
        // row, so the pushes that arrived while it waited for it share its commit.
        self.pushes.push(who, changes, seen, now_ms, |group| {
            let asked = std::time::Instant::now();
            let _slot = self.writer_slot();
            if !group.has_work() {
                return Ok(());
            }
            self.write_in_slot(asked, |w| group.run(w))?;
            let mut s = super::lock(&self.stats);
            s.grouped_writes += u64::from(group.len() > 0);
            s.grouped_pushes += group.len() as u64;
            Ok(())
        })
    }

    fn pull(
        &self,
        who: &Principal,
        after_rev: i64,
        limit: usize,
        max_bytes: usize,
        skip_echo_of: Option<&str>,
    ) -> Result<PullPage> {
        let (page, hlc) = self.read(|tx| {
            // This snapshot's newest revision and the clock, first: every later query of the
            // pull sees the same snapshot.
            let state = tx.query_one(
                "SELECT hlc, (SELECT coalesce(max(rev), 0) FROM records) AS max_rev
                 FROM sync_state WHERE id = 1",
                &[],
            )?;
            let hlc: Option<String> = state.try_get("hlc")?;
            let max_rev: i64 = state.try_get("max_rev")?;
            let limit = limit.max(1);
            let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
            let rows = tx.query(
                "SELECT entity, id, rev, hlc, data::text AS data, clocks::text AS clocks
                 FROM records
                 WHERE rev > $1 AND grid_code = ANY($2)
                   AND ($4::text IS NULL OR echo IS NULL OR echo <> $4)
                 ORDER BY rev LIMIT $3",
                &[&after_rev, &who.grids, &fetch, &skip_echo_of],
            )?;
            let mut bytes = 0usize;
            let mut records = Vec::new();
            let mut has_more = false;
            for r in &rows {
                if records.len() == limit {
                    has_more = true;
                    break;
                }
                let data: &str = r.try_get("data")?;
                let clocks: &str = r.try_get("clocks")?;
                let entity: String = r.try_get("entity")?;
                let rec = ServerRecord {
                    entity,
                    id: r.try_get("id")?,
                    rev: r.try_get("rev")?,
                    hlc: r.try_get("hlc")?,
                    data: parse_obj(data)?,
                    clocks: parse_obj(clocks)?,
                    extra: Map::new(),
                };
                // As on SQLite: `data` as stored plus `clocks` in the full encoding, whatever
                // the stored form; a record that would take the page past the bound waits for
                // the next page, unless the page is empty (a larger record comes alone).
                let size = data.len() + rec.full_clock_bytes();
                if !records.is_empty() && bytes.saturating_add(size) > max_bytes {
                    has_more = true;
                    break;
                }
                bytes = bytes.saturating_add(size);
                records.push(rec);
            }
            let next_rev = if has_more {
                records.last().map(|r| r.rev).unwrap_or(after_rev)
            } else {
                // Everything up to this snapshot's newest revision has been seen. Safe under
                // the revision contract: a revision not committed in this snapshot is assigned
                // under the `sync_state` lock after every committed one, so it is higher.
                max_rev.max(after_rev)
            };
            Ok((
                PullPage {
                    records,
                    next_rev,
                    has_more,
                },
                hlc,
            ))
        })?;
        if let Some(h) = hlc {
            let mut cached = self.hlc.write().unwrap_or_else(|e| e.into_inner());
            if h > *cached {
                *cached = h;
            }
        }
        Ok(page)
    }

    fn record_grid(&self, entity: &str, id: &str) -> Result<Option<String>> {
        self.read(|tx| grid_of(tx, entity, id))
    }

    fn get_record(&self, who: &Principal, entity: &str, id: &str) -> Result<Option<ServerRecord>> {
        self.read(|tx| {
            Ok(super::get_record(tx, entity, id)?
                .filter(|r| who.in_scope(&r.grid_code))
                .map(|r| r.to_wire()))
        })
    }

    fn grant_blob(&self, sha256: &str, user_id: &str, device_id: &str, now_ms: i64) -> Result<()> {
        self.write_plain(|tx| {
            tx.execute(
                "INSERT INTO blob_holders (sha256, user_id, device_id, since)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&sha256, &user_id, &device_id, &now_ms],
            )?;
            Ok(())
        })
    }

    fn blob_right(&self, who: &Principal, sha256: &str) -> Result<crate::photos::BlobRight> {
        use crate::photos::BlobRight;
        self.read(|tx| {
            if tx.exists(
                "SELECT 1 FROM blob_holders WHERE sha256 = $1 AND user_id = $2",
                &[&sha256, &who.user_id],
            )? {
                return Ok(BlobRight::Holder);
            }
            let in_scope = tx.exists(
                "SELECT 1 FROM photo_claims p
                 JOIN blob_holders h ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                 JOIN records r ON r.entity = 'photo' AND r.id = p.photo_id
                 WHERE p.sha256 = $1 AND r.grid_code = ANY($2)
                 LIMIT 1",
                &[&sha256, &who.grids],
            )?;
            Ok(if in_scope {
                BlobRight::InScope
            } else {
                BlobRight::None
            })
        })
    }

    fn photo_serves_blob(&self, who: &Principal, photo_id: &str, sha256: &str) -> Result<bool> {
        self.read(|tx| {
            tx.exists(
                "SELECT 1 FROM records r
                 JOIN photo_claims p ON p.photo_id = r.id AND p.sha256 = $2
                 JOIN blob_holders h ON h.sha256 = p.sha256 AND h.user_id = p.user_id
                 WHERE r.entity = 'photo' AND r.id = $1
                   AND r.data->>'sha256' = $2
                   AND r.grid_code = ANY($3)",
                &[&photo_id, &sha256, &who.grids],
            )
        })
    }

    fn list_cases(
        &self,
        who: &Principal,
        filter: &CaseFilter,
        now_ms: i64,
    ) -> Result<Vec<ServerRecord>> {
        self.read(|tx| {
            let rows = tx.query(
                "SELECT id, rev, hlc, data::text AS data, clocks::text AS clocks FROM records
                 WHERE entity = 'case' AND grid_code = ANY($1)
                   AND ($2::text IS NULL OR data->>'status' = $2)
                 ORDER BY rev DESC LIMIT 5000",
                &[&who.grids, &filter.status],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let rec = wire(r, entity::CASE)?;
                if filter.overdue && !cases::is_overdue(&rec.data, now_ms) {
                    continue;
                }
                out.push(rec);
            }
            Ok(out)
        })
    }

    fn case_action(
        &self,
        who: &Principal,
        case_id: &str,
        action: &ActionRequest,
        now_ms: i64,
    ) -> Result<Result<ServerRecord, Reason>> {
        self.write(|w| cases::case_action(w, who, case_id, action, now_ms))
    }

    fn create_task(
        &self,
        who: &Principal,
        input: &TaskRequest,
        now_ms: i64,
    ) -> Result<Result<ServerRecord, Reason>> {
        self.write(|w| Ok(cases::create_task(w, who, input, now_ms)?.map(|r| r.to_wire())))
    }
}
