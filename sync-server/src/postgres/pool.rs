//! A small connection pool for the synchronous `postgres` client, with a statement cache per
//! connection.
//!
//! Why our own: the storage trait is synchronous and handlers call it on tokio's blocking pool,
//! so a pool is a mutex, a condition variable and a list of idle connections; a crate (r2d2)
//! would add threads and dependencies for nothing more. Each connection keeps the statements it
//! prepared (keyed by their SQL text): a query costs one round trip instead of a prepare and an
//! execute. A connection that broke (server restart, network) is dropped instead of returned,
//! and the next caller opens a fresh one.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use crate::error::{Error, Result};

/// How long a caller waits for a free connection before failing (the pool is exhausted by
/// stuck transactions, never by a normal load: callers hold a connection for one transaction).
const WAIT: Duration = Duration::from_secs(30);

/// One open connection and its prepared statements.
pub struct PgConn {
    client: Client,
    stmts: HashMap<String, Statement>,
}

impl PgConn {
    pub fn connect(config: &postgres::Config) -> Result<PgConn> {
        Ok(PgConn {
            client: config.connect(NoTls)?,
            stmts: HashMap::new(),
        })
    }

    /// Starts a transaction at `isolation` (read-only when asked).
    pub fn begin(
        &mut self,
        isolation: postgres::IsolationLevel,
        read_only: bool,
    ) -> Result<Tx<'_>> {
        let PgConn { client, stmts } = self;
        let tx = client
            .build_transaction()
            .isolation_level(isolation)
            .read_only(read_only)
            .start()?;
        Ok(Tx { tx, stmts })
    }

    /// Runs statements outside a transaction (migrations, advisory locks).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A transaction on a pooled connection, preparing each SQL text once per connection.
pub struct Tx<'c> {
    tx: postgres::Transaction<'c>,
    stmts: &'c mut HashMap<String, Statement>,
}

/// Query parameters.
pub type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        let s = self.stmt(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    pub fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        let s = self.stmt(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }

    pub fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        let s = self.stmt(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }

    /// Rows changed.
    pub fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let s = self.stmt(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    /// Whether the query returns a row.
    pub fn exists(&mut self, sql: &str, params: &Params<'_>) -> Result<bool> {
        Ok(self.query_opt(sql, params)?.is_some())
    }

    /// Runs statements without parameters (no statement cache).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.tx.batch_execute(sql)?)
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    pub fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback()?)
    }
}

struct Slots {
    idle: Vec<PgConn>,
    /// Connections open (idle or lent out).
    open: usize,
}

/// The pool: at most `max` connections to one database.
pub struct Pool {
    config: postgres::Config,
    slots: Mutex<Slots>,
    freed: Condvar,
    max: usize,
}

fn lock(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    // The slot list stays consistent whatever panicked while holding it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub fn new(config: postgres::Config, max: usize) -> Pool {
        Pool {
            config,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// A connection for one transaction; returned to the pool when the guard drops.
    pub fn get(&self) -> Result<Pooled<'_>> {
        let deadline = std::time::Instant::now() + WAIT;
        let mut slots = lock(&self.slots);
        loop {
            if let Some(conn) = slots.idle.pop() {
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if slots.open < self.max {
                slots.open += 1;
                drop(slots);
                return match PgConn::connect(&self.config) {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        lock(&self.slots).open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no free PostgreSQL connection",
                )));
            }
            slots = self
                .freed
                .wait_timeout(slots, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn put_back(&self, conn: PgConn) {
        let mut slots = lock(&self.slots);
        if conn.client.is_closed() {
            slots.open -= 1;
        } else {
            slots.idle.push(conn);
        }
        drop(slots);
        self.freed.notify_one();
    }
}

/// A connection lent by the pool.
pub struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<PgConn>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        // Present until drop.
        self.conn.as_ref().expect("pooled connection taken")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn.as_mut().expect("pooled connection taken")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}
