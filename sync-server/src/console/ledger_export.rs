//! Ledger exports (台账导出) per grid, community or street as CSV or .xlsx, written by
//! `gridwalk-sheet` (the phone's exports use the same writers): ID numbers, phones, rooms and
//! units are text cells, so Excel keeps every digit and leading zero.
//!
//! Masked by default. An unmasked export is allowed to community, street and district roles
//! only, needs a reason, and is itself an audited reveal (one audit entry naming the unit, the
//! ledger and both fields) written before a byte of the file is produced.

use gridwalk_sheet::{Cell, Sheet, SheetFormat};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::audit;
use super::data_store::AuditDraft;
use super::ledgers::{self, Ledger};
use super::mask;
use crate::error::Result;
use crate::storage::{Principal, Storage};

/// Which ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Households,
    Residents,
}

impl LedgerKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            LedgerKind::Households => "房屋台账",
            LedgerKind::Residents => "人口台账",
        }
    }
}

/// Why an export was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRefusal {
    /// The role may not export unmasked.
    NotAllowed,
    /// An unmasked export needs a reason.
    ReasonRequired,
}

const HOUSEHOLD_HEADERS: &[&str] = &[
    "编号",
    "网格",
    "社区",
    "楼栋",
    "单元",
    "楼层",
    "房号",
    "详细地址",
    "住房类型",
    "关怀等级",
    "在册人数",
];
const RESIDENT_HEADERS: &[&str] = &[
    "编号",
    "户编号",
    "网格",
    "住址",
    "姓名",
    "身份证号",
    "手机号",
    "性别",
    "出生日期",
    "与户主关系",
    "户籍类型",
    "特殊人群",
    "状态",
];

fn text(d: &Map<String, Value>, k: &str) -> Option<String> {
    d.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The sheet of a ledger; `unmasked` writes ID numbers and phones in clear.
pub fn sheet(ledger: &Ledger, kind: LedgerKind, q: Option<&str>, unmasked: bool) -> Sheet {
    let (headers, rows): (&[&str], Vec<Vec<Cell>>) = match kind {
        LedgerKind::Households => (
            HOUSEHOLD_HEADERS,
            ledger
                .household_rows(q)
                .into_iter()
                .map(|h| {
                    vec![
                        Cell::text(h.id),
                        Cell::text(h.grid_name),
                        Cell::text(h.community),
                        Cell::text(h.building),
                        Cell::opt_code(h.unit),
                        Cell::opt_number(h.floor.map(|f| f as f64)),
                        Cell::opt_code(h.room),
                        Cell::text(h.address),
                        Cell::text(h.housing_type),
                        Cell::text(h.care_tier_zh),
                        Cell::Number(h.residents as f64),
                    ]
                })
                .collect(),
        ),
        LedgerKind::Residents => (
            RESIDENT_HEADERS,
            ledger
                .resident_rows(q)
                .into_iter()
                .map(|r| {
                    // Rows are masked when made; the clear values come from the record itself.
                    let (id_number, phone) = if unmasked {
                        let rec = ledger.residents.iter().find(|x| x.id == r.id);
                        (
                            rec.and_then(|x| text(&x.data, "id_number")),
                            rec.and_then(|x| text(&x.data, "phone")),
                        )
                    } else {
                        (r.id_number, r.phone)
                    };
                    vec![
                        Cell::text(r.id),
                        Cell::text(r.household_id),
                        Cell::text(r.grid_name),
                        Cell::text(r.address),
                        Cell::text(r.name),
                        Cell::opt_code(id_number),
                        Cell::opt_code(phone),
                        Cell::opt_text(r.gender),
                        Cell::opt_text(r.birth_date),
                        Cell::text(r.relation),
                        Cell::text(r.residency),
                        Cell::text(r.special_groups.join("、")),
                        Cell::text(r.status),
                    ]
                })
                .collect(),
        ),
    };
    Sheet {
        name: kind.label_zh().into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

/// A finished export file.
pub struct ExportFile {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportSpec<'a> {
    pub kind: LedgerKind,
    /// A grid, community or street of the caller's scope (all of it without one).
    pub unit: Option<&'a str>,
    pub q: Option<&'a str>,
    pub format: SheetFormat,
    /// Asks for clear values: why (audited before the file is made).
    pub unmasked_reason: Option<&'a str>,
}

/// Builds an export for the caller.
pub fn export(
    store: &dyn Storage,
    who: &Principal,
    spec: ExportSpec<'_>,
    now_ms: i64,
) -> Result<std::result::Result<ExportFile, ExportRefusal>> {
    let ExportSpec {
        kind,
        unit,
        q,
        format,
        unmasked_reason,
    } = spec;
    let unmasked = unmasked_reason.is_some();
    if unmasked && !ledgers::may_export_unmasked(who.role) {
        return Ok(Err(ExportRefusal::NotAllowed));
    }
    let reason = match unmasked_reason {
        Some(r) => match ledgers::clean_reason(r) {
            Some(r) => Some(r),
            None => return Ok(Err(ExportRefusal::ReasonRequired)),
        },
        None => None,
    };
    let ledger = Ledger::load(store, who, unit)?;
    let scope_code = unit
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(&who.org_code)
        .to_string();
    if let Some(reason) = reason {
        let username = store.user_info(&who.user_id)?.username;
        audit::record(
            store,
            &AuditDraft {
                at: now_ms,
                user_id: who.user_id.clone(),
                username,
                action: audit::ACTION_EXPORT_UNMASKED.into(),
                entity: "ledger".into(),
                record_id: format!(
                    "{}:{}",
                    match kind {
                        LedgerKind::Households => "households",
                        LedgerKind::Residents => "residents",
                    },
                    scope_code
                ),
                field: mask::MASKED_FIELDS.join(","),
                reason,
            },
        )?;
    }
    let sheet = sheet(&ledger, kind, q, unmasked);
    let mut bytes = Vec::new();
    gridwalk_sheet::write_sheet(&mut bytes, &sheet, format).map_err(|e| match e {
        gridwalk_sheet::Error::Io(io) => crate::error::Error::Io(io),
        gridwalk_sheet::Error::Format { what, .. } => crate::error::Error::invalid("export", what),
    })?;
    let content_type = match format {
        SheetFormat::Csv => "text/csv; charset=utf-8",
        SheetFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    Ok(Ok(ExportFile {
        file_name: format!(
            "{}-{}{}.{}",
            kind.label_zh(),
            scope_code,
            if unmasked { "-明文" } else { "" },
            format.extension()
        ),
        content_type,
        bytes,
    }))
}
