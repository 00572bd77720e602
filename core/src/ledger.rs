//! Reading the community desk's household ledger (台账) the way desks actually make it.
//!
//! The desk keeps its ledger in Excel, one row per resident, and hands it to the grid worker as
//! a `.xlsx` workbook or a CSV file. This module turns those bytes into typed rows
//! ([`ParsedRow`]: a [`LedgerHousehold`] and maybe a [`LedgerResident`]) or refuses a row with
//! every reason at once ([`RowError`]). It only parses: it never touches the database; the
//! importer (`import.rs`) matches rows to what is on the device and writes them.
//!
//! Why it looks the way it does (the rules are documented for desks in `docs/ledger-columns.md`):
//!
//! - **Encodings.** Excel on Chinese Windows saves "CSV" in the ANSI code page, which is GBK;
//!   newer Excel offers "CSV UTF-8", which starts with a byte-order mark. [`decode_text`]
//!   accepts both (GBK is decoded as GB18030, its superset).
//! - **Headers differ from ours.** One table ([`COLUMNS`]) holds every header spelling desks use
//!   (户主姓名/姓名, 门牌/房号/室, 手机号/联系电话 …). A sheet without a 社区 or 网格 column takes
//!   them from the import's target ([`LedgerContext`]).
//! - **Merged cells.** A desk merges the address cells of one family's rows; saved as CSV, the
//!   rows below the first are blank there. [`parse_ledger`] fills them down by a documented rule:
//!   the place columns (网格, 社区, 小区, 楼栋, 单元) fill down until the sheet names another
//!   place, the floor fills down within the same building and unit unless the room number says
//!   otherwise, and the dwelling's own columns (房号, 户号, 住房类型, 关爱等级 …) fill down only
//!   onto the rows of the same family (a row that is not its head). Person columns never fill.
//! - **Households are never merged by accident.** [`household_key`] is community, building,
//!   unit, floor and room (plus a 户号 column when the sheet has one): two rows that name
//!   different rooms or floors are different households.
//! - **Desk words.** 儿媳, 常住人口, 低保户 and the like map to the model's codes through the
//!   domain's desk-word tables; a word that only maps to the nearest code is kept in the notes.
//!   15-digit ID numbers become 18-digit ones; several phones in one cell keep the first as the
//!   phone and the rest in the notes; a local landline gets the grid's area code.
//! - **Text stays text.** In a workbook only a *number* cell can be an Excel date serial; a text
//!   cell "1985.03" is March 1985 (stored as the 1st, with a note saying the day is unknown).
//! - **Every error of a row at once**, each with the allowed values where there is a list, so the
//!   desk fixes its sheet in one pass.
//! - **No personal data in errors.** Error values carry line numbers, field names, codes and
//!   fixed hint texts only — never a cell's content — because they end up in logs, screenshots
//!   and support chats. Unknown *header* texts are reported, since headers are not personal data.

use std::collections::HashSet;
use std::io::Cursor;

use calamine::{Data, DataRef, Range, Reader, Xlsx, XlsxError};
use chrono::{Datelike, NaiveDate};
use gridwalk_domain::synonyms::{self, DeskMatch, Vocabulary};

use crate::error::{Code, Error, ValidationError};
use crate::model::{
    Address, CareTier, Gender, GeoPoint, HouseholdInput, HousingType, Relation, Residency,
    ResidentInput, SpecialGroup,
};
use crate::sheet::{self, Cell, Sheet};
use crate::validate;

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

const UTF8_BOM: &[u8] = sheet::UTF8_BOM;
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
    /// (line, column index) of workbook cells that hold a *number* (not text, not a date). Only
    /// these can be Excel date serials; a text cell "1985.03" is never read as one.
    pub numeric: HashSet<(usize, usize)>,
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
    into_table(lines, HashSet::new(), encoding, "csv")
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
        cells.push(calamine::Cell::new(
            (r, c),
            Data::from(cell.get_value().clone()),
        ));
    }
    Ok(Range::from_sparse(cells))
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, Error> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let range = first_worksheet(&mut workbook)?;
    let merged = workbook.merge_cells_by_sheet_id(0).map_err(xlsx_error)?;

    let (start_row, start_col) = range.start().unwrap_or((0, 0));
    let (start_row, start_col) = (start_row as usize, start_col as usize);
    let mut numeric_at: HashSet<(usize, usize)> = HashSet::new();
    let mut grid: Vec<Vec<String>> = Vec::new();
    for (r, row) in range.rows().enumerate() {
        let mut cells = Vec::with_capacity(row.len());
        for (c, cell) in row.iter().enumerate() {
            if matches!(cell, Data::Int(_) | Data::Float(_)) {
                numeric_at.insert((r, c));
            }
            cells.push(render_cell(cell));
        }
        grid.push(cells);
    }

    // Repeat each merged area's value (held by its top-left cell) in all of its cells. Areas may
    // overlap: a crafted workbook of thousands of sheet-wide areas would visit the grid thousands
    // of times, so the cells visited are counted and bounded like the sheet itself.
    let mut visited: u64 = 0;
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
        let is_number = numeric_at.contains(&(r0, c0));
        for r in r0..=r1.saturating_sub(start_row) {
            let Some(row) = grid.get_mut(r) else { break };
            for c in c0..=c1.saturating_sub(start_col) {
                visited += 1;
                if visited > 2 * MAX_XLSX_CELLS {
                    return Err(Error::Format {
                        what: "xlsx",
                        detail: "worksheet too large: its merged cells span too many cells".into(),
                    });
                }
                match row.get_mut(c) {
                    Some(cell) if cell.is_empty() => {
                        cell.clone_from(&value);
                        if is_number {
                            numeric_at.insert((r, c));
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }

    let numeric = numeric_at
        .into_iter()
        .map(|(r, c)| (start_row + r + 1, c))
        .collect();
    let lines = grid
        .into_iter()
        .enumerate()
        .map(|(i, cells)| (start_row + i + 1, cells))
        .collect();
    into_table(lines, numeric, "xlsx", "xlsx")
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

/// Trims a cell and removes the protection exports put around text (`="0101"`, `'=…`).
fn clean_cell(s: &str) -> String {
    sheet::unprotect(s.trim()).trim().to_owned()
}

fn into_table(
    lines: Vec<(usize, Vec<String>)>,
    numeric: HashSet<(usize, usize)>,
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
        numeric,
    })
}

// ---- columns -------------------------------------------------------------------------------

/// A ledger column the parser understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Grid,
    Community,
    Estate,
    Building,
    Unit,
    Floor,
    Room,
    HouseholdNo,
    HeadName,
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

/// One row of the header table: the column, the header our exports write, the English header,
/// the field name errors use, and every other spelling desks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    pub column: Column,
    pub zh: &'static str,
    pub en: &'static str,
    /// The field named in a [`ValidationError`] about this column.
    pub field: &'static str,
    /// Other headers accepted (compared without blanks, `_`, `-`, `*`, `:` and bracketed notes,
    /// ignoring case and full-width forms).
    pub synonyms: &'static [&'static str],
}

const fn spec(
    column: Column,
    zh: &'static str,
    en: &'static str,
    field: &'static str,
    synonyms: &'static [&'static str],
) -> ColumnSpec {
    ColumnSpec {
        column,
        zh,
        en,
        field,
        synonyms,
    }
}

/// The header table: one row per [`Column`], in the enum's order. Documented in
/// `docs/ledger-columns.md` (a test checks every spelling is listed there).
pub const COLUMNS: &[ColumnSpec] = &[
    spec(
        Column::Grid,
        "网格",
        "grid",
        "grid_code",
        &["所属网格", "网格名称", "网格编号", "网格编码", "grid_code"],
    ),
    spec(
        Column::Community,
        "社区",
        "community",
        "address.community",
        &[
            "村",
            "社区/村",
            "村/社区",
            "所属社区",
            "社区名称",
            "居委会",
            "村委会",
            "社区居委会",
        ],
    ),
    spec(
        Column::Estate,
        "小区",
        "estate",
        "address.building",
        &["小区名称", "小区名", "住宅小区", "院落"],
    ),
    spec(
        Column::Building,
        "楼栋",
        "building",
        "address.building",
        &[
            "楼号",
            "栋",
            "栋号",
            "楼栋号",
            "幢",
            "幢号",
            "楼",
            "楼宇",
            "组",
            "村民小组",
            "小组",
        ],
    ),
    spec(
        Column::Unit,
        "单元",
        "unit",
        "address.unit",
        &["单元号", "门洞"],
    ),
    spec(
        Column::Floor,
        "楼层",
        "floor",
        "address.floor",
        &["层", "所在楼层", "层号"],
    ),
    spec(
        Column::Room,
        "房号",
        "room",
        "address.room",
        &[
            "门牌",
            "门牌号",
            "门牌号码",
            "房间号",
            "房间",
            "室",
            "室号",
            "户室号",
            "房屋编号",
        ],
    ),
    spec(
        Column::HouseholdNo,
        "户号",
        "household_no",
        "household_no",
        &["户编号", "户序号", "家庭编号", "户籍编号"],
    ),
    spec(
        Column::HeadName,
        "户主姓名",
        "head_name",
        "name",
        &["户主", "户主名", "户主名字"],
    ),
    spec(
        Column::AddressText,
        "详细地址",
        "address",
        "address.text",
        &[
            "地址",
            "住址",
            "现住址",
            "居住地址",
            "家庭住址",
            "现居住地址",
        ],
    ),
    spec(
        Column::HousingType,
        "住房类型",
        "housing_type",
        "housing_type",
        &["房屋类型", "房屋性质", "住房性质", "房屋用途"],
    ),
    spec(
        Column::CareTier,
        "关爱等级",
        "care_tier",
        "care_tier",
        &["户类", "户类别", "户分类", "走访等级"],
    ),
    spec(Column::Tags, "标签", "tags", "tags", &[]),
    spec(Column::Lat, "纬度", "lat", "location.lat", &["latitude"]),
    spec(
        Column::Lng,
        "经度",
        "lng",
        "location.lng",
        &["longitude", "lon"],
    ),
    spec(
        Column::HouseholdNotes,
        "户备注",
        "household_notes",
        "notes",
        &["住户备注"],
    ),
    spec(
        Column::Name,
        "姓名",
        "name",
        "name",
        &["居民姓名", "人员姓名", "成员姓名", "名字"],
    ),
    spec(
        Column::IdNumber,
        "身份证号",
        "id_number",
        "id_number",
        &[
            "公民身份号码",
            "身份证号码",
            "身份证",
            "证件号码",
            "证件号",
            "身份证件号码",
            "id_card",
        ],
    ),
    spec(
        Column::Phone,
        "联系电话",
        "phone",
        "phone",
        &[
            "手机号",
            "手机号码",
            "手机",
            "电话",
            "电话号码",
            "联系方式",
            "固定电话",
            "mobile",
            "tel",
        ],
    ),
    spec(Column::Gender, "性别", "gender", "gender", &["sex"]),
    spec(
        Column::BirthDate,
        "出生日期",
        "birth_date",
        "birth_date",
        &["出生年月", "出生年月日", "生日", "出生时间", "birthday"],
    ),
    spec(
        Column::Relation,
        "与户主关系",
        "relation",
        "relation",
        &["与户主的关系", "关系", "家庭关系", "与户主关系称谓"],
    ),
    spec(
        Column::Residency,
        "户籍类型",
        "residency",
        "residency",
        &["人口类型", "人员类型", "人口类别", "人口属性", "居住类型"],
    ),
    spec(
        Column::SpecialGroups,
        "特殊人群",
        "special_groups",
        "special_groups",
        &[
            "特殊群体",
            "重点人群",
            "重点人员",
            "帮扶类别",
            "特殊人群类别",
        ],
    ),
    spec(
        Column::MovedInOn,
        "迁入日期",
        "moved_in_on",
        "moved_in_on",
        &["入住日期", "迁入时间", "入住时间"],
    ),
    spec(
        Column::ResidentNotes,
        "备注",
        "notes",
        "notes",
        &["居民备注", "人员备注", "情况说明", "resident_notes"],
    ),
];

