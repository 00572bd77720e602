//! A small connection pool over tokio-postgres for a synchronous storage trait, with a
//! statement cache per connection.
//!
//! Why not the blocking `postgres` crate: it runs each call with `Runtime::block_on` on a
//! runtime of its own, which panics on any thread already driving a tokio runtime — and the
//! server's admin calls, tests and benchmarks call the storage from async code (SQLite allows
//! it). Here the connections' socket work runs on a one-worker runtime the pool owns; a caller
//! only sends a request down the connection's channel and waits for the answer with
//! [`wait`], a plain thread park that works on any thread (the same blocking a SQLite call
//! does). Handlers call the storage through `spawn_blocking` as before.
//!
//! The pool is a mutex, a condition variable and a list of idle connections (callers hold one
//! for a single transaction). Each connection keeps the statements it prepared, keyed by SQL
//! text, so a query costs one round trip; statements that do not need each other's answers go
//! out together and share one round trip ([`Tx::execute_many`], [`Tx::query_many`],
//! [`Tx::defer`]: tokio-postgres pipelines requests whose futures are polled together). Under
//! the `sync_state` lock a round trip is time every other writer waits, more so when the
//! machine is busy and each answer waits for the database process to be scheduled.
//!
//! A broken connection (server restart, network) is dropped instead of returned and the next
//! caller opens a fresh one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, IsolationLevel, NoTls, Row, Statement};

use crate::error::{Error, Result};

/// How long a caller waits for a free connection before failing (the pool runs dry only when
/// transactions are stuck: each caller holds a connection for one transaction).
const WAIT: Duration = Duration::from_secs(30);

/// Wakes the thread that waits in [`wait`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on the calling thread, parking it while the future waits. Used only
/// for futures that need no runtime of their own (requests to a connection task, join handles).
pub fn wait<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// One open connection and its prepared statements.
pub struct PgConn {
    client: Client,
    stmts: HashMap<String, Statement>,
}

impl PgConn {
    /// Connects on `rt`, which then drives the connection until the client is dropped.
    pub fn connect(rt: &tokio::runtime::Handle, config: &tokio_postgres::Config) -> Result<PgConn> {
        let config = config.clone();
        let made = rt.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = wait(made).map_err(|_| Error::Join)??;
        Ok(PgConn {
            client,
            stmts: HashMap::new(),
        })
    }

    /// Starts a transaction at `isolation` (read-only when asked).
    pub fn begin(&mut self, isolation: IsolationLevel, read_only: bool) -> Result<Tx<'_>> {
        let PgConn { client, stmts } = self;
        let tx = wait(
            client
                .build_transaction()
                .isolation_level(isolation)
                .read_only(read_only)
                .start(),
        )?;
        Ok(Tx {
            tx,
            stmts,
            spent: (0, 0),
            deferred: Vec::new(),
        })
    }

    /// Runs statements outside a transaction (no parameters).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(wait(self.client.batch_execute(sql))?)
    }

    /// One statement outside a transaction (advisory locks).
    pub fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        Ok(wait(self.client.execute(sql, params))?)
    }

    pub fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        Ok(wait(self.client.query_one(sql, params))?)
    }
}

/// Runs `$stmts` (`(sql, params)` pairs) on `$tx` (a `&mut Tx`) in one round trip: the
/// deferred statements first, then each statement through the driver's `$call` (`query`,
/// `execute`, …); the answers in order. A macro rather than a function taking the call: the
/// driver's futures borrow the transaction, the statement and the parameters, which a generic
/// closure's return type cannot name.
macro_rules! pipeline {
    ($tx:expr, $stmts:expr, $call:ident) => {{
        let this: &mut Tx<'_> = $tx;
        let stmts = $stmts;
        let prepared = stmts
            .iter()
            .map(|(sql, _)| this.stmt(sql))
            .collect::<Result<Vec<_>>>()?;
        let pre = this.take_deferred();
        let tx = &this.tx;
        let first = pre.as_deref().map(|q| tx.batch_execute(q));
        let futs = prepared
            .iter()
            .zip(stmts.iter())
            .map(|(s, (_, params))| tx.$call(s, params))
            .collect();
        pipelined(&mut this.spent, first, futs)
    }};
}

/// The one answer of a one-statement [`pipeline!`].
fn only<T>(answers: Result<Vec<T>>) -> Result<T> {
    answers?
        .pop()
        .ok_or_else(|| Error::Io(std::io::Error::other("no answer")))
}

/// A transaction on a pooled connection, preparing each SQL text once per connection. Dropped
/// without [`Tx::commit`], it rolls back.
pub struct Tx<'c> {
    tx: tokio_postgres::Transaction<'c>,
    stmts: &'c mut HashMap<String, Statement>,
    /// Time spent waiting for the database's answers (ns) and the round trips made (write
    /// timings).
    spent: (u64, u64),
    /// Statements without parameters sent ahead of the next one, in its round trip
    /// ([`Tx::defer`]).
    deferred: Vec<&'static str>,
}

