//! Reading and writing the community desk's household ledger (台账).
//!
//! The desk keeps its ledger in Excel, one row per resident, and hands it to the grid worker as
//! a `.xlsx` workbook or a CSV file. This module turns those bytes into typed
//! [`HouseholdInput`] / [`ResidentInput`] values and writes households and residents back out as
//! CSV that Excel opens. It only parses and formats: it never touches the database. The importer
//! (a separate module) groups the rows into households with [`household_key`], validates ID
//! numbers and phones, finds duplicates and inserts.
//!
//! Why it looks the way it does:
//!
//! - **Encodings.** Excel on Chinese Windows saves "CSV" in the ANSI code page, which is GBK;
//!   newer Excel offers "CSV UTF-8", which starts with a byte-order mark. [`decode_text`]
//!   accepts both (GBK is decoded as GB18030, its superset). Exports are UTF-8 *with* a BOM:
//!   without it Excel reads UTF-8 as GBK and the worker sees mojibake.
//! - **Desk habits.** Headers come in Chinese or English and in several spellings (楼栋/楼号,
//!   房号/门牌号); a title row above the headers, merged address cells spanning a family's rows,
//!   `2024/1/5` dates, `5楼` and `B1` floors and relation words from the household register
//!   (本人, 妻, 长子) are all normal, so they are all accepted.
//! - **Every error of a row at once.** A rejected row lists all of its bad fields, so the desk
//!   can fix its sheet in one pass instead of one re-import per mistake.
//! - **No personal data in errors.** Cells hold ID numbers, phones, names and special-group
//!   membership. Error values ([`RowError`], [`Error::Format`]) carry line numbers, field names
//!   and [`Code`]s only — never a cell's content — because they end up in logs, screenshots and
//!   support chats. Errors of the CSV and xlsx libraries are reduced to a category for the same
//!   reason. Unknown *header* texts are reported, since headers are not personal data.
//! - **Excel formulas.** A cell starting with `=`, `+`, `-` or `@` is run as a formula when the
//!   export is opened in Excel (CSV injection). Exported text that looks like that is prefixed
//!   with `'`, and the parser removes that prefix again, so exports still re-import unchanged.

use std::io::Cursor;

use calamine::{Cell, Data, DataRef, Range, Reader, Xlsx, XlsxError};
use chrono::NaiveDate;

use crate::error::{Code, Error, ValidationError};
use crate::model::{
    Address, CareTier, Gender, GeoPoint, Household, HouseholdInput, HousingType, Relation,
    Residency, Resident, ResidentInput, SpecialGroup,
};

/// The container of a ledger file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerFormat {
    /// Comma-separated text, UTF-8 or GBK.
    Csv,
    /// An Excel 2007+ workbook (a zip container).
    Xlsx,
}

/// Tells an xlsx workbook (a zip file) from CSV text by its first bytes.
pub fn detect_format(bytes: &[u8]) -> LedgerFormat {
    if bytes.starts_with(b"PK\x03\x04") {
        LedgerFormat::Xlsx
    } else {
        LedgerFormat::Csv
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// OLE2 compound file: a legacy `.xls` workbook, which we do not read.
const OLE2_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Decodes CSV bytes: UTF-8 (with or without BOM, which is removed) → `"utf-8"`; anything else
/// is decoded as GB18030, the superset of GBK that Excel on Chinese Windows writes → `"gbk"`.
///
/// Never fails: bytes that are not GB18030 either become U+FFFD, which later shows up as a
/// missing column or an invalid field value.
pub fn decode_text(bytes: &[u8]) -> (String, &'static str) {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        return (String::from_utf8_lossy(rest).into_owned(), "utf-8");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), "utf-8"),
        Err(_) => {
            let (text, _had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            (text.into_owned(), "gbk")
        }
    }
}

/// A sheet of text cells, format-independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The first non-empty row, trimmed.
    pub headers: Vec<String>,
    /// The following non-empty rows: (1-based line of a CSV file or row of the worksheet, cells).
    /// Cells are trimmed; rows may be shorter or longer than `headers`.
    pub rows: Vec<(usize, Vec<String>)>,
    /// `"utf-8"` or `"gbk"` for CSV, `"xlsx"` for a workbook.
    pub encoding: &'static str,
}

/// Reads a CSV file or the first worksheet of an xlsx workbook into text cells.
///
/// Empty rows are skipped. In a workbook, integral numbers are written without a decimal part
/// (a phone typed as a number reads `13800138000`), date cells as `YYYY-MM-DD`, and a merged
/// cell's value is repeated in every cell of the merged area (desks merge the address cells of
/// one household's rows).
pub fn read_table(bytes: &[u8]) -> Result<Table, Error> {
    match detect_format(bytes) {
        // The workbook reader (calamine) can panic on a malformed file (its cell-reference
        // arithmetic overflows in debug builds): a bad file is an error, never a crash.
        LedgerFormat::Xlsx => std::panic::catch_unwind(|| read_xlsx(bytes)).unwrap_or_else(|_| {
            Err(Error::Format {
                what: "xlsx",
                detail: "unreadable workbook content".into(),
            })
        }),
        LedgerFormat::Csv if bytes.starts_with(OLE2_MAGIC) => Err(Error::Format {
            what: "xlsx",
            detail: "legacy .xls workbook (Excel 97-2003); save it as .xlsx or CSV".into(),
        }),
        LedgerFormat::Csv => read_csv(bytes),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Table, Error> {
    let (text, encoding) = decode_text(bytes);
    // Excel writes CRLF; the csv crate counts a CRLF record's line one too low
    // (BurntSushi/rust-csv#395), which would send a desk to the wrong row. Line endings carry
    // no data here, so normalise them (a quoted multi-line cell keeps its line break as LF).
    // A lone CR (old Mac "CSV") ends a record without counting a line: it becomes LF too.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut lines = Vec::new();
    let mut count = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                count += 1;
                let line = record
                    .position()
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or(count);
                lines.push((line, record.iter().map(clean_cell).collect::<Vec<_>>()));
            }
            Ok(false) => break,
            Err(e) => {
                // The library's message can quote the input; keep only the position.
                let detail = match e.position() {
                    Some(p) => format!("unreadable CSV at line {}", p.line()),
                    None => "unreadable CSV".to_owned(),
                };
                return Err(Error::Format {
                    what: "csv",
                    detail,
                });
            }
        }
    }
    into_table(lines, encoding, "csv")
}

/// Largest area (rows × columns between the outermost filled cells) of a worksheet read. A
/// ledger is thousands of rows of a few dozen columns; the area becomes a dense grid, so two
/// filled cells far apart (`A1` and `XFD1048576`, a 300-byte file) would otherwise ask for
/// hundreds of GiB and kill the app.
const MAX_XLSX_CELLS: u64 = 2_000_000;

