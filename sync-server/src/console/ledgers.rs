//! Ledgers (台账): the households and residents of a supervisor's scope, searchable and paged,
//! with ID numbers and phones masked ([`super::mask`]) unless one value is revealed with a
//! reason — which is written to the audit log first ([`super::audit`]).
//!
//! Search matches a name, an address fragment, or — for 4 or more digits — the end of an ID
//! number or phone (or all of it): a masked page never lets someone find a person by guessing
//! the middle digits of a number they may not see.

use gridwalk_domain::model::{
    CareTier, Gender, HousingType, RecordStatus, Relation, Residency, SpecialGroup,
};
use gridwalk_protocol::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::audit;
use super::data_store::{AuditDraft, UnitRow};
use super::mask;
use super::scope;
use crate::error::Result;
use crate::storage::{Principal, Storage, StoredRecord};

/// Largest page.
pub const MAX_PAGE: usize = 500;
/// Most characters of a reveal's reason.
pub const MAX_REASON_CHARS: usize = 200;

/// Query of a ledger page or export.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LedgerQuery {
    /// A grid, community or street code inside the caller's scope.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One household line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HouseholdRow {
    pub id: String,
    pub grid_code: String,
    pub grid_name: String,
    pub community: String,
    pub building: String,
    pub unit: Option<String>,
    pub floor: Option<i64>,
    pub room: Option<String>,
    pub address: String,
    pub housing_type: String,
    pub care_tier: String,
    pub care_tier_zh: String,
    pub status: String,
    pub residents: usize,
}

/// One resident line; `id_number` and `phone` are masked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResidentRow {
    pub id: String,
    pub household_id: String,
    pub grid_code: String,
    pub grid_name: String,
    pub address: String,
    pub name: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub relation: String,
    pub residency: String,
    pub special_groups: Vec<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub status: String,
}

/// A page of rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page<T> {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub rows: Vec<T>,
}

fn s<'a>(d: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    d.get(k).and_then(Value::as_str)
}

fn label<T: std::str::FromStr>(code: Option<&str>, zh: fn(T) -> &'static str) -> Option<String> {
    code.map(|c| {
        c.parse::<T>()
            .map_or_else(|_| c.to_string(), |v| zh(v).to_string())
    })
}

