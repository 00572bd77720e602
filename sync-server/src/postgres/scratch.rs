//! Scratch databases for tests and benchmarks: a fresh, empty database per test on the server
//! named by `GRIDWALK_TEST_POSTGRES`, dropped when the guard goes.
//!
//! Why here and not in a test file: the conformance suite, the end-to-end harness and the
//! benchmarks of two crates all need the same "give me an empty PostgreSQL database" and the
//! same rule for when PostgreSQL is missing — skipped with a line on stderr, or a failure when
//! `GRIDWALK_REQUIRE_POSTGRES=1` (the test command sets it, so CI cannot pass by skipping).

use crate::error::{Error, Result};

/// The variable naming the server the tests use: a `postgres://` URL of a role that may create
/// databases (`scripts/setup-postgres.sh --print-url`).
pub const TEST_URL_VAR: &str = "GRIDWALK_TEST_POSTGRES";
/// When `1`, a missing [`TEST_URL_VAR`] fails the test instead of skipping it.
pub const REQUIRE_VAR: &str = "GRIDWALK_REQUIRE_POSTGRES";

/// The test server's URL; `None` (after saying so on stderr) when PostgreSQL tests are skipped.
///
/// # Panics
/// When the variable is unset and [`REQUIRE_VAR`] is `1`: the test must fail.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                panic!("{test}: {TEST_URL_VAR} is not set but {REQUIRE_VAR}=1");
            }
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped on PostgreSQL ({TEST_URL_VAR} not set)"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> Result<String> {
    let bad = || Error::invalid("database", "invalid_format");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let authority = path.split_once('/').map_or(path, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{db}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// Whether the end-to-end tests run their servers on PostgreSQL: `GRIDWALK_TEST_BACKEND` is
/// `postgres` (the workspace's test step keeps them on SQLite; the test command runs them once
/// more on PostgreSQL).
pub fn e2e_on_postgres() -> bool {
    std::env::var("GRIDWALK_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

/// Runs `sql` on the server of `url`, on a thread and runtime of its own (so it works from sync
/// and async callers alike).
pub fn admin_exec(url: &str, sql: &str) -> Result<()> {
    let (url, sql) = (url.to_string(), sql.to_string());
    let run = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            client.batch_execute(&sql).await?;
            drop(client);
            let _ = driver.await;
            Ok(())
        })
    });
    run.join().map_err(|_| Error::Join)?
}

/// A database made for one test; dropped (with any connection left to it) on drop.
pub struct ScratchDb {
    admin_url: String,
    name: String,
    /// The scratch database's URL (carries the password of the test role).
    pub url: String,
}

impl ScratchDb {
    /// Creates an empty database on the server of `admin_url`.
    pub fn create(admin_url: &str) -> Result<ScratchDb> {
        let name = format!("gw_test_{}", uuid::Uuid::now_v7().simple());
        // The name is ours (hex), never input: safe to splice.
        admin_exec(admin_url, &format!("CREATE DATABASE {name}"))?;
        Ok(ScratchDb {
            url: with_database(admin_url, &name)?,
            admin_url: admin_url.to_string(),
            name,
        })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        // FORCE ends this test's connections; an autovacuum worker (a superuser's process) can
        // still hold the database for a moment, so try again briefly.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let mut last = None;
        for _ in 0..60 {
            match admin_exec(&self.admin_url, &sql) {
                Ok(()) => return,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        if let Some(e) = last {
            eprintln!("scratch database {} not dropped: {e}", self.name);
        }
    }
}
