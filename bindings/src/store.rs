//! `GridwalkStore`: the object an app holds for the worker's field store.
//!
//! It wraps the core's [`Store`] (one SQLite file, one writer) behind a lock that only guards
//! opening and closing: every call takes its own reference to the open store, so
//! `close_store()` while a long call runs closes the file when that call returns instead of
//! pulling the connection from under it. Calls after `close_store()` fail with
//! `GridwalkError.Closed`.
//!
//! Threading: every method is synchronous and thread-safe. Record edits take milliseconds,
//! but they write to disk with `fsync`, so apps call them off the main thread (a coroutine
//! dispatcher, a Swift task, a worker thread). The methods of this object are spread over
//! the files of this crate by concern (`people.rs`, `patrols.rs`, `cases.rs`, `tasks.rs`).

use std::sync::{Arc, RwLock};

use gridwalk_core::Store;

use crate::error::{GridwalkError, Result};
use crate::records::*;

/// Why a grid code the device knows may still be wrong (see `check_grid`). `code()` gives the
/// stable code, `message_zh()` / `message_en()` the text to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum GridWarning {
    /// No server has confirmed the org tree yet (never signed in): check the code with the
    /// community before the first sync.
    Unconfirmed,
    /// The server's org tree does not have this unit: records in it will be refused.
    NotOnServer,
    /// The code names a community, street or district, not a grid.
    NotAGrid,
}

impl From<gridwalk_core::org::GridWarning> for GridWarning {
    fn from(w: gridwalk_core::org::GridWarning) -> Self {
        use gridwalk_core::org::GridWarning as W;
        match w {
            W::Unconfirmed => GridWarning::Unconfirmed,
            W::NotOnServer => GridWarning::NotOnServer,
            W::NotAGrid => GridWarning::NotAGrid,
        }
    }
}

impl GridWarning {
    fn core(self) -> gridwalk_core::org::GridWarning {
        use gridwalk_core::org::GridWarning as W;
        match self {
            GridWarning::Unconfirmed => W::Unconfirmed,
            GridWarning::NotOnServer => W::NotOnServer,
            GridWarning::NotAGrid => W::NotAGrid,
        }
    }
}

#[uniffi::export]
impl GridWarning {
    /// The stable snake_case code, e.g. `unconfirmed`.
    pub fn code(&self) -> String {
        self.core().code().to_string()
    }

    /// Chinese text for the worker's screen.
    pub fn message_zh(&self) -> String {
        self.core().message_zh().to_string()
    }

    /// English text.
    pub fn message_en(&self) -> String {
        self.core().message_en().to_string()
    }
}

/// The worker's offline field store: households, residents, visits, patrols, cases with
/// photos, tasks and the daily list, all in one SQLite file on the device.
///
/// Open it once per account (`GridwalkStore.open(path)`) and share it: every method is
/// thread-safe. Writes are durable when they return.
#[derive(uniffi::Object)]
pub struct GridwalkStore {
    inner: RwLock<Option<Arc<Store>>>,
}

impl GridwalkStore {
    fn wrap(store: Store) -> Arc<Self> {
        Arc::new(GridwalkStore {
            inner: RwLock::new(Some(Arc::new(store))),
        })
    }

    /// The open store, or `Closed`.
    pub(crate) fn store(&self) -> Result<Arc<Store>> {
        // A panic while holding this lock cannot leave the Option half-written.
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or_else(GridwalkError::closed)
    }
}

#[uniffi::export]
impl GridwalkStore {
    /// Opens (creating if needed) the store at `path`; photos go in `<path>.photos/`.
    ///
    /// A file that is not a Gridwalk store (a spreadsheet, another app's database, an empty
    /// file) is refused untouched (`NotAStore`); a Gridwalk store that fails its checks is
    /// moved aside (`Corrupt`, never deleted); a file from a newer app version is refused
    /// untouched (`SchemaTooNew`); a read-only file gives `ReadOnly` (use `openReadOnly`).
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>> {
        if path.trim().is_empty() {
            return Err(GridwalkError::invalid(
                "path",
                gridwalk_core::Code::Required,
            ));
        }
        Ok(Self::wrap(Store::open(path)?))
    }

    /// Opens an existing store for reading only: nothing is written to the file, so it works
    /// on a read-only file (a backup, a copy) and while another program writes. Every write
    /// fails with `ReadOnly`.
    #[uniffi::constructor]
    pub fn open_read_only(path: String) -> Result<Arc<Self>> {
        if path.trim().is_empty() {
            return Err(GridwalkError::invalid(
                "path",
                gridwalk_core::Code::Required,
            ));
        }
        Ok(Self::wrap(Store::open_read_only(path)?))
    }

    /// Opens an encrypted store. Fails with `Encryption` in builds without SQLCipher, and
    /// never creates an unencrypted file by mistake.
    #[uniffi::constructor]
    pub fn open_with_key(path: String, key: String) -> Result<Arc<Self>> {
        if path.trim().is_empty() {
            return Err(GridwalkError::invalid(
                "path",
                gridwalk_core::Code::Required,
            ));
        }
        Ok(Self::wrap(Store::open_with_key(path, &key)?))
    }