/// Columns that describe the dwelling (filled down as documented); the rest describe a person
/// and never fill down.
const HOUSEHOLD_LEVEL: &[Column] = &[
    Column::Grid,
    Column::Community,
    Column::Estate,
    Column::Building,
    Column::Unit,
    Column::Floor,
    Column::Room,
    Column::HouseholdNo,
    Column::HeadName,
    Column::AddressText,
    Column::HousingType,
    Column::CareTier,
    Column::Tags,
    Column::Lat,
    Column::Lng,
    Column::HouseholdNotes,
];

/// Person columns: a row with any of them but no name is refused (nothing is dropped).
const PERSON_LEVEL: &[Column] = &[
    Column::IdNumber,
    Column::Phone,
    Column::Gender,
    Column::BirthDate,
    Column::Relation,
    Column::Residency,
    Column::SpecialGroups,
    Column::MovedInOn,
];

/// Columns that may appear more than once; their cells are read together (two phone columns,
/// two notes columns).
const MULTI: &[Column] = &[
    Column::Phone,
    Column::Tags,
    Column::SpecialGroups,
    Column::HouseholdNotes,
    Column::ResidentNotes,
];

/// The place columns, outermost first: each fills down while no outer one changed.
const PLACE: &[Column] = &[
    Column::Grid,
    Column::Community,
    Column::Estate,
    Column::Building,
    Column::Unit,
];

/// Dwelling columns that fill down onto the other rows of the same family.
const DWELLING: &[Column] = &[
    Column::Room,
    Column::HouseholdNo,
    Column::HeadName,
    Column::AddressText,
    Column::HousingType,
    Column::CareTier,
    Column::Tags,
    Column::Lat,
    Column::Lng,
    Column::HouseholdNotes,
];

impl Column {
    /// Every column, in table order.
    pub const ALL: &'static [Column] = &[
        Column::Grid,
        Column::Community,
        Column::Estate,
        Column::Building,
        Column::Unit,
        Column::Floor,
        Column::Room,
        Column::HouseholdNo,
        Column::HeadName,
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

    /// Its row of [`COLUMNS`].
    pub fn spec(self) -> &'static ColumnSpec {
        // COLUMNS is in enum order (checked by a test); the fallback is never taken.
        COLUMNS.get(self as usize).unwrap_or(&COLUMNS[0])
    }

    /// The Chinese header written on export (and accepted on import).
    pub fn header_zh(self) -> &'static str {
        self.spec().zh
    }

    /// The English header accepted on import.
    pub fn header_en(self) -> &'static str {
        self.spec().en
    }

    /// The column a header names, by [`COLUMNS`].
    pub fn from_header(header: &str) -> Option<Column> {
        let h = header_key(header);
        if h.is_empty() {
            return None;
        }
        COLUMNS
            .iter()
            .find(|s| {
                header_key(s.zh) == h
                    || header_key(s.en) == h
                    || s.synonyms.iter().any(|o| header_key(o) == h)
            })
            .map(|s| s.column)
    }

    /// Whether the column describes the dwelling (fills down as documented) rather than a person.
    pub fn household_level(self) -> bool {
        HOUSEHOLD_LEVEL.contains(&self)
    }
}

/// The Chinese name of an error's field, for messages a desk reads (`address.building` → 楼栋).
pub fn field_zh(field: &str) -> &'static str {
    match field {
        "address.community" => "社区",
        "address.building" => "楼栋",
        "address.unit" => "单元",
        "address.floor" => "楼层",
        "address.room" => "房号",
        "address.text" => "详细地址",
        "location.lat" => "纬度",
        "location.lng" => "经度",
        "household_id" => "住户",
        _ => COLUMNS
            .iter()
            .find(|s| s.field == field)
            .map_or("字段", |s| s.zh),
    }
}

/// Headers that are known but carry nothing to import: the `编号`/`id` columns of our own
/// exports, the row counter almost every desk sheet starts with, the age (derived from the birth
/// date) and the reason column of a rejected-rows file.
const IGNORED_HEADERS: &[&str] = &[
    "编号",
    "id",
    "household_id",
    "序号",
    "年龄",
    "age",
    REASON_HEADER,
    "reason",
];

/// The column a rejected-rows file adds to each row.
pub const REASON_HEADER: &str = "退回原因 / reason";

fn header_key(s: &str) -> String {
    let half = halfwidth(s);
    // Drop bracketed notes: 身份证号(18位), 联系电话【手机】.
    let mut out = String::new();
    let mut depth = 0usize;
    for c in half.chars() {
        match c {
            '(' | '【' | '[' => depth += 1,
            ')' | '】' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_whitespace() || matches!(c, '_' | '-' | '*' | ':') => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
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

// ---- parsed values -------------------------------------------------------------------------

/// What the import is for: the target grid and what a sheet may leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerContext {
    /// The grid rows go to unless a 网格 column names another known grid.
    pub grid_code: String,
    /// Community for rows without one (a sheet without a 社区 column); usually the target grid's
    /// community from the org tree.
    pub community: Option<String>,
    /// Known grids (code, name), for a 网格 column.
    pub grids: Vec<(String, String)>,
    /// Area code given to 7-8 digit local landlines, e.g. `0953`.
    pub area_code: Option<String>,
    /// The worker's local date (birth and move-in dates may not be later).
    pub today: NaiveDate,
}

impl LedgerContext {
    /// A context for `grid_code` with no defaults.
    pub fn new(grid_code: &str, today: NaiveDate) -> LedgerContext {
        LedgerContext {
            grid_code: grid_code.to_owned(),
            community: None,
            grids: Vec::new(),
            area_code: None,
            today,
        }
    }
}

/// A household as a ledger row describes it. `None` / empty means the sheet said nothing (so a
/// re-import never clears a saved value).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerHousehold {
    pub grid_code: String,
    pub address: Address,
    pub housing_type: Option<HousingType>,
    pub care_tier: Option<CareTier>,
    pub tags: Vec<String>,
    pub location: Option<GeoPoint>,
    pub notes: Option<String>,
}

impl LedgerHousehold {
    /// The input that creates it (defaults: owned, routine care).
    pub fn to_input(&self) -> HouseholdInput {
        HouseholdInput {
            grid_code: self.grid_code.clone(),
            address: self.address.clone(),
            housing_type: self.housing_type.unwrap_or(HousingType::Owned),
            care_tier: self.care_tier.unwrap_or(CareTier::Routine),
            tags: self.tags.clone(),
            location: self.location,
            notes: self.notes.clone(),
        }
    }
}

/// A resident as a ledger row describes it, already validated and normalised: the ID number
/// has 18 characters, the phone is a mobile or `AREA-NUMBER`, gender and birth date agree with
/// the ID number (and are taken from it). `None` means the sheet said nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerResident {
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<Gender>,
    pub birth_date: Option<NaiveDate>,
    pub relation: Option<Relation>,
    pub residency: Option<Residency>,
    pub special_groups: Option<Vec<SpecialGroup>>,
    pub moved_in_on: Option<NaiveDate>,
    /// The desk's notes plus what the import keeps there (desk words without their own code,
    /// more phones, a month-only date).
    pub notes: Option<String>,
}

impl LedgerResident {
    /// The input that registers it in `household_id` (defaults: relation other, registered).
    pub fn to_input(&self, household_id: &str) -> ResidentInput {
        ResidentInput {
            household_id: household_id.to_owned(),
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            phone: self.phone.clone(),
            gender: self.gender,
            birth_date: self.birth_date,
            relation: self.relation.unwrap_or(Relation::Other),
            residency: self.residency.unwrap_or(Residency::Registered),
            special_groups: self.special_groups.clone().unwrap_or_default(),
            moved_in_on: self.moved_in_on,
            notes: self.notes.clone(),
        }
    }
}

/// One accepted ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// Line (CSV) or row (xlsx) number in the file, 1-based.
    pub line: usize,
    pub household: LedgerHousehold,
    /// `None` for a row without a name: a vacant or business dwelling.
    pub resident: Option<LedgerResident>,
    /// Which household of the file the row belongs to: [`household_key`] plus the 户号 column.
    pub group: String,
}

/// A fixed explanation attached to a refused field: allowed values, or what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldHint {
    pub field: String,
    pub zh: String,
    pub en: String,
}

impl FieldHint {
    fn new(field: &str, zh: impl Into<String>, en: impl Into<String>) -> FieldHint {
        FieldHint {
            field: field.to_owned(),
            zh: zh.into(),
            en: en.into(),
        }
    }

    fn allowed<T: Vocabulary>(field: &str) -> FieldHint {
        let list = synonyms::allowed_zh::<T>();
        FieldHint::new(
            field,
            format!("可填：{list}（常见写法见 docs/ledger-columns.md）"),
            format!("allowed: {list} (desk spellings: docs/ledger-columns.md)"),
        )
    }
}

/// A refused ledger row with all of its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub errors: Vec<ValidationError>,
    pub hints: Vec<FieldHint>,
}

/// The result of parsing a ledger file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLedger {
    /// See [`Table::encoding`].
    pub encoding: &'static str,
    /// The header row's cells as the file has them.
    pub headers: Vec<String>,
    pub rows: Vec<ParsedRow>,
    pub rejected: Vec<RowError>,
    /// Header texts that were not understood (or repeated a column already mapped), in order.
    pub ignored_columns: Vec<String>,
    /// Every data row's cells after filling down (what a rejected-rows file repeats, so each of
    /// its rows stands on its own).
    pub source: Vec<(usize, Vec<String>)>,
    /// Cells filled from the row above.
    pub filled_cells: usize,
    /// 15-digit ID numbers converted to 18 digits.
    pub ids_converted: usize,
    /// Rows that got a note from the import (desk word without its own code, more phones,
    /// month-only date).
    pub rows_with_notes: usize,
}

