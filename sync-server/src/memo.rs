//! A memo of the record reads one pushed change makes, in front of any backend's [`RecordTx`].
//!
//! The rules of one change look the same rows up several times: the record itself (for the
//! rules between fields, then again to merge it), the parents it names (for the scope check of
//! every reference, then again for the grid it lives in). Each read is a statement and, for a
//! record, a JSON parse. [`Memo`] answers the repeats from what it already read, so the rules in
//! `engine.rs` stay written the plain way and every backend gets the saving. A write through the
//! memo forgets what it knew of that record, so a read after it sees the write; the memo lives
//! for one change only, inside the caller's transaction.

use gridwalk_protocol::hlc::HlcClock;
use gridwalk_protocol::ChangeResult;

use crate::error::Result;
use crate::storage::{NewRecord, RecordTx, StoredRecord};

type Key = (String, String);

/// A [`RecordTx`] that remembers records (`get`) and grids (`grid_of`) it has read.
pub(crate) struct Memo<'a> {
    inner: &'a mut dyn RecordTx,
    records: Vec<(Key, Option<StoredRecord>)>,
    grids: Vec<(Key, Option<String>)>,
}

impl<'a> Memo<'a> {
    pub(crate) fn new(inner: &'a mut dyn RecordTx) -> Memo<'a> {
        Memo {
            inner,
            records: Vec::new(),
            grids: Vec::new(),
        }
    }

    fn forget(&mut self, entity: &str, id: &str) {
        let same = |k: &Key| k.0 == entity && k.1 == id;
        self.records.retain(|(k, _)| !same(k));
        self.grids.retain(|(k, _)| !same(k));
    }
}

fn find<'v, T>(list: &'v [(Key, T)], entity: &str, id: &str) -> Option<&'v T> {
    list.iter()
        .find(|(k, _)| k.0 == entity && k.1 == id)
        .map(|(_, v)| v)
}

impl RecordTx for Memo<'_> {
    fn get(&mut self, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
        if let Some(r) = find(&self.records, entity, id) {
            return Ok(r.clone());
        }
        let r = self.inner.get(entity, id)?;
        self.records
            .push(((entity.to_string(), id.to_string()), r.clone()));
        Ok(r)
    }

    fn grid_of(&mut self, entity: &str, id: &str) -> Result<Option<String>> {
        if let Some(g) = find(&self.grids, entity, id) {
            return Ok(g.clone());
        }
        if let Some(r) = find(&self.records, entity, id) {
            return Ok(r.as_ref().map(|r| r.grid_code.clone()));
        }
        let g = self.inner.grid_of(entity, id)?;
        self.grids
            .push(((entity.to_string(), id.to_string()), g.clone()));
        Ok(g)
    }

    fn put(&mut self, rec: NewRecord<'_>) -> Result<i64> {
        self.forget(rec.entity, rec.id);
        self.inner.put(rec)
    }

    fn echo_state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>> {
        // A record known not to exist has no echo mark (most pushed changes are creates).
        if let Some(None) = find(&self.records, entity, id) {
            return Ok(None);
        }
        self.inner.echo_state(entity, id)
    }

    fn mark_echo(&mut self, entity: &str, id: &str, rev: i64, key: &str) -> Result<()> {
        self.inner.mark_echo(entity, id, rev, key)
    }

    fn applied(&mut self, change_id: &str) -> Result<Option<(String, ChangeResult)>> {
        self.inner.applied(change_id)
    }

    fn remember(&mut self, change_id: &str, user_id: &str, result: &ChangeResult) -> Result<()> {
        self.inner.remember(change_id, user_id, result)
    }

    fn tasks_for_target(&mut self, grid: &str, target_id: &str) -> Result<Vec<StoredRecord>> {
        self.inner.tasks_for_target(grid, target_id)
    }

    fn deadline_hours(&mut self, category: &str, urgency: &str) -> Result<Option<i64>> {
        self.inner.deadline_hours(category, urgency)
    }

    fn org_parent(&mut self, code: &str) -> Result<Option<String>> {
        self.inner.org_parent(code)
    }

    fn user_in_grid(&mut self, username_or_id: &str, grid: &str) -> Result<Option<String>> {
        self.inner.user_in_grid(username_or_id, grid)
    }

    fn clock(&mut self) -> &mut HlcClock {
        self.inner.clock()
    }

    fn claim_photo(&mut self, photo_id: &str, sha256: &str, user_id: &str) -> Result<()> {
        self.inner.claim_photo(photo_id, sha256, user_id)
    }

    fn note_author(
        &mut self,
        entity: &str,
        id: &str,
        user_id: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.inner
            .note_author(entity, id, user_id, device_id, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    #[test]
    fn repeats_are_answered_from_memory_and_a_write_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let storage = crate::sqlite::SqliteStorage::open(&dir.path().join("m.db"), 1).unwrap();
        storage
            .with_record_tx_for_tests(|tx| {
                let mut memo = Memo::new(tx);
                assert_eq!(memo.get("household", "h1")?, None);
                assert_eq!(memo.grid_of("household", "h1")?, None);
                assert_eq!(memo.echo_state("household", "h1")?, None);
                let data = match json!({"address": "1号"}) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                memo.put(NewRecord {
                    entity: "household",
                    id: "h1",
                    grid_code: "g1",
                    hlc: "a1",
                    data: &data,
                    clocks: &Map::new(),
                })?;
                // The write is seen: neither answer comes from before it.
                assert_eq!(memo.grid_of("household", "h1")?.as_deref(), Some("g1"));
                let r = memo.get("household", "h1")?.map(|r| r.data);
                assert_eq!(r, Some(data.clone()));
                assert_eq!(memo.echo_state("household", "h1")?.map(|e| e.0), Some(1));
                // Answered from memory: the same as the store says.
                assert_eq!(memo.get("household", "h1")?.map(|r| r.data), Some(data));
                Ok(())
            })
            .unwrap();
    }
}
