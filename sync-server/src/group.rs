//! Group commit of pushes, for every backend: the pushes that queue while another one holds the
//! writer are committed together.
//!
//! Why: in the evening peak thousands of phones push within minutes, and every push is one write
//! transaction behind one writer (the revision contract needs commit order: SQLite's one writer
//! connection, PostgreSQL's `sync_state` row lock). Each commit makes the log durable (SQLite's
//! WAL append, PostgreSQL's WAL flush with its `fsync`, half of the time a push held the row
//! on PostgreSQL) and the next push waits for it. So a push is put in a queue; the thread that
//! gets the writer (a *leader*) takes every queued push (up to the group limit,
//! `Config::push_group_limit`) *after* it got the writer — on PostgreSQL after the row lock, so
//! the pushes that arrived while it waited ride along — runs each in its own savepoint inside
//! one transaction, commits once, and only then answers each push. Nothing changes for a push
//! alone (a group of one, run without a savepoint).
//!
//! Each push stays all-or-nothing and isolated: an error inside one rolls back to its savepoint
//! (statements, the revisions and clock it advanced, a backend's buffered writes) and is
//! answered to that push only; the others commit. A push is acknowledged only after the commit:
//! a failed commit is answered as an error to every push of the group, none of which is then
//! stored — the phones retry with the same change ids, and `applied_changes` answers a replay.
//!
//! The queue and the leader logic are here; a backend provides how to become the leader and the
//! transaction ([`GroupTx`]): `sqlite.rs` (the writer mutex) and `postgres/storage.rs` (the
//! write gate, then the row lock). A thread whose push was carried by another leader never
//! waits on the writer again: when its push is no longer queued, it waits for its answer only.

use std::collections::VecDeque;
use std::sync::{mpsc, Mutex};

use gridwalk_protocol::{Change, PushResponse};

use crate::engine::Seen;
use crate::error::{Error, Result};
use crate::storage::{Principal, RecordTx};

/// Most pushes one commit carries unless configured (`Config::push_group_limit`): bounds the
/// latency a group adds to its first push.
pub const DEFAULT_GROUP_LIMIT: usize = 64;

/// What a backend's write transaction offers a group: the rules' primitives plus a savepoint
/// around each push.
pub(crate) trait GroupTx: RecordTx {
    /// Starts a push's savepoint (remembering the revision counter and clock as they are).
    fn begin_push(&mut self) -> Result<()>;
    /// Keeps the push's writes (releases the savepoint; a backend that buffers writes sends
    /// them first, so they are inside it).
    fn keep_push(&mut self) -> Result<()>;
    /// Undoes everything since [`GroupTx::begin_push`]: statements, revisions, the clock and
    /// anything the backend buffered or cached for it.
    fn undo_push(&mut self) -> Result<()>;
    /// The device synced now (the console's "last sync").
    fn device_seen(&mut self, device_id: &str, now_ms: i64) -> Result<()>;
}

/// A push waiting for a leader, with where to send its answer.
struct PushJob {
    seq: u64,
    who: Principal,
    changes: Vec<Change>,
    seen: Seen,
    now_ms: i64,
    answer: mpsc::Sender<Result<PushResponse>>,
}

/// The queue of pushes waiting for the writer (one per storage).
pub(crate) struct PushQueue {
    jobs: Mutex<Queued>,
    limit: usize,
}

struct Queued {
    next_seq: u64,
    jobs: VecDeque<PushJob>,
}

/// The leader's view of the queue: whether there is work, and running it in the backend's
/// transaction once the leader holds the writer.
pub(crate) struct Group<'q> {
    queue: &'q PushQueue,
    taken: Vec<PushJob>,
    results: Vec<Result<PushResponse>>,
}

