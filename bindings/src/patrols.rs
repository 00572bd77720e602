//! Patrols (巡查) and the location feed from the app.
//!
//! GPS belongs to the platform (FusedLocationProvider, CLLocationManager), the track to the
//! core. Two ways in, both writing every fix through the same durable path:
//!
//! * **Push fixes yourself**: `add_location(patrol_id, lat, lng, accuracy_m, at_ms)` for each
//!   fix, or `add_locations(patrol_id, fixes)` for a batch the OS delivered at once.
//! * **Hand over a source**: implement the foreign trait [`LocationSource`] and call
//!   `record_patrol(grid_code, source)`. The core calls `source.start(recorder)`; the source
//!   calls `recorder.record(fix)` from whatever thread its platform uses; `recorder.finish()`
//!   calls `source.stop()` and closes the patrol with its distance and duration.
//!
//! A fix the core cannot use (impossible coordinates, from the future, before the start) is
//! skipped and counted, never failing the good fixes around it. After the app was killed
//! mid-patrol, the patrol is still running in the store (`active_patrol()`); re-attach GPS with
//! `attach_location_source(patrol_id, source)`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use gridwalk_core::Code;

use crate::error::{GridwalkError, Result};
use crate::records::*;
use crate::store::GridwalkStore;
use crate::time;

/// A platform location feed, implemented by the app.
#[uniffi::export(with_foreign)]
pub trait LocationSource: Send + Sync {
    /// Start delivering fixes: call `recorder.record(fix)` (or `recordBatch`) for each one,
    /// from any thread. Throwing here fails `recordPatrol` / `attachLocationSource`; the patrol
    /// stays running, so the app can attach a source again.
    fn start(&self, recorder: Arc<PatrolRecorder>) -> Result<()>;

    /// Stop delivering fixes and drop the recorder. An error here is ignored: the patrol is
    /// finished anyway.
    fn stop(&self) -> Result<()>;
}

/// A running patrol fed by a `LocationSource`. Thread-safe: fixes may arrive on any thread.
#[derive(uniffi::Object)]
pub struct PatrolRecorder {
    store: Arc<GridwalkStore>,
    patrol_id: String,
    /// The attached source; taken out by `finish` (which also breaks the source ↔ recorder
    /// reference cycle).
    source: Mutex<Option<Arc<dyn LocationSource>>>,
    finished: Mutex<bool>,
    kept: AtomicU32,
    skipped: AtomicU32,
}

impl PatrolRecorder {
    fn ensure_running(&self) -> Result<()> {
        if *self.finished.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(GridwalkError::from(gridwalk_core::Error::InvalidState {
                entity: "patrol",
                id: self.patrol_id.clone(),
                state: "finished".into(),
                action: "record a location",
            }));
        }
        Ok(())
    }

    fn count(&self, a: TrackAppend) -> TrackAppend {
        self.kept.fetch_add(a.kept, Ordering::Relaxed);
        self.skipped.fetch_add(a.skipped, Ordering::Relaxed);
        a
    }
}

#[uniffi::export]
impl PatrolRecorder {
    /// Id of the patrol being recorded.
    pub fn patrol_id(&self) -> String {
        self.patrol_id.clone()
    }

    /// Stores one fix. Returns whether it was kept (false: skipped as unusable).
    pub fn record(&self, fix: LocationFix) -> Result<bool> {
        Ok(self.record_batch(vec![fix])?.kept == 1)
    }

    /// Stores a batch of fixes in one write.
    pub fn record_batch(&self, fixes: Vec<LocationFix>) -> Result<TrackAppend> {
        self.ensure_running()?;
        let a = self.store.add_locations(self.patrol_id.clone(), fixes)?;
        Ok(self.count(a))
    }

    /// Fixes kept and skipped through this recorder so far.
    pub fn totals(&self) -> TrackAppend {
        TrackAppend {
            kept: self.kept.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }

    /// The patrol as it stands (distance and duration so far).
    pub fn patrol(&self) -> Result<Patrol> {
        self.store.get_patrol(self.patrol_id.clone())
    }

    /// Stops the source and ends the patrol now. Later `record` calls fail with
    /// `InvalidState`; calling `finish` again fails the same way.
    #[uniffi::method(default(notes = None))]
    pub fn finish(&self, notes: Option<String>) -> Result<Patrol> {
        {
            let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
            if *finished {
                drop(finished);
                return self.ensure_running().and_then(|_| self.patrol());
            }
            *finished = true;
        }
        let source = self.source.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(source) = source {
            if let Err(e) = source.stop() {
                tracing::warn!(patrol = %self.patrol_id, error = %e, "location source failed to stop");
            }
        }
        match self.store.stop_patrol(self.patrol_id.clone(), notes) {
            Ok(p) => Ok(p),
            Err(e) => {
                // Not ended: let the app try again (the fixes are all stored already).
                *self.finished.lock().unwrap_or_else(|p| p.into_inner()) = false;
                Err(e)
            }
        }
    }
}

#[uniffi::export]
impl GridwalkStore {
    /// Starts a patrol of `grid_code` now. Refused (`InvalidState`) while another one runs.
    pub fn start_patrol(&self, grid_code: String) -> Result<Patrol> {
        Ok(self.store()?.start_patrol(&grid_code)?.into())
    }

