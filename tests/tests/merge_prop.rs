//! Property test of the merge, end to end: random interleavings of edits, syncs and clock skews
//! (by days) across three devices and the real server. After everyone syncs, all devices and the
//! server hold the same values, and every acknowledged write either survives, was replaced by an
//! author who had seen it, or is named as the lost side of a conflict record.
//!
//! `PROPTEST_CASES` sets the number of cases (default 12; each case starts its own server).

use std::collections::{HashMap, HashSet};

use chrono::Duration as Days;
use gridwalk_core::sync::HttpOptions;
use gridwalk_core::*;
use gridwalk_e2e::*;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Step {
    /// Device edits a household's notes.
    HouseholdNotes {
        dev: usize,
        rec: usize,
    },
    /// Device edits a resident's phone.
    ResidentPhone {
        dev: usize,
        rec: usize,
    },
    /// Device edits a resident's notes.
    ResidentNotes {
        dev: usize,
        rec: usize,
    },
    Sync {
        dev: usize,
    },
    /// Device's wall clock moves to now + `days` (negative = behind).
    Skew {
        dev: usize,
        days: i64,
    },
}

const DEVICES: usize = 3;
const RECORDS: usize = 2;

fn step() -> impl Strategy<Value = Step> {
    let dev = 0..DEVICES;
    let rec = 0..RECORDS;
    prop_oneof![
        3 => (dev.clone(), rec.clone()).prop_map(|(dev, rec)| Step::HouseholdNotes { dev, rec }),
        2 => (dev.clone(), rec.clone()).prop_map(|(dev, rec)| Step::ResidentPhone { dev, rec }),
        2 => (dev.clone(), rec).prop_map(|(dev, rec)| Step::ResidentNotes { dev, rec }),
        3 => dev.clone().prop_map(|dev| Step::Sync { dev }),
        1 => (dev, -4i64..=4).prop_map(|(dev, days)| Step::Skew { dev, days }),
    ]
}

/// One acknowledged write: (entity, record id, field) = value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Write {
    entity: &'static str,
    id: String,
    field: &'static str,
    value: String,
}

fn field_value(s: &Store, entity: &str, id: &str, field: &str) -> Option<String> {
    match (entity, field) {
        ("household", "notes") => s.household(id).ok()?.notes,
        ("resident", "phone") => s.resident(id).ok()?.phone,
        ("resident", "notes") => s.resident(id).ok()?.notes,
        _ => None,
    }
}