/// The filled cells of the first worksheet as a dense range, refused before allocation when
/// their area (or their count: a cell may repeat) passes [`MAX_XLSX_CELLS`].
fn first_worksheet(workbook: &mut Xlsx<Cursor<&[u8]>>) -> Result<Range<Data>, Error> {
    let Some(name) = workbook.sheet_names().first().cloned() else {
        return Err(Error::Format {
            what: "xlsx",
            detail: "workbook has no worksheet".into(),
        });
    };
    let too_large = || {
        Error::Format {
        what: "xlsx",
        detail: format!(
            "worksheet too large: its filled cells span more than {MAX_XLSX_CELLS} cells (delete cells outside the table)"
        ),
    }
    };
    let mut reader = workbook.worksheet_cells_reader(&name).map_err(xlsx_error)?;
    let mut cells = Vec::new();
    let (mut top, mut bottom, mut left, mut right) = (u32::MAX, 0, u32::MAX, 0);
    while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
        if *cell.get_value() == DataRef::Empty {
            continue;
        }
        let (r, c) = cell.get_position();
        (top, bottom, left, right) = (top.min(r), bottom.max(r), left.min(c), right.max(c));
        let area = (u64::from(bottom - top) + 1) * (u64::from(right - left) + 1);
        if area > MAX_XLSX_CELLS || cells.len() as u64 >= MAX_XLSX_CELLS {
            return Err(too_large());
        }
        cells.push(Cell::new((r, c), Data::from(cell.get_value().clone())));
    }
    Ok(Range::from_sparse(cells))
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, Error> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let range = first_worksheet(&mut workbook)?;
    let merged = workbook.merge_cells_by_sheet_id(0).map_err(xlsx_error)?;

    let (start_row, start_col) = range.start().unwrap_or((0, 0));
    let (start_row, start_col) = (start_row as usize, start_col as usize);
    let mut grid: Vec<Vec<String>> = range
        .rows()
        .map(|row| row.iter().map(render_cell).collect())
        .collect();

    // Repeat each merged area's value (held by its top-left cell) in all of its cells.
    for area in &merged {
        let (r0, c0) = (area.start.0 as usize, area.start.1 as usize);
        let (r1, c1) = (area.end.0 as usize, area.end.1 as usize);
        let (Some(r0), Some(c0)) = (r0.checked_sub(start_row), c0.checked_sub(start_col)) else {
            continue;
        };
        let Some(value) = grid.get(r0).and_then(|row| row.get(c0)).cloned() else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        for r in r0..=r1.saturating_sub(start_row) {
            let Some(row) = grid.get_mut(r) else { break };
            for c in c0..=c1.saturating_sub(start_col) {
                match row.get_mut(c) {
                    Some(cell) if cell.is_empty() => cell.clone_from(&value),
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }

    let lines = grid
        .into_iter()
        .enumerate()
        .map(|(i, cells)| (start_row + i + 1, cells))
        .collect();
    into_table(lines, "xlsx", "xlsx")
}

/// Describes an xlsx failure by category: several of the library's messages quote cell content.
fn xlsx_error(e: XlsxError) -> Error {
    let detail = match e {
        XlsxError::Zip(_) | XlsxError::Io(_) => "not a readable xlsx (zip) file",
        XlsxError::Password => "workbook is password-protected",
        XlsxError::FileNotFound(_) | XlsxError::RelationshipNotFound => {
            "workbook is missing one of its parts"
        }
        XlsxError::WorksheetNotFound(_) | XlsxError::NotAWorksheet(_) => {
            "first sheet is not a worksheet"
        }
        XlsxError::Xml(_) | XlsxError::XmlAttr(_) | XlsxError::XmlEof(_) => {
            "malformed XML inside the workbook"
        }
        _ => "unreadable workbook content",
    };
    Error::Format {
        what: "xlsx",
        detail: detail.into(),
    }
}

/// Renders a worksheet cell as the text a desk worker sees.
fn render_cell(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => clean_cell(s),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => render_number(*f),
        Data::Bool(b) => b.to_string().to_uppercase(),
        Data::DateTime(dt) if dt.is_duration() => render_number(dt.as_f64()),
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _ms) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => clean_cell(s),
        Data::Error(e) => e.to_string(),
    }
}

/// Integral floats without `.0` and never in scientific notation (phones and IDs typed as
/// numbers). Numbers over 15 digits have already lost precision inside Excel; nothing to save.
fn render_number(f: f64) -> String {
    if f == 0.0 {
        "0".to_owned()
    } else if f.is_finite() && f.fract() == 0.0 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

fn clean_cell(s: &str) -> String {
    s.trim().to_owned()
}

fn into_table(
    lines: Vec<(usize, Vec<String>)>,
    encoding: &'static str,
    what: &'static str,
) -> Result<Table, Error> {
    let mut lines = lines
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    let Some((_, headers)) = lines.next() else {
        return Err(Error::Format {
            what,
            detail: "file has no rows".into(),
        });
    };
    Ok(Table {
        headers,
        rows: lines.collect(),
        encoding,
    })
}

/// A ledger column the parser understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Community,
    Building,
    Unit,
    Floor,
    Room,
    AddressText,
    HousingType,
    CareTier,
    Tags,
    Lat,
    Lng,
    HouseholdNotes,
    Name,
    IdNumber,
    Phone,
    Gender,
    BirthDate,
    Relation,
    Residency,
    SpecialGroups,
    MovedInOn,
    ResidentNotes,
}

impl Column {
    /// Every column, in export order.
    pub const ALL: &'static [Column] = &[
        Column::Community,
        Column::Building,
        Column::Unit,
        Column::Floor,
        Column::Room,
        Column::AddressText,
        Column::HousingType,
        Column::CareTier,
        Column::Tags,
        Column::Lat,
        Column::Lng,
        Column::HouseholdNotes,
        Column::Name,
        Column::IdNumber,
        Column::Phone,
        Column::Gender,
        Column::BirthDate,
        Column::Relation,
        Column::Residency,
        Column::SpecialGroups,
        Column::MovedInOn,
        Column::ResidentNotes,
    ];

    /// The Chinese header written on export (and accepted on import).
    pub fn header_zh(self) -> &'static str {
        match self {
            Column::Community => "社区",
            Column::Building => "楼栋",
            Column::Unit => "单元",
            Column::Floor => "楼层",
            Column::Room => "房号",
            Column::AddressText => "详细地址",
            Column::HousingType => "住房类型",
            Column::CareTier => "关爱等级",
            Column::Tags => "标签",
            Column::Lat => "纬度",
            Column::Lng => "经度",
            Column::HouseholdNotes => "户备注",
            Column::Name => "姓名",
            Column::IdNumber => "身份证号",
            Column::Phone => "联系电话",
            Column::Gender => "性别",
            Column::BirthDate => "出生日期",
            Column::Relation => "与户主关系",
            Column::Residency => "户籍类型",
            Column::SpecialGroups => "特殊人群",
            Column::MovedInOn => "迁入日期",
            Column::ResidentNotes => "备注",
        }
    }

    /// The English header accepted on import.
    pub fn header_en(self) -> &'static str {
        match self {
            Column::Community => "community",
            Column::Building => "building",
            Column::Unit => "unit",
            Column::Floor => "floor",
            Column::Room => "room",
            Column::AddressText => "address",
            Column::HousingType => "housing_type",
            Column::CareTier => "care_tier",
            Column::Tags => "tags",
            Column::Lat => "lat",
            Column::Lng => "lng",
            Column::HouseholdNotes => "household_notes",
            Column::Name => "name",
            Column::IdNumber => "id_number",
            Column::Phone => "phone",
            Column::Gender => "gender",
            Column::BirthDate => "birth_date",
            Column::Relation => "relation",
            Column::Residency => "residency",
            Column::SpecialGroups => "special_groups",
            Column::MovedInOn => "moved_in_on",
            Column::ResidentNotes => "notes",
        }
    }

    /// Further spellings seen in desk ledgers, besides [`Self::header_zh`] and [`Self::header_en`].
    fn other_headers(self) -> &'static [&'static str] {
        match self {
            Column::Community => &["村", "社区/村", "村/社区", "所属社区", "社区名称"],
            Column::Building => &["楼号", "栋", "楼栋号", "组", "村民小组"],
            Column::Unit => &["单元号"],
            Column::Floor => &["层"],
            Column::Room => &["门牌号", "房间号", "室"],
            Column::AddressText => &["地址", "住址"],
            Column::HousingType => &["房屋类型"],
            Column::CareTier => &["户类"],
            Column::Tags => &[],
            Column::Lat => &["latitude"],
            Column::Lng => &["longitude", "lon"],
            Column::HouseholdNotes => &[],
            Column::Name => &[],
            Column::IdNumber => &["公民身份号码", "身份证号码", "身份证"],
            Column::Phone => &["手机号", "手机号码", "手机", "电话"],
            Column::Gender => &["sex"],
            Column::BirthDate => &[],
            Column::Relation => &["与户主的关系"],
            Column::Residency => &["人口类型"],
            Column::SpecialGroups => &[],
            Column::MovedInOn => &[],
            Column::ResidentNotes => &["resident_notes"],
        }
    }

    /// The column a header names. Ignores case, spaces, `_`, `-` and a required-marker `*`.
    pub fn from_header(header: &str) -> Option<Column> {
        let h = header_key(header);
        if h.is_empty() {
            return None;
        }
        Column::ALL.iter().copied().find(|c| {
            header_key(c.header_zh()) == h
                || header_key(c.header_en()) == h
                || c.other_headers().iter().any(|o| header_key(o) == h)
        })
    }
}

