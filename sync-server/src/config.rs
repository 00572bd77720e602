//! Server configuration: defaults, an optional JSON file, then flags and `GRIDWALK_SERVER_*`
//! environment variables (the binary applies those last).
//!
//! The defaults are safe for a first start on a laptop: loopback only, data in `./data`,
//! 15-minute access tokens, 30-day refresh tokens, OWASP-recommended argon2id cost, sign-in
//! throttling ([`LoginThrottle`]), 1 MiB pull pages. Tests and
//! benchmarks need logins in microseconds, hence [`Config::argon2_light`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Cost of argon2id password hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for Argon2Config {
    /// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Argon2Config {
            m_cost: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// One sign-in throttling rule: after `max_failures` failed sign-ins within `window_secs`, the
/// next attempt is refused (429 `too_many_attempts`, no password check) for `lockout_secs`;
/// each further lockout in a row doubles that, up to `max_lockout_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleRule {
    pub max_failures: u32,
    pub window_secs: u64,
    pub lockout_secs: u64,
    /// Longest lockout; also how long a quiet key keeps its lockout count.
    pub max_lockout_secs: u64,
}

impl ThrottleRule {
    fn check(&self, name: &str) -> Result<()> {
        if self.max_failures == 0
            || self.window_secs == 0
            || self.lockout_secs == 0
            || self.max_lockout_secs < self.lockout_secs
            || self.max_lockout_secs > 366 * 24 * 3600
            || self.window_secs > 366 * 24 * 3600
        {
            return Err(Error::invalid(name, "out_of_range"));
        }
        Ok(())
    }
}

/// Sign-in throttling, per user name (existing or not) and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginThrottle {
    /// Per user name: default 5 failures per 15 minutes, then 15 minutes locked, doubling with
    /// every lockout in a row up to a day. A successful sign-in resets it.
    pub account: ThrottleRule,
    /// Per client address (IPv4 address, IPv6 /64): default 20 failures per 15 minutes, then
    /// 15 minutes locked.
    pub address: ThrottleRule,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            account: ThrottleRule {
                max_failures: 5,
                window_secs: 15 * 60,
                lockout_secs: 15 * 60,
                max_lockout_secs: 24 * 3600,
            },
            address: ThrottleRule {
                max_failures: 20,
                window_secs: 15 * 60,
                lockout_secs: 15 * 60,
                max_lockout_secs: 15 * 60,
            },
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Folder of `gridwalk.db` (and of the photo files unless `blob_dir` says otherwise).
    pub data_dir: PathBuf,
    /// Folder of photo blobs (`blobs/`) and unfinished uploads (`uploads/`); default the data
    /// folder. Several instances on one PostgreSQL database mount one shared folder here (a
    /// network filesystem with working `flock`, e.g. NFSv4): any instance then continues an
    /// upload another one started.
    pub blob_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Lifetime of an access token, in seconds.
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds.
    pub refresh_ttl_secs: u64,
    pub argon2: Argon2Config,
    /// Reader connections (pulls and auth checks run on them, never blocking pushes).
    pub readers: usize,
    /// Photo upload limits and expiry.
    pub uploads: crate::uploads::UploadConfig,
    /// Sign-in throttling.
    pub login_throttle: LoginThrottle,
    /// Byte bound of a pull page (records' `data` + `clocks` JSON); default 1 MiB.
    pub pull_page_bytes: usize,
    /// The console map's tile URL template (`https://tiles.example/{z}/{x}/{y}.png`) for a
    /// deployment with its own tile server; none (the default): vectors only, no network.
    pub console_tile_url: Option<String>,
    /// The supervisors' web console (`/console/`).
    pub console: ConsoleConfig,
    /// Most pushes committed in one transaction when they queue for the writer (group commit,
    /// `group.rs`; SQLite and PostgreSQL, where it is capped at `postgres::MAX_GROUP`); 1
    /// commits every push on its own.
    pub push_group_limit: usize,
    /// A `postgres://` URL: store everything in that PostgreSQL database (several server
    /// instances may share it) instead of `gridwalk.db` under `data_dir`. None (the default):
    /// SQLite. The URL may carry a password: it is never logged (`postgres::redact_url`).
    pub database: Option<String>,
    /// Most connections to PostgreSQL this process opens (default 16).
    pub database_pool: usize,
    /// Sync write transactions (pushes, case actions) one process runs on PostgreSQL at once
    /// (default 2). They all queue on the one `sync_state` row anyway; the rest wait in the
    /// process without holding a pool connection, so sign-ins and pulls still get one.
    pub database_writers: usize,
}

