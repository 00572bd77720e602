//! Spreadsheets that Excel and WPS cannot corrupt: a small table model written as CSV or .xlsx.
//!
//! Desks open every export in Excel (or WPS). Excel "helps": an 18-digit ID number typed into a
//! CSV cell becomes `6.40323E+17` and keeps 15 digits when the sheet is saved again, a room
//! `0101` becomes `101`, a room `1-2` becomes the 2nd of January. Exports therefore say, per
//! cell, what it is ([`Cell`]) and the writers protect what needs protecting:
//!
//! - **.xlsx** ([`write_xlsx`]): every text cell is an inline string with the text number format
//!   (`@`), so nothing is converted on open or on editing; numbers are numbers. This is the
//!   format to hand to a desk.
//! - **CSV** ([`write_csv`]): UTF-8 with a byte-order mark (without it Excel reads UTF-8 as GBK),
//!   CRLF line ends, and a cell Excel would convert written as the formula `="0101"`, which Excel
//!   and WPS both show as the text `0101`. (The other common trick, a leading tab, puts an
//!   invisible character into the value that every later tool has to strip.) Other tools see the
//!   literal `="…"`; the ledger parser removes it again, so exports re-import unchanged.
//!   Text that Excel would run as a formula (`=`, `+`, `-`, `@` …: CSV injection) gets a leading
//!   `'`, which the parser also removes.
//!
//! The xlsx writer is deliberately minimal (one worksheet, inline strings, a frozen header row,
//! column widths) and uses the `zip` crate that `calamine` already brings in for reading.
//!
//! This is its own crate, with no I/O of its own and no database, because both the phone
//! library (`gridwalk-core`'s exports) and the sync server's console (ledger exports) write the
//! same protected sheets, and the server must not link the phone library.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// Why a sheet could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV or zip writer refused (never for a value of a cell).
    #[error("could not write {what}: {detail}")]
    Format { what: &'static str, detail: String },
}

/// One cell of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Free text: protected in CSV only when Excel would convert it.
    Text(String),
    /// An identifier made of digits (ID number, phone, room, unit): always kept as text.
    Code(String),
    /// A number (floor, coordinates, counts, minutes).
    Number(f64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    pub fn code(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Code(s)
        }
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    pub fn opt_code(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, Cell::code)
    }

    pub fn opt_number(n: Option<f64>) -> Cell {
        n.filter(|v| v.is_finite())
            .map_or(Cell::Empty, Cell::Number)
    }

    /// The value as a person reads it (what CSV holds before protection).
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Code(s) => s.clone(),
            Cell::Number(n) => format_number(*n),
            Cell::Empty => String::new(),
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// A table with one header row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    /// Worksheet name in .xlsx (at most 31 characters; `[]:*?/\` are replaced).
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SheetFormat {
    Csv,
    Xlsx,
}

impl SheetFormat {
    /// `xlsx` for a `.xlsx` file name, CSV otherwise.
    pub fn from_file_name(name: &str) -> SheetFormat {
        if name.to_lowercase().ends_with(".xlsx") {
            SheetFormat::Xlsx
        } else {
            SheetFormat::Csv
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            SheetFormat::Csv => "csv",
            SheetFormat::Xlsx => "xlsx",
        }
    }
}

pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes `sheet` in `format`.
pub fn write_sheet<W: Write>(w: W, sheet: &Sheet, format: SheetFormat) -> Result<(), Error> {
    match format {
        SheetFormat::Csv => write_csv(w, sheet),
        SheetFormat::Xlsx => write_xlsx(w, sheet),
    }
}

/// Whether Excel, opening a CSV, would turn this text into something else: a number that loses
/// a leading zero or digits (12 digits or more are shown in scientific notation, past 15 they
/// are cut), an exponent (`1E5`), a date (`1-2`, `3/4`, `2024-1-5`) or a fraction/percentage.
pub fn excel_would_convert(s: &str) -> bool {
    let t = s.trim();
    if t.is_empty() {
        return false;
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    let numeric_chars = body.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if numeric_chars && digits > 0 {
        let leading_zero = body.len() > 1 && body.starts_with('0') && !body.starts_with("0.");
        return leading_zero || digits >= 12;
    }
    // 1E5, 2e10: scientific notation.
    if let Some((m, e)) = body.split_once(['e', 'E']) {
        let num = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if num(m) && num(e.strip_prefix(['+', '-']).unwrap_or(e)) {
            return true;
        }
    }
    // 50%, 1-2, 3/4, 2024-1-5, 1:30: dates, times, fractions, percentages.
    if let Some(p) = body.strip_suffix('%') {
        return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    }
    let parts: Vec<&str> = body.split(['-', '/', ':']).collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// How a cell's text is written into CSV: `="…"` when Excel would convert it (always for a
/// [`Cell::Code`] that starts with a digit), `'…` when Excel would run it as a formula.
pub fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Number(n) => format_number(*n),
        Cell::Code(s) if s.starts_with(|c: char| c.is_ascii_digit()) && is_safe_literal(s) => {
            format!("=\"{s}\"")
        }
        Cell::Code(s) | Cell::Text(s) => {
            if excel_would_convert(s) && is_safe_literal(s) {
                format!("=\"{s}\"")
            } else {
                guard(s)
            }
        }
    }
}