/// Headers that are known but carry nothing to import: the `编号`/`id` columns of our own
/// exports and the row counter almost every desk sheet starts with.
const IGNORED_HEADERS: &[&str] = &["编号", "id", "户编号", "household_id", "序号"];

/// Export-only headers of [`write_residents_csv`] / [`write_households_csv`].
const ID_HEADER: &str = "编号";
const HOUSEHOLD_ID_HEADER: &str = "户编号";

fn header_key(s: &str) -> String {
    halfwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '*'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Full-width ASCII (ＡＢＣ１２３，) to half-width, ideographic space to space.
fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// One accepted ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// Line (CSV) or row (xlsx) number in the file, 1-based.
    pub line: usize,
    pub household: HouseholdInput,
    /// `None` for a row without a name: a vacant or business dwelling.
    /// `household_id` is left empty; the importer fills it.
    pub resident: Option<ResidentInput>,
}

/// A refused ledger row with all of its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub errors: Vec<ValidationError>,
}

/// The result of parsing a ledger file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLedger {
    /// See [`Table::encoding`].
    pub encoding: &'static str,
    pub rows: Vec<ParsedRow>,
    pub rejected: Vec<RowError>,
    /// Header texts that were not understood (or repeated a column already mapped), in order.
    pub ignored_columns: Vec<String>,
}

/// How many rows (header included) may sit above the header row: desks put a title there.
const HEADER_SEARCH_ROWS: usize = 10;

/// Parses a ledger file (CSV or xlsx) into household / resident inputs for the grid `grid_code`.
///
/// The file as a whole fails ([`Error::Format`]) when it cannot be read or lacks the 社区 or
/// 楼栋 column. Single bad rows never fail the file: they land in [`ParsedLedger::rejected`].
pub fn parse_ledger(bytes: &[u8], grid_code: &str) -> Result<ParsedLedger, Error> {
    let from_xlsx = detect_format(bytes) == LedgerFormat::Xlsx;
    let table = read_table(bytes)?;

    // The header row is the first row naming both required columns.
    let candidates = std::iter::once(&table.headers)
        .chain(table.rows.iter().map(|(_, cells)| cells))
        .take(HEADER_SEARCH_ROWS);
    let mut found = None;
    for (skip, headers) in candidates.enumerate() {
        let mapping = Mapping::new(headers);
        if mapping.missing_required().is_empty() {
            found = Some((skip, mapping));
            break;
        }
    }
    let (skip, mapping) = match found {
        Some(found) => found,
        None => {
            let missing = Mapping::new(&table.headers)
                .missing_required()
                .iter()
                .map(|c| format!("{} ({})", c.header_zh(), c.header_en()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::Format {
                what: "ledger",
                detail: format!("missing required column: {missing}"),
            });
        }
    };

    let mut ledger = ParsedLedger {
        encoding: table.encoding,
        rows: Vec::new(),
        rejected: Vec::new(),
        ignored_columns: mapping.ignored.clone(),
    };
    for (line, cells) in table.rows.iter().skip(skip) {
        match parse_row(&mapping, *line, cells, grid_code, from_xlsx) {
            Ok(row) => ledger.rows.push(row),
            Err(errors) => ledger.rejected.push(RowError {
                line: *line,
                errors,
            }),
        }
    }
    Ok(ledger)
}

/// Which cell index holds which column.
struct Mapping {
    index: [Option<usize>; Column::ALL.len()],
    ignored: Vec<String>,
}

impl Mapping {
    fn new(headers: &[String]) -> Mapping {
        let mut index = [None; Column::ALL.len()];
        let mut ignored = Vec::new();
        for (i, header) in headers.iter().enumerate() {
            if header.trim().is_empty() {
                continue;
            }
            match Column::from_header(header) {
                Some(c) if index[c as usize].is_none() => index[c as usize] = Some(i),
                Some(_) => ignored.push(header.clone()),
                None => {
                    let key = header_key(header);
                    if !IGNORED_HEADERS.iter().any(|h| header_key(h) == key) {
                        ignored.push(header.clone());
                    }
                }
            }
        }
        Mapping { index, ignored }
    }

    fn has(&self, c: Column) -> bool {
        self.index[c as usize].is_some()
    }

    fn missing_required(&self) -> Vec<Column> {
        [Column::Community, Column::Building]
            .into_iter()
            .filter(|c| !self.has(*c))
            .collect()
    }

    /// The trimmed cell of a column, `""` when the column or the cell is absent.
    fn get<'a>(&self, cells: &'a [String], c: Column) -> &'a str {
        self.index[c as usize]
            .and_then(|i| cells.get(i))
            .map(|s| unguard(s.trim()))
            .unwrap_or("")
    }
}

/// Removes the `'` that [`guard`] puts before formula-like text.
fn unguard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => s,
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn parse_row(
    m: &Mapping,
    line: usize,
    cells: &[String],
    grid_code: &str,
    from_xlsx: bool,
) -> Result<ParsedRow, Vec<ValidationError>> {
    let mut errors = Vec::new();
    let get = |c: Column| m.get(cells, c);

    let community = get(Column::Community);
    if community.is_empty() {
        errors.push(ValidationError::new("address.community", Code::Required));
    }
    let building = get(Column::Building);
    if building.is_empty() {
        errors.push(ValidationError::new("address.building", Code::Required));
    }
    let floor = match get(Column::Floor) {
        "" => None,
        s => match parse_floor(s) {
            Ok(f) => Some(f),
            Err(code) => {
                errors.push(ValidationError::new("address.floor", code));
                None
            }
        },
    };
    let address = Address {
        community: community.to_owned(),
        building: building.to_owned(),
        unit: opt(get(Column::Unit)),
        floor,
        room: opt(get(Column::Room)),
        text: opt(get(Column::AddressText)),
    };

    let housing_type = parse_enum(
        "housing_type",
        get(Column::HousingType),
        HOUSING_SYNONYMS,
        &mut errors,
    )
    .unwrap_or(HousingType::Owned);
    let care_tier = parse_enum(
        "care_tier",
        get(Column::CareTier),
        CARE_TIER_SYNONYMS,
        &mut errors,
    )
    .unwrap_or(CareTier::Routine);
    let tags = split_list(get(Column::Tags))
        .into_iter()
        .map(str::to_owned)
        .collect();
    let location = parse_location(get(Column::Lat), get(Column::Lng), &mut errors);

    let name = get(Column::Name);
    let resident_notes = opt(get(Column::ResidentNotes));
    let mut household_notes = opt(get(Column::HouseholdNotes));

    let resident = if name.is_empty() {
        // A vacant or business dwelling. Person data without a name is a mistake, not a
        // household: refuse the row rather than silently drop what the desk typed.
        let person_columns = [
            Column::IdNumber,
            Column::Phone,
            Column::Gender,
            Column::BirthDate,
            Column::Relation,
            Column::Residency,
            Column::SpecialGroups,
            Column::MovedInOn,
        ];
        if person_columns.iter().any(|c| !get(*c).is_empty()) {
            errors.push(ValidationError::new("name", Code::Required));
        }
        // On a dwelling row the only notes column is about the dwelling.
        if household_notes.is_none() {
            household_notes = resident_notes;
        }
        None
    } else {
        let gender = parse_enum("gender", get(Column::Gender), GENDER_SYNONYMS, &mut errors);
        let relation = parse_enum(
            "relation",
            get(Column::Relation),
            RELATION_SYNONYMS,
            &mut errors,
        )
        .unwrap_or(Relation::Other);
        let residency = parse_enum(
            "residency",
            get(Column::Residency),
            RESIDENCY_SYNONYMS,
            &mut errors,
        )
        .unwrap_or(Residency::Registered);
        let mut special_groups = Vec::new();
        let mut bad_group = false;
        for item in split_list(get(Column::SpecialGroups)) {
            match lookup_enum::<SpecialGroup>(item, &[]) {
                Some(g) if !special_groups.contains(&g) => special_groups.push(g),
                Some(_) => {}
                None => bad_group = true,
            }
        }
        if bad_group {
            errors.push(ValidationError::new("special_groups", Code::InvalidValue));
        }
        let birth_date = date_field("birth_date", get(Column::BirthDate), from_xlsx, &mut errors);
        let moved_in_on = date_field(
            "moved_in_on",
            get(Column::MovedInOn),
            from_xlsx,
            &mut errors,
        );
        Some(ResidentInput {
            household_id: String::new(),
            name: name.to_owned(),
            id_number: opt(&compact(get(Column::IdNumber)).to_uppercase()),
            phone: opt(&compact(get(Column::Phone))),
            gender,
            birth_date,
            relation,
            residency,
            special_groups,
            moved_in_on,
            notes: resident_notes,
        })
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ParsedRow {
        line,
        household: HouseholdInput {
            grid_code: grid_code.to_owned(),
            address,
            housing_type,
            care_tier,
            tags,
            location,
            notes: household_notes,
        },
        resident,
    })
}