/// How many rows (header included) may sit above the header row: desks put a title there.
const HEADER_SEARCH_ROWS: usize = 10;

/// Parses a ledger file (CSV or xlsx) for the import described by `ctx`.
///
/// The file as a whole fails ([`Error::Format`]) when it cannot be read or lacks the 楼栋 column
/// (or the 社区 column, when `ctx` has no community). Single bad rows never fail the file: they
/// land in [`ParsedLedger::rejected`].
pub fn parse_ledger(bytes: &[u8], ctx: &LedgerContext) -> Result<ParsedLedger, Error> {
    let table = read_table(bytes)?;
    let community_required = ctx.community.is_none();

    // The header row is the first row naming the required columns.
    let candidates = std::iter::once(&table.headers)
        .chain(table.rows.iter().map(|(_, cells)| cells))
        .take(HEADER_SEARCH_ROWS);
    let mut found = None;
    for (skip, headers) in candidates.enumerate() {
        let mapping = Mapping::new(headers);
        if mapping.missing_required(community_required).is_empty() {
            found = Some((skip, headers.clone(), mapping));
            break;
        }
    }
    let Some((skip, headers, mapping)) = found else {
        let missing = Mapping::new(&table.headers)
            .missing_required(community_required)
            .iter()
            .map(|c| format!("{} ({})", c.header_zh(), c.header_en()))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Format {
            what: "ledger",
            detail: format!("缺少必需的列 / missing required column: {missing}"),
        });
    };
    let mut ledger = ParsedLedger {
        encoding: table.encoding,
        headers,
        rows: Vec::new(),
        rejected: Vec::new(),
        ignored_columns: mapping.ignored.clone(),
        source: Vec::new(),
        filled_cells: 0,
        ids_converted: 0,
        rows_with_notes: 0,
    };
    let mut prev: Option<Values> = None;
    for (line, cells) in table.rows.iter().skip(skip) {
        let mut values = mapping.values(cells);
        if values.is_blank() {
            // Only a row counter (序号) or other ignored cells: nothing to import.
            continue;
        }
        let own_dwelling = values.names_a_dwelling();
        let filled = fill_down(&mapping, &mut values, prev.as_ref());
        if values.is_blank() {
            continue;
        }
        if !own_dwelling && !values.names_a_person() && mapping.has(Column::Name) {
            // A row under a family with neither a person nor a dwelling of its own (a remark in
            // the notes column): not a new household. Refused if it holds anything.
            let holds_data = PERSON_LEVEL
                .iter()
                .chain([&Column::ResidentNotes])
                .any(|c| !values.get(*c).is_empty());
            if holds_data {
                ledger.source.push((*line, cells.clone()));
                ledger.rejected.push(RowError {
                    line: *line,
                    errors: vec![ValidationError::new("name", Code::Required)],
                    hints: Vec::new(),
                });
                prev = Some(values);
            }
            continue;
        }
        ledger.filled_cells += filled.len();
        let mut source = cells.clone();
        for c in &filled {
            if let Some(&i) = mapping.index[*c as usize].first() {
                if source.len() <= i {
                    source.resize(i + 1, String::new());
                }
                source[i] = values.get(*c).to_owned();
            }
        }
        ledger.source.push((*line, source));
        let numeric = |c: Column| {
            mapping.index[c as usize]
                .iter()
                .any(|i| table.numeric.contains(&(*line, *i)))
        };
        let mut row = RowParser {
            m: &mapping,
            v: &values,
            ctx,
            numeric: &numeric,
            errors: Vec::new(),
            hints: Vec::new(),
            id_converted: false,
            household_notes: Vec::new(),
            resident_notes: Vec::new(),
        };
        match row.parse(*line) {
            Ok(parsed) => {
                ledger.ids_converted += usize::from(row.id_converted);
                let noted = !row.household_notes.is_empty() || !row.resident_notes.is_empty();
                ledger.rows_with_notes += usize::from(noted);
                ledger.rows.push(parsed);
            }
            Err(()) => ledger.rejected.push(RowError {
                line: *line,
                errors: row.errors,
                hints: row.hints,
            }),
        }
        prev = Some(values);
    }
    Ok(ledger)
}

/// Which cell indexes hold which column.
struct Mapping {
    index: Vec<Vec<usize>>,
    ignored: Vec<String>,
}

/// The cells of one row by column (several cells of a [`MULTI`] column joined).
#[derive(Debug, Clone)]
struct Values(Vec<String>);

impl Values {
    fn get(&self, c: Column) -> &str {
        self.0.get(c as usize).map_or("", String::as_str)
    }

    fn set(&mut self, c: Column, v: String) {
        if let Some(slot) = self.0.get_mut(c as usize) {
            *slot = v;
        }
    }

    /// Nothing but blanks and "none" marks.
    fn is_blank(&self) -> bool {
        self.0.iter().all(|v| v.is_empty() || v == EXPLICITLY_NONE)
    }

    /// Whether the row itself (before filling down) says anything about a dwelling.
    fn names_a_dwelling(&self) -> bool {
        HOUSEHOLD_LEVEL
            .iter()
            .any(|c| !self.get(*c).is_empty() && self.get(*c) != EXPLICITLY_NONE)
    }

    fn names_a_person(&self) -> bool {
        !self.get(Column::Name).is_empty()
    }
}

impl Mapping {
    fn new(headers: &[String]) -> Mapping {
        let mut index = vec![Vec::new(); Column::ALL.len()];
        let mut ignored = Vec::new();
        for (i, header) in headers.iter().enumerate() {
            if header.trim().is_empty() {
                continue;
            }
            match Column::from_header(header) {
                Some(c) if index[c as usize].is_empty() || MULTI.contains(&c) => {
                    index[c as usize].push(i)
                }
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
        !self.index[c as usize].is_empty()
    }

    fn missing_required(&self, community_required: bool) -> Vec<Column> {
        let mut missing = Vec::new();
        if community_required && !self.has(Column::Community) {
            missing.push(Column::Community);
        }
        if !self.has(Column::Building) {
            missing.push(Column::Building);
        }
        missing
    }

    fn values(&self, cells: &[String]) -> Values {
        Values(
            Column::ALL
                .iter()
                .map(|c| {
                    let parts: Vec<&str> = self.index[*c as usize]
                        .iter()
                        .filter_map(|i| cells.get(*i))
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| match (NONE_MARKERS.contains(&s), c.household_level()) {
                            (false, _) => s,
                            (true, true) => EXPLICITLY_NONE,
                            (true, false) => "",
                        })
                        .filter(|s| !s.is_empty())
                        .collect();
                    let sep = match c {
                        Column::Phone => "/",
                        Column::Tags | Column::SpecialGroups => "、",
                        _ => "；",
                    };
                    parts.join(sep)
                })
                .collect(),
        )
    }
}

/// What desks write for "none" (a shop has no unit): the cell is empty but not merged, so it
/// does not fill down.
const NONE_MARKERS: &[&str] = &["/", "-", "—", "－", "无", "／"];
/// Stands for a [`NONE_MARKERS`] cell of a household-level column until filling down is done.
const EXPLICITLY_NONE: &str = "\u{0}";

/// Fills blank household-level cells from the row above, by the documented rule (module docs);
/// returns the columns it filled.
fn fill_down(m: &Mapping, v: &mut Values, prev: Option<&Values>) -> Vec<Column> {
    let explicit: Vec<Column> = HOUSEHOLD_LEVEL
        .iter()
        .copied()
        .filter(|c| v.get(*c) == EXPLICITLY_NONE)
        .collect();
    let Some(p) = prev else {
        for c in explicit {
            v.set(c, String::new());
        }
        return Vec::new();
    };
    let mut filled = Vec::new();
    let mut same_place = true;
    for &c in PLACE {
        if !m.has(c) {
            continue;
        }
        if explicit.contains(&c) {
            v.set(c, String::new());
            same_place &= p.get(c).is_empty();
        } else if v.get(c).is_empty() {
            if same_place && !p.get(c).is_empty() {
                v.set(c, p.get(c).to_owned());
                filled.push(c);
            }
        } else if norm(v.get(c)) != norm(p.get(c)) {
            same_place = false;
        }
    }
    for c in &explicit {
        v.set(*c, String::new());
    }
    if m.has(Column::Floor) && same_place && !explicit.contains(&Column::Floor) {
        if v.get(Column::Floor).is_empty() {
            let above = p.get(Column::Floor);
            if !above.is_empty() && !room_contradicts_floor(v.get(Column::Room), above) {
                v.set(Column::Floor, above.to_owned());
                filled.push(Column::Floor);
            }
        } else if parse_floor(v.get(Column::Floor)).ok() != parse_floor(p.get(Column::Floor)).ok() {
            same_place = false;
        }
    }
    if !same_place {
        return filled;
    }
    // The same family as the row above: a person without a room of its own, not a head, and no
    // other household number or head name. (A row without a person describes a dwelling of its
    // own and takes nothing from the row above but its place.)
    let person = !v.get(Column::Name).is_empty();
    let starts_household = !person
        || is_head_word(v.get(Column::Relation))
        || (!m.has(Column::Name) && !v.get(Column::HeadName).is_empty());
    let differs = |c: Column| !v.get(c).is_empty() && norm(v.get(c)) != norm(p.get(c));
    let same_family = !starts_household
        && !differs(Column::HouseholdNo)
        && !differs(Column::HeadName)
        && (v.get(Column::Room).is_empty() || !differs(Column::Room));
    if same_family {
        for &c in DWELLING {
            if m.has(c) && !explicit.contains(&c) && v.get(c).is_empty() && !p.get(c).is_empty() {
                v.set(c, p.get(c).to_owned());
                filled.push(c);
            }
        }
    }
    filled
}

/// A numeric room of three or more digits says its floor (`701` is on the 7th); a floor from
/// the row above that disagrees is not filled in.
fn room_contradicts_floor(room: &str, floor: &str) -> bool {
    let r = norm(room);
    let r = strip_unit_word(&r, &["室", "号", "房"]);
    if r.len() < 3 || !r.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Ok(f), Ok(from_room)) = (parse_floor(floor), r[..r.len() - 2].parse::<i32>()) else {
        return false;
    };
    f != from_room
}

fn is_head_word(s: &str) -> bool {
    !s.is_empty() && synonyms::read::<Relation>(s).is_some_and(|m| m.value == Relation::Head)
}

// ---- one row --------------------------------------------------------------------------------

