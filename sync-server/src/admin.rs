//! Administration: bootstrap an organisation from a file, manage users and devices, seed the
//! demo. The binary's subcommands and the tests call the same functions.
//!
//! Bootstrap files are JSON (`{"org": [OrgUnit...], "users": [UserSpec...]}`) or CSV with one
//! row per org unit or user (see [`read_csv`]). Bootstrap is repeatable: units are upserted and
//! users that already exist are skipped, so a street can add its communities later with the same
//! file plus new rows. Initial passwords are hashed here and never stored or logged in clear.

use std::path::Path;
use std::sync::Arc;

use gridwalk_protocol::{OrgUnit, Role, Session};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Passwords;
use crate::error::{Error, Result};
use crate::storage::{NewUser, SessionRefusal, Storage};

/// A user in a bootstrap file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_code: String,
    /// Extra grids of a grid worker working several.
    #[serde(default)]
    pub grids: Vec<String>,
    /// Initial password (8-256 characters).
    pub password: String,
}

/// A bootstrap file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    #[serde(default)]
    pub org: Vec<OrgUnit>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

/// What a bootstrap did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BootstrapReport {
    pub org_units: usize,
    pub users_added: usize,
    /// User names that already existed (left unchanged).
    pub users_skipped: Vec<String>,
}

/// Admin operations over a storage.
#[derive(Clone)]
pub struct Admin {
    storage: Arc<dyn Storage>,
    passwords: Passwords,
    access_ttl_secs: u64,
    refresh_ttl_secs: u64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Admin {
    pub fn new(
        storage: Arc<dyn Storage>,
        passwords: Passwords,
        access_ttl_secs: u64,
        refresh_ttl_secs: u64,
    ) -> Admin {
        Admin {
            storage,
            passwords,
            access_ttl_secs,
            refresh_ttl_secs,
        }
    }

    /// Upserts the org units (parents first), then adds the users that do not exist yet.
    pub fn bootstrap(&self, b: &Bootstrap) -> Result<BootstrapReport> {
        let mut units = b.org.clone();
        sort_parents_first(&mut units);
        let org_units = self.storage.put_org_units(&units)?;
        let mut report = BootstrapReport {
            org_units,
            ..BootstrapReport::default()
        };
        for u in &b.users {
            if self.storage.login_user(u.username.trim())?.is_some() {
                report.users_skipped.push(u.username.clone());
                continue;
            }
            self.add_user(u)?;
            report.users_added += 1;
        }
        Ok(report)
    }

    /// Reads a `.json` or `.csv` bootstrap file and applies it.
    pub fn bootstrap_file(&self, path: &Path) -> Result<BootstrapReport> {
        let text = std::fs::read_to_string(path)?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let b = match ext.as_str() {
            "json" => serde_json::from_str(&text)?,
            "csv" => read_csv(&text)?,
            _ => return Err(Error::invalid("file", "invalid_format")),
        };
        self.bootstrap(&b)
    }

    /// Adds one user; returns the new user id.
    pub fn add_user(&self, u: &UserSpec) -> Result<String> {
        let hash = self.passwords.hash(&u.password)?;
        self.storage.add_user(
            &NewUser {
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                role: u.role,
                org_code: u.org_code.clone(),
                grids: u.grids.clone(),
                password_hash: hash,
            },
            now_ms(),
        )
    }

    pub fn disable_user(&self, username: &str) -> Result<()> {
        self.storage.set_user_disabled(username, true)
    }

    pub fn enable_user(&self, username: &str) -> Result<()> {
        self.storage.set_user_disabled(username, false)
    }

    pub fn set_password(&self, username: &str, password: &str) -> Result<()> {
        let hash = self.passwords.hash(password)?;
        self.storage.set_password_hash(username, &hash)
    }

    /// Attaches an extra grid to a user.
    pub fn add_user_grid(&self, username: &str, grid: &str) -> Result<()> {
        self.storage.add_user_grid(username, grid)
    }

    pub fn revoke_device(&self, device_id: &str) -> Result<()> {
        self.storage.revoke_device(device_id)
    }

    pub fn set_case_deadline(&self, category: &str, urgency: &str, hours: i64) -> Result<()> {
        self.storage.set_case_deadline(category, urgency, hours)
    }

    /// A session for `username` on `device_id` without a password: tests and benchmarks only.
    pub fn issue_session_for_tests(&self, username: &str, device_id: &str) -> Result<Session> {
        let user = self
            .storage
            .login_user(username)?
            .ok_or(Error::NotFound { what: "user" })?;
        match crate::auth::issue_session(
            &*self.storage,
            self.access_ttl_secs,
            self.refresh_ttl_secs,
            &user.id,
            device_id,
            None,
        )? {
            Ok(s) => Ok(s),
            Err(SessionRefusal::DeviceRevoked) => Err(Error::invalid("device_id", "revoked")),
            Err(_) => Err(Error::invalid("username", "refused")),
        }
    }

    /// Seeds the organisation of the CLI demo and its users (idempotent).
    pub fn seed_demo(&self) -> Result<BootstrapReport> {
        self.bootstrap(&demo_bootstrap())
    }
}

/// Orders units so every parent comes before its children (by level, then code).
fn sort_parents_first(units: &mut [OrgUnit]) {
    let rank = |l: &str| match l {
        "district" => 0,
        "street" => 1,
        "community" => 2,
        _ => 3,
    };
    units.sort_by(|a, b| {
        rank(&a.level)
            .cmp(&rank(&b.level))
            .then(a.code.cmp(&b.code))
    });
}

/// Password of every demo user.
pub const DEMO_PASSWORD: &str = "demo-pass";
/// The demo grid (the CLI demo's own grid) and a neighbouring one.
pub const DEMO_GRID: &str = "640323001001001";
pub const DEMO_GRID_2: &str = "640323001001002";
pub const DEMO_COMMUNITY: &str = "640323001001";
pub const DEMO_STREET: &str = "640323001";
/// The demo's other street (its own community and six grids) and the district.
pub const DEMO_STREET_2: &str = "640323002";
pub const DEMO_DISTRICT: &str = "640323";
/// The supervisor the demo prints with the console's address.
pub const DEMO_SUPERVISOR: &str = "zhaomin";

/// The CLI demo's organisation (`gridwalk_sample::sample_org(12)`) and its demo users.
pub fn demo_bootstrap() -> Bootstrap {
    let org = gridwalk_sample::sample_org(12)
        .units
        .into_iter()
        .map(|u| OrgUnit {
            code: u.code,
            name: u.name,
            level: u.level.as_str().to_string(),
            parent_code: u.parent_code,
            boundary: u
                .boundary_geojson
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok()),
        })
        .collect();
    let user = |username: &str, name: &str, role: Role, org: &str| UserSpec {
        username: username.into(),
        display_name: name.into(),
        role,
        org_code: org.into(),
        grids: Vec::new(),
        password: DEMO_PASSWORD.into(),
    };
    Bootstrap {
        org,
        users: vec![
            user("wangfang", "王芳", Role::GridWorker, DEMO_GRID),
            user("lijun", "李军", Role::GridWorker, DEMO_GRID_2),
            user("zhaomin", "赵敏", Role::GridLeader, DEMO_COMMUNITY),
            user("chenjing", "陈静", Role::Community, DEMO_COMMUNITY),
            user("liuqiang", "刘强", Role::Street, DEMO_STREET),
            // The other street's staff: sees nothing of 640323001 (scope tests, console).
            user("zhouwei", "周伟", Role::Street, DEMO_STREET_2),
            // District command centre: sees every grid; edits case deadlines in the console.
            user("gaojian", "高健", Role::District, DEMO_DISTRICT),
        ],
    }
}