fn snapshot(s: &Store, hs: &[String], rs: &[String]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for h in hs {
        out.push(field_value(s, "household", h, "notes"));
    }
    for r in rs {
        out.push(field_value(s, "resident", r, "phone"));
        out.push(field_value(s, "resident", r, "notes"));
    }
    out
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let srv = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let users = ["wangfang", "wangfang", "zhaomin"];
    // The last device pulls every field's clock, as phones from before the compact record
    // encoding do; the others pull compact records. Both must converge alike.
    let devs: Vec<Device> = (0..DEVICES)
        .map(|i| {
            let options = HttpOptions {
                compact_records: i + 1 < DEVICES,
                ..HttpOptions::default()
            };
            Device::login_with(dir.path(), &format!("d{i}"), &srv.url, users[i], options)
        })
        .collect();
    let mut hs = Vec::new();
    let mut rs = Vec::new();
    for i in 0..RECORDS {
        let h = devs[0]
            .store
            .add_household(&household(DEMO_GRID, &format!("{}", 201 + i)))
            .unwrap();
        let r = devs[0]
            .store
            .add_resident(&resident(&h.id, "马淑珍"))
            .unwrap();
        hs.push(h.id);
        rs.push(r.id);
    }
    for d in &devs {
        d.sync().unwrap();
    }

    // Every write's value is unique, so the value a device sees names the write it saw.
    let mut n = 0u32;
    let mut writes: Vec<Write> = Vec::new();
    let mut replaced_knowingly: HashSet<String> = HashSet::new();
    for st in steps {
        let (dev, entity, id, field) = match &st {
            Step::Sync { dev } => {
                devs[*dev].sync().unwrap();
                continue;
            }
            Step::Skew { dev, days } => {
                devs[*dev].skew(Days::days(*days));
                continue;
            }
            Step::HouseholdNotes { dev, rec } => (*dev, "household", hs[*rec].clone(), "notes"),
            Step::ResidentPhone { dev, rec } => (*dev, "resident", rs[*rec].clone(), "phone"),
            Step::ResidentNotes { dev, rec } => (*dev, "resident", rs[*rec].clone(), "notes"),
        };
        n += 1;
        let value = match field {
            "phone" => format!("1380000{n:04}"),
            _ => format!("备注{n}"),
        };
        let s = &devs[dev].store;
        if let Some(seen) = field_value(s, entity, &id, field) {
            replaced_knowingly.insert(seen);
        }
        let res = match (entity, field) {
            ("household", _) => s
                .update_household(
                    &id,
                    &HouseholdPatch {
                        notes: Some(Some(value.clone())),
                        ..Default::default()
                    },
                )
                .map(|_| ()),
            (_, "phone") => s
                .update_resident(
                    &id,
                    &ResidentPatch {
                        phone: Some(Some(value.clone())),
                        ..Default::default()
                    },
                )
                .map(|_| ()),
            _ => s
                .update_resident(
                    &id,
                    &ResidentPatch {
                        notes: Some(Some(value.clone())),
                        ..Default::default()
                    },
                )
                .map(|_| ()),
        };
        prop_assert!(res.is_ok(), "edit refused: {res:?}");
        writes.push(Write {
            entity,
            id,
            field,
            value,
        });
    }

    // A device whose clock ran more than `MAX_AHEAD_MS` ahead had its changes refused
    // (`clock_ahead`) and kept in "needs attention". The worker sets the time right, as the
    // reason asks; the next sync re-stamps those changes and pushes them.
    for d in &devs {
        d.skew(Days::zero());
    }
    // Everyone syncs until quiet: two rounds suffice (push all, then pull all).
    for _ in 0..2 {
        for d in &devs {
            d.sync().unwrap();
        }
    }
    let fresh = Device::login(dir.path(), "fresh", &srv.url, "zhaomin");
    fresh.sync().unwrap();

    // Convergence: every device and the server (seen through a fresh device) agree.
    let want = snapshot(&fresh.store, &hs, &rs);
    for d in &devs {
        prop_assert_eq!(
            &snapshot(&d.store, &hs, &rs),
            &want,
            "device {} differs",
            d.name
        );
        prop_assert_eq!(pending(&d.store), 0);
    }

    // No acknowledged write vanished without a trace.
    let conflicts = fresh.store.conflicts(false).unwrap();
    let lost: HashMap<(String, String), HashSet<String>> =
        conflicts.iter().fold(HashMap::new(), |mut m, c| {
            if let Value::String(v) = &c.lost_value {
                m.entry((c.entity_id.clone(), c.field.clone()))
                    .or_default()
                    .insert(v.clone());
            }
            m
        });
    for w in &writes {
        let now = field_value(&fresh.store, w.entity, &w.id, w.field);
        let survived = now.as_deref() == Some(w.value.as_str());
        let replaced = replaced_knowingly.contains(&w.value);
        let recorded = lost
            .get(&(w.id.clone(), w.field.to_string()))
            .is_some_and(|s| s.contains(&w.value));
        prop_assert!(
            survived || replaced || recorded,
            "write {:?} lost without a conflict record (now {:?}); conflicts: {}",
            w,
            now,
            json!(conflicts
                .iter()
                .map(|c| json!([c.entity_id, c.field, c.kept_value, c.lost_value]))
                .collect::<Vec<_>>())
        );
    }
    // Every device sees the same conflicts the server recorded.
    for d in &devs {
        prop_assert_eq!(d.store.conflicts(false).unwrap().len(), conflicts.len());
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn devices_and_server_converge_and_no_write_is_lost_silently(
        steps in prop::collection::vec(step(), 5..40)
    ) {
        run(steps)?;
    }
}