/// Polls `first` (the deferred statements, if any) and every future of `futs` until all are
/// done. Requests to one connection go out in the order their futures are first polled and are
/// answered in that order, so they share one round trip (tokio-postgres pipelines them). After
/// an error the rest fail too (the transaction is aborted); the first error is returned.
fn pipelined<T, P, F>(spent: &mut (u64, u64), first: Option<P>, futs: Vec<F>) -> Result<Vec<T>>
where
    P: Future<Output = std::result::Result<(), tokio_postgres::Error>>,
    F: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
{
    use std::task::Poll;
    let mut first = first.map(Box::pin);
    let mut first_out = None;
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<std::result::Result<T, tokio_postgres::Error>>> =
        futs.iter().map(|_| None).collect();
    timed(
        spent,
        std::future::poll_fn(|cx| {
            let mut pending = false;
            if let (Some(f), None) = (first.as_mut(), first_out.as_ref()) {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => first_out = Some(r),
                    Poll::Pending => pending = true,
                }
            }
            for (f, out) in futs.iter_mut().zip(outs.iter_mut()) {
                if out.is_none() {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(r) => *out = Some(r),
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }),
    );
    if let Some(r) = first_out {
        r?;
    }
    outs.into_iter()
        .map(|o| match o {
            Some(r) => Ok(r?),
            None => Err(Error::Io(std::io::Error::other(
                "a pipelined statement never ran",
            ))),
        })
        .collect()
}

/// Waits for one answer of the database, adding its time and the round trip to `spent`.
fn timed<F: Future>(spent: &mut (u64, u64), fut: F) -> F::Output {
    let started = std::time::Instant::now();
    let out = wait(fut);
    spent.0 += started.elapsed().as_nanos() as u64;
    spent.1 += 1;
    out
}

/// Query parameters.
pub type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// Time spent waiting for the database (ns) and round trips made in this transaction.
    pub fn spent(&self) -> (u64, u64) {
        self.spent
    }

    /// Sends `sql` (no parameters; a savepoint) ahead of the next statement, in its round trip.
    /// Its error, if any, is that statement's.
    pub fn defer(&mut self, sql: &'static str) {
        self.deferred.push(sql);
    }

    /// The deferred statements as one simple query.
    fn take_deferred(&mut self) -> Option<String> {
        if self.deferred.is_empty() {
            return None;
        }
        let sql = self.deferred.join("; ");
        self.deferred.clear();
        Some(sql)
    }

    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = timed(&mut self.spent, self.tx.prepare(sql))?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        only(pipeline!(self, [(sql, params)], query))
    }

    pub fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        only(pipeline!(self, [(sql, params)], query_opt))
    }

    pub fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        only(pipeline!(self, [(sql, params)], query_one))
    }

    /// Rows changed.
    pub fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        only(pipeline!(self, [(sql, params)], execute))
    }

    /// Whether the query returns a row.
    pub fn exists(&mut self, sql: &str, params: &Params<'_>) -> Result<bool> {
        Ok(self.query_opt(sql, params)?.is_some())
    }

    /// Statements one after the other in one round trip (pipelined); rows changed by each.
    pub fn execute_many(&mut self, stmts: &[(&str, &Params<'_>)]) -> Result<Vec<u64>> {
        pipeline!(self, stmts, execute)
    }

    /// Queries one after the other in one round trip (pipelined); the rows of each.
    pub fn query_many(&mut self, queries: &[(&str, &Params<'_>)]) -> Result<Vec<Vec<Row>>> {
        pipeline!(self, queries, query)
    }

    /// Runs statements without parameters (no statement cache), after the deferred ones.
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        let sql = match self.take_deferred() {
            Some(pre) => format!("{pre}; {sql}"),
            None => sql.to_string(),
        };
        Ok(timed(&mut self.spent, self.tx.batch_execute(&sql))?)
    }

    pub fn commit(mut self) -> Result<()> {
        if let Some(pre) = self.take_deferred() {
            wait(self.tx.batch_execute(&pre))?;
        }
        Ok(wait(self.tx.commit())?)
    }
}

struct Slots {
    idle: Vec<PgConn>,
    /// Connections open (idle or lent out).
    open: usize,
}

/// The pool: at most `max` connections to one database, driven by its own runtime.
pub struct Pool {
    config: tokio_postgres::Config,
    /// One worker thread doing the connections' socket work; shut down without blocking on
    /// drop (a pool may be dropped inside async code).
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    slots: Mutex<Slots>,
    freed: Condvar,
    max: usize,
}

fn lock(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    // The slot list stays consistent whatever panicked while holding it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub fn new(config: tokio_postgres::Config, max: usize) -> Result<Pool> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gridwalk-pg")
            .enable_all()
            .build()?;
        Ok(Pool {
            config,
            handle: rt.handle().clone(),
            rt: Some(rt),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            max: max.max(1),
        })
    }

    /// A connection outside the pool's count (migrations at open).
    pub fn connect(&self) -> Result<PgConn> {
        PgConn::connect(&self.handle, &self.config)
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
                return match self.connect() {
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

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.slots).idle.clear();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A connection lent by the pool.
pub struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<PgConn>,
}

impl Pooled<'_> {
    /// The connection (present until drop).
    pub fn conn(&mut self) -> Result<&mut PgConn> {
        self.conn
            .as_mut()
            .ok_or_else(|| Error::Io(std::io::Error::other("pooled connection already returned")))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}