struct RowParser<'a> {
    m: &'a Mapping,
    v: &'a Values,
    ctx: &'a LedgerContext,
    numeric: &'a dyn Fn(Column) -> bool,
    errors: Vec<ValidationError>,
    hints: Vec<FieldHint>,
    id_converted: bool,
    household_notes: Vec<String>,
    resident_notes: Vec<String>,
}

/// Limits of `households.rs` / `residents.rs`, checked here so a row reports all its errors.
const FLOOR_RANGE: std::ops::RangeInclusive<i32> = -10..=200;
const NOTES_MAX: usize = 1000;

impl RowParser<'_> {
    fn get(&self, c: Column) -> &str {
        self.v.get(c)
    }

    fn err(&mut self, field: &str, code: Code) {
        if !self
            .errors
            .iter()
            .any(|e| e.field == field && e.code == code)
        {
            self.errors.push(ValidationError::new(field, code));
        }
    }

    fn hint(&mut self, h: FieldHint) {
        if !self.hints.contains(&h) {
            self.hints.push(h);
        }
    }

    fn max_chars(&mut self, field: &str, s: &str, max: usize) {
        if s.chars().count() > max {
            self.err(field, Code::TooLong);
        }
    }

    /// A vocabulary cell: the value, a note for a nearest-code word, or an error with the list.
    fn vocab<T: Vocabulary>(&mut self, c: Column, label: &str, household: bool) -> Option<T> {
        let s = self.get(c).to_owned();
        if s.is_empty() {
            return None;
        }
        let field = c.spec().field;
        match synonyms::read::<T>(&s) {
            Some(DeskMatch { value, exact }) => {
                if !exact {
                    let note = format!("{label}：{s}");
                    if household {
                        self.household_notes.push(note);
                    } else {
                        self.resident_notes.push(note);
                    }
                }
                Some(value)
            }
            None => {
                self.err(field, Code::InvalidValue);
                self.hint(FieldHint::allowed::<T>(field));
                None
            }
        }
    }

    fn parse(&mut self, line: usize) -> Result<ParsedRow, ()> {
        let mut household = self.household();
        let resident = self.resident();
        // On a dwelling row (no person) the only notes column is about the dwelling.
        let desk_notes = match (self.get(Column::HouseholdNotes), &resident) {
            ("", None) => self.get(Column::ResidentNotes),
            (notes, _) => notes,
        };
        household.notes = join_notes(Some(desk_notes), &self.household_notes);
        if let Some(n) = household.notes.clone() {
            self.max_chars("notes", &n, NOTES_MAX);
        }
        if !self.errors.is_empty() {
            return Err(());
        }
        let mut group = household_key(&household.address);
        let no = norm(self.get(Column::HouseholdNo));
        if !no.is_empty() {
            group.push('#');
            group.push_str(&no);
        }
        Ok(ParsedRow {
            line,
            household,
            resident,
            group,
        })
    }

    fn household(&mut self) -> LedgerHousehold {
        let grid_code = match self.get(Column::Grid) {
            "" => self.ctx.grid_code.clone(),
            g => match resolve_grid(self.ctx, g) {
                Some(code) => code,
                None => {
                    self.err("grid_code", Code::UnknownReference);
                    self.hint(FieldHint::new(
                        "grid_code",
                        "网格须是本机已有的网格（编码或名称）",
                        "the grid must be one this device knows (code or name)",
                    ));
                    String::new()
                }
            },
        };
        let community = match self.get(Column::Community) {
            "" => self.ctx.community.clone().unwrap_or_default(),
            c => c.to_owned(),
        };
        if community.is_empty() {
            self.err("address.community", Code::Required);
        }
        self.max_chars("address.community", &community, 50);
        let estate = self.get(Column::Estate).to_owned();
        let mut building = self.get(Column::Building).to_owned();
        if building.is_empty() {
            self.err("address.building", Code::Required);
        } else if !estate.is_empty() && !norm(&building).starts_with(&norm(&estate)) {
            // "阳光花园" + "3栋": the estate keeps two 3栋 of different estates apart.
            building = format!("{estate}{building}");
        }
        self.max_chars("address.building", &building, 30);
        let unit = opt(self.get(Column::Unit));
        let room = opt(self.get(Column::Room));
        let text = opt(self.get(Column::AddressText));
        for (field, v, max) in [
            ("address.unit", &unit, 20),
            ("address.room", &room, 20),
            ("address.text", &text, 200),
        ] {
            if let Some(v) = v {
                self.max_chars(field, v, max);
            }
        }
        let floor = match self.get(Column::Floor) {
            "" => None,
            s => match parse_floor(s) {
                Ok(f) => Some(f),
                Err(code) => {
                    self.err("address.floor", code);
                    self.hint(FieldHint::new(
                        "address.floor",
                        "楼层填数字：5、5楼、-1、B1、地下1层（-10 到 200）",
                        "floor: 5, 5楼, -1, B1, 地下1层 (-10 to 200)",
                    ));
                    None
                }
            },
        };
        let housing_type = self.vocab::<HousingType>(Column::HousingType, "住房类型", true);
        let care_tier = self.vocab::<CareTier>(Column::CareTier, "关爱等级", true);
        let tags: Vec<String> = split_list(self.get(Column::Tags))
            .into_iter()
            .map(str::to_owned)
            .collect();
        if tags.iter().any(|t| t.chars().count() > 20) || tags.len() > 20 {
            self.err("tags", Code::TooLong);
        }
        let (lat, lng) = (
            self.get(Column::Lat).to_owned(),
            self.get(Column::Lng).to_owned(),
        );
        let location = self.location(&lat, &lng);
        LedgerHousehold {
            grid_code,
            address: Address {
                community,
                building,
                unit,
                floor,
                room,
                text,
            },
            housing_type,
            care_tier,
            tags,
            location,
            notes: None,
        }
    }

    fn coord(&mut self, field: &str, s: &str, limit: f64) -> Option<f64> {
        match compact(s).parse::<f64>().ok().filter(|v| v.is_finite()) {
            None => self.err(field, Code::InvalidFormat),
            Some(v) if v.abs() > limit => self.err(field, Code::OutOfRange),
            Some(v) => return Some(v),
        }
        None
    }

    fn location(&mut self, lat: &str, lng: &str) -> Option<GeoPoint> {
        match (lat.is_empty(), lng.is_empty()) {
            (true, true) => None,
            (false, true) => {
                self.coord("location.lat", lat, 90.0);
                self.err("location.lng", Code::Required);
                None
            }
            (true, false) => {
                self.err("location.lat", Code::Required);
                self.coord("location.lng", lng, 180.0);
                None
            }
            (false, false) => {
                let lat = self.coord("location.lat", lat, 90.0);
                let lng = self.coord("location.lng", lng, 180.0);
                let p = GeoPoint {
                    lat: lat?,
                    lng: lng?,
                };
                if let Err(e) = validate::coordinates("location", p) {
                    self.err(&e.field, e.code);
                    return None;
                }
                Some(p)
            }
        }
    }

    fn name(&self) -> (String, bool) {
        if self.m.has(Column::Name) {
            (self.get(Column::Name).to_owned(), false)
        } else {
            // A sheet of households: 户主姓名 is the person of the row, and the head.
            (self.get(Column::HeadName).to_owned(), true)
        }
    }

    fn resident(&mut self) -> Option<LedgerResident> {
        let (name, is_head_column) = self.name();
        if name.is_empty() {
            // A vacant or business dwelling. Person data without a name is a mistake, not a
            // household: refuse the row rather than silently drop what the desk typed.
            if PERSON_LEVEL.iter().any(|c| !self.get(*c).is_empty()) {
                self.err("name", Code::Required);
            }
            return None;
        }
        let name = match validate::person_name("name", &name) {
            Ok(n) => n,
            Err(e) => {
                self.err(&e.field, e.code);
                name
            }
        };
        let gender = self.vocab::<Gender>(Column::Gender, "性别", false);
        let mut relation = self.vocab::<Relation>(Column::Relation, "与户主关系", false);
        if relation.is_none() && is_head_column {
            relation = Some(Relation::Head);
        }
        let residency = self.vocab::<Residency>(Column::Residency, "户籍类型", false);
        let special_groups = self.special_groups();
        let birth = self.date(Column::BirthDate, "出生日期");
        let moved_in_on = self.date(Column::MovedInOn, "迁入日期").map(|(d, _)| d);
        let phones = self.phones();
        let (id_number, gender, birth_date) = self.identity(gender, birth);

        let mut notes_extra = std::mem::take(&mut self.resident_notes);
        if let Some((_, more)) = &phones {
            if !more.is_empty() {
                notes_extra.push(format!("其他电话：{}", more.join("、")));
            }
        }
        let notes = join_notes(
            opt(self.get(Column::ResidentNotes)).as_deref(),
            &notes_extra,
        );
        if let Some(n) = &notes {
            self.max_chars("notes", n, NOTES_MAX);
        }
        self.resident_notes = notes_extra;
        Some(LedgerResident {
            name,
            id_number,
            phone: phones.and_then(|(first, _)| first),
            gender,
            birth_date,
            relation,
            residency,
            special_groups,
            moved_in_on,
            notes,
        })
    }

    fn special_groups(&mut self) -> Option<Vec<SpecialGroup>> {
        let cell = self.get(Column::SpecialGroups).to_owned();
        if cell.is_empty() {
            return None;
        }
        let mut groups = Vec::new();
        let mut nearest = Vec::new();
        let mut bad = false;
        for item in split_list(&cell) {
            if matches!(item, "无" | "否" | "/" | "-") {
                continue;
            }
            match synonyms::read::<SpecialGroup>(item) {
                Some(m) => {
                    if !m.exact {
                        nearest.push(item.to_owned());
                    }
                    if !groups.contains(&m.value) {
                        groups.push(m.value);
                    }
                }
                None => bad = true,
            }
        }
        if bad {
            self.err("special_groups", Code::InvalidValue);
            self.hint(FieldHint::allowed::<SpecialGroup>("special_groups"));
        }
        if !nearest.is_empty() {
            self.resident_notes
                .push(format!("特殊人群：{}", nearest.join("、")));
        }
        groups.sort();
        Some(groups)
    }

    /// A date cell; a month-only date is the 1st with a note. Future dates are refused.
    fn date(&mut self, c: Column, label: &str) -> Option<(NaiveDate, DatePrecision)> {
        let s = self.get(c).to_owned();
        if s.is_empty() {
            return None;
        }
        let field = c.spec().field;
        match parse_date(&s, (self.numeric)(c)) {
            Ok((d, precision)) => {
                if d > self.ctx.today {
                    self.err(field, Code::FutureDate);
                    return None;
                }
                if precision == DatePrecision::Month && c != Column::BirthDate {
                    self.resident_notes.push(format!(
                        "{label}只到月（{}年{:02}月），日按1日记",
                        d.year(),
                        d.month()
                    ));
                }
                Some((d, precision))
            }
            Err(problem) => {
                self.err(field, Code::InvalidDate);
                let (zh, en) = match problem {
                    DateProblem::YearOnly => (
                        "只有年份：请至少填到月，如 1985.03",
                        "year only: give at least the month, e.g. 1985.03",
                    ),
                    DateProblem::AmbiguousMonth => (
                        "Excel 把它存成了数字（1985.10 会变成 1985.1），无法区分 1 月和 10 月：请把该列设为文本后重填",
                        "Excel stored it as a number (1985.10 becomes 1985.1), so January and October cannot be told apart: format the column as text and retype it",
                    ),
                    DateProblem::Invalid => (
                        "日期写法：1985-03-07、1985/3/7、1985.03.07、1985年3月7日、19850307，或只到月 1985.03",
                        "dates: 1985-03-07, 1985/3/7, 1985.03.07, 1985年3月7日, 19850307, or month only 1985.03",
                    ),
                };
                self.hint(FieldHint::new(field, zh, en));
                None
            }
        }
    }

    /// Every number of the phone cell(s): the first is the phone, the others go to the notes.
    fn phones(&mut self) -> Option<(Option<String>, Vec<String>)> {
        let cell = self.get(Column::Phone).to_owned();
        if cell.is_empty() {
            return None;
        }
        match parse_phones(&cell, self.ctx.area_code.as_deref()) {
            Ok(mut all) => {
                let first = (!all.is_empty()).then(|| all.remove(0));
                Some((first, all))
            }
            Err(problem) => {
                self.err("phone", Code::InvalidFormat);
                let (zh, en) = match problem {
                    PhoneProblem::NeedsAreaCode => (
                        "座机号缺区号：请写成 0953-1234567，或导入时指定区号（--area-code）",
                        "landline without area code: write 0953-1234567 or give the area code on import (--area-code)",
                    ),
                    PhoneProblem::Invalid => (
                        "手机号 11 位，座机 区号-号码；多个号码用 / 或 、 分隔",
                        "mobile: 11 digits; landline: area code-number; separate several with / or 、",
                    ),
                };
                self.hint(FieldHint::new("phone", zh, en));
                None
            }
        }
    }

    /// The ID number (15 digits converted), checked with gender and birth date given beside it;
    /// with a valid number, gender and birth date are the number's.
    fn identity(
        &mut self,
        gender: Option<Gender>,
        birth: Option<(NaiveDate, DatePrecision)>,
    ) -> (Option<String>, Option<Gender>, Option<NaiveDate>) {
        let raw = compact(self.get(Column::IdNumber)).to_uppercase();
        let month_note = |p: &mut Self, d: NaiveDate| {
            p.resident_notes.push(format!(
                "出生日期只到月（{}年{:02}月），日按1日记",
                d.year(),
                d.month()
            ));
        };
        if raw.is_empty() {
            if let Some((d, DatePrecision::Month)) = birth {
                month_note(self, d);
            }
            return (None, gender, birth.map(|(d, _)| d));
        }
        let raw = match validate::id_number_from_15(&raw) {
            Some(new) => {
                self.id_converted = true;
                new
            }
            None => raw,
        };
        match validate::id_number("id_number", &raw, self.ctx.today) {
            Ok((number, info)) => {
                if gender.is_some_and(|g| g != info.gender) {
                    self.err("gender", Code::Mismatch);
                    self.hint(FieldHint::new(
                        "gender",
                        "与身份证号不符（第17位奇数为男、偶数为女）",
                        "disagrees with the ID number (17th digit odd: male, even: female)",
                    ));
                }
                let agrees = match birth {
                    None => true,
                    Some((d, DatePrecision::Day)) => d == info.birth_date,
                    Some((d, DatePrecision::Month)) => {
                        (d.year(), d.month()) == (info.birth_date.year(), info.birth_date.month())
                    }
                };
                if !agrees {
                    self.err("birth_date", Code::Mismatch);
                    self.hint(FieldHint::new(
                        "birth_date",
                        "与身份证号中的出生日期（第7-14位）不符",
                        "disagrees with the birth date in the ID number (digits 7-14)",
                    ));
                }
                (Some(number), Some(info.gender), Some(info.birth_date))
            }
            Err(e) => {
                self.err(&e.field, e.code);
                if (self.numeric)(Column::IdNumber) {
                    self.hint(FieldHint::new(
                        "id_number",
                        "Excel 把身份证号存成了数字，超过 15 位的部分已丢失：请把该列设为文本后重新填写",
                        "Excel stored the ID number as a number and lost the digits past the 15th: format the column as text and retype it",
                    ));
                }
                (None, gender, birth.map(|(d, _)| d))
            }
        }
    }
}

