//! Schema creation and upgrades, versioned by `PRAGMA user_version`.
//!
//! A fresh database is built from `sql/schema.sql` in one step; an older one is brought forward
//! by the `sql/upgrade_NNN.sql` scripts (plus a Rust step where data must be rebuilt), all in one
//! transaction: a crash mid-upgrade leaves the old version intact. A database from a newer app is
//! refused before anything is written to it. Upgrades never lose an outbox row or any row a
//! worker entered (version 7 rebuilds the outbox and the move history with other keys: every row
//! is copied, with the outbox's seq counter); `tests/migrations.rs` upgrades every historic
//! version and compares the result with a fresh schema, keys included.

use rusqlite::{Connection, Transaction};

use crate::error::{Error, Result};

/// Schema version this build writes.
pub const VERSION: i64 = 7;

const SCHEMA: &str = include_str!("../sql/schema.sql");

type DataStep = fn(&Transaction) -> Result<()>;

/// (target version, script, optional Rust step run after the script).
const UPGRADES: &[(i64, &str, Option<DataStep>)] = &[
    (
        2,
        include_str!("../sql/upgrade_002.sql"),
        Some(upgrade_002_data),
    ),
    (3, include_str!("../sql/upgrade_003.sql"), None),
    (4, include_str!("../sql/upgrade_004.sql"), None),
    (
        5,
        include_str!("../sql/upgrade_005.sql"),
        Some(upgrade_005_data),
    ),
    (
        6,
        include_str!("../sql/upgrade_006.sql"),
        Some(upgrade_006_data),
    ),
    // The script runs inside the step (it needs what the old outbox's counter was).
    (7, "", Some(upgrade_007)),
];

/// Fills the visit summary version 2 derives from existing rows. The search index version 2
/// created is filled by version 5's step, which every upgrade from before 5 runs (it needs the
/// two-character table version 5 adds).
fn upgrade_002_data(tx: &Transaction) -> Result<()> {
    crate::visits::rebuild_summary(tx)
}

/// Version 5 changed the households' search bodies and added the two-character index (the
/// rebuild leaves every doc folded; version 7's script then sets the same mark).
fn upgrade_005_data(tx: &Transaction) -> Result<()> {
    crate::search::rebuild_all(tx)
}

/// Version 6 keeps every household's due days ahead of time (`due.rs`): filled from what the
/// store holds.
fn upgrade_006_data(tx: &Transaction) -> Result<()> {
    crate::due::rebuild_all(tx)
}

/// Version 7 rebuilds the outbox without AUTOINCREMENT: the highest seq ever given moves from
/// `sqlite_sequence` (read before the script drops the old table) to `meta`, so a seq of an
/// acknowledged and deleted change is never given again. A file without the counter (none was
/// ever given) keeps the highest seq of its rows.
fn upgrade_007(tx: &Transaction) -> Result<()> {
    let has_counter: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
        [],
        |r| r.get(0),
    )?;
    let counter: i64 = if has_counter {
        tx.query_row(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )?
    } else {
        0
    };
    tx.execute_batch(include_str!("../sql/upgrade_007.sql"))?;
    tx.execute(
        "UPDATE meta SET value = CAST(?1 AS TEXT)
         WHERE key = 'outbox_seq' AND CAST(value AS INTEGER) < ?1",
        [counter],
    )?;
    Ok(())
}

/// Historic full schemas, oldest first, for upgrade tests.
pub const HISTORY: &[(i64, &str)] = &[
    (1, include_str!("../sql/history/v001.sql")),
    (2, include_str!("../sql/history/v002.sql")),
    (3, include_str!("../sql/history/v003.sql")),
    (4, include_str!("../sql/history/v004.sql")),
    (5, include_str!("../sql/history/v005.sql")),
    (6, include_str!("../sql/history/v006.sql")),
];

pub fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses databases we must not touch. Reads only.
pub fn check_compatible(conn: &Connection) -> Result<i64> {
    let found = user_version(conn)?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    if found == 0 {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(Error::Format {
                what: "database",
                detail: "the file holds tables but is not a Gridwalk store".into(),
            });
        }
    }
    Ok(found)
}

/// Creates or upgrades the schema to [`VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let found = check_compatible(conn)?;
    if found == VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    if found == 0 {
        tx.execute_batch(SCHEMA)?;
        // Records the offset the (empty) due days are computed with.
        crate::due::rebuild_all(&tx)?;
    } else {
        for (to, script, step) in UPGRADES {
            if *to > found {
                tx.execute_batch(script)?;
                if let Some(step) = step {
                    step(&tx)?;
                }
                tracing::info!(from = found, to, "schema upgraded");
            }
        }
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}