/// Parses a CSV bootstrap. Header (any column order):
/// `type,code,name,level,parent_code,boundary,username,display_name,role,org_code,grids,password`.
/// `type` is `org` or `user`; `grids` lists extra grids separated by `;`; `boundary` is a GeoJSON
/// geometry. Errors name the row and column, never the value.
pub fn read_csv(text: &str) -> Result<Bootstrap> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = rdr
        .headers()
        .map_err(|_| Error::invalid("header", "invalid_format"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let Some(type_col) = col("type") else {
        return Err(Error::invalid("header.type", "required"));
    };
    let mut b = Bootstrap::default();
    for (i, row) in rdr.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|_| Error::invalid(format!("row {line}"), "invalid_format"))?;
        let get = |name: &str| {
            col(name)
                .and_then(|c| row.get(c))
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let need = |name: &str| {
            get(name).ok_or_else(|| Error::invalid(format!("row {line}.{name}"), "required"))
        };
        match row.get(type_col).unwrap_or("") {
            "org" => b.org.push(OrgUnit {
                code: need("code")?,
                name: need("name")?,
                level: need("level")?,
                parent_code: get("parent_code"),
                boundary: get("boundary")
                    .map(|s| serde_json::from_str(&s))
                    .transpose()
                    .map_err(|_| {
                        Error::invalid(format!("row {line}.boundary"), "invalid_format")
                    })?,
            }),
            "user" => b.users.push(UserSpec {
                username: need("username")?,
                display_name: need("display_name")?,
                role: Role::parse(&need("role")?)
                    .ok_or_else(|| Error::invalid(format!("row {line}.role"), "invalid_value"))?,
                org_code: need("org_code")?,
                grids: get("grids")
                    .map(|g| {
                        g.split(';')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                password: need("password")?,
            }),
            "" => continue,
            _ => return Err(Error::invalid(format!("row {line}.type"), "invalid_value")),
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_bootstrap_reads_units_and_users() {
        let text =
            "type,code,name,level,parent_code,username,display_name,role,org_code,grids,password\n\
            org,1,区,district,,,,,,,\n\
            org,11,街道,street,1,,,,,,\n\
            user,,,,,amy,Amy,grid_worker,11,g1;g2,secret-pass\n";
        let b = read_csv(text).unwrap();
        assert_eq!(b.org.len(), 2);
        assert_eq!(b.users[0].grids, vec!["g1", "g2"]);
        assert_eq!(b.users[0].role, Role::GridWorker);
        let bad = "type,code\nuser,\n";
        assert!(read_csv(bad).is_err());
    }

    #[test]
    fn demo_org_matches_the_cli_demo() {
        let b = demo_bootstrap();
        assert!(b
            .org
            .iter()
            .any(|u| u.code == DEMO_GRID && u.boundary.is_some()));
        assert!(b.org.iter().any(|u| u.code == DEMO_GRID_2));
        assert!(b
            .org
            .iter()
            .any(|u| u.code == DEMO_COMMUNITY && u.level == "community"));
    }
}