/// A grid named by code or by name.
fn resolve_grid(ctx: &LedgerContext, cell: &str) -> Option<String> {
    let key = norm(cell);
    if key == norm(&ctx.grid_code) {
        return Some(ctx.grid_code.clone());
    }
    ctx.grids
        .iter()
        .find(|(code, name)| norm(code) == key || norm(name) == key)
        .map(|(code, _)| code.clone())
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The desk's notes followed by the import's, joined with `；`.
fn join_notes(desk: Option<&str>, extra: &[String]) -> Option<String> {
    let mut parts: Vec<String> = desk
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    parts.extend(extra.iter().cloned());
    (!parts.is_empty()).then(|| parts.join("；"))
}

/// Half-width, without any whitespace (ID numbers and phones typed with an IME or spaced out).
fn compact(s: &str) -> String {
    halfwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Splits a list cell on `,，、;；|/` and line breaks, trimming items and dropping blanks and
/// repeats.
fn split_list(s: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for item in s.split([',', '，', '、', ';', '；', '|', '/', '\n']) {
        let item = item.trim();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// `5`, `5楼`, `5层`, `5F`, `第5层` → 5; `-1`, `B1`, `负1`, `地下1层` → -1. Range -10..=200.
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

/// How much of a date a cell gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrecision {
    Day,
    /// Year and month only: stored as the 1st of the month (with a note).
    Month,
}

/// Why a date cell was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    Invalid,
    /// `1985` alone.
    YearOnly,
    /// A number cell `1985.1`: January, or October typed as `1985.10`?
    AmbiguousMonth,
}

/// Reads a date cell.
///
/// Text: `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.MM.DD`, `YYYY年M月D日`, `YYYYMMDD`, each optionally
/// followed by a time of day (Excel writes `2024/1/5 0:00`); month only: `YYYY-MM`, `YYYY/M`,
/// `YYYY.MM`, `YYYY年M月`, `YYYYMM`. A workbook *number* cell (`numeric`) may also be an Excel
/// serial day number, `YYYYMMDD`, `YYYYMM` or `YYYY.M(M)` typed as a number; a text cell never is
/// a serial.
pub fn parse_date(s: &str, numeric: bool) -> Result<(NaiveDate, DatePrecision), DateProblem> {
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
        return Err(DateProblem::Invalid);
    }
    let all_digits = !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit());
    let num = |p: &str| p.parse::<u32>().ok();
    let ymd = |y: u32, m: u32, d: u32| {
        i32::try_from(y)
            .ok()
            .filter(|y| (1900..=2100).contains(y))
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
    };
    let day = |d: Option<NaiveDate>| {
        d.map(|d| (d, DatePrecision::Day))
            .ok_or(DateProblem::Invalid)
    };
    let month = |d: Option<NaiveDate>| {
        d.map(|d| (d, DatePrecision::Month))
            .ok_or(DateProblem::Invalid)
    };

    if all_digits {
        return match date.len() {
            8 => day(ymd(
                num(&date[..4]).unwrap_or(0),
                num(&date[4..6]).unwrap_or(0),
                num(&date[6..]).unwrap_or(0),
            )),
            6 => month(ymd(
                num(&date[..4]).unwrap_or(0),
                num(&date[4..]).unwrap_or(0),
                1,
            )),
            4 if num(date).is_some_and(|y| (1900..=2100).contains(&y)) => {
                Err(DateProblem::YearOnly)
            }
            _ if numeric && time.is_empty() => day(excel_serial(date)),
            _ => Err(DateProblem::Invalid),
        };
    }
    if numeric && time.is_empty() {
        // 1985.03 typed into a General cell is the number 1985.03; 1985.1 may have been 1985.10.
        if let Some((y, m)) = date.split_once('.') {
            let year = (y.len() == 4)
                .then(|| num(y))
                .flatten()
                .filter(|y| (1900..=2100).contains(y));
            if let (Some(year), true) = (year, m.bytes().all(|b| b.is_ascii_digit())) {
                return match (m.len(), num(m)) {
                    (1, Some(1)) => Err(DateProblem::AmbiguousMonth),
                    (1..=2, Some(mo)) => month(ymd(year, mo, 1)),
                    _ => Err(DateProblem::Invalid),
                };
            }
        }
        if let Ok(d) = day(excel_serial(date)) {
            return Ok(d);
        }
    }

    let date = date.strip_suffix('日').unwrap_or(date);
    let parts: Vec<&str> = if let Some((y, rest)) = date.split_once('年') {
        match rest.split_once('月') {
            Some((m, "")) => vec![y, m],
            Some((m, d)) => vec![y, m, d],
            None if rest.is_empty() => vec![y],
            None => return Err(DateProblem::Invalid),
        }
    } else {
        match date.chars().find(|c| matches!(c, '-' | '/' | '.')) {
            Some(sep) => date.split(sep).collect(),
            None => vec![date],
        }
    };
    let digits = |p: &str, min: usize, max: usize| {
        (p.len() >= min && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| num(p))
            .flatten()
    };
    match parts.as_slice() {
        [y] => match digits(y, 4, 4) {
            Some(_) => Err(DateProblem::YearOnly),
            None => Err(DateProblem::Invalid),
        },
        [y, m] => {
            let (Some(y), Some(m)) = (digits(y, 4, 4), digits(m, 1, 2)) else {
                return Err(DateProblem::Invalid);
            };
            month(ymd(y, m, 1))
        }
        [y, m, d] => {
            let (Some(y), Some(m), Some(d)) = (digits(y, 4, 4), digits(m, 1, 2), digits(d, 1, 2))
            else {
                return Err(DateProblem::Invalid);
            };
            day(ymd(y, m, d))
        }
        _ => Err(DateProblem::Invalid),
    }
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

/// Why a phone cell was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProblem {
    Invalid,
    /// A 7-8 digit local number and no area code to give it.
    NeedsAreaCode,
}

