//! Field-level last-writer-wins with conflict detection: the one merge both sides run.
//!
//! Every field of a household or resident carries the HLC stamp of the change that last set it
//! (`clocks`). An incoming value replaces the current one when its stamp is greater; stamps are
//! totally ordered (wall time, counter, node), so every replica that has seen the same changes
//! holds the same values, whatever order they arrived in.
//!
//! Last-writer-wins alone loses data silently. So the server also asks, per field, whether the
//! value that loses was one the winner's author *never saw*:
//! - the incoming value wins over a value its author had not seen (its `base` clock differs from
//!   the current clock): the current value is lost → conflict;
//! - the incoming value loses to a newer value: the incoming value is lost → conflict.
//!
//! Equal values never conflict; a sequential edit (base equals current clock) never conflicts.
//! Devices merge pulled records with [`merge_fields`] and `detect = false`: the server is the
//! one place conflicts are recorded, and they reach every device in the pull feed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field whose value one side never saw was overwritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    pub field: String,
    /// The value the record now holds.
    pub kept: Value,
    pub kept_hlc: String,
    /// The value that lost.
    pub lost: Value,
    pub lost_hlc: String,
}

/// One incoming field value with its stamp and (for pushed updates) the stamp it replaced.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub field: &'a str,
    pub value: &'a Value,
    pub hlc: &'a str,
    /// `Some(stamp)`: the author had seen the value stamped `stamp`. `None`: unknown.
    pub base: Option<&'a str>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeResult {
    /// Fields whose value or clock changed.
    pub changed: Vec<String>,
    pub conflicts: Vec<FieldConflict>,
}

/// The clock of `field` in `clocks`, falling back to `record_hlc` for a field set without one.
pub fn field_clock<'a>(
    data: &Map<String, Value>,
    clocks: &'a Map<String, Value>,
    record_hlc: &'a str,
    field: &str,
) -> Option<&'a str> {
    match clocks.get(field).and_then(Value::as_str) {
        Some(c) => Some(c),
        None if data.contains_key(field) => Some(record_hlc),
        None => None,
    }
}

/// Merges incoming field values into `data`/`clocks` (a record whose own stamp is `record_hlc`).
/// With `detect`, records a [`FieldConflict`] for every value lost that its overwriter never saw.
pub fn merge_fields<'a>(
    data: &mut Map<String, Value>,
    clocks: &mut Map<String, Value>,
    record_hlc: &str,
    incoming: impl IntoIterator<Item = Incoming<'a>>,
    detect: bool,
) -> MergeResult {
    let mut out = MergeResult::default();
    for inc in incoming {
        let current = field_clock(data, clocks, record_hlc, inc.field).map(str::to_string);
        let old = data.get(inc.field).cloned().unwrap_or(Value::Null);
        match current.as_deref() {
            Some(cur) if inc.hlc <= cur => {
                // Incoming loses (or is the same change again).
                if detect && inc.hlc < cur && &old != inc.value {
                    out.conflicts.push(FieldConflict {
                        field: inc.field.to_string(),
                        kept: old,
                        kept_hlc: cur.to_string(),
                        lost: inc.value.clone(),
                        lost_hlc: inc.hlc.to_string(),
                    });
                }
            }
            cur => {
                if detect {
                    if let Some(cur) = cur {
                        let saw_current = inc.base == Some(cur);
                        if !saw_current && &old != inc.value && !old.is_null() {
                            out.conflicts.push(FieldConflict {
                                field: inc.field.to_string(),
                                kept: inc.value.clone(),
                                kept_hlc: inc.hlc.to_string(),
                                lost: old,
                                lost_hlc: cur.to_string(),
                            });
                        }
                    }
                }
                data.insert(inc.field.to_string(), inc.value.clone());
                clocks.insert(inc.field.to_string(), Value::String(inc.hlc.to_string()));
                out.changed.push(inc.field.to_string());
            }
        }
    }
    out
}

/// Keeps `clocks` in the compact encoding when the record's own stamp moves from `old_hlc` to
/// `new_hlc`: a field without a clock has the record's stamp ([`field_clock`]), so every field of
/// `fields` that had none is first given `old_hlc` (when the stamp moves), then every clock
/// equal to `new_hlc` is left out. Reading the result with `new_hlc` gives every field exactly the
/// clock it had before (or was just given by a merge); a record written by one change ends with
/// no clock at all. Full maps (every field stamped, as older versions stored them) are accepted
/// and come out compact.
pub fn rebase_clocks<'a>(
    clocks: &mut Map<String, Value>,
    fields: impl IntoIterator<Item = &'a str>,
    old_hlc: &str,
    new_hlc: &str,
) {
    if old_hlc != new_hlc {
        for f in fields {
            if !clocks.contains_key(f) {
                clocks.insert(f.to_string(), Value::String(old_hlc.to_string()));
            }
        }
    }
    clocks.retain(|_, v| v.as_str() != Some(new_hlc));
}