    /// Stores one GPS fix of a running patrol. Returns whether it was kept (false: skipped as
    /// unusable — impossible coordinates, a time in the future or before the start).
    pub fn add_location(
        &self,
        patrol_id: String,
        lat: f64,
        lng: f64,
        accuracy_m: Option<f64>,
        at_ms: i64,
    ) -> Result<bool> {
        let fix = LocationFix {
            lat,
            lng,
            accuracy_m,
            at_ms,
        };
        Ok(self.add_locations(patrol_id, vec![fix])?.kept == 1)
    }

    /// Stores a batch of GPS fixes of a running patrol in one write.
    pub fn add_locations(&self, patrol_id: String, fixes: Vec<LocationFix>) -> Result<TrackAppend> {
        let mut points = Vec::with_capacity(fixes.len());
        let mut unusable = 0usize;
        for f in fixes {
            // A timestamp outside chrono's range is as unusable as a bad coordinate: skip it
            // like the core skips those, rather than failing the whole batch.
            match f.to_core() {
                Ok(p) => points.push(p),
                Err(_) => unusable += 1,
            }
        }
        let (kept, skipped) = self.store()?.add_track_points(&patrol_id, &points)?;
        Ok(TrackAppend {
            kept: count(kept),
            skipped: count(skipped + unusable),
        })
    }

    /// Ends a patrol now and computes its distance and duration.
    #[uniffi::method(default(notes = None))]
    pub fn stop_patrol(&self, patrol_id: String, notes: Option<String>) -> Result<Patrol> {
        Ok(self
            .store()?
            .stop_patrol(&patrol_id, notes.as_deref())?
            .into())
    }

    /// Starts a patrol of `grid_code` and attaches `source` to it (see `LocationSource`).
    pub fn record_patrol(
        self: Arc<Self>,
        grid_code: String,
        source: Arc<dyn LocationSource>,
    ) -> Result<Arc<PatrolRecorder>> {
        let patrol = self.start_patrol(grid_code)?;
        self.attach_location_source(patrol.id, source)
    }

    /// Attaches `source` to a running patrol (e.g. the one `activePatrol()` returns after the
    /// app was restarted).
    pub fn attach_location_source(
        self: Arc<Self>,
        patrol_id: String,
        source: Arc<dyn LocationSource>,
    ) -> Result<Arc<PatrolRecorder>> {
        let patrol = self.get_patrol(patrol_id.clone())?;
        if patrol.ended_at_ms.is_some() {
            return Err(GridwalkError::from(gridwalk_core::Error::InvalidState {
                entity: "patrol",
                id: patrol_id,
                state: "finished".into(),
                action: "attach a location source",
            }));
        }
        let recorder = Arc::new(PatrolRecorder {
            store: self,
            patrol_id,
            source: Mutex::new(Some(source.clone())),
            finished: Mutex::new(false),
            kept: AtomicU32::new(0),
            skipped: AtomicU32::new(0),
        });
        if let Err(e) = source.start(recorder.clone()) {
            // The source never started: forget it so the recorder does not keep it alive.
            recorder
                .source
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            *recorder.finished.lock().unwrap_or_else(|p| p.into_inner()) = true;
            return Err(e);
        }
        Ok(recorder)
    }

    /// Records a whole patrol from a GPX file's bytes (start and end from its first and last
    /// fix).
    #[uniffi::method(default(notes = None))]
    pub fn import_gpx_patrol(
        &self,
        grid_code: String,
        gpx: Vec<u8>,
        notes: Option<String>,
    ) -> Result<Patrol> {
        Ok(self
            .store()?
            .import_gpx_patrol(&grid_code, &gpx, notes.as_deref())?
            .into())
    }

    /// The running patrol, if any.
    pub fn active_patrol(&self) -> Result<Option<Patrol>> {
        Ok(self.store()?.active_patrol()?.map(Into::into))
    }

    /// One patrol.
    pub fn get_patrol(&self, id: String) -> Result<Patrol> {
        Ok(self.store()?.patrol(&id)?.into())
    }

    /// The stored fixes of a patrol, in time order.
    pub fn track_of(&self, patrol_id: String) -> Result<Vec<LocationFix>> {
        Ok(self
            .store()?
            .track_of(&patrol_id)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Patrols started in `[from_ms, to_ms)`, newest first.
    pub fn patrols_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Patrol>> {
        let from = time::from_ms("from_ms", from_ms)?;
        let to = time::from_ms("to_ms", to_ms)?;
        if to < from {
            return Err(GridwalkError::invalid("to_ms", Code::Mismatch));
        }
        Ok(self
            .store()?
            .patrols_between(from, to)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