/// Only plain digits, letters and `-/.:+%` go inside `="…"`: nothing that could end the string.
fn is_safe_literal(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | ':' | '+' | '%'))
}

/// Prefixes text Excel would run as a formula with `'`. Plain numbers (`-1`, `+86…`) stay.
pub fn guard(s: &str) -> String {
    let formula_like = match s.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => s[1..].parse::<f64>().is_err(),
        _ => false,
    };
    if formula_like {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// Removes what [`csv_text`] adds: `="…"` and the `'` before formula-like text.
pub fn unprotect(s: &str) -> &str {
    if let Some(inner) = s.strip_prefix("=\"").and_then(|r| r.strip_suffix('"')) {
        if !inner.contains('"') {
            return inner;
        }
    }
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => s,
    }
}

/// CSV for Excel: UTF-8 with BOM, CRLF, cells protected by [`csv_text`].
pub fn write_csv<W: Write>(mut w: W, sheet: &Sheet) -> Result<(), Error> {
    w.write_all(UTF8_BOM)?;
    write_csv_records(w, sheet)
}

/// CSV records without a BOM (the caller writes the encoding's preamble).
pub fn write_csv_records<W: Write>(w: W, sheet: &Sheet) -> Result<(), Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(w);
    out.write_record(sheet.headers.iter().map(|h| guard(h)))
        .map_err(csv_write_error)?;
    for row in &sheet.rows {
        out.write_record(row.iter().map(csv_text))
            .map_err(csv_write_error)?;
    }
    out.flush()?;
    Ok(())
}

pub fn csv_write_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        _ => Error::Format {
            what: "csv",
            detail: "could not write CSV".into(),
        },
    }
}

// ---- xlsx ---------------------------------------------------------------------------------

const NS_MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const NS_REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const NS_PKG_REL: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

/// Style indexes of `styles.xml`: 0 default, 1 text (`@`), 2 bold text (header).
const STYLE_TEXT: u8 = 1;
const STYLE_HEADER: u8 = 2;

/// Writes `sheet` as a one-worksheet .xlsx workbook.
pub fn write_xlsx<W: Write>(mut w: W, sheet: &Sheet) -> Result<(), Error> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let parts: [(&str, String); 6] = [
        ("[Content_Types].xml", content_types()),
        ("_rels/.rels", root_rels()),
        ("xl/workbook.xml", workbook(&sheet_name(&sheet.name))),
        ("xl/_rels/workbook.xml.rels", workbook_rels()),
        ("xl/styles.xml", styles()),
        ("xl/worksheets/sheet1.xml", worksheet(sheet)),
    ];
    for (name, body) in parts {
        zip.start_file(name, opts).map_err(zip_error)?;
        zip.write_all(body.as_bytes())?;
    }
    let bytes = zip.finish().map_err(zip_error)?.into_inner();
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => Error::Io(io),
        _ => Error::Format {
            what: "xlsx",
            detail: "could not write the workbook".into(),
        },
    }
}

fn content_types() -> String {
    String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#,
    )
}

fn root_rels() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{NS_PKG_REL}"><Relationship Id="rId1" Type="{NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    )
}

fn workbook(name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        xml_escape(name)
    )
}

fn workbook_rels() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{NS_PKG_REL}"><Relationship Id="rId1" Type="{NS_REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{NS_REL}/styles" Target="styles.xml"/></Relationships>"#
    )
}

fn styles() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{NS_MAIN}"><fonts count="2"><font><sz val="11"/><name val="等线"/></font><font><b/><sz val="11"/><name val="等线"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/></cellXfs></styleSheet>"#
    )
}

/// Excel's sheet-name rules: at most 31 characters, none of `[]:*?/\`, not blank.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .take(31)
        .collect();
    if cleaned.trim().is_empty() {
        "Sheet1".into()
    } else {
        cleaned
    }
}

