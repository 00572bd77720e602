//! Ledger import for the shells: options (dry run, target grid and community, area code), the
//! report with every reason of every refused row, the file of refused rows in the original's
//! format, the journal of past imports and the undo of one.
//!
//! Why the app needs all of it and not just "import": a clerk's first import is checked with a
//! dry run, the refused rows go back to the desk as a file they can fix and import again, and
//! an import that went wrong is undone before it syncs. The rules are the core's
//! (`core/src/import.rs`, `docs/ledger-columns.md`); this file only restates the records with
//! the FFI's conventions (`u32` counts, `*_ms` instants) and converts them exhaustively.

use gridwalk_core as core;

use crate::error::{Result, ValidationCode};
use crate::records::count;
use crate::store::GridwalkStore;
use crate::time::to_ms;

/// How to import a ledger.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportOptions {
    /// Target grid: rows go here unless a 网格 column names another grid the device knows.
    pub grid_code: String,
    /// Report exactly what would happen, and change nothing.
    #[uniffi(default)]
    pub dry_run: bool,
    /// Area code for 7-8 digit local landlines (`0953`); without it they are refused.
    #[uniffi(default)]
    pub area_code: Option<String>,
    /// Community for a sheet without a 社区 column; default: the target grid's community.
    #[uniffi(default)]
    pub community: Option<String>,
    /// The file's name, kept in the list of imports.
    #[uniffi(default)]
    pub file_name: Option<String>,
}

impl From<ImportOptions> for core::import::ImportOptions {
    fn from(o: ImportOptions) -> Self {
        let ImportOptions {
            grid_code,
            dry_run,
            area_code,
            community,
            file_name,
        } = o;
        core::import::ImportOptions {
            grid_code,
            dry_run,
            area_code,
            community,
            file_name,
        }
    }
}

/// A refused field of a rejected ledger row.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldError {
    pub field: String,
    pub code: ValidationCode,
    /// For `Duplicate`: the household already holding the value.
    pub existing_household_id: Option<String>,
}

/// What to write in a field, for the person fixing the row (the allowed values, or what to do);
/// fixed texts, never a cell's value.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldHint {
    pub field: String,
    pub zh: String,
    pub en: String,
}

/// A ledger row that was not imported (nothing of it was saved).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedRow {
    /// Line (CSV) or row (xlsx) number; the header is line 1.
    pub line: u32,
    /// Every reason, not only the first.
    pub errors: Vec<FieldError>,
    pub hints: Vec<FieldHint>,
    /// Every reason and hint as one line, Chinese first (what the rejected-rows file says).
    pub reason: String,
}

impl From<core::import::RejectedRow> for RejectedRow {
    fn from(row: core::import::RejectedRow) -> Self {
        let reason = row.reason();
        let core::import::RejectedRow {
            line,
            errors,
            hints,
        } = row;
        RejectedRow {
            line: count(line),
            errors: errors
                .into_iter()
                .map(|e| FieldError {
                    field: e.field,
                    code: e.code.into(),
                    existing_household_id: e.existing_household_id,
                })
                .collect(),
            hints: hints
                .into_iter()
                .map(|h| FieldHint {
                    field: h.field,
                    zh: h.zh,
                    en: h.en,
                })
                .collect(),
            reason,
        }
    }
}

/// What a ledger import did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// `utf-8`, `gbk` or `xlsx`.
    pub encoding: String,
    /// Data rows read (blank rows not counted).
    pub rows_total: u32,
    /// Rows imported: created, updated or already up to date.
    pub rows_accepted: u32,
    pub households_created: u32,
    /// Households already on the device (same address) that rows joined.
    pub households_matched: u32,
    /// Households already on the device whose fields the sheet changed.
    pub households_updated: u32,
    pub residents_created: u32,
    /// Residents already on the device whose fields the sheet changed (one edit each).
    pub residents_updated: u32,
    /// Residents already on the device exactly as the sheet says.
    pub residents_unchanged: u32,
    /// Refused rows, each with every reason.
    pub rejected: Vec<RejectedRow>,
    /// Column headers that were not understood.
    pub ignored_columns: Vec<String>,
    /// Blank cells filled from the row above (merged cells).
    pub filled_cells: u32,
    /// 15-digit ID numbers converted to 18 digits.
    pub ids_converted: u32,
    /// Rows whose notes got what has no field of its own (desk words, more phones, …).
    pub rows_with_notes: u32,
    /// Nothing was written.
    pub dry_run: bool,
    /// Id to undo this import with (`undoImport`); absent when nothing changed or in a dry run.
    pub import_id: Option<String>,
}

