//! Households, residents and visits on `GridwalkStore`: the census and care work.
//!
//! Nothing here is deleted: residents move out, households are archived, visits are
//! append-only, because every record is evidence of work (痕迹管理) and may be waiting to sync.

use crate::enums::RecordStatus;
use crate::error::Result;
use crate::records::*;
use crate::store::GridwalkStore;
use crate::time::{day_str, parse_day};

#[uniffi::export]
impl GridwalkStore {
    /// Registers a household.
    pub fn add_household(&self, input: HouseholdInput) -> Result<Household> {
        Ok(self.store()?.add_household(&input.into())?.into())
    }

    /// Changes some fields of a household.
    pub fn update_household(&self, id: String, patch: HouseholdPatch) -> Result<Household> {
        let patch = patch.try_into()?;
        Ok(self.store()?.update_household(&id, &patch)?.into())
    }

    /// Marks a household moved out or archived (or active again). Never deletes.
    pub fn set_household_status(&self, id: String, status: RecordStatus) -> Result<Household> {
        Ok(self
            .store()?
            .set_household_status(&id, status.into())?
            .into())
    }

    /// Checks an ID number as the worker types it, with the rules `addResident` applies
    /// (shape, region, birth date not after the worker's today, check digit), and reads the
    /// gender and birth date it encodes. Fails with `Validation(field = "id_number")` and the
    /// code to show; writes nothing. (Whether another resident holds the number is checked
    /// when the resident is saved.)
    pub fn check_id_number(&self, id_number: String) -> Result<IdNumberInfo> {
        let store = self.store()?;
        let today = store.settings()?.local_date(store.now());
        let (normal, info) = gridwalk_core::validate::id_number("id_number", &id_number, today)
            .map_err(gridwalk_core::Error::from)?;
        Ok(IdNumberInfo {
            id_number: normal,
            gender: info.gender.into(),
            birth_date: day_str(info.birth_date),
        })
    }

    /// One household.
    pub fn get_household(&self, id: String) -> Result<Household> {
        Ok(self.store()?.household(&id)?.into())
    }

    /// Households ordered by address.
    pub fn list_households(&self, filter: HouseholdFilter) -> Result<Vec<Household>> {
        Ok(self
            .store()?
            .list_households(&filter.into())?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Registers a resident in an active household. A bad ID number fails with
    /// `Validation(field = "id_number", code = InvalidChecksum / InvalidDate / …)`; one held by
    /// another active resident with `Duplicate` and the household that holds it.
    pub fn add_resident(&self, input: ResidentInput) -> Result<Resident> {
        let input = input.try_into()?;
        Ok(self.store()?.add_resident(&input)?.into())
    }

    /// Changes some fields of a resident.
    pub fn update_resident(&self, id: String, patch: ResidentPatch) -> Result<Resident> {
        let patch = patch.try_into()?;
        Ok(self.store()?.update_resident(&id, &patch)?.into())
    }

    /// One resident.
    pub fn get_resident(&self, id: String) -> Result<Resident> {
        Ok(self.store()?.resident(&id)?.into())
    }

    /// Residents of a household, head first.
    #[uniffi::method(default(include_inactive = false))]
    pub fn residents_of(
        &self,
        household_id: String,
        include_inactive: bool,
    ) -> Result<Vec<Resident>> {
        Ok(self
            .store()?
            .residents_of(&household_id, include_inactive)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Records that a resident moved out on `on` (`YYYY-MM-DD`). The record stays.
    #[uniffi::method(default(note = None))]
    pub fn move_out_resident(
        &self,
        id: String,
        on: String,
        note: Option<String>,
    ) -> Result<Resident> {
        let on = parse_day("on", &on)?;
        Ok(self
            .store()?
            .move_out_resident(&id, on, note.as_deref())?
            .into())
    }

    /// Records that a resident moved into `household_id` on `on` (`YYYY-MM-DD`).
    #[uniffi::method(default(note = None))]
    pub fn move_in_resident(
        &self,
        id: String,
        household_id: String,
        on: String,
        note: Option<String>,
    ) -> Result<Resident> {
        let on = parse_day("on", &on)?;
        Ok(self
            .store()?
            .move_in_resident(&id, &household_id, on, note.as_deref())?
            .into())
    }

    /// A resident's move history, oldest first.
    pub fn resident_moves(&self, resident_id: String) -> Result<Vec<ResidentMove>> {
        Ok(self
            .store()?
            .resident_moves(&resident_id)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Logs a visit (append-only). `visited_at_ms` may not be in the future.
    pub fn log_visit(&self, input: VisitInput) -> Result<Visit> {
        let input = input.try_into()?;
        Ok(self.store()?.log_visit(&input)?.into())
    }

    /// Visits of a household, newest first.
    pub fn visits_of(&self, household_id: String) -> Result<Vec<Visit>> {
        Ok(self
            .store()?
            .visits_of(&household_id)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