/// Column letters of a 0-based index: 0 → A, 25 → Z, 26 → AA.
fn column_letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Display width of a text in Excel's character units (CJK counts double), for column widths.
fn width_of(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

fn worksheet(sheet: &Sheet) -> String {
    let columns = sheet
        .rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(sheet.headers.len()))
        .max()
        .unwrap_or(0);
    let mut widths: Vec<usize> = vec![6; columns];
    for (i, h) in sheet.headers.iter().enumerate() {
        widths[i] = widths[i].max(width_of(h) + 2);
    }
    for row in sheet.rows.iter().take(1000) {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max((width_of(&c.plain()) + 2).min(60));
        }
    }

    let mut x = String::with_capacity(256 + sheet.rows.len() * columns * 40);
    x.push_str(&format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>"#
    ));
    if columns > 0 {
        x.push_str("<cols>");
        for (i, w) in widths.iter().enumerate() {
            x.push_str(&format!(
                r#"<col min="{n}" max="{n}" width="{w}" style="{STYLE_TEXT}" customWidth="1"/>"#,
                n = i + 1
            ));
        }
        x.push_str("</cols>");
    }
    x.push_str("<sheetData>");
    let header_cells: Vec<Cell> = sheet.headers.iter().map(Cell::text).collect();
    push_row(&mut x, 1, &header_cells, STYLE_HEADER);
    for (i, row) in sheet.rows.iter().enumerate() {
        push_row(&mut x, i + 2, row, STYLE_TEXT);
    }
    x.push_str("</sheetData></worksheet>");
    x
}

fn push_row(x: &mut String, r: usize, cells: &[Cell], text_style: u8) {
    x.push_str(&format!(r#"<row r="{r}">"#));
    for (i, c) in cells.iter().enumerate() {
        let at = format!("{}{r}", column_letters(i));
        match c {
            Cell::Empty => {}
            Cell::Number(n) => x.push_str(&format!(r#"<c r="{at}"><v>{}</v></c>"#, n)),
            Cell::Text(s) | Cell::Code(s) => x.push_str(&format!(
                r#"<c r="{at}" s="{text_style}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                xml_escape(s)
            )),
        }
    }
    x.push_str("</row>");
}

/// Escapes XML text; drops characters XML 1.0 cannot hold (control characters).
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    #[test]
    fn what_excel_would_convert() {
        for s in [
            "0101",
            "110101199003070035",
            "640323198503071234",
            "1E5",
            "1-2",
            "3/4",
            "2024-1-5",
            "50%",
            "12:30",
            "013800138000",
        ] {
            assert!(excel_would_convert(s), "{s}");
        }
        for s in [
            "502",
            "13800138000",
            "3栋",
            "11010519491231002X",
            "0",
            "0.5",
            "B101",
            "东户",
            "",
            "-1",
            "1-2-3-4",
            "0953-1234567x",
        ] {
            assert!(!excel_would_convert(s), "{s}");
        }
    }

    #[test]
    fn csv_protection_round_trips() {
        for (cell, written) in [
            (Cell::code("110101199003070035"), "=\"110101199003070035\""),
            (Cell::code("13800138000"), "=\"13800138000\""),
            (Cell::code("0953-1234567"), "=\"0953-1234567\""),
            (Cell::code("B101"), "B101"),
            (Cell::text("0101"), "=\"0101\""),
            (Cell::text("502"), "502"),
            (Cell::text("=HYPERLINK(1)"), "'=HYPERLINK(1)"),
            (Cell::text("-过敏"), "'-过敏"),
            (Cell::Number(-1.0), "-1"),
            (Cell::Number(37.5), "37.5"),
        ] {
            let out = csv_text(&cell);
            assert_eq!(out, written);
            assert_eq!(unprotect(&out), cell.plain());
        }
        assert_eq!(unprotect("=\"a\"b\""), "=\"a\"b\"");
    }

    #[test]
    fn xlsx_reads_back_as_text() {
        let sheet = Sheet {
            name: "人口台账/2024".into(),
            headers: vec![
                "姓名".into(),
                "身份证号".into(),
                "房号".into(),
                "楼层".into(),
            ],
            rows: vec![
                vec![
                    Cell::text("张三 & <李>"),
                    Cell::code("110101199003070035"),
                    Cell::code("0101"),
                    Cell::Number(5.0),
                ],
                vec![Cell::text("王\u{1}五"), Cell::Empty, Cell::code("502")],
            ],
        };
        let mut out = Vec::new();
        write_xlsx(&mut out, &sheet).unwrap();
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(out)).unwrap();
        assert_eq!(wb.sheet_names(), vec!["人口台账_2024".to_string()]);
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        let cell = |r: u32, c: u32| range.get_value((r, c)).cloned();
        assert_eq!(cell(0, 1), Some(Data::String("身份证号".into())));
        assert_eq!(cell(1, 0), Some(Data::String("张三 & <李>".into())));
        assert_eq!(cell(1, 1), Some(Data::String("110101199003070035".into())));
        assert_eq!(cell(1, 2), Some(Data::String("0101".into())));
        assert_eq!(cell(1, 3), Some(Data::Float(5.0)));
        assert_eq!(cell(2, 0), Some(Data::String("王五".into())));
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }
}
