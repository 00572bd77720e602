//! Tasks, the daily list (今日待办), work statistics and the visit policy on `GridwalkStore`.
//!
//! The daily list is computed from the local store alone (no signal needed): assigned tasks,
//! households due for a visit under the care-tier policy, cases awaiting verification, the
//! patrol quota and unsent drafts, ordered by priority, due time, then distance from `position`.

use crate::enums::{Period, TaskStatus};
use crate::error::Result;
use crate::records::*;
use crate::store::GridwalkStore;
use crate::time::{from_ms, parse_day};

#[uniffi::export]
impl GridwalkStore {
    /// Creates a task (assigned by a supervisor, or the worker's own reminder).
    pub fn add_task(&self, input: TaskInput) -> Result<Task> {
        let input = input.try_into()?;
        Ok(self.store()?.add_task(&input)?.into())
    }

    /// Marks an open task done or cancelled (`InvalidState` if it is not open).
    pub fn finish_task(&self, id: String, status: TaskStatus) -> Result<Task> {
        Ok(self.store()?.finish_task(&id, status.into())?.into())
    }

    /// One task.
    pub fn get_task(&self, id: String) -> Result<Task> {
        Ok(self.store()?.task(&id)?.into())
    }

    /// Tasks, open ones first by due date; optionally only those with `status`.
    #[uniffi::method(default(status = None))]
    pub fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>> {
        Ok(self
            .store()?
            .list_tasks(status.map(Into::into))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Today's list for the worker's local day. With `position`, nearer items come first
    /// among equals and carry their distance.
    #[uniffi::method(default(position = None))]
    pub fn today(&self, position: Option<GeoPoint>) -> Result<Vec<TodayItem>> {
        Ok(self
            .store()?
            .today(position.map(Into::into))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The list as it would be at `now_ms` (planning ahead).
    #[uniffi::method(default(position = None))]
    pub fn today_at(&self, now_ms: i64, position: Option<GeoPoint>) -> Result<Vec<TodayItem>> {
        let now = from_ms("now_ms", now_ms)?;
        Ok(self
            .store()?
            .today_at(now, position.map(Into::into))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Work statistics for the period containing local day `day` (`YYYY-MM-DD`; today when
    /// absent).
    #[uniffi::method(default(day = None))]
    pub fn stats(&self, period: Period, day: Option<String>) -> Result<WorkStats> {
        let store = self.store()?;
        let day = match day {
            Some(d) => parse_day("day", &d)?,
            None => store.settings()?.local_date(store.now()),
        };
        Ok(store.stats(period.into(), day)?.into())
    }

    /// The visit policy in force (visit-frequency rules per care tier).
    pub fn visit_policy(&self) -> Result<Vec<VisitRule>> {
        Ok(self
            .store()?
            .visit_policy()?
            .rules
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Replaces the visit policy (a supervisor's setting; normally arrives by sync).
    pub fn set_visit_policy(&self, rules: Vec<VisitRule>) -> Result<()> {
        let policy = gridwalk_core::tasks::VisitPolicy {
            rules: rules.into_iter().map(Into::into).collect(),
        };
        Ok(self.store()?.set_visit_policy(&policy)?)
    }
}