/// Half-width, without any whitespace (ID numbers and phones typed with an IME or spaced out).
fn compact(s: &str) -> String {
    halfwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Splits a list cell on `,，、;；|`, trimming items and dropping blanks and repeats.
fn split_list(s: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for item in s.split([',', '，', '、', ';', '；', '|']) {
        let item = item.trim();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Words of household registers and desk sheets that are not one of the model's labels.
const HOUSING_SYNONYMS: &[(&str, HousingType)] = &[
    ("自有", HousingType::Owned),
    ("自住房", HousingType::Owned),
    ("自有住房", HousingType::Owned),
    ("租赁", HousingType::Rented),
    ("租住", HousingType::Rented),
    ("出租房", HousingType::Rented),
    ("群租房", HousingType::GroupRental),
    ("空置房", HousingType::Vacant),
    ("空房", HousingType::Vacant),
    ("商铺", HousingType::Business),
    ("商用房", HousingType::Business),
];

const CARE_TIER_SYNONYMS: &[(&str, CareTier)] = &[
    ("放心", CareTier::Routine),
    ("关心", CareTier::Attention),
    ("连心", CareTier::Close),
];

const GENDER_SYNONYMS: &[(&str, Gender)] = &[("男性", Gender::Male), ("女性", Gender::Female)];

const RELATION_SYNONYMS: &[(&str, Relation)] = &[
    ("本人", Relation::Head),
    ("妻", Relation::Spouse),
    ("妻子", Relation::Spouse),
    ("夫", Relation::Spouse),
    ("丈夫", Relation::Spouse),
    ("子", Relation::Child),
    ("女", Relation::Child),
    ("儿子", Relation::Child),
    ("女儿", Relation::Child),
    ("长子", Relation::Child),
    ("次子", Relation::Child),
    ("长女", Relation::Child),
    ("次女", Relation::Child),
    ("父亲", Relation::Parent),
    ("母亲", Relation::Parent),
    ("祖父", Relation::Grandparent),
    ("祖母", Relation::Grandparent),
    ("外祖父", Relation::Grandparent),
    ("外祖母", Relation::Grandparent),
    ("孙子", Relation::Grandchild),
    ("孙女", Relation::Grandchild),
    ("外孙子", Relation::Grandchild),
    ("外孙女", Relation::Grandchild),
    ("兄", Relation::Sibling),
    ("弟", Relation::Sibling),
    ("姐", Relation::Sibling),
    ("妹", Relation::Sibling),
    ("租客", Relation::Tenant),
];

const RESIDENCY_SYNONYMS: &[(&str, Residency)] = &[
    ("户籍人口", Residency::Registered),
    ("流动人口", Residency::Floating),
    ("外来人口", Residency::Floating),
];

/// Code, Chinese or English label (any case, full-width letters allowed), or a synonym.
fn lookup_enum<T: std::str::FromStr + Copy>(s: &str, synonyms: &[(&str, T)]) -> Option<T> {
    let t = halfwidth(s).trim().to_lowercase();
    if let Ok(v) = t.parse::<T>() {
        return Some(v);
    }
    // "Group Rental" → "group_rental" (the code).
    let code = t.split_whitespace().collect::<Vec<_>>().join("_");
    if let Ok(v) = code.parse::<T>() {
        return Some(v);
    }
    synonyms.iter().find(|(w, _)| *w == t).map(|(_, v)| *v)
}

/// `None` for a blank cell; an `InvalidValue` error on `field` for an unknown value.
fn parse_enum<T: std::str::FromStr + Copy>(
    field: &str,
    s: &str,
    synonyms: &[(&str, T)],
    errors: &mut Vec<ValidationError>,
) -> Option<T> {
    if s.is_empty() {
        return None;
    }
    let v = lookup_enum(s, synonyms);
    if v.is_none() {
        errors.push(ValidationError::new(field, Code::InvalidValue));
    }
    v
}

/// Lowest and highest floor accepted; beyond that it is a room number in the wrong column.
const FLOOR_RANGE: std::ops::RangeInclusive<i32> = -20..=300;

/// `5`, `5楼`, `5层`, `5F`, `第5层` → 5; `-1`, `B1`, `负1`, `地下1层` → -1.
fn parse_floor(s: &str) -> Result<i32, Code> {
    let t: String = compact(s).to_lowercase();
    let mut t = t.as_str();
    t = t.strip_prefix('第').unwrap_or(t);
    for suffix in ["楼", "层", "f"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest;
            break;
        }
    }
    let (negative, digits) = if let Some(rest) = t.strip_prefix('b') {
        (true, rest)
    } else if let Some(rest) = t.strip_prefix("地下") {
        (true, rest)
    } else if let Some(rest) = t.strip_prefix('负') {
        (true, rest)
    } else if let Some(rest) = t.strip_prefix('-') {
        (true, rest)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Code::InvalidFormat);
    }
    // All digits: the only way to fail is being too long.
    let n: i32 = digits.parse().map_err(|_| Code::OutOfRange)?;
    let n = if negative { -n } else { n };
    if FLOOR_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(Code::OutOfRange)
    }
}

fn parse_location(lat: &str, lng: &str, errors: &mut Vec<ValidationError>) -> Option<GeoPoint> {
    fn coord(field: &str, s: &str, limit: f64, errors: &mut Vec<ValidationError>) -> Option<f64> {
        let v = compact(s).parse::<f64>().ok().filter(|v| v.is_finite());
        match v {
            None => errors.push(ValidationError::new(field, Code::InvalidFormat)),
            Some(v) if v.abs() > limit => {
                errors.push(ValidationError::new(field, Code::OutOfRange))
            }
            Some(v) => return Some(v),
        }
        None
    }
    match (lat.is_empty(), lng.is_empty()) {
        (true, true) => None,
        (false, true) => {
            coord("location.lat", lat, 90.0, errors);
            errors.push(ValidationError::new("location.lng", Code::Required));
            None
        }
        (true, false) => {
            errors.push(ValidationError::new("location.lat", Code::Required));
            coord("location.lng", lng, 180.0, errors);
            None
        }
        (false, false) => {
            let lat = coord("location.lat", lat, 90.0, errors);
            let lng = coord("location.lng", lng, 180.0, errors);
            Some(GeoPoint {
                lat: lat?,
                lng: lng?,
            })
        }
    }
}

fn date_field(
    field: &str,
    s: &str,
    from_xlsx: bool,
    errors: &mut Vec<ValidationError>,
) -> Option<NaiveDate> {
    if s.is_empty() {
        return None;
    }
    let d = parse_date(s, from_xlsx);
    if d.is_none() {
        errors.push(ValidationError::new(field, Code::InvalidDate));
    }
    d
}