/// Incoming values of a pushed change: every payload field stamped with the change's clock,
/// with its base clock when the device sent one.
pub fn incoming_from_change<'a>(
    payload: &'a Map<String, Value>,
    hlc: &'a str,
    base: Option<&'a Map<String, Value>>,
) -> impl Iterator<Item = Incoming<'a>> + 'a {
    payload.iter().map(move |(k, v)| Incoming {
        field: k,
        value: v,
        hlc,
        base: base.and_then(|b| b.get(k)).and_then(Value::as_str),
    })
}

/// Incoming values of a pulled record: each field with its own clock (or the record's).
pub fn incoming_from_record<'a>(
    data: &'a Map<String, Value>,
    clocks: &'a Map<String, Value>,
    record_hlc: &'a str,
) -> impl Iterator<Item = Incoming<'a>> + 'a {
    data.iter().map(move |(k, v)| Incoming {
        field: k,
        value: v,
        hlc: clocks.get(k).and_then(Value::as_str).unwrap_or(record_hlc),
        base: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn newer_wins_and_sequential_edit_does_not_conflict() {
        let mut data = obj(json!({"phone": "1", "room": "502"}));
        let mut clocks = obj(json!({"phone": "a1", "room": "a1"}));
        let payload = obj(json!({"phone": "2"}));
        let base = obj(json!({"phone": "a1"}));
        let r = merge_fields(
            &mut data,
            &mut clocks,
            "a1",
            incoming_from_change(&payload, "b2", Some(&base)),
            true,
        );
        assert_eq!(r.changed, vec!["phone"]);
        assert!(r.conflicts.is_empty());
        assert_eq!(data["phone"], json!("2"));
        assert_eq!(data["room"], json!("502"));
    }

    #[test]
    fn concurrent_edit_of_the_same_field_keeps_the_winner_and_records_the_loser() {
        let mut data = obj(json!({"phone": "from-b"}));
        let mut clocks = obj(json!({"phone": "b2"}));
        // The older edit arrives after the newer one: it loses.
        let payload = obj(json!({"phone": "from-a"}));
        let base = obj(json!({"phone": "a0"}));
        let r = merge_fields(
            &mut data,
            &mut clocks,
            "b2",
            incoming_from_change(&payload, "a1", Some(&base)),
            true,
        );
        assert!(r.changed.is_empty());
        assert_eq!(data["phone"], json!("from-b"));
        assert_eq!(r.conflicts.len(), 1);
        assert_eq!(r.conflicts[0].lost, json!("from-a"));

        // The newer edit arrives after an older one it never saw: the older value is recorded.
        let mut data = obj(json!({"phone": "from-a"}));
        let mut clocks = obj(json!({"phone": "a1"}));
        let payload = obj(json!({"phone": "from-b"}));
        let base = obj(json!({"phone": "a0"}));
        let r = merge_fields(
            &mut data,
            &mut clocks,
            "a1",
            incoming_from_change(&payload, "b2", Some(&base)),
            true,
        );
        assert_eq!(data["phone"], json!("from-b"));
        assert_eq!(r.conflicts[0].lost, json!("from-a"));
        assert_eq!(r.conflicts[0].kept, json!("from-b"));
    }

    #[test]
    fn replay_and_equal_values_are_quiet() {
        let mut data = obj(json!({"phone": "1"}));
        let mut clocks = obj(json!({"phone": "a1"}));
        let payload = obj(json!({"phone": "1"}));
        let r = merge_fields(
            &mut data,
            &mut clocks,
            "a1",
            incoming_from_change(&payload, "a1", None),
            true,
        );
        assert_eq!(r, MergeResult::default());
        let r = merge_fields(
            &mut data,
            &mut clocks,
            "a1",
            incoming_from_change(&payload, "c3", None),
            true,
        );
        assert!(r.conflicts.is_empty());
    }

    #[test]
    fn a_compact_record_merges_exactly_like_the_full_one() {
        let full = crate::ServerRecord {
            entity: "resident".into(),
            id: "r1".into(),
            rev: 7,
            hlc: "c3".into(),
            data: obj(json!({"phone": "srv", "room": "2", "notes": "n", "name": "x"})),
            clocks: obj(json!({"phone": "c3", "room": "a1", "notes": "c3", "name": "b2"})),
            extra: Map::new(),
        };
        let mut compact = full.clone();
        compact.compact_clocks();
        // The page bound counts the full form, whichever is stored or sent.
        let full_json = serde_json::to_string(&full.clocks).unwrap_or_default();
        assert_eq!(compact.full_clock_bytes(), full_json.len());
        assert_eq!(full.full_clock_bytes(), full_json.len());
        let mut expanded = compact.clone();
        expanded.full_clocks();
        assert_eq!(expanded, full);
        assert_eq!(compact.clocks, obj(json!({"room": "a1", "name": "b2"})));
        // Against several local states: older, newer and equal clocks per field.
        for (local_clocks, local_hlc) in [
            (
                json!({"phone": "b9", "room": "b1", "notes": "d1", "name": "a0"}),
                "d1",
            ),
            (json!({"phone": "c3", "room": "a1"}), "c3"),
            (json!({}), "a0"),
        ] {
            let run = |r: &crate::ServerRecord| {
                let mut data = obj(json!({"phone": "l", "room": "1", "notes": "m", "name": "y"}));
                let mut clocks = obj(local_clocks.clone());
                let res = merge_fields(
                    &mut data,
                    &mut clocks,
                    local_hlc,
                    incoming_from_record(&r.data, &r.clocks, &r.hlc),
                    false,
                );
                (data, clocks, res)
            };
            assert_eq!(run(&full), run(&compact));
        }
    }

    #[test]
    fn a_record_stored_compact_merges_exactly_like_the_full_one() {
        // The same incoming records merged into a record kept with every clock and into one kept
        // compact (rebased after every merge, its stamp the newest it has seen): every field ends
        // with the same value and the same clock, and the compact map holds only the odd ones.
        let fields = ["phone", "room", "notes", "name"];
        let steps = [
            (
                json!({"phone": "1", "room": "2", "notes": "n", "name": "x"}),
                json!({}),
                "a1",
            ),
            (json!({"phone": "2"}), json!({}), "b2"),
            (
                json!({"room": "3", "notes": "m"}),
                json!({"room": "a9"}),
                "c3",
            ),
            (json!({"phone": "old"}), json!({}), "a5"),
            (
                json!({"name": "y", "phone": "3"}),
                json!({"phone": "d1"}),
                "d4",
            ),
        ];
        let mut full = (Map::new(), Map::new(), "a1".to_string());
        let mut compact = (Map::new(), Map::new(), "a1".to_string());
        for (data, clocks, hlc) in steps {
            let (data, clocks) = (obj(data), obj(clocks));
            for (d, c, h) in [&mut full, &mut compact] {
                merge_fields(d, c, h, incoming_from_record(&data, &clocks, hlc), false);
            }
            full.2 = full.2.clone().max(hlc.to_string());
            let new_hlc = compact.2.clone().max(hlc.to_string());
            let keys: Vec<String> = compact.0.keys().cloned().collect();
            rebase_clocks(
                &mut compact.1,
                keys.iter().map(String::as_str),
                &compact.2,
                &new_hlc,
            );
            compact.2 = new_hlc;
            assert_eq!(full.0, compact.0);
            for f in fields {
                assert_eq!(
                    field_clock(&full.0, &full.1, &full.2, f),
                    field_clock(&compact.0, &compact.1, &compact.2, f),
                    "{f}"
                );
            }
        }
        assert!(compact.1.len() < full.1.len());
        assert!(compact
            .1
            .values()
            .all(|c| c.as_str() != Some(compact.2.as_str())));
    }

    #[test]
    fn pulled_records_merge_per_field() {
        let mut data = obj(json!({"phone": "local", "room": "1"}));
        let mut clocks = obj(json!({"phone": "b5", "room": "a1"}));
        let server = obj(json!({"phone": "srv", "room": "2"}));
        let sclocks = obj(json!({"phone": "b4", "room": "c1"}));
        merge_fields(
            &mut data,
            &mut clocks,
            "b5",
            incoming_from_record(&server, &sclocks, "c1"),
            false,
        );
        assert_eq!(data["phone"], json!("local"));
        assert_eq!(data["room"], json!("2"));
    }
}