/// Every number in a phone cell, normalised (mobiles as 11 digits, landlines `AREA-NUMBER`).
///
/// Numbers are separated by `/ , ， 、 ; ； |`, line breaks, 或, or blanks between complete
/// numbers; labels (手机：, 座机) and bracketed remarks ((本人)) are dropped; a 7-8 digit local
/// landline gets `area_code`. Any part that is not a number refuses the cell (nothing is
/// dropped silently).
pub fn parse_phones(cell: &str, area_code: Option<&str>) -> Result<Vec<String>, PhoneProblem> {
    let text = halfwidth(cell);
    let mut out: Vec<String> = Vec::new();
    for part in text.split(['/', ',', '，', '、', ';', '；', '|', '\n', '或']) {
        let part = strip_phone_label(part);
        if part.is_empty() {
            continue;
        }
        let numbers = match one_phone(&part, area_code) {
            Ok(n) => vec![n],
            Err(first_problem) => {
                // "13800138000 13900139000": blanks between complete numbers.
                let pieces: Vec<&str> = part.split_whitespace().collect();
                if pieces.len() < 2 {
                    return Err(first_problem);
                }
                let mut each = Vec::new();
                for p in pieces {
                    each.push(one_phone(p, area_code).map_err(|_| first_problem)?);
                }
                each
            }
        };
        for n in numbers {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

fn one_phone(part: &str, area_code: Option<&str>) -> Result<String, PhoneProblem> {
    if let Ok(n) = validate::phone("phone", part) {
        return Ok(n);
    }
    let digits: String = part
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let local = (7..=8).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with(['0', '1']);
    if !local {
        return Err(PhoneProblem::Invalid);
    }
    match area_code {
        Some(area) => {
            validate::phone("phone", &format!("{area}-{digits}")).map_err(|_| PhoneProblem::Invalid)
        }
        None => Err(PhoneProblem::NeedsAreaCode),
    }
}

/// Drops `手机：`, `电话:`, `座机` labels and bracketed remarks such as `(本人)`.
fn strip_phone_label(part: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in part.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    let mut t = out.trim();
    for label in [
        "手机号码",
        "手机号",
        "手机",
        "电话",
        "座机",
        "固话",
        "宅电",
        "tel",
        "TEL",
    ] {
        if let Some(rest) = t.strip_prefix(label) {
            t = rest.trim_start_matches([':', '：', ' ']).trim();
            break;
        }
    }
    t.to_owned()
}

/// Lowercase, half-width, without blanks: how keys compare text.
fn norm(s: &str) -> String {
    halfwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `3栋` and `3` are the same building, `502室` and `502` the same room: a unit word after
/// digits or Latin letters is dropped for comparing (not for storing). `东户` keeps its `户`.
fn strip_unit_word<'a>(s: &'a str, words: &[&str]) -> &'a str {
    for w in words {
        if let Some(rest) = s.strip_suffix(w) {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return rest;
            }
        }
    }
    s
}

/// The key of one dwelling: community, building, unit, floor and room, compared without
/// blanks, case or full-width forms, and with `栋/号楼/幢`, `单元`, `室/号` after a number
/// dropped (`３号楼 2单元 502室` = `3栋 2 502`). Two addresses with different rooms or different
/// floors never share a key.
pub fn household_key(a: &Address) -> String {
    let building = norm(&a.building);
    let unit = norm(a.unit.as_deref().unwrap_or(""));
    let room = norm(a.room.as_deref().unwrap_or(""));
    [
        norm(&a.community),
        strip_unit_word(&building, &["号楼", "栋", "幢", "号", "楼", "座", "组"]).to_owned(),
        strip_unit_word(&unit, &["单元", "门"]).to_owned(),
        a.floor.map(|f| f.to_string()).unwrap_or_default(),
        strip_unit_word(&room, &["室", "号", "房"]).to_owned(),
    ]
    .join("|")
}

/// [`household_key`] without the floor: for a household saved without a floor that a ledger
/// now gives one (and the other way round).
pub fn household_key_without_floor(a: &Address) -> String {
    household_key(&Address {
        floor: None,
        ..a.clone()
    })
}

// ---- the rejected-rows file ----------------------------------------------------------------

/// A file of refused rows in the format of the original, to fix and import again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFile {
    pub bytes: Vec<u8>,
    /// `gbk` (the original was GBK CSV) or `utf-8` (UTF-8 CSV, or an xlsx original).
    pub encoding: &'static str,
}

/// The reason text of a refused row, Chinese first: `楼栋 必填项不能为空 / required value is
/// missing [address.building]; …` plus the hints. Holds no cell value.
pub fn reason_text(errors: &[ValidationError], hints: &[FieldHint]) -> String {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    for e in errors {
        let hint = hints.iter().find(|h| h.field == e.field);
        let (hz, he) = hint.map_or((String::new(), String::new()), |h| {
            (format!("（{}）", h.zh), format!(" ({})", h.en))
        });
        zh.push(format!(
            "{}：{}{hz}",
            field_zh(&e.field),
            e.code.message_zh()
        ));
        en.push(format!(
            "{} {}{he} [{}]",
            e.field,
            e.code.message_en(),
            e.code
        ));
    }
    format!("{} / {}", zh.join("；"), en.join("; "))
}