/// `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.MM.DD`, `YYYY年M月D日`, `YYYYMMDD`, each optionally followed
/// by a time of day (Excel writes `2024/1/5 0:00`); from xlsx also Excel serial day numbers.
fn parse_date(s: &str, from_xlsx: bool) -> Option<NaiveDate> {
    let t = halfwidth(s);
    let t = t.trim();
    let (date, time) = match t.find(|c: char| c.is_whitespace() || c == 'T') {
        Some(i) => (
            &t[..i],
            t[i..].trim_start_matches(|c: char| c.is_whitespace() || c == 'T'),
        ),
        None => (t, ""),
    };
    if !time.is_empty() && !is_time_of_day(time) {
        return None;
    }
    let all_digits = !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit());

    if from_xlsx && time.is_empty() {
        if let Some(d) = excel_serial(date) {
            return Some(d);
        }
    }
    if all_digits && date.len() == 8 {
        let num = |r: std::ops::Range<usize>| date.get(r).and_then(|p| p.parse::<u32>().ok());
        let y = i32::try_from(num(0..4)?).ok()?;
        return NaiveDate::from_ymd_opt(y, num(4..6)?, num(6..8)?);
    }

    let date = date.strip_suffix('日').unwrap_or(date);
    let sep = date.chars().find(|c| matches!(c, '-' | '/' | '.' | '年'))?;
    let parts: Vec<&str> = if sep == '年' {
        let (y, rest) = date.split_once('年')?;
        let (m, d) = rest.split_once('月')?;
        vec![y, m, d]
    } else {
        date.split(sep).collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let digits = |p: &str, min: usize, max: usize| {
        (p.len() >= min && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let y = i32::try_from(digits(y, 4, 4)?).ok()?;
    NaiveDate::from_ymd_opt(y, digits(m, 1, 2)?, digits(d, 1, 2)?)
}

/// `H:MM` or `H:MM:SS[.fff]`.
fn is_time_of_day(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return false;
    }
    let ok = |p: &str, max: u32| {
        (1..=2).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|v| v <= max)
    };
    let seconds_ok = match parts.get(2) {
        None => true,
        Some(sec) => {
            let whole = sec.split_once('.').map_or(*sec, |(w, frac)| {
                if frac.bytes().all(|b| b.is_ascii_digit()) {
                    w
                } else {
                    ""
                }
            });
            ok(whole, 59)
        }
    };
    ok(parts[0], 23) && ok(parts[1], 59) && seconds_ok
}

/// An Excel serial day number (1900 date system) as a date. Serial 60 is Excel's phantom
/// 1900-02-29 and is refused; serials below 61 are one day off from the later ones.
fn excel_serial(s: &str) -> Option<NaiveDate> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 7
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let days: i64 = whole.parse().ok()?;
    let epoch = match days {
        1..=59 => NaiveDate::from_ymd_opt(1899, 12, 31)?,
        61..=2_958_465 => NaiveDate::from_ymd_opt(1899, 12, 30)?,
        _ => return None,
    };
    epoch.checked_add_days(chrono::Days::new(u64::try_from(days).ok()?))
}

/// The key grouping ledger rows into one household: community, building, unit and room,
/// trimmed, without inner spaces, full-width characters made half-width, lowercase.
pub fn household_key(a: &Address) -> String {
    let norm = |s: &str| -> String {
        halfwidth(s)
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    [
        norm(&a.community),
        norm(&a.building),
        norm(a.unit.as_deref().unwrap_or("")),
        norm(a.room.as_deref().unwrap_or("")),
    ]
    .join("|")
}

const HOUSEHOLD_COLUMNS: &[Column] = &[
    Column::Community,
    Column::Building,
    Column::Unit,
    Column::Floor,
    Column::Room,
    Column::AddressText,
    Column::HousingType,
    Column::CareTier,
    Column::Tags,
    Column::Lat,
    Column::Lng,
    Column::HouseholdNotes,
];

const RESIDENT_COLUMNS: &[Column] = &[
    Column::Name,
    Column::IdNumber,
    Column::Phone,
    Column::Gender,
    Column::BirthDate,
    Column::Relation,
    Column::Residency,
    Column::SpecialGroups,
    Column::MovedInOn,
    Column::ResidentNotes,
];

/// Writes households as CSV for Excel: UTF-8 with BOM, the Chinese import headers preceded by
/// `编号` (household id), enums as Chinese labels, lists joined with `、`. Re-imports as
/// dwelling rows (no 姓名 column).
pub fn write_households_csv<W: std::io::Write>(w: W, rows: &[Household]) -> Result<(), Error> {
    let mut out = csv_writer(w)?;
    let header = std::iter::once(ID_HEADER).chain(HOUSEHOLD_COLUMNS.iter().map(|c| c.header_zh()));
    out.write_record(header).map_err(csv_write_error)?;
    for h in rows {
        let mut record = vec![h.id.clone()];
        record.extend(household_cells(h));
        out.write_record(record.into_iter().map(guard))
            .map_err(csv_write_error)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes residents with their household's columns as CSV for Excel: UTF-8 with BOM,
/// `编号` (resident id), `户编号` (household id), then the Chinese import headers, so the file
/// re-imports with [`parse_ledger`].
pub fn write_residents_csv<W: std::io::Write>(
    w: W,
    rows: &[(Resident, Household)],
) -> Result<(), Error> {
    let mut out = csv_writer(w)?;
    let header = [ID_HEADER, HOUSEHOLD_ID_HEADER].into_iter().chain(
        HOUSEHOLD_COLUMNS
            .iter()
            .chain(RESIDENT_COLUMNS)
            .map(|c| c.header_zh()),
    );
    out.write_record(header).map_err(csv_write_error)?;
    for (r, h) in rows {
        let mut record = vec![r.id.clone(), h.id.clone()];
        record.extend(household_cells(h));
        record.extend(resident_cells(r));
        out.write_record(record.into_iter().map(guard))
            .map_err(csv_write_error)?;
    }
    out.flush()?;
    Ok(())
}

fn csv_writer<W: std::io::Write>(mut w: W) -> Result<csv::Writer<W>, Error> {
    w.write_all(UTF8_BOM)?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(w))
}

fn csv_write_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        _ => Error::Format {
            what: "csv",
            detail: "could not write CSV".into(),
        },
    }
}

/// Cells in [`HOUSEHOLD_COLUMNS`] order.
fn household_cells(h: &Household) -> Vec<String> {
    let a = &h.address;
    vec![
        a.community.clone(),
        a.building.clone(),
        a.unit.clone().unwrap_or_default(),
        a.floor.map(|f| f.to_string()).unwrap_or_default(),
        a.room.clone().unwrap_or_default(),
        a.text.clone().unwrap_or_default(),
        h.housing_type.label_zh().to_owned(),
        h.care_tier.label_zh().to_owned(),
        h.tags.join("、"),
        h.location.map(|p| p.lat.to_string()).unwrap_or_default(),
        h.location.map(|p| p.lng.to_string()).unwrap_or_default(),
        h.notes.clone().unwrap_or_default(),
    ]
}

