//! Group commit of pushes on the one SQLite writer.
//!
//! Why: in the evening peak a thousand phones push within minutes and every push is one write
//! transaction behind one writer lock (the revision contract needs commit order). Each commit
//! appends the transaction's pages to the WAL and rewrites the clock row, and the next push
//! waits for it. Pushes that queue up while another one holds the writer are therefore run
//! together: the thread that gets the writer takes every queued push (up to
//! [`DEFAULT_GROUP_LIMIT`]), runs each in its own savepoint inside one transaction, commits once,
//! and only then hands every push its answer. Nothing changes for a push alone (a group of one).
//!
//! Each push stays all-or-nothing: an error inside one rolls back to its savepoint (with the
//! revision counter and clock it advanced) and is answered to that push only. A failed commit is
//! answered as an error to every push of the group, none of which is then stored — the phones
//! retry with the same change ids. An answer is sent before the writer is released, so a waiting
//! thread that gets the writer finds its answer if a group already carried its push.

use std::sync::mpsc;

use rusqlite::params;

use gridwalk_protocol::{Change, PushResponse};

use super::{lock, SqliteStorage};
use crate::engine::Seen;
use crate::error::{Error, Result};
use crate::storage::Principal;

/// Most pushes one commit carries unless configured (`Config::push_group_limit`): bounds the
/// latency a group adds to its first push.
pub(super) const DEFAULT_GROUP_LIMIT: usize = 64;

/// A push waiting for the writer, with where to send its answer.
pub(super) struct PushJob {
    who: Principal,
    changes: Vec<Change>,
    seen: Seen,
    now_ms: i64,
    answer: mpsc::Sender<Result<PushResponse>>,
}

impl SqliteStorage {
    /// Queues the push, then either finds it answered by another thread's group or runs the
    /// queue itself.
    pub(super) fn group_push(
        &self,
        who: &Principal,
        changes: &[Change],
        seen: Seen,
        now_ms: i64,
    ) -> Result<PushResponse> {
        let asked = std::time::Instant::now();
        let (send, answer) = mpsc::channel();
        lock(&self.pushes).push(PushJob {
            who: who.clone(),
            changes: changes.to_vec(),
            seen,
            now_ms,
            answer: send,
        });
        let mut writer = lock(&self.writer);
        loop {
            if let Ok(r) = answer.try_recv() {
                return r;
            }
            let jobs: Vec<PushJob> = {
                let mut q = lock(&self.pushes);
                let n = q.len().min(self.group_limit.max(1));
                q.drain(..n).collect()
            };
            if jobs.is_empty() {
                // Unreachable while our own job is unanswered; never wait forever on it.
                return Err(Error::Io(std::io::Error::other("push lost from the queue")));
            }
            let n = jobs.len() as u64;
            let outcome = self.write_locked(&mut writer, asked, |w| {
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    let (rev0, clock0) = (w.next_rev, w.clock.clone());
                    w.tx.execute_batch("SAVEPOINT push")?;
                    // The device synced now (the console's "last sync"), then its changes.
                    let pushed =
                        w.tx.prepare_cached("UPDATE devices SET last_seen = ?2 WHERE id = ?1")
                            .and_then(|mut st| st.execute(params![job.who.device_id, job.now_ms]))
                            .map_err(Error::from)
                            .and_then(|_| {
                                crate::engine::push_batch(
                                    w,
                                    &job.who,
                                    &job.changes,
                                    job.seen,
                                    job.now_ms,
                                )
                            });
                    match pushed {
                        Ok(r) => {
                            w.tx.execute_batch("RELEASE push")?;
                            results.push(Ok(r));
                        }
                        Err(e) => {
                            w.tx.execute_batch("ROLLBACK TO push; RELEASE push")?;
                            w.next_rev = rev0;
                            w.clock = clock0;
                            results.push(Err(e));
                        }
                    }
                }
                Ok(results)
            });
            {
                let mut s = lock(&self.stats);
                s.grouped_writes += 1;
                s.grouped_pushes += n;
            }
            match outcome {
                Ok(results) => {
                    for (job, r) in jobs.into_iter().zip(results) {
                        // A caller that gave up waiting has nobody to answer.
                        let _ = job.answer.send(r);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, pushes = n, "group commit failed");
                    for job in jobs {
                        let _ = job.answer.send(Err(Error::Io(std::io::Error::other(format!(
                            "group commit failed: {e}"
                        )))));
                    }
                }
            }
        }
    }
}