/// `幸福社区 3栋 2单元 502`.
pub fn address_of(d: &Map<String, Value>) -> String {
    ["community", "building", "unit", "room", "address_text"]
        .iter()
        .filter_map(|k| s(d, k))
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn household_row(h: &StoredRecord, units: &[UnitRow], residents: usize) -> HouseholdRow {
    let d = &h.data;
    let tier = s(d, "care_tier").unwrap_or("routine");
    HouseholdRow {
        id: h.id.clone(),
        grid_code: h.grid_code.clone(),
        grid_name: scope::unit_name(units, &h.grid_code),
        community: s(d, "community").unwrap_or("").into(),
        building: s(d, "building").unwrap_or("").into(),
        unit: s(d, "unit").map(Into::into),
        floor: d.get("floor").and_then(Value::as_i64),
        room: s(d, "room").map(Into::into),
        address: address_of(d),
        housing_type: label(s(d, "housing_type"), HousingType::label_zh).unwrap_or_default(),
        care_tier: tier.into(),
        care_tier_zh: label(Some(tier), CareTier::label_zh).unwrap_or_default(),
        status: s(d, "status").unwrap_or("active").into(),
        residents,
    }
}

fn resident_row(
    r: &StoredRecord,
    household: Option<&StoredRecord>,
    units: &[UnitRow],
) -> ResidentRow {
    let d = &r.data;
    ResidentRow {
        id: r.id.clone(),
        household_id: s(d, "household_id").unwrap_or("").into(),
        grid_code: r.grid_code.clone(),
        grid_name: scope::unit_name(units, &r.grid_code),
        address: household.map(|h| address_of(&h.data)).unwrap_or_default(),
        name: s(d, "name").unwrap_or("").into(),
        gender: label(s(d, "gender"), Gender::label_zh),
        birth_date: s(d, "birth_date").map(Into::into),
        relation: label(s(d, "relation"), Relation::label_zh).unwrap_or_default(),
        residency: label(s(d, "residency"), Residency::label_zh).unwrap_or_default(),
        special_groups: d
            .get("special_groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|g| label(Some(g), SpecialGroup::label_zh).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default(),
        // Masked here, at the one place a row is made: no page or answer sees the clear value.
        id_number: s(d, "id_number").map(mask::id_number),
        phone: s(d, "phone").map(mask::phone),
        status: label(
            Some(s(d, "status").unwrap_or("active")),
            RecordStatus::label_zh,
        )
        .unwrap_or_default(),
    }
}

/// Whether a search text matches a resident (by name, address or number ends) or a household
/// (by address).
fn matches(q: &str, name: &str, address: &str, numbers: &[Option<&str>]) -> bool {
    if name.contains(q) || address.contains(q) {
        return true;
    }
    let digits = q
        .chars()
        .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x');
    digits
        && q.len() >= 4
        && numbers
            .iter()
            .flatten()
            .any(|n| n.ends_with(&q.to_uppercase()) || *n == q)
}

/// The scope's records for one ledger request.
pub struct Ledger {
    pub units: Vec<UnitRow>,
    pub households: Vec<StoredRecord>,
    pub residents: Vec<StoredRecord>,
}

impl Ledger {
    /// Loads the households and residents under `query.unit` (or the whole scope).
    pub fn load(store: &dyn Storage, who: &Principal, unit: Option<&str>) -> Result<Ledger> {
        let units = store.units_in_scope(&who.grids)?;
        let grids = scope::grids_under(who, &units, unit);
        let mut households: Vec<StoredRecord> = store
            .records_in(&grids, "household", None)?
            .into_iter()
            .map(|a| a.record)
            .collect();
        households.sort_by(|a, b| {
            let key = |r: &StoredRecord| {
                (
                    r.grid_code.clone(),
                    address_of(&r.data),
                    r.data.get("floor").and_then(Value::as_i64),
                )
            };
            key(a).cmp(&key(b))
        });
        let residents = store
            .records_in(&grids, "resident", None)?
            .into_iter()
            .map(|a| a.record)
            .collect();
        Ok(Ledger {
            units,
            households,
            residents,
        })
    }

    fn household(&self, id: &str) -> Option<&StoredRecord> {
        self.households.iter().find(|h| h.id == id)
    }

    /// Household rows matching `q` (all without one).
    pub fn household_rows(&self, q: Option<&str>) -> Vec<HouseholdRow> {
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let mut counts: std::collections::HashMap<&str, usize> = Default::default();
        for r in &self.residents {
            if s(&r.data, "status").unwrap_or("active") == "active" {
                *counts
                    .entry(s(&r.data, "household_id").unwrap_or(""))
                    .or_default() += 1;
            }
        }
        self.households
            .iter()
            .filter(|h| q.is_none_or(|q| matches(q, "", &address_of(&h.data), &[])))
            .map(|h| {
                household_row(
                    h,
                    &self.units,
                    counts.get(h.id.as_str()).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Resident rows matching `q`, in household order.
    pub fn resident_rows(&self, q: Option<&str>) -> Vec<ResidentRow> {
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let order: std::collections::HashMap<&str, usize> = self
            .households
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.as_str(), i))
            .collect();
        let mut rs: Vec<&StoredRecord> = self
            .residents
            .iter()
            .filter(|r| {
                q.is_none_or(|q| {
                    let h = s(&r.data, "household_id").and_then(|id| self.household(id));
                    matches(
                        q,
                        s(&r.data, "name").unwrap_or(""),
                        &h.map(|h| address_of(&h.data)).unwrap_or_default(),
                        &[s(&r.data, "id_number"), s(&r.data, "phone")],
                    )
                })
            })
            .collect();
        rs.sort_by_key(|r| {
            (
                s(&r.data, "household_id")
                    .and_then(|h| order.get(h).copied())
                    .unwrap_or(usize::MAX),
                s(&r.data, "relation") != Some("head"),
                r.id.clone(),
            )
        });
        rs.into_iter()
            .map(|r| {
                let h = s(&r.data, "household_id").and_then(|id| self.household(id));
                resident_row(r, h, &self.units)
            })
            .collect()
    }
}

/// One page of `rows`.
pub fn page<T: Clone>(rows: Vec<T>, offset: Option<usize>, limit: Option<usize>) -> Page<T> {
    let total = rows.len();
    let offset = offset.unwrap_or(0).min(total);
    let limit = limit.unwrap_or(50).clamp(1, MAX_PAGE);
    Page {
        total,
        offset,
        limit,
        rows: rows.into_iter().skip(offset).take(limit).collect(),
    }
}

/// Why a reveal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevealRefusal {
    /// No such resident in the caller's scope (also when it exists elsewhere).
    NotFound,
    /// Only `id_number` and `phone` are masked.
    BadField,
    /// A reason is required (1–200 characters).
    ReasonRequired,
    /// The record holds no value in that field.
    Empty,
    /// Grid workers do not use the console.
    NotAllowed,
}

impl RevealRefusal {
    pub fn message(self) -> &'static str {
        match self {
            RevealRefusal::NotFound => "记录不存在 / no such record",
            RevealRefusal::BadField => {
                "只能查看身份证号或手机号 / only id_number or phone can be revealed"
            }
            RevealRefusal::ReasonRequired => {
                "请填写查看理由（1-200 字）/ a reason is required (1-200 characters)"
            }
            RevealRefusal::Empty => "该项为空 / the field is empty",
            RevealRefusal::NotAllowed => "无权查看 / not allowed",
        }
    }
}

/// A reason as stored: trimmed, 1–200 characters, no control characters.
pub fn clean_reason(reason: &str) -> Option<String> {
    let r: String = reason
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    (!r.is_empty() && r.chars().count() <= MAX_REASON_CHARS).then_some(r)
}

/// A revealed value and the audit entry that recorded it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Revealed {
    pub resident_id: String,
    pub field: String,
    pub value: String,
    pub audit_seq: i64,
}

/// Reveals one field of one resident: records the audit entry first, then answers the value.
pub fn reveal(
    store: &dyn Storage,
    who: &Principal,
    resident_id: &str,
    field: &str,
    reason: &str,
    now_ms: i64,
) -> Result<std::result::Result<Revealed, RevealRefusal>> {
    if !who.role.is_supervisor() {
        return Ok(Err(RevealRefusal::NotAllowed));
    }
    if !mask::MASKED_FIELDS.contains(&field) {
        return Ok(Err(RevealRefusal::BadField));
    }
    let Some(reason) = clean_reason(reason) else {
        return Ok(Err(RevealRefusal::ReasonRequired));
    };
    let Some(rec) = store.get_record(who, "resident", resident_id)? else {
        return Ok(Err(RevealRefusal::NotFound));
    };
    let Some(value) = rec
        .data
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(Err(RevealRefusal::Empty));
    };
    let username = store.user_info(&who.user_id)?.username;
    let entry = audit::record(
        store,
        &AuditDraft {
            at: now_ms,
            user_id: who.user_id.clone(),
            username,
            action: audit::ACTION_REVEAL.into(),
            entity: "resident".into(),
            record_id: rec.id.clone(),
            field: field.into(),
            reason,
        },
    )?;
    Ok(Ok(Revealed {
        resident_id: rec.id,
        field: field.into(),
        value,
        audit_seq: entry.seq,
    }))
}

/// Roles that may export a ledger unmasked (with a reason, audited): community and above. A
/// grid leader reveals one value at a time.
pub fn may_export_unmasked(role: Role) -> bool {
    matches!(role, Role::Community | Role::Street | Role::District)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_needs_four_trailing_digits() {
        let n = [Some("640323199001011234"), Some("13800138000")];
        assert!(matches("1234", "张三", "", &n));
        assert!(matches("8000", "张三", "", &n));
        assert!(
            !matches("0101", "张三", "", &n),
            "middle digits do not match"
        );
        assert!(!matches("234", "张三", "", &n), "too short");
        assert!(matches("640323199001011234", "", "", &n));
        assert!(matches("张", "张三", "", &n));
        assert!(matches("3栋", "", "幸福社区 3栋", &[]));
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert_eq!(clean_reason("  核实\n低保 ").as_deref(), Some("核实 低保"));
        assert!(clean_reason("   ").is_none());
        assert!(clean_reason(&"理".repeat(201)).is_none());
    }
}