/// Cells in [`RESIDENT_COLUMNS`] order.
///
/// ID numbers and phones are written as plain text. Excel shows an 18-digit ID typed into a
/// CSV cell in scientific notation and keeps only 15 digits if the sheet is re-saved; tricks
/// against that (`="…"`, a trailing tab) would change the value other tools read, so desks are
/// told to open exports with 数据 → 自文本 and mark the column as text instead.
fn resident_cells(r: &Resident) -> Vec<String> {
    let date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    vec![
        r.name.clone(),
        r.id_number.clone().unwrap_or_default(),
        r.phone.clone().unwrap_or_default(),
        r.gender
            .map(|g| g.label_zh().to_owned())
            .unwrap_or_default(),
        date(r.birth_date).unwrap_or_default(),
        r.relation.label_zh().to_owned(),
        r.residency.label_zh().to_owned(),
        r.special_groups
            .iter()
            .map(|g| g.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        date(r.moved_in_on).unwrap_or_default(),
        r.notes.clone().unwrap_or_default(),
    ]
}

/// Prefixes text Excel would run as a formula with `'`. Plain numbers (`-1`, `+86…`) stay as
/// they are.
fn guard(s: String) -> String {
    let formula_like = match s.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => s[1..].parse::<f64>().is_err(),
        _ => false,
    };
    if formula_like {
        format!("'{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RecordStatus, SyncStatus};
    use chrono::{TimeZone, Utc};

    fn parse(text: &str) -> ParsedLedger {
        parse_ledger(text.as_bytes(), "G01").unwrap()
    }

    fn codes(e: &RowError) -> Vec<(&str, Code)> {
        e.errors
            .iter()
            .map(|v| (v.field.as_str(), v.code))
            .collect()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const CSV_ZH: &str =
        "序号,社区,楼栋,单元,房号,姓名,身份证号,联系电话,关爱等级,与户主关系,特殊人群\n\
        1,幸福社区,3栋,2单元,502,张三,110101199003070035,13800138000,连心户,户主,独居老人、残疾人\n\
        2,幸福社区,3栋,2单元,502,李四,,,,配偶,\n";

    #[test]
    fn utf8_with_bom() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(CSV_ZH.as_bytes());
        let ledger = parse_ledger(&bytes, "G01").unwrap();
        assert_eq!(ledger.encoding, "utf-8");
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert!(ledger.ignored_columns.is_empty());
        assert_eq!(ledger.rows.len(), 2);
        let first = &ledger.rows[0];
        assert_eq!(first.line, 2);
        assert_eq!(first.household.grid_code, "G01");
        assert_eq!(first.household.address.community, "幸福社区");
        assert_eq!(first.household.address.unit.as_deref(), Some("2单元"));
        assert_eq!(first.household.care_tier, CareTier::Close);
        assert_eq!(first.household.housing_type, HousingType::Owned);
        let r = first.resident.as_ref().unwrap();
        assert_eq!(r.household_id, "");
        assert_eq!(r.name, "张三");
        assert_eq!(r.id_number.as_deref(), Some("110101199003070035"));
        assert_eq!(r.relation, Relation::Head);
        assert_eq!(
            r.special_groups,
            vec![SpecialGroup::ElderlyAlone, SpecialGroup::Disabled]
        );
        let second = ledger.rows[1].resident.as_ref().unwrap();
        assert_eq!(second.relation, Relation::Spouse);
        assert_eq!(second.residency, Residency::Registered);
        assert_eq!(ledger.rows[1].household.care_tier, CareTier::Routine);
        assert_eq!(
            household_key(&ledger.rows[0].household.address),
            household_key(&ledger.rows[1].household.address)
        );
    }

    #[test]
    fn gbk_bytes() {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(CSV_ZH);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(decode_text(&bytes), (CSV_ZH.to_owned(), "gbk"));
        let ledger = parse_ledger(&bytes, "G01").unwrap();
        assert_eq!(ledger.encoding, "gbk");
        assert_eq!(ledger.rows.len(), 2);
        assert_eq!(ledger.rows[0].resident.as_ref().unwrap().name, "张三");
    }

    #[test]
    fn english_headers_in_any_case() {
        let ledger = parse(
            "Community, BUILDING ,Room,Name,Gender,Housing Type,care_tier,Residency,Phone,Shoe Size\n\
             Xingfu,B3,502,Zhang San,Male,group rental,Close Care,floating,138 0013 8000,42\n",
        );
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert_eq!(ledger.ignored_columns, vec!["Shoe Size".to_owned()]);
        let row = &ledger.rows[0];
        assert_eq!(row.household.address.building, "B3");
        assert_eq!(row.household.housing_type, HousingType::GroupRental);
        assert_eq!(row.household.care_tier, CareTier::Close);
        let r = row.resident.as_ref().unwrap();
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.residency, Residency::Floating);
        assert_eq!(r.phone.as_deref(), Some("13800138000"));
    }

    #[test]
    fn header_aliases_and_markers() {
        for (header, column) in [
            ("楼号", Column::Building),
            ("*社区", Column::Community),
            (" 门牌号 ", Column::Room),
            ("公民身份号码", Column::IdNumber),
            ("手机号", Column::Phone),
            ("户类", Column::CareTier),
            ("人口类型", Column::Residency),
            ("ID Number", Column::IdNumber),
            ("moved-in-on", Column::MovedInOn),
        ] {
            assert_eq!(Column::from_header(header), Some(column), "{header}");
        }
        assert_eq!(Column::from_header("编号"), None);
        assert_eq!(Column::from_header(""), None);
    }

    #[test]
    fn row_reports_all_errors_without_values() {
        let ledger = parse(
            "社区,楼栋,楼层,关爱等级,住房类型,纬度,经度,姓名,性别,出生日期,迁入日期,特殊人群,与户主关系\n\
             ,,五楼,很关心,别墅,north,,王五,中,1990-02-30,2020/13/01,独居老人、会飞,邻居\n\
             幸福社区,3栋,,,,,,,,,,,\n",
        );
        assert_eq!(ledger.rows.len(), 1);
        assert_eq!(ledger.rejected.len(), 1);
        let e = &ledger.rejected[0];
        assert_eq!(e.line, 2);
        assert_eq!(
            codes(e),
            vec![
                ("address.community", Code::Required),
                ("address.building", Code::Required),
                ("address.floor", Code::InvalidFormat),
                ("housing_type", Code::InvalidValue),
                ("care_tier", Code::InvalidValue),
                ("location.lat", Code::InvalidFormat),
                ("location.lng", Code::Required),
                ("gender", Code::InvalidValue),
                ("relation", Code::InvalidValue),
                ("special_groups", Code::InvalidValue),
                ("birth_date", Code::InvalidDate),
                ("moved_in_on", Code::InvalidDate),
            ]
        );
        // No cell value leaks into the messages.
        for v in &e.errors {
            let msg = v.to_string();
            for value in [
                "五楼",
                "很关心",
                "别墅",
                "north",
                "王五",
                "1990-02-30",
                "会飞",
            ] {
                assert!(!msg.contains(value), "{msg}");
            }
        }
    }

    #[test]
    fn missing_required_column() {
        let err = parse_ledger("社区,单元,姓名\n幸福社区,1,张三\n".as_bytes(), "G01").unwrap_err();
        match err {
            Error::Format { what, detail } => {
                assert_eq!(what, "ledger");
                assert!(
                    detail.contains("楼栋") && detail.contains("building"),
                    "{detail}"
                );
                assert!(!detail.contains("社区 ("), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = parse_ledger(b"", "G01").unwrap_err();
        assert!(matches!(err, Error::Format { what: "csv", .. }), "{err:?}");
    }

    #[test]
    fn title_row_above_headers_is_skipped() {
        let ledger = parse(
            "幸福社区居民台账（2024年）,,\n\
             \n\
             社区,楼栋,姓名\n\
             幸福社区,3栋,张三\n",
        );
        assert_eq!(ledger.rows.len(), 1);
        assert_eq!(ledger.rows[0].line, 4);
        assert!(ledger.ignored_columns.is_empty());
    }

    #[test]
    fn floors() {
        for (s, want) in [
            ("5", Ok(5)),
            ("5楼", Ok(5)),
            ("5层", Ok(5)),
            (" ５ 层", Ok(5)),
            ("第12层", Ok(12)),
            ("12F", Ok(12)),
            ("0", Ok(0)),
            ("-1", Ok(-1)),
            ("B1", Ok(-1)),
            ("b2", Ok(-2)),
            ("负1层", Ok(-1)),
            ("地下2层", Ok(-2)),
            ("五楼", Err(Code::InvalidFormat)),
            ("5.5", Err(Code::InvalidFormat)),
            ("B", Err(Code::InvalidFormat)),
            ("", Err(Code::InvalidFormat)),
            ("502", Err(Code::OutOfRange)),
            ("99999999999", Err(Code::OutOfRange)),
        ] {
            assert_eq!(parse_floor(s), want, "{s:?}");
        }
        let ledger = parse("社区,楼栋,楼层\n幸福社区,3栋,B1\n幸福社区,3栋,\n");
        assert_eq!(ledger.rows[0].household.address.floor, Some(-1));
        assert_eq!(ledger.rows[1].household.address.floor, None);
    }

    #[test]
    fn dates() {
        for s in [
            "2024-01-05",
            "2024/01/05",
            "2024/1/5",
            "2024.1.05",
            "20240105",
            "2024年1月5日",
            "2024/1/5 0:00",
            "2024-01-05 00:00:00",
            "2024-01-05T00:00:00",
            "２０２４-０１-０５",
        ] {
            assert_eq!(parse_date(s, false), Some(ymd(2024, 1, 5)), "{s:?}");
        }
        for s in [
            "2024-02-30",
            "2024-1-5-6",
            "24-01-05",
            "2024-01",
            "2024/01-05x",
            "2024-01-05 noon",
            "20241305",
            "45296",
            "明天",
        ] {
            assert_eq!(parse_date(s, false), None, "{s:?}");
        }
        // Excel serial day numbers, only from workbooks.
        assert_eq!(parse_date("45296", true), Some(ymd(2024, 1, 5)));
        assert_eq!(parse_date("45000", true), Some(ymd(2023, 3, 15)));
        assert_eq!(parse_date("1", true), Some(ymd(1900, 1, 1)));
        assert_eq!(parse_date("61", true), Some(ymd(1900, 3, 1)));
        assert_eq!(parse_date("60", true), None);
        assert_eq!(parse_date("0", true), None);
        assert_eq!(parse_date("20240105", true), Some(ymd(2024, 1, 5)));
    }

    #[test]
    fn vacant_household_row() {
        let ledger = parse(
            "社区,楼栋,房号,住房类型,姓名,备注,标签\n\
             幸福社区,3栋,101,空置,,长期无人居住,重点 | 消防，老旧小区;重点\n\
             幸福社区,3栋,102,商铺,,,\n\
             幸福社区,3栋,103,,,,\n\
             幸福社区,3栋,104,,,,\n",
        );
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert_eq!(ledger.rows.len(), 4);
        let vacant = &ledger.rows[0];
        assert!(vacant.resident.is_none());
        assert_eq!(vacant.household.housing_type, HousingType::Vacant);
        assert_eq!(vacant.household.notes.as_deref(), Some("长期无人居住"));
        assert_eq!(vacant.household.tags, vec!["重点", "消防", "老旧小区"]);
        assert_eq!(ledger.rows[1].household.housing_type, HousingType::Business);

        // Person data without a name is refused, not dropped.
        let ledger = parse("社区,楼栋,姓名,身份证号\n幸福社区,3栋,,110101199003070035\n");
        assert_eq!(codes(&ledger.rejected[0]), vec![("name", Code::Required)]);
    }

    #[test]
    fn synonyms_and_locations() {
        let ledger = parse(
            "社区,楼栋,姓名,与户主关系,性别,户籍类型,纬度,经度\n\
             幸福社区,3栋,张三,本人,男性,流动人口,39.9042,116.4074\n\
             幸福社区,3栋,张四,长子,,,95,116\n",
        );
        let r = ledger.rows[0].resident.as_ref().unwrap();
        assert_eq!(r.relation, Relation::Head);
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.residency, Residency::Floating);
        assert_eq!(
            ledger.rows[0].household.location,
            Some(GeoPoint {
                lat: 39.9042,
                lng: 116.4074
            })
        );
        assert_eq!(
            codes(&ledger.rejected[0]),
            vec![("location.lat", Code::OutOfRange)]
        );
    }

    #[test]
    fn household_key_normalizes() {
        let a = Address {
            community: " 幸福社区 ".into(),
            building: "３栋".into(),
            unit: Some("2 单元".into()),
            floor: Some(5),
            room: Some("５０２Ａ".into()),
            text: Some("ignored".into()),
        };
        let b = Address {
            community: "幸福社区".into(),
            building: "3栋".into(),
            unit: Some("2单元".into()),
            floor: None,
            room: Some("502a".into()),
            text: None,
        };
        assert_eq!(household_key(&a), household_key(&b));
        assert_eq!(household_key(&b), "幸福社区|3栋|2单元|502a");
        let c = Address {
            room: Some("503".into()),
            ..b.clone()
        };
        assert_ne!(household_key(&b), household_key(&c));
    }

    fn sample_household() -> Household {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 8, 0, 0).unwrap();
        Household {
            id: "hh-1".into(),
            grid_code: "G01".into(),
            address: Address {
                community: "幸福社区".into(),
                building: "3栋".into(),
                unit: Some("2单元".into()),
                floor: Some(-1),
                room: Some("B101".into()),
                text: Some("小卖部后面, \"老\"楼".into()),
            },
            housing_type: HousingType::GroupRental,
            care_tier: CareTier::Attention,
            tags: vec!["消防".into(), "重点".into()],
            location: Some(GeoPoint {
                lat: 39.9042,
                lng: -116.4074,
            }),
            notes: Some("=HYPERLINK(\"x\")".into()),
            status: RecordStatus::Active,
            outside_grid: false,
            created_at: at,
            updated_at: at,
            sync_status: SyncStatus::Synced,
        }
    }

    fn sample_resident(id: &str, name: &str) -> Resident {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 8, 0, 0).unwrap();
        Resident {
            id: id.into(),
            household_id: "hh-1".into(),
            name: name.into(),
            id_number: Some("11010119900307003X".into()),
            phone: Some("13800138000".into()),
            gender: Some(Gender::Female),
            birth_date: Some(ymd(1990, 3, 7)),
            relation: Relation::Grandchild,
            residency: Residency::Floating,
            special_groups: vec![SpecialGroup::LeftBehindChild, SpecialGroup::Poverty],
            moved_in_on: Some(ymd(2021, 12, 31)),
            moved_out_on: None,
            status: RecordStatus::Active,
            notes: Some("-过敏".into()),
            created_at: at,
            updated_at: at,
            sync_status: SyncStatus::Synced,
        }
    }

    #[test]
    fn residents_export_round_trip() {
        let h = sample_household();
        let mut bare = sample_resident("r-2", "赵六");
        bare.id_number = None;
        bare.phone = None;
        bare.gender = None;
        bare.birth_date = None;
        bare.special_groups = vec![];
        bare.moved_in_on = None;
        bare.notes = None;
        bare.relation = Relation::Other;
        bare.residency = Residency::Registered;
        let rows = vec![
            (sample_resident("r-1", "王小丫"), h.clone()),
            (bare, h.clone()),
        ];
        let mut out = Vec::new();
        write_residents_csv(&mut out, &rows).unwrap();

        assert!(out.starts_with(UTF8_BOM));
        let text = std::str::from_utf8(&out[3..]).unwrap();
        assert!(text.starts_with("编号,户编号,社区,楼栋,"), "{text}");
        assert!(text.contains("群租,关心户,消防、重点"), "{text}");
        assert!(text.contains("留守儿童、困难群众"), "{text}");
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(text.contains(",'-过敏"), "{text}");
        assert!(text.contains(",-1,"), "{text}");
        assert!(text.contains("\r\n"));

        let ledger = parse_ledger(&out, "G01").unwrap();
        assert_eq!(ledger.encoding, "utf-8");
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert!(
            ledger.ignored_columns.is_empty(),
            "{:?}",
            ledger.ignored_columns
        );
        assert_eq!(ledger.rows.len(), 2);
        for (row, (r, h)) in ledger.rows.iter().zip(&rows) {
            let expected_household = HouseholdInput {
                grid_code: h.grid_code.clone(),
                address: h.address.clone(),
                housing_type: h.housing_type,
                care_tier: h.care_tier,
                tags: h.tags.clone(),
                location: h.location,
                notes: h.notes.clone(),
            };
            assert_eq!(row.household, expected_household);
            let expected_resident = ResidentInput {
                household_id: String::new(),
                name: r.name.clone(),
                id_number: r.id_number.clone(),
                phone: r.phone.clone(),
                gender: r.gender,
                birth_date: r.birth_date,
                relation: r.relation,
                residency: r.residency,
                special_groups: r.special_groups.clone(),
                moved_in_on: r.moved_in_on,
                notes: r.notes.clone(),
            };
            assert_eq!(row.resident.as_ref(), Some(&expected_resident));
        }
    }

    #[test]
    fn households_export_reimports_as_dwellings() {
        let h = sample_household();
        let mut out = Vec::new();
        write_households_csv(&mut out, std::slice::from_ref(&h)).unwrap();
        let text = std::str::from_utf8(&out[3..]).unwrap();
        assert!(
            text.starts_with("编号,社区,楼栋,单元,楼层,房号,详细地址,"),
            "{text}"
        );
        let ledger = parse_ledger(&out, "G02").unwrap();
        assert!(ledger.ignored_columns.is_empty());
        assert_eq!(ledger.rows.len(), 1);
        assert!(ledger.rows[0].resident.is_none());
        assert_eq!(ledger.rows[0].household.address, h.address);
        assert_eq!(ledger.rows[0].household.grid_code, "G02");
        assert_eq!(ledger.rows[0].household.notes, h.notes);
    }

    #[test]
    fn detect_and_corrupt_xlsx() {
        assert_eq!(detect_format(b"PK\x03\x04garbage"), LedgerFormat::Xlsx);
        assert_eq!(detect_format("社区,楼栋".as_bytes()), LedgerFormat::Csv);
        assert_eq!(detect_format(b""), LedgerFormat::Csv);
        let err = parse_ledger(b"PK\x03\x04garbage", "G01").unwrap_err();
        assert!(matches!(err, Error::Format { what: "xlsx", .. }), "{err:?}");
        let err = read_table(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest").unwrap_err();
        assert!(matches!(err, Error::Format { what: "xlsx", .. }), "{err:?}");
    }

    #[test]
    fn csv_table_shape() {
        let table = read_table("a,b,c\n\n ,,\nx, y \nq,r,s,t\n".as_bytes()).unwrap();
        assert_eq!(table.headers, vec!["a", "b", "c"]);
        assert_eq!(
            table.rows,
            vec![
                (4, vec!["x".to_owned(), "y".to_owned()]),
                (5, vec!["q".into(), "r".into(), "s".into(), "t".into()]),
            ]
        );
        assert_eq!(render_number(13800138000.0), "13800138000");
        assert_eq!(render_number(110101199003070000.0), "110101199003070000");
        assert_eq!(render_number(-0.0), "0");
        assert_eq!(render_number(3.25), "3.25");
    }

    /// A minimal xlsx: a stored (uncompressed) zip with hand-written parts.
    fn xlsx(sheet_xml: &str) -> Vec<u8> {
        const NS: &str = "http://schemas.openxmlformats.org";
        let content_types = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{NS}/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#
        );
        let rels = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" Type="{NS}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        );
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}/spreadsheetml/2006/main" xmlns:r="{NS}/officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>"#
        );
        let workbook_rels = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" Type="{NS}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{NS}/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#
        );
        let styles = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{NS}/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#
        );
        let sheet = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}/spreadsheetml/2006/main">{sheet_xml}</worksheet>"#
        );
        zip_stored(&[
            ("[Content_Types].xml", &content_types),
            ("_rels/.rels", &rels),
            ("xl/workbook.xml", &workbook),
            ("xl/_rels/workbook.xml.rels", &workbook_rels),
            ("xl/styles.xml", &styles),
            ("xl/worksheets/sheet1.xml", &sheet),
        ])
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn zip_stored(files: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, body) in files {
            let offset = out.len() as u32;
            let (name, body) = (name.as_bytes(), body.as_bytes());
            let (crc, len) = (crc32(body), body.len() as u32);
            // Local header: signature, version, flags, method (stored), time, date.
            out.extend(0x0403_4b50u32.to_le_bytes());
            for v in [20u16, 0, 0, 0, 0x21] {
                out.extend(v.to_le_bytes());
            }
            for v in [crc, len, len] {
                out.extend(v.to_le_bytes());
            }
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name);
            out.extend(body);
            // Central directory entry.
            central.extend(0x0201_4b50u32.to_le_bytes());
            for v in [20u16, 20, 0, 0, 0, 0x21] {
                central.extend(v.to_le_bytes());
            }
            for v in [crc, len, len] {
                central.extend(v.to_le_bytes());
            }
            for v in [name.len() as u16, 0, 0, 0, 0] {
                central.extend(v.to_le_bytes());
            }
            central.extend(0u32.to_le_bytes());
            central.extend(offset.to_le_bytes());
            central.extend(name);
        }
        let central_offset = out.len() as u32;
        let central_len = central.len() as u32;
        out.extend(central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        for v in [0u16, 0, files.len() as u16, files.len() as u16] {
            out.extend(v.to_le_bytes());
        }
        out.extend(central_len.to_le_bytes());
        out.extend(central_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn s(r: &str, v: &str) -> String {
        format!(r#"<c r="{r}" t="inlineStr"><is><t>{v}</t></is></c>"#)
    }

    fn n(r: &str, v: &str) -> String {
        format!(r#"<c r="{r}"><v>{v}</v></c>"#)
    }

    #[test]
    fn far_apart_cells_are_refused_not_allocated() {
        let sheet = format!(
            "<sheetData><row r=\"1\">{}{}</row><row r=\"1048576\">{}</row></sheetData>",
            s("A1", "社区"),
            s("B1", "楼栋"),
            n("XFD1048576", "1")
        );
        let err = read_table(&xlsx(&sheet)).unwrap_err();
        assert!(
            matches!(&err, Error::Format { what: "xlsx", detail } if detail.contains("too large")),
            "{err:?}"
        );
    }

    #[test]
    fn csv_with_old_mac_line_ends_counts_lines() {
        let table = read_table("社区,楼栋\r幸福社区,3栋\r幸福社区,4栋\r".as_bytes()).unwrap();
        let lines: Vec<usize> = table.rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3]);
    }

    #[test]
    fn xlsx_workbook() {
        let date = r#"<c r="G4" s="1"><v>45296</v></c>"#;
        let sheet = format!(
            "<sheetData>\
             <row r=\"1\">{}</row>\
             <row r=\"2\">{}{}{}{}{}{}{}{}</row>\
             <row r=\"3\">{}{}{}{}{}{}{}</row>\
             <row r=\"4\">{}{}{}{date}{}</row>\
             <row r=\"6\">{}{}{}</row>\
             </sheetData>\
             <mergeCells count=\"3\"><mergeCell ref=\"A1:H1\"/><mergeCell ref=\"A3:A4\"/><mergeCell ref=\"B3:B4\"/></mergeCells>",
            s("A1", "幸福社区居民台账"),
            s("A2", "社区"),
            s("B2", "楼栋"),
            s("C2", "楼层"),
            s("D2", "姓名"),
            s("E2", "身份证号"),
            s("F2", "联系电话"),
            s("G2", "出生日期"),
            s("H2", "迁入日期"),
            s("A3", "幸福社区"),
            n("B3", "3"),
            n("C3", "5"),
            s("D3", "张三"),
            s("E3", "110101199003070035"),
            n("F3", "13800138000"),
            n("H3", "45000"),
            n("C4", "-1"),
            s("D4", "李四"),
            n("F4", "13900139000.0"),
            n("H4", "20240105"),
            s("A6", "幸福社区"),
            s("B6", "4栋"),
            n("C6", "2.5"),
        );
        let bytes = xlsx(&sheet);
        assert_eq!(detect_format(&bytes), LedgerFormat::Xlsx);

        let table = read_table(&bytes).unwrap();
        assert_eq!(table.encoding, "xlsx");
        assert!(table.headers.iter().all(|h| h == "幸福社区居民台账"));
        assert_eq!(table.rows[0].0, 2);
        assert_eq!(table.rows[2].1[0], "幸福社区", "merged cell repeated");
        assert_eq!(table.rows[2].1[6], "2024-01-05", "date cell rendered");

        let ledger = parse_ledger(&bytes, "G01").unwrap();
        assert_eq!(ledger.encoding, "xlsx");
        assert!(
            ledger.ignored_columns.is_empty(),
            "{:?}",
            ledger.ignored_columns
        );
        assert_eq!(ledger.rows.len(), 2);
        let (a, b) = (&ledger.rows[0], &ledger.rows[1]);
        assert_eq!((a.line, b.line), (3, 4));
        assert_eq!(a.household.address.building, "3");
        assert_eq!(b.household.address.community, "幸福社区");
        assert_eq!(b.household.address.building, "3");
        assert_eq!(a.household.address.floor, Some(5));
        assert_eq!(b.household.address.floor, Some(-1));
        let (ra, rb) = (a.resident.as_ref().unwrap(), b.resident.as_ref().unwrap());
        assert_eq!(ra.id_number.as_deref(), Some("110101199003070035"));
        assert_eq!(ra.phone.as_deref(), Some("13800138000"));
        assert_eq!(rb.phone.as_deref(), Some("13900139000"));
        assert_eq!(ra.moved_in_on, Some(ymd(2023, 3, 15)));
        assert_eq!(rb.birth_date, Some(ymd(2024, 1, 5)));
        assert_eq!(rb.moved_in_on, Some(ymd(2024, 1, 5)));
        assert_eq!(ledger.rejected.len(), 1);
        assert_eq!(ledger.rejected[0].line, 6);
        assert_eq!(
            codes(&ledger.rejected[0]),
            vec![("address.floor", Code::InvalidFormat)]
        );
    }
}
