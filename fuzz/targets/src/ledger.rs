//! Targets for the desk's ledger files (`gridwalk_core::ledger`): CSV in UTF-8 or GBK, and xlsx.
//!
//! A ledger comes from a community office PC, typed by hand, saved by whatever Excel was there.
//! A bad file must give an error and a bad row a row error; nothing may panic or exhaust memory.

use chrono::NaiveDate;
use gridwalk_core::ledger::{parse_ledger, read_table, LedgerContext, ParsedLedger, Table};

/// The grid rows are parsed for (the demo grid).
const GRID: &str = "640323001001001";

/// Raw file bytes, as the importer receives them (CSV of either encoding, or an xlsx zip).
pub fn ledger(data: &[u8]) {
    check(data);
}

/// Fuzzed worksheet XML wrapped into a valid workbook. The input is the inside of
/// `<worksheet>`; after a NUL byte, optionally, the inside of `<sst>` (shared strings).
pub fn ledger_xlsx(data: &[u8]) {
    let (sheet, shared) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    check(&xlsx(sheet, shared));
}

fn check(bytes: &[u8]) {
    if let Ok(table) = read_table(bytes) {
        check_table(&table);
    }
    // A sheet with and without a 社区 column, with local landlines, on a fixed day.
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
    let mut ctx = LedgerContext::new(GRID, today);
    ctx.community = Some("幸福社区".into());
    ctx.area_code = Some("0953".into());
    if let Ok(ledger) = parse_ledger(bytes, &ctx) {
        check_ledger(&ledger);
    }
}

fn check_table(t: &Table) {
    assert!(matches!(t.encoding, "utf-8" | "gbk" | "xlsx"));
    assert!(t.headers.iter().any(|c| !c.is_empty()), "empty header row");
    let mut prev = 0;
    for (line, cells) in &t.rows {
        assert!(*line > prev, "rows out of order: {line} after {prev}");
        assert!(cells.iter().any(|c| !c.is_empty()), "empty row {line} kept");
        assert!(
            cells.iter().all(|c| c.trim() == c),
            "untrimmed cell on row {line}"
        );
        prev = *line;
    }
}

fn check_ledger(l: &ParsedLedger) {
    for r in &l.rows {
        assert!(r.line >= 1);
        assert_eq!(r.household.grid_code, GRID);
    }
    for r in &l.rejected {
        assert!(
            !r.errors.is_empty(),
            "row {} rejected without a reason",
            r.line
        );
    }
}

/// A workbook with one worksheet whose content is `sheet_xml`.
fn xlsx(sheet_xml: &[u8], shared: Option<&[u8]>) -> Vec<u8> {
    const NS: &str = "http://schemas.openxmlformats.org";
    let content_types = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{NS}/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#
    );
    let rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" Type="{NS}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let workbook = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}/spreadsheetml/2006/main" xmlns:r="{NS}/officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>"#
    );
    let workbook_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" Type="{NS}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{NS}/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="{NS}/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
    );
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{NS}/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#
    );
    let wrap = |open: String, body: &[u8], close: &str| {
        let mut v = open.into_bytes();
        v.extend_from_slice(body);
        v.extend_from_slice(close.as_bytes());
        v
    };
    let sheet = wrap(
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}/spreadsheetml/2006/main">"#
        ),
        sheet_xml,
        "</worksheet>",
    );
    let mut files: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", content_types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", workbook_rels.as_bytes()),
        ("xl/styles.xml", styles.as_bytes()),
        ("xl/worksheets/sheet1.xml", &sheet),
    ];
    let sst = shared.map(|s| {
        wrap(
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS}/spreadsheetml/2006/main">"#),
            s,
            "</sst>",
        )
    });
    if let Some(sst) = &sst {
        files.push(("xl/sharedStrings.xml", sst));
    }
    crate::zip::stored(&files)
}