    /// A private in-memory store (previews, tests). Its photos go to a temporary folder.
    #[uniffi::constructor]
    pub fn open_in_memory() -> Result<Arc<Self>> {
        Ok(Self::wrap(Store::open_in_memory()?))
    }

    /// Closes the database file for every holder of this object. Later calls fail with
    /// `Closed`; a call already running finishes first. Closing twice is fine.
    ///
    /// (In Kotlin, `close()` from `AutoCloseable` only releases this handle.)
    pub fn close_store(&self) {
        let mut guard = self.inner.write().unwrap_or_else(|p| p.into_inner());
        *guard = None;
    }

    /// Whether `close_store()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.read().map(|g| g.is_none()).unwrap_or(true)
    }

    /// Path of the database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> Result<String> {
        Ok(self.store()?.path().to_string_lossy().into_owned())
    }

    /// Folder holding the photo files.
    pub fn photo_dir(&self) -> Result<String> {
        Ok(self.store()?.photo_dir().to_string_lossy().into_owned())
    }

    /// This device's stable id (made when the store was created).
    pub fn device_id(&self) -> Result<String> {
        Ok(self.store()?.device_id().to_string())
    }

    /// Today in the worker's local calendar (`YYYY-MM-DD`, from the store's UTC offset setting,
    /// not the phone's time zone): the day the daily list and statistics mean by "today".
    pub fn local_today(&self) -> Result<String> {
        let store = self.store()?;
        Ok(crate::time::day_str(
            store.settings()?.local_date(store.now()),
        ))
    }

    /// `"ok"` when SQLite finds the file sound; otherwise its report.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.store()?.integrity_check()?)
    }

    /// Device settings.
    pub fn settings(&self) -> Result<Settings> {
        Ok(self.store()?.settings()?.into())
    }

    /// Replaces the device settings (validated: offset within ±14 h, quota ≤ 10, reporter set,
    /// minimum patrol ≤ 240 minutes and ≤ 10000 m).
    pub fn set_settings(&self, settings: Settings) -> Result<()> {
        Ok(self.store()?.set_settings(&settings.into())?)
    }

    /// Inserts or replaces organisational units (normally delivered by sync). Parents may
    /// come in the same call.
    pub fn upsert_org_units(&self, units: Vec<OrgUnit>) -> Result<()> {
        let units: Vec<_> = units.into_iter().map(Into::into).collect();
        Ok(self.store()?.upsert_org_units(&units)?)
    }

    /// Every known organisational unit, by code.
    pub fn org_units(&self) -> Result<Vec<OrgUnit>> {
        Ok(self
            .store()?
            .org_units()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The worker's own grids.
    pub fn my_grids(&self) -> Result<Vec<OrgUnit>> {
        Ok(self
            .store()?
            .my_grids()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Checks a grid code before it is used (setting up, starting a patrol, registering a
    /// household, a new case): `Validation(field = "grid_code")` when the device does not know
    /// it; a warning to show when it is doubtful (no server confirmed the org tree yet, the
    /// server does not have it, or it is not a grid); `None` when it is fine.
    pub fn check_grid(&self, grid_code: String) -> Result<Option<GridWarning>> {
        Ok(self.store()?.check_grid(&grid_code)?.map(Into::into))
    }

    /// One organisational unit.
    pub fn get_org_unit(&self, code: String) -> Result<OrgUnit> {
        Ok(self.store()?.org_unit(&code)?.into())
    }

    /// Households and residents whose name, address, phone or ID number contains `query`;
    /// active records first, at most `limit` (1–500).
    #[uniffi::method(default(limit = 20))]
    pub fn search(&self, query: String, limit: u32) -> Result<Vec<SearchHit>> {
        let limit = usize::try_from(limit).unwrap_or(500);
        Ok(self
            .store()?
            .search(&query, limit)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Imports a ledger (CSV in UTF-8 or GBK, or .xlsx) into `grid_code`. Rows that fail
    /// validation are reported and skipped, each with every reason; the rest is saved.
    pub fn import_ledger(&self, bytes: Vec<u8>, grid_code: String) -> Result<ImportReport> {
        Ok(self.store()?.import_ledger(&bytes, &grid_code)?.into())
    }

    /// The active households of `grid_code` (all grids when absent) as CSV for Excel.
    #[uniffi::method(default(grid_code = None))]
    pub fn export_households_csv(&self, grid_code: Option<String>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.store()?
            .export_households_csv(&mut out, grid_code.as_deref())?;
        Ok(out)
    }

    /// The active residents with their household address as CSV (re-importable).
    #[uniffi::method(default(grid_code = None))]
    pub fn export_residents_csv(&self, grid_code: Option<String>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.store()?
            .export_residents_csv(&mut out, grid_code.as_deref())?;
        Ok(out)
    }
}

/// The SQLCipher version this library was built with, or `None` when it has plain SQLite and
/// `GridwalkStore.openWithKey` cannot encrypt. The shipped phone library always has one; an app
/// refuses to start without it rather than write residents' data unencrypted.
#[uniffi::export]
pub fn cipher_version() -> Option<String> {
    gridwalk_core::store::cipher_version()
}