/// Browser sessions of the web console (`src/console/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsoleConfig {
    /// Mark the session cookie `Secure` (browsers then send it over HTTPS only). Turn on when
    /// the server is reached through TLS (a reverse proxy); off by default because the demo and
    /// the tests speak plain HTTP on loopback.
    pub secure_cookies: bool,
    /// Lifetime of a console sign-in, in seconds (default 12 hours: one working day).
    pub session_ttl_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            secure_cookies: false,
            session_ttl_secs: 12 * 3600,
        }
    }
}

/// By hand so that the database URL's password never reaches a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("argon2", &self.argon2)
            .field("readers", &self.readers)
            .field("uploads", &self.uploads)
            .field("login_throttle", &self.login_throttle)
            .field("pull_page_bytes", &self.pull_page_bytes)
            .field("console_tile_url", &self.console_tile_url)
            .field("console", &self.console)
            .field("push_group_limit", &self.push_group_limit)
            .field(
                "database",
                &self.database.as_deref().map(crate::postgres::redact_url),
            )
            .field("database_pool", &self.database_pool)
            .field("database_writers", &self.database_writers)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            blob_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            argon2: Argon2Config::default(),
            readers: 4,
            uploads: crate::uploads::UploadConfig::default(),
            login_throttle: LoginThrottle::default(),
            pull_page_bytes: gridwalk_protocol::DEFAULT_PULL_PAGE_BYTES,
            console_tile_url: None,
            console: ConsoleConfig::default(),
            push_group_limit: 64,
            database: None,
            database_pool: 16,
            database_writers: 2,
        }
    }
}

impl Config {
    /// Defaults with data in `dir`.
    pub fn with_data_dir(dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: dir.into(),
            ..Config::default()
        }
    }

    /// The cheapest argon2id setting (tests and benchmarks only: it protects nothing).
    pub fn argon2_light(mut self) -> Config {
        self.argon2 = Argon2Config {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        self
    }

    /// Reads a JSON config file; missing keys keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)?;
        let c: Config = serde_json::from_str(&text)?;
        c.check()?;
        Ok(c)
    }

    /// Rejects settings the server cannot run with.
    pub fn check(&self) -> Result<()> {
        if self.access_ttl_secs == 0 {
            return Err(Error::invalid("access_ttl_secs", "out_of_range"));
        }
        if self.refresh_ttl_secs < self.access_ttl_secs {
            return Err(Error::invalid("refresh_ttl_secs", "out_of_range"));
        }
        if self.readers == 0 || self.readers > 64 {
            return Err(Error::invalid("readers", "out_of_range"));
        }
        self.login_throttle
            .account
            .check("login_throttle.account")?;
        self.login_throttle
            .address
            .check("login_throttle.address")?;
        if !(1024..=gridwalk_protocol::MAX_BODY_BYTES).contains(&self.pull_page_bytes) {
            return Err(Error::invalid("pull_page_bytes", "out_of_range"));
        }
        if let Some(url) = &self.database {
            if !crate::postgres::is_postgres_url(url) {
                return Err(Error::invalid("database", "invalid_format"));
            }
        }
        if !(1..=1024).contains(&self.database_pool) {
            return Err(Error::invalid("database_pool", "out_of_range"));
        }
        if !(1..=self.database_pool).contains(&self.database_writers) {
            return Err(Error::invalid("database_writers", "out_of_range"));
        }
        if !(60..=30 * 24 * 3600).contains(&self.console.session_ttl_secs) {
            return Err(Error::invalid("console.session_ttl_secs", "out_of_range"));
        }
        if argon2::Params::new(
            self.argon2.m_cost,
            self.argon2.t_cost,
            self.argon2.p_cost,
            None,
        )
        .is_err()
        {
            return Err(Error::invalid("argon2", "out_of_range"));
        }
        Ok(())
    }

    /// Where photo blobs and unfinished uploads live: `blob_dir`, else the data folder.
    pub fn blob_root(&self) -> PathBuf {
        self.blob_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("gridwalk.db")
    }
}