impl From<core::import::ImportReport> for ImportReport {
    fn from(r: core::import::ImportReport) -> Self {
        let core::import::ImportReport {
            encoding,
            rows_total,
            rows_accepted,
            households_created,
            households_matched,
            households_updated,
            residents_created,
            residents_updated,
            residents_unchanged,
            rejected,
            ignored_columns,
            filled_cells,
            ids_converted,
            rows_with_notes,
            dry_run,
            import_id,
        } = r;
        ImportReport {
            encoding,
            rows_total: count(rows_total),
            rows_accepted: count(rows_accepted),
            households_created: count(households_created),
            households_matched: count(households_matched),
            households_updated: count(households_updated),
            residents_created: count(residents_created),
            residents_updated: count(residents_updated),
            residents_unchanged: count(residents_unchanged),
            rejected: rejected.into_iter().map(Into::into).collect(),
            ignored_columns,
            filled_cells: count(filled_cells),
            ids_converted: count(ids_converted),
            rows_with_notes: count(rows_with_notes),
            dry_run,
            import_id,
        }
    }
}

/// The refused rows as a file to hand back to the desk: the original's columns plus a reason
/// column, in the original's format (GBK CSV stays GBK; UTF-8 CSV and .xlsx give UTF-8 CSV with
/// a BOM). Fixed and imported again, the reason column is ignored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedFile {
    pub bytes: Vec<u8>,
    /// `gbk` or `utf-8`.
    pub encoding: String,
    /// Always `csv`: the extension to save it under.
    pub extension: String,
}

/// The report and, when rows were refused, the file of refused rows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportOutcome {
    pub report: ImportReport,
    pub rejected_file: Option<RejectedFile>,
}

impl From<core::import::ImportOutcome> for ImportOutcome {
    fn from(o: core::import::ImportOutcome) -> Self {
        let core::import::ImportOutcome {
            report,
            rejected_file,
        } = o;
        ImportOutcome {
            report: report.into(),
            rejected_file: rejected_file.map(|f| RejectedFile {
                bytes: f.bytes,
                encoding: f.encoding.to_string(),
                extension: "csv".into(),
            }),
        }
    }
}

/// One past import, from the store's journal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerImport {
    pub id: String,
    pub grid_code: String,
    pub file_name: Option<String>,
    pub imported_at_ms: i64,
    pub rows_accepted: u32,
    pub rows_rejected: u32,
    /// Records the import created.
    pub created: u32,
    /// Records the import edited.
    pub updated: u32,
    /// When it was undone; absent while it stands.
    pub undone_at_ms: Option<i64>,
}

impl From<core::import::LedgerImport> for LedgerImport {
    fn from(i: core::import::LedgerImport) -> Self {
        let core::import::LedgerImport {
            id,
            grid_code,
            file_name,
            imported_at,
            rows_accepted,
            rows_rejected,
            created,
            updated,
            undone_at,
        } = i;
        LedgerImport {
            id,
            grid_code,
            file_name,
            imported_at_ms: to_ms(imported_at),
            rows_accepted: count(rows_accepted),
            rows_rejected: count(rows_rejected),
            created: count(created),
            updated: count(updated),
            undone_at_ms: undone_at.map(to_ms),
        }
    }
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UndoReport {
    pub import_id: String,
    pub households_removed: u32,
    pub residents_removed: u32,
    pub households_restored: u32,
    pub residents_restored: u32,
    /// Unsent changes withdrawn (they will never be sent).
    pub changes_withdrawn: u32,
}

impl From<core::import::UndoReport> for UndoReport {
    fn from(u: core::import::UndoReport) -> Self {
        let core::import::UndoReport {
            import_id,
            households_removed,
            residents_removed,
            households_restored,
            residents_restored,
            changes_withdrawn,
        } = u;
        UndoReport {
            import_id,
            households_removed: count(households_removed),
            residents_removed: count(residents_removed),
            households_restored: count(households_restored),
            residents_restored: count(residents_restored),
            changes_withdrawn: count(changes_withdrawn),
        }
    }
}

#[uniffi::export]
impl GridwalkStore {
    /// Imports a ledger (CSV in UTF-8 or GBK, or .xlsx) into `grid_code`. Rows that fail
    /// validation are reported and skipped, each with every reason; the rest is saved.
    /// (`importLedgerWith` adds a dry run, the community, the area code and the refused rows'
    /// file.)
    pub fn import_ledger(&self, bytes: Vec<u8>, grid_code: String) -> Result<ImportReport> {
        Ok(self.store()?.import_ledger(&bytes, &grid_code)?.into())
    }

    /// Imports a ledger with options. A re-import of the same file changes nothing; an updated
    /// ledger edits what changed. In a dry run the report is exact and nothing is written.
    /// The outcome carries the refused rows as a file in the original's format.
    pub fn import_ledger_with(
        &self,
        bytes: Vec<u8>,
        options: ImportOptions,
    ) -> Result<ImportOutcome> {
        Ok(self
            .store()?
            .import_ledger_with(&bytes, &options.into())?
            .into())
    }

    /// Past imports that changed something, newest first (undone ones too, with their time).
    pub fn ledger_imports(&self) -> Result<Vec<LedgerImport>> {
        Ok(self
            .store()?
            .ledger_imports()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Undoes an import while none of its changes has left the device: removes what it
    /// created, restores what it edited, withdraws its unsent changes. `InvalidState` once any
    /// of them was sent or later work builds on them (then nothing changes); `NotFound` for an
    /// unknown id.
    pub fn undo_import(&self, import_id: String) -> Result<UndoReport> {
        Ok(self.store()?.undo_import(&import_id)?.into())
    }
}