/// Writes the header row and the refused rows (as filled down, so each stands alone) with a
/// reason column, as CSV in the original's encoding (GBK stays GBK; UTF-8 and xlsx originals
/// give UTF-8 with a BOM). Cells Excel would corrupt are protected as in exports; the parser
/// reads them back, and ignores the reason column.
pub fn rejected_file(ledger: &ParsedLedger, rejected: &[(usize, String)]) -> RejectedFile {
    let width = ledger.headers.len();
    let mut headers: Vec<String> = ledger
        .headers
        .iter()
        .filter(|h| h.as_str() != REASON_HEADER)
        .cloned()
        .collect();
    let reason_at = ledger.headers.iter().position(|h| h == REASON_HEADER);
    headers.push(REASON_HEADER.to_owned());
    let id_columns: HashSet<usize> = {
        let m = Mapping::new(&ledger.headers);
        [Column::IdNumber, Column::Phone, Column::Room, Column::Unit]
            .iter()
            .flat_map(|c| m.index[*c as usize].clone())
            .collect()
    };
    let mut rows = Vec::new();
    for (line, reason) in rejected {
        let Some((_, cells)) = ledger.source.iter().find(|(l, _)| l == line) else {
            continue;
        };
        let mut out: Vec<Cell> = (0..width.max(cells.len()))
            .filter(|i| Some(*i) != reason_at)
            .map(|i| {
                let v = cells.get(i).cloned().unwrap_or_default();
                if id_columns.contains(&i) {
                    Cell::code(v)
                } else {
                    Cell::text(v)
                }
            })
            .collect();
        out.truncate(headers.len() - 1);
        out.resize(headers.len() - 1, Cell::Empty);
        out.push(Cell::text(reason.clone()));
        rows.push(out);
    }
    let sheet = Sheet {
        name: "退回行".into(),
        headers,
        rows,
    };
    let mut text = Vec::new();
    // Writing into a Vec cannot fail; an error would only lose the file, never data.
    let _ = sheet::write_csv_records(&mut text, &sheet);
    if ledger.encoding == "gbk" {
        let s = String::from_utf8_lossy(&text);
        let (bytes, _, _) = encoding_rs::GB18030.encode(&s);
        RejectedFile {
            bytes: bytes.into_owned(),
            encoding: "gbk",
        }
    } else {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend(text);
        RejectedFile {
            bytes,
            encoding: "utf-8",
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ctx() -> LedgerContext {
        LedgerContext::new("G01", ymd(2024, 6, 15))
    }

    fn parse(text: &str) -> ParsedLedger {
        parse_ledger(text.as_bytes(), &ctx()).unwrap()
    }

    fn codes(e: &RowError) -> Vec<(&str, Code)> {
        e.errors
            .iter()
            .map(|v| (v.field.as_str(), v.code))
            .collect()
    }

    fn person(row: &ParsedRow) -> &LedgerResident {
        row.resident.as_ref().unwrap()
    }

    /// A valid 18-digit ID number.
    fn id(first17: &str) -> String {
        format!("{first17}{}", validate::id_check_digit(first17).unwrap())
    }

    const CSV_ZH: &str =
        "序号,社区,楼栋,单元,房号,姓名,身份证号,联系电话,关爱等级,与户主关系,特殊人群\n\
        1,幸福社区,3栋,2单元,502,张三,110101199003070038,13800138000,连心户,户主,独居老人、残疾人\n\
        2,幸福社区,3栋,2单元,502,李四,,,,配偶,\n";

    #[test]
    fn column_table_is_in_enum_order_and_unambiguous() {
        let mut seen = HashSet::new();
        for (i, s) in COLUMNS.iter().enumerate() {
            assert_eq!(s.column as usize, i, "{:?}", s.column);
            assert_eq!(Column::ALL[i], s.column);
            for h in std::iter::once(&s.zh).chain([&s.en]).chain(s.synonyms) {
                assert!(seen.insert(header_key(h)), "{h} names two columns");
                assert_eq!(Column::from_header(h), Some(s.column), "{h}");
            }
        }
        for h in IGNORED_HEADERS {
            assert_eq!(Column::from_header(h), None, "{h}");
        }
        assert_eq!(COLUMNS.len(), Column::ALL.len());
    }

    #[test]
    fn utf8_with_bom() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(CSV_ZH.as_bytes());
        let ledger = parse_ledger(&bytes, &ctx()).unwrap();
        assert_eq!(ledger.encoding, "utf-8");
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert!(ledger.ignored_columns.is_empty());
        assert_eq!(ledger.rows.len(), 2);
        let first = &ledger.rows[0];
        assert_eq!(first.line, 2);
        assert_eq!(first.household.grid_code, "G01");
        assert_eq!(first.household.address.community, "幸福社区");
        assert_eq!(first.household.address.unit.as_deref(), Some("2单元"));
        assert_eq!(first.household.care_tier, Some(CareTier::Close));
        assert_eq!(first.household.housing_type, None);
        let r = person(first);
        assert_eq!(r.name, "张三");
        assert_eq!(r.id_number.as_deref(), Some("110101199003070038"));
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.birth_date, Some(ymd(1990, 3, 7)));
        assert_eq!(r.relation, Some(Relation::Head));
        assert_eq!(
            r.special_groups,
            Some(vec![SpecialGroup::ElderlyAlone, SpecialGroup::Disabled])
        );
        let second = person(&ledger.rows[1]);
        assert_eq!(second.relation, Some(Relation::Spouse));
        assert_eq!(second.residency, None);
        assert_eq!(ledger.rows[0].group, ledger.rows[1].group);
    }

    #[test]
    fn gbk_bytes() {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(CSV_ZH);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(decode_text(&bytes), (CSV_ZH.to_owned(), "gbk"));
        let ledger = parse_ledger(&bytes, &ctx()).unwrap();
        assert_eq!(ledger.encoding, "gbk");
        assert_eq!(ledger.rows.len(), 2);
        assert_eq!(person(&ledger.rows[0]).name, "张三");
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
        assert_eq!(row.household.housing_type, Some(HousingType::GroupRental));
        assert_eq!(row.household.care_tier, Some(CareTier::Close));
        let r = person(row);
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.residency, Some(Residency::Floating));
        assert_eq!(r.phone.as_deref(), Some("13800138000"));
    }

    #[test]
    fn header_aliases_and_markers() {
        for (header, column) in [
            ("楼号", Column::Building),
            ("*社区", Column::Community),
            (" 门牌号 ", Column::Room),
            ("门牌", Column::Room),
            ("室", Column::Room),
            ("公民身份号码", Column::IdNumber),
            ("身份证号（18位）", Column::IdNumber),
            ("手机号", Column::Phone),
            ("联系电话：", Column::Phone),
            ("户类", Column::CareTier),
            ("人口类型", Column::Residency),
            ("户主姓名", Column::HeadName),
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
            "社区,楼栋,楼层,关爱等级,住房类型,纬度,经度,姓名,性别,出生日期,迁入日期,特殊人群,与户主关系,身份证号,联系电话\n\
             ,,五楼,很关心,别墅,north,,王五,中,1990-02-30,2020/13/01,独居老人、会飞,邻居,110101199003070036,12345\n\
             幸福社区,3栋,,,,,,,,,,,,,\n",
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
                ("phone", Code::InvalidFormat),
                ("id_number", Code::InvalidChecksum),
            ]
        );
        // Allowed values are listed for the vocabularies.
        let hint = |f: &str| e.hints.iter().find(|h| h.field == f).unwrap();
        assert!(hint("relation").zh.contains("户主、配偶、子女"));
        assert!(hint("housing_type").en.contains("群租"));
        // No cell value leaks into the messages.
        let text = reason_text(&e.errors, &e.hints);
        assert!(text.starts_with("社区：必填项不能为空"), "{text}");
        for value in [
            "五楼",
            "很关心",
            "别墅",
            "north",
            "王五",
            "1990-02-30",
            "会飞",
            "邻居",
            "110101199003070036",
            "12345",
        ] {
            assert!(!text.contains(value), "{text}");
        }
    }

    #[test]
    fn missing_required_column() {
        let err = parse_ledger("社区,单元,姓名\n幸福社区,1,张三\n".as_bytes(), &ctx()).unwrap_err();
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
        let err = parse_ledger(b"", &ctx()).unwrap_err();
        assert!(matches!(err, Error::Format { what: "csv", .. }), "{err:?}");
        // Without a 社区 column the community comes from the import's target.
        let text = "楼栋,姓名\n3栋,张三\n";
        assert!(parse_ledger(text.as_bytes(), &ctx()).is_err());
        let mut with = ctx();
        with.community = Some("幸福社区".into());
        let ledger = parse_ledger(text.as_bytes(), &with).unwrap();
        assert_eq!(ledger.rows[0].household.address.community, "幸福社区");
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
            ("-11", Err(Code::OutOfRange)),
            ("99999999999", Err(Code::OutOfRange)),
        ] {
            assert_eq!(parse_floor(s), want, "{s:?}");
        }
    }

    #[test]
    fn dates() {
        let day = |d| Ok((d, DatePrecision::Day));
        let month = |d| Ok((d, DatePrecision::Month));
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
            assert_eq!(parse_date(s, false), day(ymd(2024, 1, 5)), "{s:?}");
        }
        for s in ["1985.03", "1985-3", "1985/03", "1985年3月", "198503"] {
            assert_eq!(parse_date(s, false), month(ymd(1985, 3, 1)), "{s:?}");
        }
        for (s, problem) in [
            ("2024-02-30", DateProblem::Invalid),
            ("2024-1-5-6", DateProblem::Invalid),
            ("24-01-05", DateProblem::Invalid),
            ("2024/01-05x", DateProblem::Invalid),
            ("2024-01-05 noon", DateProblem::Invalid),
            ("20241305", DateProblem::Invalid),
            ("45296", DateProblem::Invalid),
            ("明天", DateProblem::Invalid),
            ("1985", DateProblem::YearOnly),
            ("1985年", DateProblem::YearOnly),
            ("1899-12-01", DateProblem::Invalid),
        ] {
            assert_eq!(parse_date(s, false), Err(problem), "{s:?}");
        }
        // Number cells of a workbook: serial day numbers and dates typed as numbers.
        assert_eq!(parse_date("45296", true), day(ymd(2024, 1, 5)));
        assert_eq!(parse_date("45000", true), day(ymd(2023, 3, 15)));
        assert_eq!(parse_date("45296.5", true), day(ymd(2024, 1, 5)));
        assert_eq!(parse_date("1", true), day(ymd(1900, 1, 1)));
        assert_eq!(parse_date("61", true), day(ymd(1900, 3, 1)));
        assert_eq!(parse_date("60", true), Err(DateProblem::Invalid));
        assert_eq!(parse_date("0", true), Err(DateProblem::Invalid));
        assert_eq!(parse_date("20240105", true), day(ymd(2024, 1, 5)));
        assert_eq!(parse_date("1985.03", true), month(ymd(1985, 3, 1)));
        assert_eq!(parse_date("1985.12", true), month(ymd(1985, 12, 1)));
        assert_eq!(parse_date("1985.1", true), Err(DateProblem::AmbiguousMonth));
        assert_eq!(parse_date("1985", true), Err(DateProblem::YearOnly));
    }

    #[test]
    fn month_only_birth_dates_are_the_first_with_a_note() {
        let ledger = parse(
            "社区,楼栋,姓名,出生日期,身份证号\n\
             幸福社区,3栋,张三,1985.03,\n\
             幸福社区,3栋,李四,1990.03,110101199003070038\n\
             幸福社区,3栋,王五,1990.04,110101199003070038\n",
        );
        let r = person(&ledger.rows[0]);
        assert_eq!(r.birth_date, Some(ymd(1985, 3, 1)));
        assert_eq!(
            r.notes.as_deref(),
            Some("出生日期只到月（1985年03月），日按1日记")
        );
        // With an ID number the number's date wins when the month agrees.
        let r = person(&ledger.rows[1]);
        assert_eq!(r.birth_date, Some(ymd(1990, 3, 7)));
        assert_eq!(r.notes, None);
        assert_eq!(
            codes(&ledger.rejected[0]),
            vec![("birth_date", Code::Mismatch)]
        );
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
        assert_eq!(vacant.household.housing_type, Some(HousingType::Vacant));
        assert_eq!(vacant.household.notes.as_deref(), Some("长期无人居住"));
        assert_eq!(vacant.household.tags, vec!["重点", "消防", "老旧小区"]);
        assert_eq!(
            ledger.rows[1].household.housing_type,
            Some(HousingType::Business)
        );

        // Person data without a name is refused, not dropped.
        let ledger = parse("社区,楼栋,姓名,身份证号\n幸福社区,3栋,,110101199003070038\n");
        assert_eq!(codes(&ledger.rejected[0]), vec![("name", Code::Required)]);
    }

    #[test]
    fn desk_words_map_and_nearest_ones_are_noted() {
        let ledger = parse(
            "社区,楼栋,姓名,与户主关系,性别,户籍类型,特殊人群,纬度,经度\n\
             幸福社区,3栋,张三,本人,男性,流动人口,,39.9042,116.4074\n\
             幸福社区,3栋,张四,儿媳,,常住人口,低保户、空巢老人、残疾,,\n\
             幸福社区,3栋,张五,长子,,,,95,116\n",
        );
        let r = person(&ledger.rows[0]);
        assert_eq!(r.relation, Some(Relation::Head));
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.residency, Some(Residency::Floating));
        assert_eq!(r.notes, None);
        assert_eq!(
            ledger.rows[0].household.location,
            Some(GeoPoint {
                lat: 39.9042,
                lng: 116.4074
            })
        );
        let r = person(&ledger.rows[1]);
        assert_eq!(r.relation, Some(Relation::Child));
        assert_eq!(r.residency, Some(Residency::Registered));
        assert_eq!(
            r.special_groups,
            Some(vec![
                SpecialGroup::ElderlyAlone,
                SpecialGroup::Disabled,
                SpecialGroup::Poverty
            ])
        );
        assert_eq!(
            r.notes.as_deref(),
            Some("与户主关系：儿媳；户籍类型：常住人口；特殊人群：低保户、空巢老人")
        );
        assert_eq!(ledger.rows_with_notes, 1);
        assert_eq!(
            codes(&ledger.rejected[0]),
            vec![("location.lat", Code::OutOfRange)]
        );
    }

    #[test]
    fn fifteen_digit_ids_and_phones() {
        let mut c = ctx();
        c.area_code = Some("0953".into());
        let ledger = parse_ledger(
            "社区,楼栋,姓名,身份证号,手机号,电话\n\
             幸福社区,3栋,张三,110105491231002,13800138000/13900139000,2012345\n\
             幸福社区,3栋,李四,,手机：138 0013 8001（本人） 或 0953-7654321,\n\
             幸福社区,3栋,王五,,１３８００１３８００２,\n"
                .as_bytes(),
            &c,
        )
        .unwrap();
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        assert_eq!(ledger.ids_converted, 1);
        let r = person(&ledger.rows[0]);
        assert_eq!(r.id_number.as_deref(), Some("11010519491231002X"));
        assert_eq!(r.gender, Some(Gender::Female));
        assert_eq!(r.phone.as_deref(), Some("13800138000"));
        assert_eq!(
            r.notes.as_deref(),
            Some("其他电话：13900139000、0953-2012345")
        );
        let r = person(&ledger.rows[1]);
        assert_eq!(r.phone.as_deref(), Some("13800138001"));
        assert_eq!(r.notes.as_deref(), Some("其他电话：0953-7654321"));
        assert_eq!(
            person(&ledger.rows[2]).phone.as_deref(),
            Some("13800138002")
        );

        // Without an area code a local landline is refused with a hint, not guessed.
        let ledger = parse("社区,楼栋,姓名,电话\n幸福社区,3栋,张三,2012345\n");
        assert_eq!(
            codes(&ledger.rejected[0]),
            vec![("phone", Code::InvalidFormat)]
        );
        assert!(ledger.rejected[0].hints[0].zh.contains("区号"));
        assert_eq!(
            parse_phones("13800138000 13900139000", None).unwrap().len(),
            2
        );
        assert_eq!(parse_phones("1380013800", None), Err(PhoneProblem::Invalid));
        assert_eq!(
            parse_phones("13800138000/abc", None),
            Err(PhoneProblem::Invalid)
        );
    }

    #[test]
    fn merged_cells_fill_down_by_the_rule() {
        // As a sheet with merged address cells saves to CSV: blank below the first row.
        let ledger = parse(
            "社区,楼栋,单元,楼层,门牌,住房类型,姓名,与户主关系\n\
             幸福社区,5栋,1单元,5楼,东户,出租,张三,户主\n\
             ,,,,,,李四,配偶\n\
             ,,,,西户,,王五,户主\n\
             ,,,6楼,东户,,赵六,户主\n\
             ,,,,,,赵七,子\n\
             ,,,,601,,钱八,户主\n\
             ,,,,701,,孙九,户主\n\
             ,6栋,,,101,,周十,户主\n",
        );
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        let at = |i: usize| &ledger.rows[i].household.address;
        let hh = |i: usize| &ledger.rows[i].household;
        // The family's second row joins the first household, with its attributes.
        assert_eq!(ledger.rows[0].group, ledger.rows[1].group);
        assert_eq!(hh(1).housing_type, Some(HousingType::Rented));
        // 西户 is a new household on the same floor; its own columns do not fill.
        assert_eq!(
            (at(2).floor, at(2).room.as_deref()),
            (Some(5), Some("西户"))
        );
        assert_eq!(hh(2).housing_type, None);
        assert_ne!(ledger.rows[0].group, ledger.rows[2].group);
        // 5楼东户 and 6楼东户 are two households.
        assert_eq!(
            (at(3).floor, at(3).room.as_deref()),
            (Some(6), Some("东户"))
        );
        assert_ne!(ledger.rows[0].group, ledger.rows[3].group);
        assert_eq!(ledger.rows[3].group, ledger.rows[4].group);
        // A room number that names its floor fills the floor only when they agree.
        assert_eq!(at(5).floor, Some(6));
        assert_eq!(at(6).floor, None);
        // A new building does not inherit the unit of the previous one.
        assert_eq!(
            (at(7).building.as_str(), at(7).unit.as_deref()),
            ("6栋", None)
        );
        assert_eq!(at(7).community, "幸福社区");
        // Person columns never fill.
        assert_eq!(person(&ledger.rows[2]).relation, Some(Relation::Head));
        // The filled cells are what a rejected-rows file would repeat.
        assert_eq!(
            ledger.source[1].1[..5],
            ["幸福社区", "5栋", "1单元", "5楼", "东户"]
        );

        // A remark under a family is not a household of its own; a "none" mark alone is nothing.
        let ledger = parse(
            "社区,楼栋,单元,房号,姓名,备注\n\
             幸福社区,3栋,2单元,101,张三,\n\
             ,,,,,门口有狗\n\
             ,,/,,,\n\
             ,,/,底商1号,,\n",
        );
        assert_eq!(ledger.rows.len(), 2, "{:?}", ledger.rows);
        assert_eq!(
            ledger.rows[1].household.address.unit, None,
            "a shop has no unit"
        );
        assert_eq!(ledger.rows[1].household.address.building, "3栋");
        assert_eq!(ledger.rejected.len(), 1);
        assert_eq!(
            (ledger.rejected[0].line, codes(&ledger.rejected[0])),
            (3, vec![("name", Code::Required)])
        );
    }

    #[test]
    fn household_sheet_with_head_names() {
        let ledger = parse(
            "社区,楼栋,房号,户主姓名,联系电话\n\
             幸福社区,3栋,101,张三,13800138000\n\
             幸福社区,3栋,102,李四,\n",
        );
        assert!(ledger.rejected.is_empty(), "{:?}", ledger.rejected);
        let r = person(&ledger.rows[0]);
        assert_eq!(
            (r.name.as_str(), r.relation),
            ("张三", Some(Relation::Head))
        );
        assert_ne!(ledger.rows[0].group, ledger.rows[1].group);
    }

    #[test]
    fn household_key_normalizes_and_keeps_floors_and_rooms_apart() {
        let a = Address {
            community: " 幸福社区 ".into(),
            building: "３号楼".into(),
            unit: Some("2 单元".into()),
            floor: Some(5),
            room: Some("５０２Ａ室".into()),
            text: Some("ignored".into()),
        };
        let b = Address {
            community: "幸福社区".into(),
            building: "3栋".into(),
            unit: Some("2".into()),
            floor: Some(5),
            room: Some("502a".into()),
            text: None,
        };
        assert_eq!(household_key(&a), household_key(&b));
        assert_eq!(household_key(&b), "幸福社区|3|2|5|502a");
        for other in [
            Address {
                room: Some("503".into()),
                ..b.clone()
            },
            Address {
                floor: Some(6),
                ..b.clone()
            },
            Address {
                floor: None,
                ..b.clone()
            },
        ] {
            assert_ne!(household_key(&b), household_key(&other));
        }
        assert_eq!(
            household_key_without_floor(&b),
            household_key_without_floor(&Address {
                floor: None,
                ..b.clone()
            })
        );
        let east = Address {
            room: Some("东户".into()),
            ..b.clone()
        };
        assert!(household_key(&east).ends_with("|东户"));
    }

    #[test]
    fn rejected_file_keeps_the_encoding_and_reimports() {
        let csv = "社区,楼栋,房号,姓名,身份证号,与户主关系\n\
                   幸福社区,3栋,0101,张三,110101199003070038,户主\n\
                   ,,,李四,110101199003070036,邻居\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(csv);
        let ledger = parse_ledger(&gbk, &ctx()).unwrap();
        assert_eq!(ledger.rejected.len(), 1);
        let e = &ledger.rejected[0];
        let file = rejected_file(&ledger, &[(e.line, reason_text(&e.errors, &e.hints))]);
        assert_eq!(file.encoding, "gbk");
        let (text, enc) = decode_text(&file.bytes);
        assert_eq!(enc, "gbk");
        assert!(
            text.starts_with("社区,楼栋,房号,姓名,身份证号,与户主关系,退回原因 / reason\r\n"),
            "{text}"
        );
        // Filled down, protected against Excel, with the reason.
        assert!(
            text.contains(
                "幸福社区,3栋,\"=\"\"0101\"\"\",李四,\"=\"\"110101199003070036\"\"\",邻居,"
            ),
            "{text}"
        );
        assert!(text.contains("与户主关系：取值不在允许范围内"), "{text}");
        // Fixed and imported again: the reason column is ignored, the protection removed.
        let fixed = text
            .replace("110101199003070036", &id("11010119900307004"))
            .replace("邻居", "配偶");
        let (fixed, _, _) = encoding_rs::GBK.encode(&fixed);
        let again = parse_ledger(&fixed, &ctx()).unwrap();
        assert!(again.rejected.is_empty(), "{:?}", again.rejected);
        assert!(
            again.ignored_columns.is_empty(),
            "{:?}",
            again.ignored_columns
        );
        let row = &again.rows[0];
        assert_eq!(row.household.address.room.as_deref(), Some("0101"));
        assert_eq!(person(row).relation, Some(Relation::Spouse));
    }

    #[test]
    fn detect_and_corrupt_xlsx() {
        assert_eq!(detect_format(b"PK\x03\x04garbage"), LedgerFormat::Xlsx);
        assert_eq!(detect_format("社区,楼栋".as_bytes()), LedgerFormat::Csv);
        assert_eq!(detect_format(b""), LedgerFormat::Csv);
        let err = parse_ledger(b"PK\x03\x04garbage", &ctx()).unwrap_err();
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
    fn overlapping_merged_areas_are_bounded_not_walked_forever() {
        // A 1000 × 40 sheet and 200 merged areas each covering all of it: 8 million cell visits.
        let mut rows = String::new();
        for r in 1..=1000 {
            rows.push_str(&format!(
                "<row r=\"{r}\">{}</row>",
                s(&format!("A{r}"), "x")
            ));
        }
        rows.push_str(&format!("<row r=\"1000\">{}</row>", s("AN1000", "x")));
        let areas: String = (0..200)
            .map(|_| r#"<mergeCell ref="A1:AN1000"/>"#)
            .collect();
        let sheet =
            format!("<sheetData>{rows}</sheetData><mergeCells count=\"200\">{areas}</mergeCells>");
        match read_table(&xlsx(&sheet)) {
            Err(Error::Format {
                what: "xlsx",
                detail,
            }) => {
                assert!(detail.contains("merged"), "{detail}")
            }
            other => panic!(
                "expected a format error, got {:?}",
                other.map(|t| t.rows.len())
            ),
        }
    }

    #[test]
    fn xlsx_workbook() {
        let date = r#"<c r="G4" s="1"><v>45296</v></c>"#;
        let sheet = format!(
            "<sheetData>\
             <row r=\"1\">{}</row>\
             <row r=\"2\">{}{}{}{}{}{}{}{}</row>\
             <row r=\"3\">{}{}{}{}{}{}{}{}</row>\
             <row r=\"4\">{}{}{}{date}{}</row>\
             <row r=\"5\">{}{}{}{}</row>\
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
            s("E3", "110101199003070038"),
            n("F3", "13800138000"),
            s("G3", "1990.03"),
            n("H3", "45000"),
            n("C4", "-1"),
            s("D4", "李四"),
            n("F4", "13900139000.0"),
            n("H4", "20240105"),
            s("A5", "幸福社区"),
            n("B5", "4"),
            s("D5", "王五"),
            n("E5", "110101199003070000"),
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
        assert!(table.numeric.contains(&(3, 7)) && !table.numeric.contains(&(3, 6)));

        let ledger = parse_ledger(&bytes, &ctx()).unwrap();
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
        assert_eq!(b.household.address.floor, Some(-1));
        assert_eq!(a.household.address.floor, Some(5));
        let (ra, rb) = (person(a), person(b));
        assert_eq!(ra.id_number.as_deref(), Some("110101199003070038"));
        assert_eq!(ra.phone.as_deref(), Some("13800138000"));
        assert_eq!(rb.phone.as_deref(), Some("13900139000"));
        // A text cell "1990.03" is March 1990 (agreeing with the ID number), never a serial.
        assert_eq!(ra.birth_date, Some(ymd(1990, 3, 7)));
        assert_eq!(ra.moved_in_on, Some(ymd(2023, 3, 15)));
        assert_eq!(rb.birth_date, Some(ymd(2024, 1, 5)));
        assert_eq!(rb.moved_in_on, Some(ymd(2024, 1, 5)));
        assert_eq!(ledger.rejected.len(), 2);
        // An ID number stored as a number lost its last digits: refused, with the reason.
        assert_eq!(ledger.rejected[0].line, 5);
        assert!(ledger.rejected[0].hints[0].zh.contains("设为文本"));
        assert_eq!(ledger.rejected[1].line, 6);
        assert_eq!(
            codes(&ledger.rejected[1]),
            vec![("address.floor", Code::InvalidFormat)]
        );
    }
}