impl Group<'_> {
    /// Whether any push is queued (a leader that finds none need not open a transaction).
    pub(crate) fn has_work(&self) -> bool {
        !self.queue.lock().jobs.is_empty()
    }

    /// Pushes this group carried (after [`Group::run`]).
    pub(crate) fn len(&self) -> usize {
        self.taken.len()
    }

    /// Takes the queued pushes and applies each inside `tx`, the caller's write transaction
    /// (which holds the writer). An `Err` is the whole transaction's: the backend rolls back
    /// and every push taken is answered with an error.
    pub(crate) fn run(&mut self, tx: &mut dyn GroupTx) -> Result<()> {
        self.taken = {
            let mut q = self.queue.lock();
            let n = q.jobs.len().min(self.queue.limit);
            q.jobs.drain(..n).collect()
        };
        if let [job] = self.taken.as_slice() {
            // Alone: no savepoint; an error rolls the transaction back and is this push's.
            let r = apply(tx, job)?;
            self.results.push(Ok(r));
            return Ok(());
        }
        for job in &self.taken {
            tx.begin_push()?;
            // Keeping it can fail too (a backend's buffered writes are sent then): still this
            // push's error, and the savepoint is still there to undo it.
            match apply(tx, job).and_then(|r| tx.keep_push().map(|()| r)) {
                Ok(r) => self.results.push(Ok(r)),
                Err(e) => {
                    tracing::warn!(error = %e, device = %job.who.device_id, "push failed in a group; the others go on");
                    tx.undo_push()?;
                    self.results.push(Err(e));
                }
            }
        }
        Ok(())
    }
}

/// One push: the device's last sync, then its changes (`engine::push_batch`).
fn apply(tx: &mut dyn GroupTx, job: &PushJob) -> Result<PushResponse> {
    tx.device_seen(&job.who.device_id, job.now_ms)?;
    crate::engine::push_batch(tx, &job.who, &job.changes, job.seen, job.now_ms)
}

impl PushQueue {
    /// A queue committing at most `limit` (at least 1) pushes together.
    pub(crate) fn new(limit: usize) -> PushQueue {
        PushQueue {
            jobs: Mutex::new(Queued {
                next_seq: 0,
                jobs: VecDeque::new(),
            }),
            limit: limit.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        // The queue stays consistent whatever panicked while holding it.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queued(&self, seq: u64) -> bool {
        self.lock().jobs.iter().any(|j| j.seq == seq)
    }

    /// Queues the push and returns its answer: carried by another thread's group, or by a group
    /// this thread leads. `lead` gets the writer (blocking), and when [`Group::has_work`] runs
    /// [`Group::run`] inside one write transaction and commits; it returns the commit's outcome.
    pub(crate) fn push(
        &self,
        who: &Principal,
        changes: &[Change],
        seen: Seen,
        now_ms: i64,
        mut lead: impl FnMut(&mut Group<'_>) -> Result<()>,
    ) -> Result<PushResponse> {
        let (send, answer) = mpsc::channel();
        let seq = {
            let mut q = self.lock();
            let seq = q.next_seq;
            q.next_seq += 1;
            q.jobs.push_back(PushJob {
                seq,
                who: who.clone(),
                changes: changes.to_vec(),
                seen,
                now_ms,
                answer: send,
            });
            seq
        };
        loop {
            if let Ok(r) = answer.try_recv() {
                return r;
            }
            if !self.queued(seq) {
                // A leader took it and answers after its commit.
                return answer.recv().unwrap_or_else(|_| {
                    Err(Error::Io(std::io::Error::other(
                        "push dropped by its group's leader",
                    )))
                });
            }
            let mut group = Group {
                queue: self,
                taken: Vec::new(),
                results: Vec::new(),
            };
            let outcome = lead(&mut group);
            let Group { taken, results, .. } = group;
            match outcome {
                // Committed: each push gets its own result.
                Ok(()) => {
                    for (job, r) in taken.into_iter().zip(results) {
                        // A caller that gave up waiting has nobody to answer.
                        let _ = job.answer.send(r);
                    }
                }
                // Failed before taking any push (no connection, no lock): the error is this
                // push's, unless another leader took it meanwhile (then its answer comes).
                Err(e) if taken.is_empty() => {
                    let mut q = self.lock();
                    if let Some(at) = q.jobs.iter().position(|j| j.seq == seq) {
                        q.jobs.remove(at);
                        return Err(e);
                    }
                }
                Err(e) if taken.len() == 1 => {
                    let _ = taken[0].answer.send(Err(e));
                }
                Err(e) => {
                    tracing::error!(error = %e, pushes = taken.len(), "group commit failed");
                    for job in taken {
                        let _ = job.answer.send(Err(Error::Io(std::io::Error::other(format!(
                            "group commit failed: {e}"
                        )))));
                    }
                }
            }
        }
    }
}
