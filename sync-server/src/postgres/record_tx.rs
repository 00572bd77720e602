//! [`RecordTx`] for PostgreSQL's sync write transaction: the primitives `engine::push_batch`
//! and `cases` run on. Revisions come from the `sync_state` row the transaction holds
//! (`mod.rs`); case writes keep the console's queue row in the same transaction
//! (`console::put_queue_row`), as on SQLite.

use gridwalk_protocol::hlc::HlcClock;
use gridwalk_protocol::{entity, ChangeResult};

use super::{get_record, grid_of, scope_grids, PgWriteTx};
use crate::error::Result;
use crate::storage::{NewRecord, RecordTx, StoredRecord};

impl RecordTx for PgWriteTx<'_> {
    fn get(&mut self, entity: &str, id: &str) -> Result<Option<StoredRecord>> {
        get_record(&mut self.tx, entity, id)
    }

    fn grid_of(&mut self, entity: &str, id: &str) -> Result<Option<String>> {
        grid_of(&mut self.tx, entity, id)
    }

    fn put(&mut self, rec: NewRecord<'_>) -> Result<i64> {
        let rev = self.next_rev;
        let data = serde_json::to_string(rec.data)?;
        let clocks = serde_json::to_string(rec.clocks)?;
        self.tx.execute(
            "INSERT INTO records (entity, id, grid_code, rev, hlc, data, clocks)
             VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb)
             ON CONFLICT (entity, id) DO UPDATE SET grid_code = excluded.grid_code,
                rev = excluded.rev, hlc = excluded.hlc, data = excluded.data,
                clocks = excluded.clocks, echo = NULL",
            &[
                &rec.entity,
                &rec.id,
                &rec.grid_code,
                &rev,
                &rec.hlc,
                &data,
                &clocks,
            ],
        )?;
        if rec.entity == entity::CASE {
            super::console::put_queue_row(&mut self.tx, rec.id, rec.grid_code, rec.data)?;
        }
        self.next_rev += 1;
        Ok(rev)
    }

    fn echo_state(&mut self, entity: &str, id: &str) -> Result<Option<(i64, Option<String>)>> {
        match self.tx.query_opt(
            "SELECT rev, echo FROM records WHERE entity = $1 AND id = $2",
            &[&entity, &id],
        )? {
            None => Ok(None),
            Some(r) => Ok(Some((r.try_get("rev")?, r.try_get("echo")?))),
        }
    }

    fn mark_echo(&mut self, entity: &str, id: &str, rev: i64, key: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE records SET echo = $4 WHERE entity = $1 AND id = $2 AND rev = $3",
            &[&entity, &id, &rev, &key],
        )?;
        Ok(())
    }

    fn applied(&mut self, change_id: &str) -> Result<Option<(String, ChangeResult)>> {
        match self.tx.query_opt(
            "SELECT user_id, result FROM applied_changes WHERE change_id = $1",
            &[&change_id],
        )? {
            None => Ok(None),
            Some(r) => {
                let result: &str = r.try_get("result")?;
                Ok(Some((r.try_get("user_id")?, serde_json::from_str(result)?)))
            }
        }
    }

    fn remember(&mut self, change_id: &str, user_id: &str, result: &ChangeResult) -> Result<()> {
        let result = serde_json::to_string(result)?;
        self.tx.execute(
            "INSERT INTO applied_changes (change_id, user_id, result) VALUES ($1, $2, $3)",
            &[&change_id, &user_id, &result],
        )?;
        Ok(())
    }

    fn tasks_for_target(&mut self, grid: &str, target_id: &str) -> Result<Vec<StoredRecord>> {
        let rows = self.tx.query(
            "SELECT id, grid_code, rev, hlc, data::text AS data, clocks::text AS clocks
             FROM records WHERE entity = 'task' AND grid_code = $1 AND data->>'target_id' = $2
             ORDER BY rev",
            &[&grid, &target_id],
        )?;
        rows.iter()
            .map(|r| super::record_from_row(entity::TASK, r.try_get("id")?, r))
            .collect()
    }

    fn deadline_hours(&mut self, category: &str, urgency: &str) -> Result<Option<i64>> {
        match self.tx.query_opt(
            "SELECT hours FROM case_deadlines WHERE category_code = $1 AND urgency = $2",
            &[&category, &urgency],
        )? {
            None => Ok(None),
            Some(r) => Ok(Some(r.try_get("hours")?)),
        }
    }

    fn org_parent(&mut self, code: &str) -> Result<Option<String>> {
        match self.tx.query_opt(
            "SELECT parent_code FROM org_units WHERE code = $1",
            &[&code],
        )? {
            None => Ok(None),
            Some(r) => Ok(r.try_get("parent_code")?),
        }
    }

    fn user_in_grid(&mut self, username_or_id: &str, grid: &str) -> Result<Option<String>> {
        let Some(r) = self.tx.query_opt(
            "SELECT id, org_code FROM users WHERE (id = $1 OR username = $1) AND NOT disabled",
            &[&username_or_id],
        )?
        else {
            return Ok(None);
        };
        let id: String = r.try_get("id")?;
        let org: String = r.try_get("org_code")?;
        let grids = scope_grids(&mut self.tx, &id, &org)?;
        Ok(grids.iter().any(|g| g == grid).then_some(id))
    }

    fn clock(&mut self) -> &mut HlcClock {
        &mut self.clock
    }

    fn claim_photo(&mut self, photo_id: &str, sha256: &str, user_id: &str) -> Result<()> {
        // As on SQLite: a claim that outlived its record is replaced, never inherited.
        self.tx.execute(
            "INSERT INTO photo_claims (photo_id, sha256, user_id) VALUES ($1, $2, $3)
             ON CONFLICT (photo_id) DO UPDATE SET sha256 = excluded.sha256,
                user_id = excluded.user_id",
            &[&photo_id, &sha256, &user_id],
        )?;
        Ok(())
    }

    fn note_author(
        &mut self,
        entity: &str,
        id: &str,
        user_id: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO record_authors (entity, id, user_id, device_id, at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&entity, &id, &user_id, &device_id, &now_ms],
        )?;
        Ok(())
    }
}
