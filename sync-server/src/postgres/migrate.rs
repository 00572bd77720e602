//! PostgreSQL migrations: numbered SQL files (`sql/postgres/vN.sql`) recorded in
//! `schema_migrations`, applied at open.
//!
//! Several server instances may start at once on one database, so the whole check-and-apply
//! runs under a session-level advisory lock: the second instance waits, then finds every
//! version applied. Each version is applied in its own transaction with its row in
//! `schema_migrations`, so a crash leaves the database at a whole version. A database written by
//! a newer server is refused ([`Error::NewerSchema`]), as on SQLite.

use tokio_postgres::IsolationLevel;

use super::pool::PgConn;
use crate::cases;
use crate::error::{Error, Result};

/// Schema version this server writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Every migration, in order: 1 is every table of the SQLite schema v1 … v6.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../sql/postgres/v1.sql"))];

/// Key of the advisory lock held while migrating (any fixed number; "gridwalk" in ASCII).
const MIGRATION_LOCK: i64 = 0x6772_6964_7761_6c6b;

/// Brings the database to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut PgConn) -> Result<()> {
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let out = apply(conn);
    // Session locks outlive errors: release it either way (a closed connection released it).
    let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    out?;
    unlocked?;
    Ok(())
}

fn apply(conn: &mut PgConn) -> Result<()> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let row = conn.query_one(
        "SELECT coalesce(max(version), 0) AS v FROM schema_migrations",
        &[],
    )?;
    let at: i64 = row.try_get("v")?;
    if at > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found: at,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS {
        if *version <= at {
            continue;
        }
        let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
        tx.batch(sql)?;
        if *version == 1 {
            first_rows(&mut tx)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )?;
        tx.commit()?;
        tracing::info!(version, "PostgreSQL schema applied");
    }
    Ok(())
}

/// The rows a new database starts with: its epoch and the default case deadlines.
fn first_rows(tx: &mut super::pool::Tx<'_>) -> Result<()> {
    let epoch = uuid::Uuid::now_v7().simple().to_string();
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('epoch', $1)",
        &[&epoch],
    )?;
    for (cat, n, u, e) in cases::DEFAULT_DEADLINES {
        for (urgency, hours) in [("normal", n), ("urgent", u), ("emergency", e)] {
            let hours: i64 = *hours;
            tx.execute(
                "INSERT INTO case_deadlines (category_code, urgency, hours) VALUES ($1, $2, $3)",
                &[cat, &urgency, &hours],
            )?;
        }
    }
    Ok(())
}
